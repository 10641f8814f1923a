//! The libpod REST API adapter: `podman-libimage` (Podman 4.3.1, and 5.4.2 as
//! `podman-libimage@5.4`) and `libpod-legacy` (Podman 3.0.1).
//!
//! Per scenario: return to an empty store ([`Reset`]), build the `given` store through the
//! API ([`build`]), send the request to the batch remove endpoint `DELETE
//! /libpod/images/remove` (or, for the few requests only the CLI shows, to `podman rmi`
//! itself: [`cli`]), and list images and containers afterwards ([`observe`]).
//!
//! The service runs sandboxed ([`service`]: config under the state directory, a private mount
//! namespace for the writes no setting moves), or is one the user names with `--socket`
//! (never the host's default Podman sockets, never a non-empty store, unless the user says
//! `--i-know-this-deletes-images`).

pub mod api;
pub mod build;
pub mod cli;
pub mod config;
pub mod naming;
pub mod observe;
pub mod service;

use crate::live::options::LiveOptions;
use crate::live::registry::Registry;
use crate::live::sandbox::StateDir;
use crate::observation::Observation;
use crate::scenario::{Domain, Scenario, StoredName};
use crate::symbols::Symbols;
use anyhow::{bail, Context};
use api::{Libpod, RemoveFlags, RemoveTarget};
use config::{Flavor, Layout};
use rmispec_model::{Failure, Listing, Profile, Record, Request, Status};
use service::Service;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use crate::live::reset::Reset;

/// The variable that overrides the reset (`api` or `fresh-root`).
const RESET_VAR: &str = "RMISPEC_PODMAN_RESET";

/// How a sandboxed Podman returns to empty: through the API, checked down to
/// containers/storage's records ([`leftovers`]; a fresh root if anything is left).
/// Measured on the live test's 14 scenarios (2 cores, other sessions busy): a reset by API
/// took a median of 3 ms on 4.3.1 and 5 ms on 3.0.1 (the request usually leaves little), a
/// fresh root (containers removed, service stopped, store wiped, service started and
/// pinged) 220 ms and 322 ms; the outcomes and snapshots were the same either way.
pub const DEFAULT_RESET: Reset = Reset::Api;

/// Where a run's time went.
#[derive(Clone, Debug, Default)]
pub struct Timings {
    /// Scenarios run.
    pub scenarios: u32,
    /// Building stores (loads, tags, pulls, commits, containers).
    pub build: Duration,
    /// The remove requests and the listings after them.
    pub observe: Duration,
    /// Each reset's duration, in order.
    pub resets: Vec<Duration>,
}

/// Where the service comes from.
#[derive(Debug)]
enum Engine {
    /// Started by the harness in its state directory. Field order is drop order: the service
    /// (containers removed, then stopped) before its directory is cleaned.
    Sandboxed {
        service: Option<Box<Service>>,
        dir: StateDir,
    },
    /// A service someone else runs.
    External { api: Libpod },
}

/// A live Podman the runner can drive.
#[derive(Debug)]
pub struct PodmanBackend {
    flavor: Flavor,
    reset: Reset,
    /// The store holds something a scenario put there.
    dirty: bool,
    /// The server's Podman version (`GET /version`).
    server_version: String,
    /// What the run's time went to.
    pub timings: Timings,
    // Drop order: the registry, its own directory (external services only), then the engine.
    registry: Option<Registry>,
    registry_dir: Option<StateDir>,
    engine: Engine,
}

impl PodmanBackend {
    /// Starts a sandboxed service, or connects to `opts.socket`.
    pub fn connect(profile: Profile, opts: &LiveOptions) -> anyhow::Result<PodmanBackend> {
        let Some(flavor) = Flavor::for_profile(profile) else {
            bail!("{profile} is not a Podman engine that runs live");
        };
        match &opts.socket {
            Some(socket) => Self::external(flavor, socket, opts),
            None => Self::sandboxed(flavor, opts),
        }
    }

    fn sandboxed(flavor: Flavor, opts: &LiveOptions) -> anyhow::Result<PodmanBackend> {
        let id = flavor.profile().id();
        let dir = match &opts.state_dir {
            Some(d) => StateDir::create(&d.join(id))?,
            None => StateDir::fresh(id)?,
        };
        let service = Box::new(Service::start(flavor, &dir, None)?);
        let server_version = service.api().version()?;
        Ok(PodmanBackend {
            flavor,
            reset: Reset::from_env(RESET_VAR, DEFAULT_RESET)?,
            dirty: false,
            server_version,
            timings: Timings::default(),
            registry: None,
            registry_dir: None,
            engine: Engine::Sandboxed {
                service: Some(service),
                dir,
            },
        })
    }

    fn external(
        flavor: Flavor,
        socket: &Path,
        opts: &LiveOptions,
    ) -> anyhow::Result<PodmanBackend> {
        if is_default_socket(socket) && !opts.allow_default_socket {
            bail!(
                "{} is the host's default Podman socket: the harness deletes every image and container in the service it \
                 drives. Pass --i-know-this-deletes-images if that is what you want.",
                socket.display()
            );
        }
        let api = Libpod::new(socket, flavor.api_version())?;
        let ping = api
            .ping()
            .with_context(|| format!("no libpod API at {}", socket.display()))?;
        let server_version = ping.libpod_api.unwrap_or_default();
        if !server_version.starts_with(flavor.api_major()) {
            bail!(
                "{} speaks libpod API {server_version:?} (server {:?}); {} needs {}x",
                socket.display(),
                ping.server.unwrap_or_default(),
                flavor.profile(),
                flavor.api_major()
            );
        }
        let server_version = api.version().unwrap_or(server_version);
        let (images, containers) = (api.images()?, api.containers()?);
        let empty = images.is_empty() && containers.is_empty();
        if !empty && !opts.allow_default_socket {
            bail!(
                "the service at {} is not empty ({} images, {} containers): the harness deletes everything in it between \
                 scenarios. Empty it, or pass --i-know-this-deletes-images.",
                socket.display(),
                images.len(),
                containers.len()
            );
        }
        let reset = Reset::from_env(RESET_VAR, Reset::Api)?;
        if reset == Reset::FreshRoot {
            bail!("RMISPEC_PODMAN_RESET=fresh-root needs a sandboxed service, not --socket");
        }
        Ok(PodmanBackend {
            flavor,
            reset,
            dirty: !empty,
            server_version,
            timings: Timings::default(),
            registry: None,
            registry_dir: None,
            engine: Engine::External { api },
        })
    }

    /// The flavour it runs.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// The API client.
    pub fn api(&self) -> &Libpod {
        match &self.engine {
            Engine::Sandboxed {
                service: Some(s), ..
            } => s.api(),
            Engine::Sandboxed { service: None, .. } => {
                unreachable!("the service is restarted before it is used again")
            }
            Engine::External { api } => api,
        }
    }

    /// The cgroup parent of the containers it creates: the sandboxed instance's own; none
    /// (the service's default) for a service the user named, whose cgroups are not ours.
    pub fn cgroup_parent(&self) -> String {
        match &self.engine {
            Engine::Sandboxed { dir, .. } => Layout::new(dir.path()).cgroup_parent(),
            Engine::External { .. } => String::new(),
        }
    }

    /// The state directory of a sandboxed service.
    pub fn state_dir(&self) -> Option<&Path> {
        match &self.engine {
            Engine::Sandboxed { dir, .. } => Some(dir.path()),
            Engine::External { .. } => None,
        }
    }

    /// How resets are done.
    pub fn set_reset(&mut self, reset: Reset) -> anyhow::Result<()> {
        if reset == Reset::FreshRoot && matches!(self.engine, Engine::External { .. }) {
            bail!("a fresh root needs a sandboxed service");
        }
        self.reset = reset;
        Ok(())
    }

    /// The local registry, started on first use. Pulls from it pass `tlsVerify=false`: a
    /// running service does not read `registries.conf` again once it has parsed it.
    pub fn registry(&mut self) -> anyhow::Result<&Registry> {
        if self.registry.is_none() {
            let dir = match &self.engine {
                Engine::Sandboxed { dir, .. } => dir,
                Engine::External { .. } => self.registry_dir.insert(StateDir::fresh(&format!(
                    "{}-registry",
                    self.flavor.profile().id()
                ))?),
            };
            self.registry = Some(Registry::start(dir)?);
        }
        Ok(self.registry.as_ref().expect("just started"))
    }

    /// Marks the store as holding something (the next [`reset`](Self::reset) empties it).
    pub fn touch(&mut self) {
        self.dirty = true;
    }

    /// Returns the store to empty if a scenario used it, and checks that it is.
    pub fn reset(&mut self) -> anyhow::Result<Duration> {
        let t0 = Instant::now();
        if self.dirty {
            match self.reset {
                Reset::FreshRoot => self.fresh_root()?,
                Reset::Api => {
                    self.remove_everything()?;
                    // A sandboxed store must be empty down to its layers; if anything is
                    // left, start over from a fresh root.
                    if let Some(dir) = self.state_dir() {
                        let left = leftovers(&Layout::new(dir).graph_root());
                        if !left.is_empty() {
                            eprintln!("rmispec: {} kept {left:?} after removing everything; using a fresh root", self.flavor.profile());
                            self.fresh_root()?;
                        }
                    }
                }
            }
            self.dirty = false;
        }
        let (images, containers) = (self.api().images()?, self.api().containers()?);
        if !(images.is_empty() && containers.is_empty()) {
            bail!(
                "the store is not empty after a reset: {} images, {} containers",
                images.len(),
                containers.len()
            );
        }
        let took = t0.elapsed();
        self.timings.resets.push(took);
        Ok(took)
    }

    /// Every container, then every image, through the API.
    fn remove_everything(&self) -> anyhow::Result<()> {
        service::remove_all_containers(self.api())?;
        let report = self.api().remove_images(
            &RemoveTarget::All,
            RemoveFlags {
                force: true,
                ..Default::default()
            },
        )?;
        if report.exit_code != 0 {
            bail!(
                "removing every image: exit code {}: {:?}",
                report.exit_code,
                report.errors.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// Stops the service (containers first), wipes the store's directories, starts again.
    fn fresh_root(&mut self) -> anyhow::Result<()> {
        let registry = self.registry.as_ref().map(Registry::host);
        let Engine::Sandboxed { service, dir } = &mut self.engine else {
            bail!("a fresh root needs a sandboxed service");
        };
        if let Some(mut s) = service.take() {
            s.stop(false)?;
        }
        // Only the store's directories: the registry runs from the same state directory.
        for d in Layout::store_dirs() {
            let p = dir.join(d);
            if p.is_dir() {
                crate::live::sandbox::clean_dir(&p)?;
            }
        }
        dir.wipe_only(Layout::store_dirs())?;
        *service = Some(Box::new(Service::start(
            self.flavor,
            dir,
            registry.as_deref(),
        )?));
        Ok(())
    }

    /// Performs `request` on the batch remove endpoint (or the CLI, see [`cli`]).
    pub fn remove(
        &mut self,
        request: &Request,
    ) -> anyhow::Result<(Vec<Record>, Vec<Failure>, Status)> {
        self.dirty = true;
        if cli::needs_cli(self.flavor, request) {
            let (state, via) = match &self.engine {
                Engine::Sandboxed { dir, service } => {
                    let pid = service
                        .as_deref()
                        .and_then(Service::pid)
                        .context("the service does not run")?;
                    (
                        dir.path().to_path_buf(),
                        cli::Via::Local { service_pid: pid },
                    )
                }
                // The CLI's environment points at the temp dir: in remote mode it writes nothing.
                Engine::External { api } => (
                    std::env::temp_dir(),
                    cli::Via::Remote {
                        socket: api.socket(),
                    },
                ),
            };
            let o = cli::rmi(self.flavor, &state, via, request)?;
            let failures = o
                .errors
                .iter()
                .map(|e| observe::failure(self.flavor, e))
                .collect();
            return Ok((o.records, failures, o.status));
        }
        let target = if request.all {
            RemoveTarget::All
        } else {
            RemoveTarget::Names(api::Names::new(request.names.clone())?)
        };
        let flags = RemoveFlags {
            force: request.force,
            ignore: request.ignore,
            noprune: !request.prune,
        };
        let report = self.api().remove_images(&target, flags)?;
        Ok((
            observe::records(&report),
            observe::failures(self.flavor, &report),
            observe::status(&report)?,
        ))
    }

    /// Runs `scenario` from an empty store: builds its `given` store from `source`, performs
    /// its request, lists what is left. `symbols` is the synthesized images' table (with the
    /// registry's `host:port` if the scenario uses `<reg>`: see [`Self::needs_registry`]);
    /// the engine's own IDs (committed children, containers) are added to it.
    pub fn run_with(
        &mut self,
        scenario: &Scenario,
        source: &dyn build::ImageSource,
        mut symbols: Symbols,
    ) -> anyhow::Result<Observation> {
        self.reset()?;
        self.dirty = true;
        let t0 = Instant::now();
        if Self::needs_registry(scenario) {
            self.registry()?;
        }
        build::build(
            self.flavor,
            self.api(),
            &scenario.given,
            source,
            self.registry.as_ref(),
            &self.cgroup_parent(),
            &mut symbols,
        )
        .with_context(|| {
            format!(
                "building the store of {} on {}",
                scenario.name,
                self.flavor.profile()
            )
        })?;
        let t1 = Instant::now();
        let request = scenario.request(&mut symbols)?;
        let (records, errors, status) = self.remove(&request)?;
        let after = self.listing()?;
        self.timings.build += t1 - t0;
        self.timings.observe += t1.elapsed();
        self.timings.scenarios += 1;
        Ok(Observation {
            records,
            errors,
            status,
            after,
            symbols,
        })
    }

    /// Whether `scenario` mentions the local registry (a `<reg>` name in its store or its
    /// request), so that it must run before the symbol table is made.
    pub fn needs_registry(scenario: &Scenario) -> bool {
        let in_store = scenario
            .given
            .images
            .values()
            .flat_map(|i| &i.tags)
            .any(|n| {
                matches!(
                    n,
                    StoredName::Digested { .. }
                        | StoredName::Tagged {
                            domain: Domain::Registry,
                            ..
                        }
                )
            });
        in_store || scenario.when.rmi.iter().any(|n| n.contains("<reg>"))
    }

    /// The registry's `host:port` if it runs, for the symbol table.
    pub fn registry_host(&self) -> Option<String> {
        self.registry.as_ref().map(Registry::host)
    }

    /// Every image and container, as the API lists them.
    pub fn listing(&self) -> anyhow::Result<Listing> {
        observe::listing(&self.api().images()?, &self.api().containers()?)
    }
}

impl crate::backend::Backend for PodmanBackend {
    fn profile(&self) -> Profile {
        self.flavor.profile()
    }

    fn label(&self) -> String {
        format!("live podman {}", self.server_version)
    }

    fn run(&mut self, scenario: &Scenario) -> anyhow::Result<Observation> {
        let synthesized = crate::synth::synthesize(&scenario.given);
        // `<reg>` must be known before the symbol table is made.
        if Self::needs_registry(scenario) {
            self.registry()?;
        }
        let symbols = synthesized.symbols(
            self.flavor.profile(),
            &self.registry_host().unwrap_or_default(),
        );
        self.run_with(scenario, &synthesized, symbols)
    }
}

impl Drop for PodmanBackend {
    fn drop(&mut self) {
        // A service the user pointed us at is left as empty as we found it; a sandboxed one
        // removes its containers through the API when it stops (Service's Drop).
        if let Engine::External { .. } = self.engine {
            if self.dirty {
                if let Err(e) = self.remove_everything() {
                    eprintln!("rmispec: emptying {} failed: {e:#}", self.flavor.profile());
                }
            }
        }
    }
}

/// What containers/storage still records under `graph_root` (`overlay-images/images.json`,
/// `overlay-layers/layers.json`, `overlay-containers/containers.json`): `kind: count` for
/// each non-empty one.
pub fn leftovers(graph_root: &Path) -> Vec<String> {
    ["images", "layers", "containers"]
        .into_iter()
        .filter_map(|kind| {
            let text =
                std::fs::read_to_string(graph_root.join(format!("overlay-{kind}/{kind}.json")))
                    .ok()?;
            let n = serde_json::from_str::<Vec<serde_json::Value>>(&text).map_or(1, |v| v.len());
            (n > 0).then(|| format!("{kind}: {n}"))
        })
        .collect()
}

/// The synthesized images as the builder reads them.
impl build::ImageSource for crate::synth::Synthesized {
    fn digests(
        &self,
        image: &crate::scenario::ImageHandle,
    ) -> anyhow::Result<(rmispec_model::Digest, rmispec_model::Digest)> {
        let i = self
            .image(image.as_str())
            .with_context(|| format!("{image} was not synthesized"))?;
        Ok((i.config.digest.clone(), i.manifest.digest.clone()))
    }

    fn archive(
        &self,
        images: &[(&crate::scenario::ImageHandle, String)],
    ) -> anyhow::Result<Vec<u8>> {
        let named = images
            .iter()
            .map(|(h, tag)| {
                let i = self
                    .image(h.as_str())
                    .with_context(|| format!("{h} was not synthesized"))?;
                Ok((i, vec![tag.clone()]))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let refs: Vec<(&crate::synth::SynthImage, &[String])> =
            named.iter().map(|(i, n)| (*i, &n[..])).collect();
        Ok(crate::synth::archive(&refs))
    }

    fn push(
        &self,
        registry: &Registry,
        image: &crate::scenario::ImageHandle,
        repo: &str,
    ) -> anyhow::Result<rmispec_model::Digest> {
        let i = self
            .image(image.as_str())
            .with_context(|| format!("{image} was not synthesized"))?;
        let blobs: Vec<&[u8]> = i.blobs().map(|b| &b.bytes[..]).collect();
        registry.push(
            repo,
            crate::synth::MANIFEST_MEDIA_TYPE,
            &i.manifest.bytes,
            &blobs,
        )
    }
}

/// The sockets a Podman on this host listens on by default: the rootful service's, and the
/// rootless one's under `$XDG_RUNTIME_DIR` (or `/run/user/<uid>`).
pub fn default_sockets() -> Vec<PathBuf> {
    let mut v = vec![
        PathBuf::from("/run/podman/podman.sock"),
        PathBuf::from("/var/run/podman/podman.sock"),
    ];
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR") {
        v.push(Path::new(&x).join("podman/podman.sock"));
    }
    if let Ok(uid) = std::fs::read_to_string("/proc/self/loginuid").map(|s| s.trim().to_owned()) {
        if uid.parse::<u32>().is_ok_and(|u| u != u32::MAX) {
            v.push(PathBuf::from(format!("/run/user/{uid}/podman/podman.sock")));
        }
    }
    v
}

/// Whether `socket` is (or resolves to) one of the [`default_sockets`].
pub fn is_default_socket(socket: &Path) -> bool {
    let s = resolve(socket);
    default_sockets().iter().any(|d| resolve(d) == s)
}

/// `p` with symlinks resolved; a link whose target does not exist (yet) resolves to that
/// target's path.
fn resolve(p: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    match std::fs::read_link(p) {
        Ok(target) => resolve(&p.parent().unwrap_or(Path::new("/")).join(target)),
        Err(_) => p.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_name_what_storage_still_records() {
        let root =
            std::env::temp_dir().join(format!("rmispec-podman-leftovers-{}", std::process::id()));
        for kind in ["images", "layers", "containers"] {
            std::fs::create_dir_all(root.join(format!("overlay-{kind}"))).unwrap();
            std::fs::write(root.join(format!("overlay-{kind}/{kind}.json")), "[]").unwrap();
        }
        assert!(leftovers(&root).is_empty());
        std::fs::write(
            root.join("overlay-layers/layers.json"),
            r#"[{"id":"a"},{"id":"b"}]"#,
        )
        .unwrap();
        assert_eq!(leftovers(&root), ["layers: 2"]);
        std::fs::remove_dir_all(&root).unwrap();
        assert!(
            leftovers(&root).is_empty(),
            "a store never written is clean"
        );
    }

    #[test]
    fn default_sockets_are_recognized_even_through_a_symlink() {
        assert!(is_default_socket(Path::new("/run/podman/podman.sock")));
        let dir = std::env::temp_dir().join(format!("rmispec-podman-sock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.join("p.sock");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("/run/podman/podman.sock", &link).unwrap();
        // The target need not exist: a dangling link to the default path still names it.
        assert!(is_default_socket(&link));
        assert!(!is_default_socket(&dir.join("other.sock")));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
