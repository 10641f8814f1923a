//! The CRI adapter: the containerd CRI plugin's `ImageService` (containerd 1.7.24 as
//! `cri-containerd`, 1.6.20 as `cri-containerd@1.6`), spoken to over CRI v1 gRPC as a kubelet
//! does.
//!
//! Per scenario: return to an empty store ([`Reset`]), build the `given` store as a node gets
//! its images, by pulling them from a local registry ([`build`]), send one
//! `RemoveImage{image: ImageSpec{image: name}}` per name, in order, and read `ListImages` and
//! `ListContainers` afterwards ([`observe`]).
//!
//! containerd runs sandboxed ([`engine`]: its own root, state, sockets, temp and config under
//! one state directory, the CRI plugin on, a synthesized sandbox image). Or the adapter talks
//! to a CRI runtime the user names with `--socket` (CRI-O, another containerd), to check it
//! against the `cri-containerd` semantics: never the host's default sockets and never a
//! non-empty image store unless the user says `--i-know-this-deletes-images`, and its stores
//! are built by pulls only ([`build::Naming::PullOnly`]).
//!
//! What every CRI node has and a scenario's store does not: the sandbox ("pause") image. It
//! stays in the runtime, is left out of listings and resets, and a request it could answer
//! differently (an ID prefix it shares) is refused rather than observed (see
//! [`sandbox_image_interferes`]).

pub mod build;
pub mod client;
pub mod engine;
pub mod observe;

pub use build::CannotBuild;
pub use client::Cri;
pub use engine::{Flavor, SandboxedCri};

use crate::live::adapter::{Adapter, Answer, Build, Origin, Unsupported};
use crate::live::backend::LiveBackend;
use crate::live::registry::Registry;
pub use crate::live::reset::Reset;
use crate::live::sandbox;
use crate::symbols::Symbols;
use anyhow::{bail, Context};
use build::{Naming, Pods};
use client::ok;
use rmispec_model::{Digest, Listing, Profile, Request};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The label on every pod sandbox and container the harness makes (its value: the adapter's
/// instance, `<pid>-<n>`). Resets and listings touch nothing else.
pub const SANDBOX_LABEL: &str = "io.rmispec.owner";

/// A live CRI runtime, driven by the generic backend.
pub type CriBackend = LiveBackend<CriRuntime>;

/// Where the runtime comes from.
#[derive(Debug)]
enum Engine {
    /// containerd started by the harness (with its registry).
    Sandboxed(Box<SandboxedCri>),
    /// A CRI runtime someone else runs.
    External(Box<External>),
}

/// A CRI runtime someone else runs.
#[derive(Debug)]
struct External {
    cri: Cri,
    socket: PathBuf,
    /// The runtime's sandbox image ID, if known and present.
    sandbox_image: Option<Digest>,
    /// Why pods cannot be made there, if they cannot.
    no_pods: Option<String>,
    /// Whether the socket also serves containerd's own API (namespace `k8s.io`).
    containerd_api: bool,
}

/// The CRI adapter: a sandboxed containerd with its CRI plugin, or a CRI runtime at a socket.
#[derive(Debug)]
pub struct CriRuntime {
    flavor: Flavor,
    /// `Version`'s runtime name and version: `containerd v1.7.24`.
    version: String,
    /// The value of [`SANDBOX_LABEL`] on this adapter's pods and containers.
    owner: String,
    /// The pods' cgroup parent, if not the engine's (see [`CriRuntime::set_cgroup_parent`]).
    cgroup_parent: Option<String>,
    engine: Engine,
}

impl CriRuntime {
    fn flavor_of(profile: Profile) -> anyhow::Result<Flavor> {
        Flavor::of(profile).with_context(|| format!("{profile} is not a CRI profile"))
    }

    /// The CRI client.
    pub fn cri(&self) -> anyhow::Result<&Cri> {
        match &self.engine {
            Engine::Sandboxed(e) => e.cri(),
            Engine::External(x) => Ok(&x.cri),
        }
    }

    /// The sandboxed containerd, when the harness runs it.
    pub fn engine(&self) -> Option<&SandboxedCri> {
        match &self.engine {
            Engine::Sandboxed(e) => Some(e),
            Engine::External(_) => None,
        }
    }

    /// The runtime's sandbox image ID (left out of listings and resets), if known.
    pub fn sandbox_image(&self) -> Option<&Digest> {
        match &self.engine {
            Engine::Sandboxed(e) => Some(e.sandbox_image_id()),
            Engine::External(x) => x.sandbox_image.as_ref(),
        }
    }

    fn naming(&self) -> Naming {
        match &self.engine {
            Engine::Sandboxed(_) => Naming::Containerd,
            Engine::External(x) if x.containerd_api => Naming::Containerd,
            Engine::External(_) => Naming::PullOnly,
        }
    }

    fn pods(&self) -> Pods {
        let mut pods = match &self.engine {
            Engine::Sandboxed(e) => Pods {
                cgroup_parent: e.cgroup_parent(),
                owner: self.owner.clone(),
                unavailable: None,
            },
            Engine::External(x) => Pods {
                cgroup_parent: String::new(),
                owner: self.owner.clone(),
                unavailable: x.no_pods.clone(),
            },
        };
        if let Some(parent) = &self.cgroup_parent {
            pods.cgroup_parent.clone_from(parent);
        }
        pods
    }

    /// The cgroup parent of the pods made from now on (`PodSandboxConfig.linux.cgroup_parent`,
    /// in the runtime's cgroup driver's syntax). A sandboxed containerd's is the harness's own;
    /// a runtime behind `--socket` gets its default (`/k8s.io` on containerd) unless set.
    pub fn set_cgroup_parent(&mut self, parent: impl Into<String>) {
        self.cgroup_parent = Some(parent.into());
    }
}

impl CriBackend {
    /// The CRI client.
    pub fn cri(&self) -> anyhow::Result<&Cri> {
        self.adapter().cri()
    }

    /// The sandboxed containerd, when the harness runs it.
    pub fn engine(&self) -> Option<&SandboxedCri> {
        self.adapter().engine()
    }

    /// The runtime's sandbox image ID, if known.
    pub fn sandbox_image(&self) -> Option<&Digest> {
        self.adapter().sandbox_image()
    }

    /// See [`CriRuntime::set_cgroup_parent`].
    pub fn set_cgroup_parent(&mut self, parent: impl Into<String>) {
        self.adapter_mut().set_cgroup_parent(parent);
    }
}

impl Adapter for CriRuntime {
    /// Measured (`tests/live_cri.rs` `reset_costs`, n=7, medians) from a store of 5 images ×
    /// 2 tags with 2 running and 2 stopped containers: API cleanup 156 ms (1.7.24) / 136 ms
    /// (1.6.20), fresh root 252 / 239 ms. Over the catalogue's small stores an API reset's
    /// median is ~7 ms. Both leave the same content behind (the sandbox image's blobs and
    /// snapshot: garbage collection runs on the last `RemoveImage`,
    /// `containerd/containerd@v1.7.24:pkg/cri/server/image_remove.go#L50-L56`), so the API it
    /// is. A fresh root also pulls the sandbox image again.
    const RESET_VAR: &'static str = "RMISPEC_CRI_RESET";
    const DEFAULT_RESET: Reset = Reset::Api;
    /// Every CRI store is built by pulls from the local registry.
    const NEEDS_REGISTRY: bool = true;

    fn start(profile: Profile, state_dir: Option<&Path>) -> anyhow::Result<CriRuntime> {
        let flavor = Self::flavor_of(profile)?;
        let engine = SandboxedCri::start(flavor, state_dir)?;
        let version = version(engine.cri()?, flavor)?;
        Ok(CriRuntime {
            flavor,
            version,
            owner: sandbox::instance_suffix(),
            cgroup_parent: None,
            engine: Engine::Sandboxed(Box::new(engine)),
        })
    }

    fn attach(profile: Profile, socket: &Path) -> anyhow::Result<CriRuntime> {
        let flavor = Self::flavor_of(profile)?;
        let cri = Cri::connect(socket)?;
        let version = version(&cri, flavor)
            .with_context(|| format!("no CRI v1 runtime answers at {}", socket.display()))?;
        // containerd serves its own API on the CRI socket: then stores are built as in the
        // sandbox (names a pull cannot make are image records), not by pulls alone.
        let containerd_api = cri.records_list().is_ok();
        let (sandbox_image, no_pods) = external_sandbox_image(&cri, containerd_api)?;
        Ok(CriRuntime {
            flavor,
            version,
            owner: sandbox::instance_suffix(),
            cgroup_parent: None,
            engine: Engine::External(Box::new(External {
                cri,
                socket: socket.to_path_buf(),
                sandbox_image,
                no_pods,
                containerd_api,
            })),
        })
    }

    fn default_sockets() -> Vec<PathBuf> {
        default_sockets()
    }

    fn profile(&self) -> Profile {
        self.flavor.profile()
    }

    fn label(&self) -> String {
        format!("live {}", self.version)
    }

    fn origin(&self) -> Origin<'_> {
        match &self.engine {
            Engine::Sandboxed(e) => Origin::Sandboxed(e.dir()),
            Engine::External(x) => Origin::External(&x.socket),
        }
    }

    fn own_registry(&self) -> Option<&Registry> {
        match &self.engine {
            Engine::Sandboxed(e) => Some(e.registry()),
            Engine::External(_) => None,
        }
    }

    fn build(&mut self, b: Build<'_>) -> anyhow::Result<()> {
        let registry = self
            .own_registry()
            .or(b.registry)
            .context("a CRI store is pulled from the local registry, which does not run")?;
        let result = build::build(
            self.cri()?,
            self.naming(),
            &b.scenario.given,
            b.source.synthesized,
            registry,
            &self.pods(),
            self.sandbox_image(),
            b.symbols,
        );
        // What CRI alone cannot name is not a failure of the runtime: skip it.
        result.map_err(|e| match e.downcast::<CannotBuild>() {
            Ok(c) => Unsupported::new(c.to_string()).into(),
            Err(e) => e,
        })
    }

    fn check_request(&self, request: &Request, symbols: &Symbols) -> anyhow::Result<()> {
        let Some(sandbox) = self.sandbox_image() else {
            return Ok(());
        };
        let ids: Vec<Digest> = symbols.image_ids().cloned().collect();
        match request
            .names
            .iter()
            .find(|n| sandbox_image_interferes(n, sandbox, &ids))
        {
            Some(name) => Err(Unsupported::new(format!(
                "{name:?} is also a prefix of the sandbox image's ID {sandbox} (every CRI node has that image; the \
                 scenario's store does not): the runtime would answer for a different store"
            ))
            .into()),
            None => Ok(()),
        }
    }

    /// As [`check_request`](Adapter::check_request) for the first name sent; every later name
    /// (of the same request, or of a later step) meets a store that earlier names may have
    /// emptied, where fewer of the scenario's images share its prefix: it interferes whenever
    /// the sandbox image's ID starts with it.
    fn check_requests(&self, requests: &[Request], symbols: &Symbols) -> anyhow::Result<()> {
        let Some(sandbox) = self.sandbox_image() else {
            return Ok(());
        };
        let mut names = requests.iter().flat_map(|r| &r.names);
        if let Some(first) = names.next() {
            let one = Request {
                names: vec![first.clone()],
                ..requests[0].clone()
            };
            self.check_request(&one, symbols)?;
        }
        match names.find(|n| sandbox_image_interferes(n, sandbox, &[])) {
            Some(name) => Err(Unsupported::new(format!(
                "{name:?} is also a prefix of the sandbox image's ID {sandbox} (every CRI node has that image; the \
                 scenario's store does not), and the names sent before it may leave fewer images it prefixes: the \
                 runtime would answer for a different store"
            ))
            .into()),
            None => Ok(()),
        }
    }

    /// One `RemoveImage` per name (see [`observe::remove`]).
    fn remove(&mut self, request: &Request) -> anyhow::Result<Answer> {
        observe::remove(self.cri()?, request, self.sandbox_image())
    }

    fn remove_at_once(&mut self, requests: &[Request]) -> anyhow::Result<Vec<Answer>> {
        observe::remove_at_once(self.cri()?, requests, self.sandbox_image())
    }

    /// The store as `ListImages` and `ListContainers` show it (without the sandbox image).
    fn listing(&mut self) -> anyhow::Result<Listing> {
        observe::listing(
            self.cri()?,
            self.sandbox_image(),
            &build::owner_labels(&self.owner),
        )
    }

    /// Stops and removes the harness's pod sandboxes (which removes their containers), then
    /// any container of the harness's still listed.
    fn remove_containers(&mut self) -> anyhow::Result<()> {
        let cri = self.cri()?;
        let labels = build::owner_labels(&self.owner);
        for pod in ok("ListPodSandbox", cri.pod_sandboxes(&labels))? {
            ok("removing a pod sandbox", cri.remove_pod_sandbox(&pod.id))?;
        }
        for c in ok("ListContainers", cri.containers(&labels))? {
            ok("RemoveContainer", cri.remove_container(&c.id))?;
        }
        Ok(())
    }

    /// `RemoveImage` by ID for every image but the sandbox image; then, on a containerd the
    /// harness runs, its garbage collection to the end ([`client::Cri::collect_garbage`]:
    /// the next build must not meet a collection still pending). A containerd behind
    /// `--socket` is not the harness's to collect.
    fn remove_images(&mut self) -> anyhow::Result<()> {
        let cri = self.cri()?;
        let sandbox = self.sandbox_image().map(Digest::prefixed);
        for image in ok("ListImages", cri.list_images())? {
            if Some(&image.id) != sandbox.as_ref() {
                ok(
                    &format!("removing {}", image.id),
                    cri.remove_image(&image.id),
                )?;
            }
        }
        if matches!(self.engine, Engine::Sandboxed(_)) {
            cri.collect_garbage()?;
        }
        Ok(())
    }

    fn fresh_root(&mut self) -> anyhow::Result<()> {
        match &mut self.engine {
            Engine::Sandboxed(e) => e.fresh_root(),
            Engine::External(_) => bail!("a fresh root needs a sandboxed containerd"),
        }
    }

    fn check_alive(&mut self) -> Result<(), sandbox::DaemonExit> {
        match &mut self.engine {
            Engine::Sandboxed(e) => e.check_alive(),
            Engine::External(_) => Ok(()),
        }
    }

    fn take_engine_time(&mut self) -> Duration {
        self.cri().map(|c| c.take_engine_time()).unwrap_or_default()
    }
}

/// Whether the sandbox image could change what `name` resolves to: CRI looks up a name that
/// is neither a full `sha256:` ID nor a stored name as an ID prefix among **all** images
/// (`containerd/containerd@v1.7.24:pkg/cri/server/helpers.go#L165-L191`, then go-digest's
/// `digestset.Lookup`), the sandbox image included. It can when the sandbox image's ID starts
/// with that prefix and fewer than two of the scenario's images do (two already make it
/// ambiguous, with or without the sandbox image). The empty name is such a prefix.
pub fn sandbox_image_interferes(name: &str, sandbox: &Digest, ids: &[Digest]) -> bool {
    let prefix = match name.strip_prefix("sha256:") {
        // `sha256:` alone fails to parse as a digest and is searched as typed: no match.
        Some("") => return false,
        Some(hex) => hex,
        None => name,
    };
    let lower_hex = prefix
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    lower_hex
        && sandbox.hex().starts_with(prefix)
        && ids.iter().filter(|d| d.hex().starts_with(prefix)).count() < 2
}

/// `Version`, checked: the runtime speaks CRI v1; a containerd whose version is not the
/// profile's is reported on stderr (the run goes on: that is what `--socket` is for).
fn version(cri: &Cri, flavor: Flavor) -> anyhow::Result<String> {
    let v = ok("Version", cri.version())?;
    let want = flavor.profile().version();
    if v.runtime_name == "containerd" && !v.runtime_version.contains(want) {
        eprintln!(
            "rmispec: {} is modelled at containerd {want}; the runtime says {}",
            flavor.profile(),
            v.runtime_version
        );
    }
    Ok(format!("{} {}", v.runtime_name, v.runtime_version))
}

/// The sandbox image of a runtime the harness does not run: the name containerd 1.x reports
/// in `Status(verbose)` (`info["config"]`, key `sandboxImage`); else `RMISPEC_CRI_SANDBOX_IMAGE`;
/// else, where the socket also serves containerd's API, the image record containerd pins
/// (label `io.cri-containerd.pinned`: containerd 2.x's status no longer names the sandbox
/// image, `containerd/containerd@v2.1.9:internal/cri/server/status.go#L72-L78`, but its image
/// service pins it). Its ID if the runtime has it. Without one that is present, pods are not
/// made (the runtime would pull its sandbox image from wherever it names, outside loopback).
fn external_sandbox_image(
    cri: &Cri,
    containerd_api: bool,
) -> anyhow::Result<(Option<Digest>, Option<String>)> {
    let from_status = ok("Status", cri.status(true))?
        .info
        .get("config")
        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
        .and_then(|c| c.get("sandboxImage")?.as_str().map(str::to_owned));
    let pinned = || {
        containerd_api
            .then(|| {
                cri.records_matching(vec![
                    r#"labels."io.cri-containerd.pinned"==pinned"#.to_owned()
                ])
                .ok()?
                .into_iter()
                .map(|(name, _)| name)
                .find(|name| !name.starts_with("sha256:"))
            })
            .flatten()
    };
    let Some(name) = from_status
        .or_else(|| std::env::var("RMISPEC_CRI_SANDBOX_IMAGE").ok())
        .or_else(pinned)
    else {
        return Ok((
            None,
            Some(
                "the runtime's sandbox image is unknown (set RMISPEC_CRI_SANDBOX_IMAGE)".to_owned(),
            ),
        ));
    };
    match ok("ImageStatus", cri.image_status(&name))? {
        Some(image) => Ok((
            Some(Digest::parse(&image.id).with_context(|| format!("image ID {:?}", image.id))?),
            None,
        )),
        None => Ok((
            None,
            Some(format!(
                "its sandbox image {name} is not present (the harness does not pull it)"
            )),
        )),
    }
}

/// The sockets a host's own CRI runtimes listen on: never used without
/// `--i-know-this-deletes-images`.
pub fn default_sockets() -> Vec<PathBuf> {
    [
        "/run/containerd/containerd.sock",
        "/var/run/containerd/containerd.sock",
        "/run/crio/crio.sock",
        "/var/run/crio/crio.sock",
    ]
    .into_iter()
    .map(PathBuf::from)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(prefix: &str) -> Digest {
        Digest::parse(&format!("{prefix:0<64}")).unwrap()
    }

    #[test]
    fn the_sandbox_image_interferes_only_with_prefixes_it_shares() {
        let sandbox = d("7f3b");
        let one = [d("7f3a")];
        assert!(sandbox_image_interferes("7f3", &sandbox, &one));
        assert!(sandbox_image_interferes("sha256:7f", &sandbox, &one));
        assert!(sandbox_image_interferes("", &sandbox, &one));
        assert!(!sandbox_image_interferes("7f3a", &sandbox, &one));
        assert!(!sandbox_image_interferes("sha256:", &sandbox, &one));
        assert!(!sandbox_image_interferes("localhost/app:1", &sandbox, &one));
        assert!(!sandbox_image_interferes("7F3", &sandbox, &one));
        // Two images already make it ambiguous.
        assert!(!sandbox_image_interferes(
            "7f",
            &sandbox,
            &[d("7f3a"), d("7f1")]
        ));
    }

    #[test]
    fn default_sockets_are_refused() {
        let defaults = default_sockets();
        let is_default = |p: &str| crate::live::backend::is_default_socket(Path::new(p), &defaults);
        assert!(is_default("/var/run/crio/crio.sock"));
        assert!(is_default("/run/containerd/containerd.sock"));
        assert!(!is_default("/tmp/rmispec/containerd.sock"));
    }
}
