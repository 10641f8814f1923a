//! Building a scenario's `given` store in a Podman, through the libpod API.
//!
//! - **Images without a parent** come from the synthesized archive (`POST /libpod/images/load`;
//!   `POST /libpod/images/pull` refuses every transport but `docker://`, so `docker-archive:`
//!   is not an option: `podman@v4.3.1:pkg/api/handlers/libpod/images_pull.go#L49-L53`). Their
//!   names are given in the order [`super::naming`] works out, so the stored names list comes
//!   out as the scenario writes it; tags with `POST /libpod/images/{id}/tag`, digest names
//!   by pushing the image to the local registry and pulling `<reg>/repo@sha256:<manifest>`.
//! - **Children** (`parent: P`) are commits of a container created from P
//!   (`POST /libpod/commit`): Podman records the container's empty diff as one more layer and
//!   one more history entry, which is what makes P the child's parent in libimage's layer
//!   tree (`containers/common@v0.50.1:libimage/layer_tree.go`, `areParentAndChild` in
//!   `libimage/oci.go#L63-L95`). The child's ID depends on the commit's time, so the symbol
//!   table learns it from the engine. Its extra layers are not reproduced (a commit of an
//!   unchanged container adds an empty layer); Podman reports no layer IDs, so nothing
//!   observable depends on them.
//! - **Dangling images** (no names, no parent) are loaded under a temporary tag, removed once
//!   their children and containers exist.
//! - **Pods** are made when their infra container's turn comes (`POST /libpod/pods/create`
//!   with the image's ID as `infra_image`, `/bin/pause` as its command), and started (or
//!   started and stopped) as the infra container's state says; the pod's other containers
//!   are created in it (`pod` in their spec).
//! - **Containers** are created from the image's ID (`POST /libpod/containers/create`), and
//!   started if running. A container's image mounts are the spec's `image_volumes` (by image
//!   ID, read-only), checked in the container's inspect (`Mounts` of type `image`) at once. Their process is the synthesized image's, stopped by SIGKILL (the
//!   image's `StopSignal` and the container's own `stop_signal`), so a forced removal does not
//!   wait out a 10 s stop timeout.
//!
//! After building, in a sandbox (`strict`), the stored names of every image are checked against
//! the scenario (raw order included): a build that does not reproduce the `given` store there
//! is the harness's bug and fails loudly. A service the user brings is observed instead (the
//! backend's built store).

use super::api::Libpod;
use super::config::Flavor;
use super::naming::{self, Op};
use crate::live::registry::Registry;
use crate::live::source::Source;
use crate::scenario::{Given, ImageHandle, PodHandle, StoredName};
use crate::symbols::Symbols;
use anyhow::{bail, Context};
use rmispec_model::{ContainerState, Digest};
use std::collections::HashMap;

/// The temporary tag a dangling image is loaded under.
fn temporary_tag(image: &ImageHandle) -> String {
    format!(
        "localhost/rmispec-dangling/{}:build",
        image.as_str().to_ascii_lowercase()
    )
}

/// Builds `given` through `api`. `registry` is needed only when a name is a digest
/// reference. Adds the IDs only the engine knows (committed children, containers) to
/// `symbols`.
pub fn build(
    flavor: Flavor,
    api: &Libpod,
    source: &Source<'_>,
    registry: Option<&Registry>,
    cgroup_parent: &str,
    symbols: &mut Symbols,
    strict: bool,
) -> anyhow::Result<()> {
    let given = source.given;
    let reg_host = registry.map(Registry::host).unwrap_or_default();
    // The engine's ID of each image built so far.
    let mut ids: HashMap<&ImageHandle, String> = HashMap::new();
    let mut dangling: Vec<(String, String)> = Vec::new();

    for (handle, spec) in &given.images {
        if spec.tags.iter().any(|n| !n.is_tag()) && spec.parent.is_some() {
            bail!("{handle}: a digest reference on a committed child is not supported on Podman");
        }
        let manifest = match &spec.parent {
            None => source.digests(handle)?.1,
            // A committed image's manifest only exists once it is pushed; its names are tags.
            Some(_) => Digest::parse(&"0".repeat(64)).expect("valid"),
        };
        let names: Vec<String> = spec
            .tags
            .iter()
            .map(|n| n.expand(&reg_host, &manifest))
            .collect();
        let is_tag: Vec<bool> = spec.tags.iter().map(StoredName::is_tag).collect();

        let id = match &spec.parent {
            Some(parent) => {
                let parent_id = ids
                    .get(parent)
                    .with_context(|| format!("{handle}: parent {parent} not built"))?;
                if spec.id.is_some() {
                    bail!("{handle}: an ID prefix on a committed child cannot be honoured (its ID depends on the commit time)");
                }
                let id = commit_child(api, parent_id, handle, cgroup_parent)?;
                // Tags only: 3.0/4.3 append them, 5.4 puts each first.
                let order: Vec<usize> = if flavor.is_podman5() {
                    (0..names.len()).rev().collect()
                } else {
                    (0..names.len()).collect()
                };
                for i in order {
                    api.tag(&id, &names[i])?;
                }
                let config = Digest::parse(&id).with_context(|| format!("committed ID {id:?}"))?;
                symbols.add_image(handle.clone(), config.clone(), config);
                id
            }
            None => {
                let (config, _) = source.digests(handle)?;
                let id = config.hex().to_owned();
                let ops = naming::plan(flavor, &is_tag);
                if ops.is_empty() {
                    let tag = temporary_tag(handle);
                    api.load(source.archive(&[(handle, vec![tag.clone()])])?)?;
                    dangling.push((id.clone(), tag));
                }
                for op in ops {
                    match op {
                        Op::Load(i) if spec.is_pulled_by_tag() => pull_by_tag(
                            api,
                            source,
                            registry,
                            handle,
                            (&spec.tags[i], &names[i]),
                            spec.pull_tag(),
                            (&manifest, &id),
                        )?,
                        Op::Load(i) => {
                            api.load(source.archive(&[(handle, vec![names[i].clone()])])?)?;
                        }
                        Op::Pull(i) => {
                            let registry =
                                registry.context("a digest reference needs the local registry")?;
                            let repo = spec.tags[i].path();
                            let pushed = source.push(registry, handle, repo)?;
                            if pushed != manifest {
                                bail!("{handle}: the registry stored manifest {pushed}, not {manifest}");
                            }
                            let got = api.pull(&names[i])?;
                            if got != id {
                                bail!("{handle}: pulling {} gave image {got}, not {id}", names[i]);
                            }
                        }
                        Op::Tag(i) => api.tag(&id, &names[i])?,
                    }
                }
                id
            }
        };
        ids.insert(handle, id);
    }

    let mut pods: HashMap<&PodHandle, String> = HashMap::new();
    for (handle, spec) in &given.containers {
        let image = ids
            .get(&spec.image)
            .with_context(|| format!("container {handle}: image {} not built", spec.image))?;
        let mounts: Vec<String> = spec
            .mounts
            .iter()
            .map(|m| {
                ids.get(m)
                    .cloned()
                    .with_context(|| format!("container {handle}: mounted image {m} not built"))
            })
            .collect::<anyhow::Result<_>>()?;
        if let Some(pod) = given.pod_of_infra(handle) {
            // The pod is made with its infra container, whose state is the pod's: started
            // before any other container is in it, so the pod's start starts it alone.
            let (pod_id, id) = api.create_pod(pod.as_str(), image, cgroup_parent)?;
            match spec.state {
                ContainerState::Created => {}
                ContainerState::Running => api.start_pod(&pod_id)?,
                ContainerState::Stopped => {
                    api.start_pod(&pod_id)?;
                    api.stop_pod(&pod_id)?;
                }
                ContainerState::Paused => bail!("pod {pod}: a paused infra container"),
            }
            symbols.add_pod(
                pod.clone(),
                Digest::parse(&pod_id).with_context(|| format!("pod ID {pod_id:?}"))?,
            );
            pods.insert(pod, pod_id);
            symbols.add_container(
                handle.clone(),
                Digest::parse(&id).with_context(|| format!("container ID {id:?}"))?,
            );
            continue;
        }
        let pod = match &spec.pod {
            Some(p) => Some(
                pods.get(p)
                    .map(String::as_str)
                    .with_context(|| format!("container {handle}: pod {p} not made"))?,
            ),
            None => None,
        };
        let id =
            api.create_container_mounting(image, handle.as_str(), cgroup_parent, &mounts, pod)?;
        check_image_mounts(api, handle.as_str(), &id, &mounts)?;
        if spec.state != ContainerState::Created {
            api.start_container(&id)?;
        }
        match spec.state {
            ContainerState::Created | ContainerState::Running => {}
            ContainerState::Stopped => api.stop_container(&id)?,
            ContainerState::Paused => api.pause_container(&id)?,
        }
        symbols.add_container(
            handle.clone(),
            Digest::parse(&id).with_context(|| format!("container ID {id:?}"))?,
        );
    }

    if !given.containers.is_empty() {
        check_containers(api, given, symbols)?;
    }

    // Manifest lists last, while a dangling image still has its temporary tag (a list is
    // made from images by ID, so the tag is not needed for it, but the order keeps the
    // images' names settled first).
    let mut lists: Vec<(&ImageHandle, String)> = Vec::new();
    for (handle, spec) in &given.manifests {
        let images: Vec<String> = spec
            .images
            .iter()
            .map(|i| {
                ids.get(i)
                    .cloned()
                    .with_context(|| format!("manifest list {handle}: image {i} not built"))
            })
            .collect::<anyhow::Result<_>>()?;
        let names: Vec<String> = spec
            .tags
            .iter()
            .map(|t| t.expand(&reg_host, &Digest::parse(&"0".repeat(64)).expect("valid")))
            .collect();
        let (first, rest) = names
            .split_first()
            .with_context(|| format!("manifest list {handle} has no name"))?;
        let id = api.create_manifest(flavor == Flavor::Libpod301, first, &images)?;
        for name in rest {
            api.tag(&id, name)?;
        }
        let digest = Digest::parse(&id).with_context(|| format!("manifest list ID {id:?}"))?;
        symbols.add_image(handle.clone(), digest.clone(), digest);
        lists.push((handle, id));
    }

    for (id, tag) in &dangling {
        api.untag(id, tag)?;
    }

    if strict {
        ids.extend(lists.iter().map(|(h, id)| (*h, id.clone())));
        check(api, given, &ids, &reg_host, source)
    } else {
        Ok(())
    }
}

/// `made_by: pull`: the image is made by pulling from the local registry the tag it would be
/// loaded under (`first`, as written and expanded), which must be the tag the scenario pulls
/// it by (`pull`); `expect` is its (manifest, ID).
fn pull_by_tag(
    api: &Libpod,
    source: &Source<'_>,
    registry: Option<&Registry>,
    handle: &ImageHandle,
    first: (&StoredName, &str),
    pull: Option<&StoredName>,
    expect: (&Digest, &str),
) -> anyhow::Result<()> {
    let (manifest, id) = expect;
    let Some(StoredName::Tagged { path, tag, .. }) = pull else {
        bail!("{handle}: a pulled image needs a <reg> tag");
    };
    if pull != Some(first.0) {
        bail!(
            "{handle}: Podman gives the image {} first, so it cannot be pulled by `{}`",
            first.1,
            pull.map(ToString::to_string).unwrap_or_default()
        );
    }
    let registry = registry.context("a pulled image needs the local registry")?;
    let pushed = source.push_tagged(registry, handle, path, tag)?;
    if &pushed != manifest {
        bail!("{handle}: the registry stored manifest {pushed}, not {manifest}");
    }
    let got = api.pull(first.1)?;
    if got != id {
        bail!("{handle}: pulling {} gave image {got}, not {id}", first.1);
    }
    Ok(())
}

/// A child: a container from the parent, committed without a name, the container removed.
fn commit_child(
    api: &Libpod,
    parent_id: &str,
    handle: &ImageHandle,
    cgroup_parent: &str,
) -> anyhow::Result<String> {
    let helper = format!("rmispec-commit-{}", handle.as_str().to_ascii_lowercase());
    let container = api.create_container(parent_id, &helper, cgroup_parent)?;
    let id = api.commit(&container);
    api.remove_container(&container)?;
    let id = id?;
    Ok(id.trim_start_matches("sha256:").to_owned())
}

/// The created container lists exactly the image volumes asked for: a libpod that dropped
/// the spec's `image_volumes` would make a store without the mounts, and the trial would
/// check the wrong thing.
fn check_image_mounts(
    api: &Libpod,
    handle: &str,
    id: &str,
    mounts: &[String],
) -> anyhow::Result<()> {
    let mut got = api.container_image_mounts(id)?;
    got.sort();
    let mut want: Vec<(String, String)> = mounts
        .iter()
        .enumerate()
        .map(|(i, m)| (m.clone(), super::api::image_volume_destination(i)))
        .collect();
    want.sort();
    if got != want {
        bail!("container {handle} was created with image mounts {got:?}, not {want:?}");
    }
    Ok(())
}

/// Every container is listed in the state the scenario gives it.
fn check_containers(api: &Libpod, given: &Given, symbols: &Symbols) -> anyhow::Result<()> {
    let listed = api.containers()?;
    for (handle, spec) in &given.containers {
        let id = symbols.container(handle.as_str()).map(|d| d.hex());
        let state = listed
            .iter()
            .find(|c| Some(c.id.as_str()) == id)
            .map(|c| c.state());
        if state != Some(spec.state) {
            bail!(
                "container {handle} is {:?} after building, not {}",
                state.map(ContainerState::name),
                spec.state.name()
            );
        }
    }
    Ok(())
}

/// The oldest image of `given` that libimage's layer tree cannot tell from `image`: the
/// first without a parent and with the same layers, if `image` has no parent itself (its
/// history is then one entry per layer, like every such image's); else `image`.
fn oldest_twin<'a>(given: &'a Given, image: &'a ImageHandle) -> &'a ImageHandle {
    let spec = &given.images[image];
    if spec.parent.is_some() {
        return image;
    }
    given
        .images
        .iter()
        .find(|(_, other)| other.parent.is_none() && other.layers == spec.layers)
        .map_or(image, |(handle, _)| handle)
}

/// Every image exists with exactly the scenario's names, in the scenario's order.
fn check(
    api: &Libpod,
    given: &Given,
    ids: &HashMap<&ImageHandle, String>,
    reg_host: &str,
    source: &Source<'_>,
) -> anyhow::Result<()> {
    let listed = api.images()?;
    for (handle, spec) in &given.images {
        let id = &ids[handle];
        let manifest = match spec.parent {
            None => source.digests(handle)?.1,
            Some(_) => Digest::parse(&"0".repeat(64)).expect("valid"),
        };
        let want: Vec<String> = spec
            .tags
            .iter()
            .map(|n| n.expand(reg_host, &manifest))
            .collect();
        let Some(image) = listed.iter().find(|i| &i.id == id) else {
            bail!("built {handle} ({id}), but the engine does not list it");
        };
        let got = image.names.clone().unwrap_or_default();
        if got != want {
            bail!("built {handle} with names {got:?}, wanted {want:?} (in this order)");
        }
        // Podman's parent is structural (the layer tree): an image whose layers and history
        // are another's plus one step is that one's child, declared or not; a child of one of
        // two twins (no parent, the same layers) is the oldest twin's
        // (`rmispec_model`'s `podman::Storage::is_parent_of`).
        let want_parent = spec
            .parent
            .as_ref()
            .map(|p| ids[oldest_twin(given, p)].as_str());
        let got_parent = Some(image.parent_id.as_str()).filter(|p| !p.is_empty());
        if got_parent != want_parent {
            let name = |id: Option<&str>| match id {
                None => "none".to_owned(),
                Some(id) => ids
                    .iter()
                    .find(|(_, v)| v.as_str() == id)
                    .map_or(id.to_owned(), |(h, _)| h.to_string()),
            };
            bail!(
                "Podman sees the parent of {handle} as {}, the scenario as {} (libimage's layer tree links an image \
                 to any image whose layers and history it extends by one step)",
                name(got_parent),
                name(want_parent)
            );
        }
    }
    for (handle, spec) in &given.manifests {
        let id = &ids[handle];
        let want: Vec<String> = spec.tags.iter().map(ToString::to_string).collect();
        let Some(list) = listed.iter().find(|i| &i.id == id) else {
            bail!("made manifest list {handle} ({id}), but the engine does not list it");
        };
        let mut got = list.names.clone().unwrap_or_default();
        got.sort();
        let mut sorted = want.clone();
        sorted.sort();
        if got != sorted {
            bail!("made manifest list {handle} with names {got:?}, wanted {want:?}");
        }
    }
    if listed.len() != given.images.len() + given.manifests.len() {
        let extra: Vec<_> = listed
            .iter()
            .filter(|i| !ids.values().any(|id| id == &i.id))
            .map(|i| &i.id)
            .collect();
        bail!("the store holds images the scenario does not: {extra:?}");
    }
    Ok(())
}
