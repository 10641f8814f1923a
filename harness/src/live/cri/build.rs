//! Building a scenario's `given` store in a CRI runtime, the way a kubelet's node gets its
//! images: pulled.
//!
//! - **Every image is pulled** through CRI `PullImage` from the local registry, after its
//!   synthesized blobs and manifest were pushed there byte for byte (so its ID, the config
//!   digest, is the synthesized one). A `<reg>/app:1` tag is pulled by tag, a
//!   `<reg>/app@sha256:<A.manifest>` reference by digest. A pull records three containerd
//!   image names, `sha256:<config>`, the tag and `repo@<manifest>`
//!   (`containerd/containerd@v1.7.24:pkg/cri/server/image_pull.go#L203-L217`), so a tag pull
//!   also makes the repository's digest reference.
//! - **Names a pull cannot make** (`localhost/app:1`, `docker.io/library/busybox:latest`: no
//!   such registry here) are containerd image records created through containerd's own
//!   `Images.Create` in namespace `k8s.io`, pointing at the pulled manifest. An image with none
//!   of its names in `<reg>` is first pulled under a helper name,
//!   `<reg>/rmispec/pull@sha256:<manifest>`, deleted afterwards. The CRI plugin learns of
//!   both through containerd's `/images/` events, and makes the new name managed
//!   (`events.go#L352-L360` → `updateImage`, `image_pull.go#L329-L363`); a digest reference a
//!   tag pull made that the scenario does not have is deleted the same way. The builder
//!   waits until `ListImages` shows exactly the scenario's names.
//! - **Parents** do not exist in CRI (containerd keeps no parent links): a child is built as
//!   an image of its own, with its parent's layers plus its own, and an untagged parent is
//!   an image with no name (listed with empty `repoTags` and `repoDigests`).
//! - **Containers** live in one pod sandbox per scenario (host network, no hostname, the
//!   harness's cgroup parent), created from the image ID as kubelet does; a created one is
//!   left `CONTAINER_CREATED`, a running one is started, a stopped one is started and stopped with `StopContainer(timeout 0)` (SIGKILL
//!   at once: `pkg/cri/server/container_stop.go#L130-L195`), which leaves it
//!   `CONTAINER_EXITED`, what a kubelet's dead container is (the model's "stopped"). CRI has no
//!   pause: a paused container is [`Unsupported`].
//!
//! Against a CRI runtime the harness does not run (`--socket`), only pulls are possible:
//! a store that needs anything else is a [`CannotBuild`] error, never a different store.

use super::client::{ok, Cri};
use super::SANDBOX_LABEL;
use crate::backend::Unsupported;
use crate::live::registry::Registry;
use crate::scenario::{Domain, Given, ImageHandle, StoredName};
use crate::symbols::Symbols;
use crate::synth::{SynthImage, Synthesized};
use anyhow::{bail, Context};
use k8s_cri::v1 as cri;
use rmispec_model::{ContainerState, Digest, Engine};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// The store cannot be built through what this runtime offers (CRI alone has no way to name
/// an image but pulling it). The scenario should be skipped on this runtime.
#[derive(Debug, thiserror::Error)]
#[error("cannot build this store through CRI alone (only PullImage names images there): {0}")]
pub struct CannotBuild(pub String);

/// How images get the names a pull cannot make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Naming {
    /// containerd's `Images` service, in namespace `k8s.io` (a containerd the harness runs).
    Containerd,
    /// Pulls only (a runtime behind `--socket`).
    PullOnly,
}

/// Where pods go and what they are made from.
#[derive(Clone, Debug)]
pub struct Pods {
    /// `PodSandboxConfig.linux.cgroup_parent` (empty: the runtime's default).
    pub cgroup_parent: String,
    /// The value of the [`SANDBOX_LABEL`] on the pods and containers made: this backend's.
    pub owner: String,
    /// Why this runtime cannot run pods, if it cannot (its sandbox image is unknown or not
    /// present, and the harness will not let it pull one from outside loopback).
    pub unavailable: Option<String>,
}

/// The helper repository an image with no name in `<reg>` is pulled from.
const HELPER_REPO: &str = "rmispec/pull";

/// How long the CRI plugin gets to follow containerd's image events.
const SETTLE: Duration = Duration::from_secs(10);

/// One image's plan: what to pull, what to create, what to delete afterwards.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    /// Registry pushes: repository path, and the tag to put the manifest under (if any).
    pushes: Vec<(String, Option<String>)>,
    pulls: Vec<String>,
    creates: Vec<String>,
    deletes: Vec<String>,
}

/// What to do for `image` named `names`, with the registry at `reg`.
fn plan(
    naming: Naming,
    handle: &ImageHandle,
    names: &[StoredName],
    pulled_by: Option<&StoredName>,
    image: &SynthImage,
    reg: &str,
) -> Result<Plan, CannotBuild> {
    let manifest = &image.manifest.digest;
    let wanted: BTreeSet<String> = names.iter().map(|n| n.expand(reg, manifest)).collect();
    let mut plan = Plan::default();
    for n in names {
        let full = n.expand(reg, manifest);
        match n {
            StoredName::Tagged {
                domain: Domain::Registry,
                path,
                tag,
            } => {
                plan.pushes.push((path.clone(), Some(tag.clone())));
                plan.pulls.push(full);
                // The pull adds `repo@<manifest>` too, which stays only on an image the
                // scenario says is pulled by this tag (`made_by: pull`).
                let digest_name = format!("{reg}/{path}@{}", manifest.prefixed());
                if !wanted.contains(&digest_name)
                    && !plan.deletes.contains(&digest_name)
                    && pulled_by != Some(n)
                {
                    plan.deletes.push(digest_name);
                }
            }
            StoredName::Digested { path, .. } => {
                plan.pushes.push((path.clone(), None));
                plan.pulls.push(full);
            }
            StoredName::Tagged { .. } => plan.creates.push(full),
        }
    }
    let mut helper = None;
    if plan.pulls.is_empty() {
        let name = format!("{reg}/{HELPER_REPO}@{}", manifest.prefixed());
        helper = Some(name.clone());
        plan.pushes.push((HELPER_REPO.to_owned(), None));
        plan.pulls.push(name.clone());
        plan.deletes.push(name);
    }
    if naming == Naming::PullOnly && !(plan.creates.is_empty() && plan.deletes.is_empty()) {
        let mut why: Vec<String> = plan
            .creates
            .iter()
            .map(|n| format!("`{n}` is not in the local registry"))
            .collect();
        if names.is_empty() {
            why.push("an image without names cannot be pulled".to_owned());
        }
        why.extend(
            plan.deletes
                .iter()
                .filter(|n| Some(*n) != helper.as_ref())
                .map(|n| {
                    format!("pulling its tag also names `{n}`, which the scenario does not have")
                }),
        );
        return Err(CannotBuild(format!("{handle}: {}", why.join("; "))));
    }
    Ok(plan)
}

/// Builds `given` in the runtime behind `cri`, and adds the container IDs to `symbols`.
/// `sandbox_image` is the runtime's sandbox image ID, which the built store also holds and
/// which is left out of every comparison. Returns the pod sandbox's ID, if one was made.
#[allow(clippy::too_many_arguments)]
pub fn build(
    cri: &Cri,
    naming: Naming,
    given: &Given,
    synthesized: &Synthesized,
    registry: &Registry,
    pods: &Pods,
    sandbox_image: Option<&Digest>,
    symbols: &mut Symbols,
) -> anyhow::Result<()> {
    if let Some((c, _)) = given
        .containers
        .iter()
        .find(|(_, spec)| spec.state == ContainerState::Paused)
    {
        return Err(Unsupported::new(format!(
            "container {c} is paused, and CRI has no pause: RuntimeService has no PauseContainer \
             call and ContainerState no paused state (CREATED, RUNNING, EXITED, UNKNOWN: \
             kubernetes/cri-api@v0.31.0:pkg/apis/runtime/v1/api.proto#L34-L143, #L1195-L1200)"
        ))
        .into());
    }
    let reg = registry.host();
    let image = |h: &ImageHandle| {
        synthesized
            .image(h.as_str())
            .with_context(|| format!("{h} was not synthesized"))
    };
    // Plan everything first: a store that cannot be built is refused before anything is made.
    let mut plans = Vec::new();
    for (h, spec) in &given.images {
        let i = image(h)?;
        if Some(&i.config.digest) == sandbox_image {
            bail!("{h} has the sandbox image's ID");
        }
        plans.push((
            h,
            i,
            plan(naming, h, &spec.tags, spec.pulled_by(), i, &reg)?,
        ));
    }
    if !given.containers.is_empty() {
        if let Some(why) = &pods.unavailable {
            return Err(CannotBuild(format!("containers need a pod sandbox, and {why}")).into());
        }
    }

    for (h, i, plan) in &plans {
        let blobs: Vec<&[u8]> = i.blobs().map(|b| b.bytes.as_slice()).collect();
        for (repo, tag) in &plan.pushes {
            registry.push(repo, i.manifest.media_type, &i.manifest.bytes, &blobs)?;
            if let Some(tag) = tag {
                registry.tag(repo, tag, i.manifest.media_type, &i.manifest.bytes)?;
            }
        }
        for name in &plan.pulls {
            let id = ok(&format!("{h}: pulling {name}"), cri.pull(name))?;
            if id != i.config.digest.prefixed() {
                bail!(
                    "{h}: pulling {name} gave image {id}, not {}",
                    i.config.digest.prefixed()
                );
            }
        }
        for name in &plan.creates {
            cri.create_record(
                name,
                &i.manifest.digest.prefixed(),
                i.manifest.media_type,
                i.manifest.bytes.len(),
            )?;
        }
        for name in &plan.deletes {
            cri.delete_record(name)?;
        }
    }
    wait_for_names(cri, given, synthesized, &reg, sandbox_image)?;

    if !given.containers.is_empty() {
        let (sandbox, sandbox_config) = run_pod(cri, pods)?;
        for (c, spec) in &given.containers {
            let id = image(&spec.image)?.config.digest.prefixed();
            let mut config = container_config(c.as_str(), &id, &pods.owner);
            // Image mounts (containerd 2.1+; `live::backend::image_mounts` refuses them on
            // older runtimes before anything is built): read-only, by image ID, one folder each.
            for m in &spec.mounts {
                config.mounts.push(cri::Mount {
                    container_path: format!("/mnt/{m}"),
                    readonly: true,
                    image: Some(cri::ImageSpec {
                        image: image(m)?.config.digest.prefixed(),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
            }
            let container = ok(
                &format!("container {c}: CreateContainer"),
                cri.create_container(&sandbox, config, sandbox_config.clone()),
            )?;
            if !spec.mounts.is_empty() {
                // A runtime that ignored the mounts would make a different store: check that
                // each one is there, mounted from a host path the runtime chose.
                let made = ok(
                    &format!("container {c}: ContainerStatus"),
                    cri.container_mounts(&container),
                )?;
                for m in &spec.mounts {
                    let path = format!("/mnt/{m}");
                    if !made
                        .iter()
                        .any(|x| x.container_path == path && !x.host_path.is_empty())
                    {
                        bail!("container {c}: the runtime made no image mount of {m} at {path} (it lists {made:?})");
                    }
                }
            }
            if spec.state != ContainerState::Created {
                ok(
                    &format!("container {c}: StartContainer"),
                    cri.start_container(&container),
                )?;
            }
            if spec.state == ContainerState::Stopped {
                ok(
                    &format!("container {c}: StopContainer"),
                    cri.stop_container(&container, 0),
                )?;
            }
            symbols.add_container(
                c.clone(),
                Digest::parse(&container).with_context(|| format!("container ID {container:?}"))?,
            );
        }
        let listed = ok("ListContainers", cri.containers(&owner_labels(&pods.owner)))?;
        for (c, spec) in &given.containers {
            let id = symbols.container(c.as_str()).expect("just added").hex();
            let state = listed
                .iter()
                .find(|l| l.id == id)
                .map(|l| super::observe::container_state(l.state));
            if state != Some(spec.state) {
                bail!(
                    "container {c} is {state:?} after building, not {:?}",
                    spec.state
                );
            }
        }
        if listed.len() != given.containers.len() {
            bail!(
                "the runtime lists {} containers, the scenario has {}",
                listed.len(),
                given.containers.len()
            );
        }
    }
    Ok(())
}

/// Polls `ListImages` until it shows exactly the scenario's images with exactly their names
/// (the CRI plugin applies containerd's image events asynchronously).
fn wait_for_names(
    cri: &Cri,
    given: &Given,
    synthesized: &Synthesized,
    reg: &str,
    sandbox_image: Option<&Digest>,
) -> anyhow::Result<()> {
    let mut want: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (h, spec) in &given.images {
        let i = synthesized.image(h.as_str()).expect("planned");
        // What a tag pull keeps is the model's to say (`made_by: pull`).
        let names = spec
            .references(Engine::CriContainerd, reg, &i.manifest.digest)
            .iter()
            .map(|r| r.full())
            .collect();
        want.insert(i.config.digest.prefixed(), names);
    }
    let deadline = Instant::now() + SETTLE;
    loop {
        let got: HashMap<String, BTreeSet<String>> = ok("ListImages", cri.list_images())?
            .into_iter()
            .filter(|i| sandbox_image.is_none_or(|s| i.id != s.prefixed()))
            .map(|i| {
                (
                    i.id,
                    i.repo_tags.into_iter().chain(i.repo_digests).collect(),
                )
            })
            .collect();
        if got == want {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("after {SETTLE:?} the runtime lists {got:?}, the scenario wants {want:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The label every pod sandbox and container a backend makes carries: its resets and
/// listings touch only those.
pub fn owner_labels(owner: &str) -> HashMap<String, String> {
    HashMap::from([(SANDBOX_LABEL.to_owned(), owner.to_owned())])
}

/// The namespaces of a host-network pod, as kubelet sets them for `hostNetwork: true`:
/// network NODE, PID per container, IPC per pod.
fn namespaces() -> cri::NamespaceOption {
    cri::NamespaceOption {
        network: cri::NamespaceMode::Node as i32,
        pid: cri::NamespaceMode::Container as i32,
        ipc: cri::NamespaceMode::Pod as i32,
        ..Default::default()
    }
}

/// `RunPodSandbox` with the host network and no hostname (with the host's UTS namespace, runc
/// refuses to set one: docs/engines.md#traps), under the pods' cgroup parent.
fn run_pod(cri: &Cri, pods: &Pods) -> anyhow::Result<(String, cri::PodSandboxConfig)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static PODS: AtomicU64 = AtomicU64::new(0);
    let n = PODS.fetch_add(1, Ordering::Relaxed);
    let config = cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: format!("rmispec-{n}"),
            uid: format!("rmispec-{}-{n}", pods.owner),
            namespace: "rmispec".to_owned(),
            attempt: 0,
        }),
        labels: owner_labels(&pods.owner),
        linux: Some(cri::LinuxPodSandboxConfig {
            cgroup_parent: pods.cgroup_parent.clone(),
            security_context: Some(cri::LinuxSandboxSecurityContext {
                namespace_options: Some(namespaces()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = ok("RunPodSandbox", cri.run_pod_sandbox(config.clone()))?;
    Ok((id, config))
}

/// A container named `name` running image `image` (an ID), with the image's own command.
fn container_config(name: &str, image: &str, owner: &str) -> cri::ContainerConfig {
    cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata {
            name: name.to_owned(),
            attempt: 0,
        }),
        image: Some(cri::ImageSpec {
            image: image.to_owned(),
            ..Default::default()
        }),
        labels: owner_labels(owner),
        linux: Some(cri::LinuxContainerConfig {
            security_context: Some(cri::LinuxContainerSecurityContext {
                namespace_options: Some(namespaces()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &[&str]) -> Vec<StoredName> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn image() -> (ImageHandle, SynthImage) {
        let given: Given = serde_norway::from_str("images: {A: {}}").unwrap();
        let s = crate::synth::synthesize(&given);
        (ImageHandle::new("A").unwrap(), s.images["A"].clone())
    }

    #[test]
    fn registry_names_are_pulled_and_others_created() {
        let (h, i) = image();
        let m = i.manifest.digest.prefixed();
        let p = plan(
            Naming::Containerd,
            &h,
            &names(&["<reg>/app:1", "localhost/app:1"]),
            None,
            &i,
            "r:1",
        )
        .unwrap();
        assert_eq!(p.pulls, ["r:1/app:1"]);
        assert_eq!(p.creates, ["localhost/app:1"]);
        // The tag pull's digest reference is not the scenario's: deleted afterwards.
        assert_eq!(p.deletes, [format!("r:1/app@{m}")]);
        assert_eq!(p.pushes, [("app".to_owned(), Some("1".to_owned()))]);
    }

    #[test]
    fn a_tag_with_its_digest_reference_needs_no_delete() {
        let (h, i) = image();
        let p = plan(
            Naming::PullOnly,
            &h,
            &names(&["<reg>/app:1", "<reg>/app@sha256:<A.manifest>"]),
            None,
            &i,
            "r:1",
        )
        .unwrap();
        assert_eq!(p.pulls.len(), 2);
        assert!(p.creates.is_empty() && p.deletes.is_empty());
    }

    #[test]
    fn a_pulled_image_keeps_the_digest_reference_its_tag_pull_makes() {
        let (h, i) = image();
        let tags = names(&["<reg>/app:1", "localhost/app:1"]);
        let p = plan(Naming::Containerd, &h, &tags, Some(&tags[0]), &i, "r:1").unwrap();
        assert_eq!(p.pulls, ["r:1/app:1"]);
        assert!(p.deletes.is_empty(), "{:?}", p.deletes);
    }

    #[test]
    fn images_without_registry_names_go_through_a_helper_pull() {
        let (h, i) = image();
        let p = plan(Naming::Containerd, &h, &[], None, &i, "r:1").unwrap();
        let helper = format!("r:1/{HELPER_REPO}@{}", i.manifest.digest.prefixed());
        assert_eq!(
            (p.pulls.clone(), p.deletes.clone()),
            (vec![helper.clone()], vec![helper])
        );
    }

    #[test]
    fn pull_only_refuses_what_a_pull_cannot_make() {
        let (h, i) = image();
        for bad in [&["localhost/app:1"][..], &[], &["<reg>/app:1"]] {
            let e = plan(Naming::PullOnly, &h, &names(bad), None, &i, "r:1").unwrap_err();
            assert!(e.0.starts_with("A: "), "{e}");
            assert!(
                !e.0.contains(HELPER_REPO),
                "the helper is the harness's, not the scenario's: {e}"
            );
        }
    }
}
