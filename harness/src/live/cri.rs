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

use crate::live::options::LiveOptions;
use crate::live::registry::Registry;
use crate::live::sandbox::{self, StateDir};
use crate::observation::Observation;
use crate::scenario::Scenario;
use crate::synth;
use anyhow::{bail, Context};
use build::{Naming, Pods};
use client::ok;
use rmispec_model::{Digest, Listing, Profile, Request};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The label on every pod sandbox and container the harness makes (its value: the backend's
/// instance, `<pid>-<n>`). Resets and listings touch nothing else.
pub const SANDBOX_LABEL: &str = "io.rmispec.owner";

/// The reset used unless `RMISPEC_CRI_RESET` says otherwise. Measured (`tests/live_cri.rs`
/// `reset_costs`, n=7, medians) from backends.md §9's store, 5 images × 2 tags with 2 running
/// and 2 stopped containers: API cleanup 156 ms (1.7.24) / 136 ms (1.6.20), fresh root 252 /
/// 239 ms. Over the catalogue's small stores an API reset's median is ~7 ms. Both leave the
/// same content behind (the sandbox image's blobs and snapshot: garbage collection runs on
/// the last `RemoveImage`), so the API it is.
const DEFAULT_RESET: Reset = Reset::Api;

pub use crate::live::reset::Reset;

/// The variable that overrides [`DEFAULT_RESET`]. An API reset removes the harness's pod
/// sandboxes (with their containers), then every image but the sandbox image; `RemoveImage`
/// deletes an image's last name synchronously, which runs containerd's garbage collection
/// (`containerd/containerd@v1.7.24:pkg/cri/server/image_remove.go#L50-L56`). A fresh root
/// also pulls the sandbox image again.
const RESET_VAR: &str = "RMISPEC_CRI_RESET";

/// Where a run's time went.
#[derive(Clone, Debug, Default)]
pub struct Timings {
    /// Starting containerd and the registry (to ready, with the sandbox image pulled).
    pub start: Duration,
    /// Per scenario: the reset before it (zero when the store was clean).
    pub resets: Vec<Duration>,
    /// Per scenario: building the store (pushes, pulls, names, pods).
    pub builds: Vec<Duration>,
    /// Per scenario: the request and the listing after it.
    pub requests: Vec<Duration>,
}

impl Timings {
    /// One line: totals and per-scenario medians.
    pub fn summary(&self) -> String {
        let total = |v: &[Duration]| v.iter().sum::<Duration>();
        let median = |v: &[Duration]| {
            let mut v = v.to_vec();
            v.sort();
            v.get(v.len() / 2).copied().unwrap_or_default()
        };
        format!(
            "{} scenarios: start {:.2?}, resets {:.2?} (median {:.2?}), builds {:.2?} (median {:.2?}), requests {:.2?}",
            self.builds.len(),
            self.start,
            total(&self.resets),
            median(&self.resets),
            total(&self.builds),
            median(&self.builds),
            total(&self.requests),
        )
    }
}

/// Where the runtime comes from.
#[derive(Debug)]
enum Engine {
    /// containerd started by the harness (with its registry).
    Sandboxed(Box<SandboxedCri>),
    /// A CRI runtime someone else runs.
    External(Box<External>),
}

/// A CRI runtime someone else runs, and the registry the harness runs for it. Field order is
/// drop order: the registry stops before its directory is removed.
#[derive(Debug)]
struct External {
    cri: Cri,
    registry: Registry,
    _registry_dir: StateDir,
    /// The runtime's sandbox image ID, if known and present.
    sandbox_image: Option<Digest>,
    /// Why pods cannot be made there, if they cannot.
    no_pods: Option<String>,
}

/// A live CRI runtime the runner can drive.
#[derive(Debug)]
pub struct CriBackend {
    flavor: Flavor,
    reset: Reset,
    /// The store holds something a scenario put there.
    dirty: bool,
    /// `Version`'s runtime name and version: `containerd v1.7.24`.
    version: String,
    /// The value of [`SANDBOX_LABEL`] on this backend's pods and containers.
    owner: String,
    /// The pods' cgroup parent, if not the engine's (see [`CriBackend::set_cgroup_parent`]).
    cgroup_parent: Option<String>,
    /// What the run's time went to.
    pub timings: Timings,
    engine: Engine,
}

impl CriBackend {
    /// Starts a sandboxed containerd, or connects to `opts.socket` (refusing the host's
    /// default CRI sockets, and a non-empty image store, unless `opts.allow_default_socket`).
    pub fn connect(profile: Profile, opts: &LiveOptions) -> anyhow::Result<CriBackend> {
        let Some(flavor) = Flavor::of(profile) else {
            bail!("{profile} is not a CRI profile");
        };
        match &opts.socket {
            Some(socket) => Self::external(flavor, socket, opts),
            None => Self::sandboxed(flavor, opts),
        }
    }

    fn sandboxed(flavor: Flavor, opts: &LiveOptions) -> anyhow::Result<CriBackend> {
        let t0 = Instant::now();
        let state_dir = opts
            .state_dir
            .as_ref()
            .map(|d| d.join(flavor.profile().id()));
        let engine = SandboxedCri::start(flavor, state_dir.as_deref())
            .with_context(|| format!("starting {} sandboxed", flavor.profile()))?;
        let version = version(engine.cri()?, flavor)?;
        Ok(CriBackend {
            flavor,
            reset: Reset::from_env(RESET_VAR, DEFAULT_RESET)?,
            dirty: false,
            version,
            owner: sandbox::instance_suffix(),
            cgroup_parent: None,
            timings: Timings {
                start: t0.elapsed(),
                ..Timings::default()
            },
            engine: Engine::Sandboxed(Box::new(engine)),
        })
    }

    fn external(flavor: Flavor, socket: &Path, opts: &LiveOptions) -> anyhow::Result<CriBackend> {
        if is_default_socket(socket) && !opts.allow_default_socket {
            bail!(
                "{} is a host's default CRI socket: the harness deletes every image in the runtime it drives. Pass \
                 --i-know-this-deletes-images if that is what you want.",
                socket.display()
            );
        }
        let reset = Reset::from_env(RESET_VAR, Reset::Api)?;
        if reset == Reset::FreshRoot {
            bail!("RMISPEC_CRI_RESET=fresh-root needs a sandboxed containerd, not --socket");
        }
        let cri = Cri::connect(socket)?;
        let version = version(&cri, flavor)
            .with_context(|| format!("no CRI v1 runtime answers at {}", socket.display()))?;
        let (sandbox_image, no_pods) = external_sandbox_image(&cri)?;
        let others: Vec<String> = ok("ListImages", cri.list_images())?
            .into_iter()
            .map(|i| i.id)
            .filter(|id| sandbox_image.as_ref().is_none_or(|s| *id != s.prefixed()))
            .collect();
        if !others.is_empty() && !opts.allow_default_socket {
            bail!(
                "the runtime at {} holds {} images besides its sandbox image: the harness deletes every image between \
                 scenarios. Empty it, or pass --i-know-this-deletes-images.",
                socket.display(),
                others.len()
            );
        }
        let registry_dir = StateDir::fresh(&format!("{}-registry", flavor.profile().id()))?;
        let registry = Registry::start(&registry_dir)?;
        Ok(CriBackend {
            flavor,
            reset,
            dirty: !others.is_empty(),
            version,
            owner: sandbox::instance_suffix(),
            cgroup_parent: None,
            timings: Timings::default(),
            engine: Engine::External(Box::new(External {
                cri,
                registry,
                _registry_dir: registry_dir,
                sandbox_image,
                no_pods,
            })),
        })
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

    /// The local registry (`<reg>`).
    pub fn registry(&self) -> &Registry {
        match &self.engine {
            Engine::Sandboxed(e) => e.registry(),
            Engine::External(x) => &x.registry,
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
        match self.engine {
            Engine::Sandboxed(_) => Naming::Containerd,
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

    /// How resets are done.
    pub fn set_reset(&mut self, reset: Reset) -> anyhow::Result<()> {
        if reset == Reset::FreshRoot && self.engine().is_none() {
            bail!("a fresh root needs a sandboxed containerd");
        }
        self.reset = reset;
        Ok(())
    }

    /// Marks the store as holding something (the next [`reset`](Self::reset) empties it).
    pub fn touch(&mut self) {
        self.dirty = true;
    }

    /// Returns the runtime to empty if a scenario used it, and checks that it is.
    pub fn reset(&mut self) -> anyhow::Result<Duration> {
        let t0 = Instant::now();
        if self.dirty {
            // Pods first, through CRI, whatever the reset: a shim killed with containerd
            // leaks its socket in /run/containerd/s.
            self.remove_pods()?;
            match (self.reset, &mut self.engine) {
                (Reset::FreshRoot, Engine::Sandboxed(e)) => e.fresh_root()?,
                _ => self.remove_images()?,
            }
            self.dirty = false;
        }
        let left = self.listing()?;
        if !(left.images.is_empty() && left.containers.is_empty()) {
            bail!(
                "the runtime is not empty after a reset: {} images, {} containers",
                left.images.len(),
                left.containers.len()
            );
        }
        let took = t0.elapsed();
        self.cri()?.take_engine_time();
        Ok(took)
    }

    /// Stops and removes the harness's pod sandboxes (which removes their containers), then
    /// any container of the harness's still listed.
    pub fn remove_pods(&self) -> anyhow::Result<()> {
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

    /// `RemoveImage` by ID for every image but the sandbox image.
    fn remove_images(&self) -> anyhow::Result<()> {
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
        Ok(())
    }

    /// Performs `request`: one `RemoveImage` per name (see [`observe::remove`]).
    pub fn remove(&mut self, request: &Request) -> anyhow::Result<observe::Answer> {
        self.dirty = true;
        observe::remove(self.cri()?, request, self.sandbox_image())
    }

    /// The store as `ListImages` and `ListContainers` show it (without the sandbox image).
    pub fn listing(&self) -> anyhow::Result<Listing> {
        observe::listing(
            self.cri()?,
            self.sandbox_image(),
            &build::owner_labels(&self.owner),
        )
    }
}

impl crate::backend::Backend for CriBackend {
    fn profile(&self) -> Profile {
        self.flavor.profile()
    }

    fn label(&self) -> String {
        format!("live {}", self.version)
    }

    fn run(&mut self, scenario: &Scenario) -> anyhow::Result<Observation> {
        let reset = self.reset().context("emptying the runtime")?;
        self.dirty = true;
        let t0 = Instant::now();
        let synthesized = synth::synthesize(&scenario.given);
        let mut symbols = synthesized.symbols(self.flavor.profile(), &self.registry().host());
        build::build(
            self.cri()?,
            self.naming(),
            &scenario.given,
            &synthesized,
            self.registry(),
            &self.pods(),
            self.sandbox_image(),
            &mut symbols,
        )
        .with_context(|| {
            format!(
                "building the given store of {} on {}",
                scenario.name,
                self.flavor.profile()
            )
        })?;
        let t1 = Instant::now();
        let request = scenario.request(&mut symbols)?;
        if let Some(sandbox) = self.sandbox_image() {
            let ids: Vec<Digest> = synthesized
                .images
                .values()
                .map(|i| i.config.digest.clone())
                .collect();
            if let Some(name) = request
                .names
                .iter()
                .find(|n| sandbox_image_interferes(n, sandbox, &ids))
            {
                bail!(
                    "{name:?} is also a prefix of the sandbox image's ID {sandbox} (every CRI node has that image; the \
                     scenario's store does not): the runtime would answer for a different store, so this request is not sent"
                );
            }
        }
        let (records, errors, status) = self.remove(&request)?;
        let after = self.listing()?;
        self.timings.resets.push(reset);
        self.timings.builds.push(t1 - t0);
        self.timings.requests.push(t1.elapsed());
        Ok(Observation {
            records,
            errors,
            status,
            after,
            symbols,
        })
    }
}

impl Drop for CriBackend {
    fn drop(&mut self) {
        if std::env::var_os("RMISPEC_TIMINGS").is_some() {
            eprintln!(
                "rmispec: {}: {}",
                self.flavor.profile(),
                self.timings.summary()
            );
        }
        // Pods go through CRI before containerd stops (their shims then exit cleanly); a
        // runtime the user pointed us at is left as empty as we found it. After a signal,
        // the handler has stopped containerd and cleaned up already.
        if self.dirty && !sandbox::shutting_down() {
            let external = matches!(self.engine, Engine::External(_));
            let result = self.remove_pods().and_then(|()| {
                if external {
                    self.remove_images()
                } else {
                    Ok(())
                }
            });
            if let Err(e) = result {
                eprintln!("rmispec: emptying {} failed: {e:#}", self.flavor.profile());
            }
        }
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

/// The sandbox image of a runtime the harness does not run: the name containerd reports in
/// `Status(verbose)` (`info["config"]`, key `sandboxImage`), else `RMISPEC_CRI_SANDBOX_IMAGE`;
/// its ID if the runtime has it. Without one that is present, pods are not made (the runtime
/// would pull its sandbox image from wherever it names, outside loopback).
fn external_sandbox_image(cri: &Cri) -> anyhow::Result<(Option<Digest>, Option<String>)> {
    let from_status = ok("Status", cri.status(true))?
        .info
        .get("config")
        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
        .and_then(|c| c.get("sandboxImage")?.as_str().map(str::to_owned));
    let Some(name) = from_status.or_else(|| std::env::var("RMISPEC_CRI_SANDBOX_IMAGE").ok()) else {
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

/// Whether `socket` is (or resolves to) one of the [`default_sockets`].
pub fn is_default_socket(socket: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let s = canon(socket);
    default_sockets().iter().any(|d| canon(d) == s)
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
        assert!(is_default_socket(Path::new("/var/run/crio/crio.sock")));
        assert!(is_default_socket(Path::new(
            "/run/containerd/containerd.sock"
        )));
        assert!(!is_default_socket(Path::new(
            "/tmp/rmispec/containerd.sock"
        )));
    }
}
