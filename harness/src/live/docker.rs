//! The Docker Engine API adapter: docker-classic (dockerd 20.10.24, graphdriver store) and
//! docker-containerd (dockerd 26.1.5, containerd image store).
//!
//! Per scenario: empty the engine ([`Reset`]), build the `given` store through the API
//! ([`build`]), send one `DELETE /images/{name}` per name as the docker CLI does, and list
//! images and containers afterwards ([`DockerBackend::listing`]).

mod api;
mod build;
mod classify;
mod engine;

pub use api::{escape_path, Api, DeleteAnswer};
pub use engine::{default_sockets, is_default_socket, Flavor, SandboxedDocker};

use crate::live::options::LiveOptions;
use crate::live::registry::Registry;
use crate::live::sandbox::{self, StateDir};
use crate::observation::Observation;
use crate::scenario::{Given, ImageHandle, Scenario};
use crate::synth::{self, Synthesized};
use anyhow::{bail, Context};
use rmispec_model::reference::grammar;
use rmispec_model::{Digest, Failure, ListedImage, Listing, Profile, Record, Request, Status};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The reset used unless `RMISPEC_DOCKER_RESET` says otherwise.
///
/// Measured over the whole catalogue (84 scenarios, medians per scenario, a loaded 2-core VM):
/// API deletes 18 ms (docker-classic) and 50 ms (docker-containerd); a fresh root about
/// 1.06 s on both (mostly the daemons' restart). The catalogue passes the same either way, and
/// the API reset checks that nothing is listed afterwards (falling back to a fresh root when
/// it cannot empty the engine), so API deletes are the default.
const DEFAULT_RESET: Reset = Reset::Api;

pub use crate::live::reset::Reset;

/// The variable that overrides [`DEFAULT_RESET`].
const RESET_VAR: &str = "RMISPEC_DOCKER_RESET";

/// Where the time of a run went.
#[derive(Clone, Debug, Default)]
pub struct Timings {
    /// Starting the sandboxed daemons and the registry (spawn to ready).
    pub start: Duration,
    /// One entry per scenario run.
    pub runs: Vec<RunTiming>,
    /// Each reset's duration, in order (one per run, zero when the engine was clean).
    pub resets: Vec<Duration>,
}

/// Where one scenario's time went.
#[derive(Clone, Debug, Default)]
pub struct RunTiming {
    /// The scenario.
    pub scenario: String,
    /// The whole `run`.
    pub total: Duration,
    /// Returning to empty first (API deletes or a fresh root, with the daemons' restart).
    pub reset: Duration,
    /// Waiting on the engine's API: building the store, the request, listing.
    pub engine: Duration,
}

impl RunTiming {
    /// The harness's own time: synthesizing, archiving, pushing to the registry, mapping.
    pub fn harness(&self) -> Duration {
        self.total.saturating_sub(self.reset + self.engine)
    }
}

impl Timings {
    /// A one-paragraph summary: totals and per-scenario medians.
    pub fn summary(&self) -> String {
        fn median(mut v: Vec<Duration>) -> Duration {
            v.sort();
            v.get(v.len() / 2).copied().unwrap_or_default()
        }
        let sum = |f: fn(&RunTiming) -> Duration| self.runs.iter().map(f).sum::<Duration>();
        let med = |f: fn(&RunTiming) -> Duration| median(self.runs.iter().map(f).collect());
        format!(
            "{} scenarios in {:.2?} (start {:.2?}): engine API {:.2?}, harness {:.2?}, resets {:.2?}; \
             per scenario (median): total {:.2?}, engine {:.2?}, harness {:.2?}, reset {:.2?}",
            self.runs.len(),
            self.start + sum(|r| r.total),
            self.start,
            sum(|r| r.engine),
            sum(RunTiming::harness),
            sum(|r| r.reset),
            med(|r| r.total),
            med(|r| r.engine),
            med(RunTiming::harness),
            median(self.resets.iter().copied().filter(|d| !d.is_zero()).collect()),
        ) + &self
            .runs
            .iter()
            .max_by_key(|r| r.harness())
            .map(|r| format!("; the harness's slowest: {} ({:.2?})", r.scenario, r.harness()))
            .unwrap_or_default()
    }
}

/// A live Docker engine the runner can drive.
pub struct DockerBackend {
    flavor: Flavor,
    api: Api,
    reset: Reset,
    /// The engine holds something a scenario put there.
    dirty: bool,
    /// What the run's time went to.
    pub timings: Timings,
    // Drop order: the registry, then its directory (external daemons only), then the
    // sandboxed engine (after Drop below has removed the containers through the API).
    registry: Registry,
    _registry_dir: Option<StateDir>,
    engine: Option<SandboxedDocker>,
}

impl std::fmt::Debug for DockerBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerBackend")
            .field("flavor", &self.flavor)
            .field("server", &self.api.server_version)
            .field("reset", &self.reset)
            .finish_non_exhaustive()
    }
}

impl DockerBackend {
    /// Starts a sandboxed engine, or connects to `opts.socket` (refusing the host's default
    /// socket, and a daemon that is not empty, unless `opts.allow_default_socket`).
    pub fn connect(profile: Profile, opts: &LiveOptions) -> anyhow::Result<DockerBackend> {
        let Some(flavor) = Flavor::of(profile) else {
            bail!("{profile} is not a Docker engine");
        };
        match &opts.socket {
            Some(socket) => Self::external(flavor, socket.clone(), opts),
            None => Self::sandboxed(flavor, opts),
        }
    }

    fn sandboxed(flavor: Flavor, opts: &LiveOptions) -> anyhow::Result<DockerBackend> {
        let t0 = Instant::now();
        let state_dir = opts
            .state_dir
            .as_ref()
            .map(|d| d.join(flavor.profile().id()));
        let engine = SandboxedDocker::start(flavor, state_dir.as_deref())
            .with_context(|| format!("starting {} sandboxed", flavor.profile()))?;
        let api = Api::connect(&engine.socket())?;
        check_version(flavor, &api)?;
        let registry = Registry::start(engine.dir())?;
        let timings = Timings {
            start: t0.elapsed(),
            ..Timings::default()
        };
        Ok(DockerBackend {
            flavor,
            api,
            reset: Reset::from_env(RESET_VAR, DEFAULT_RESET)?,
            dirty: false,
            timings,
            registry,
            _registry_dir: None,
            engine: Some(engine),
        })
    }

    fn external(
        flavor: Flavor,
        socket: PathBuf,
        opts: &LiveOptions,
    ) -> anyhow::Result<DockerBackend> {
        if is_default_socket(&socket) && !opts.allow_default_socket {
            bail!(
                "{} is the host's default Docker socket: the harness deletes every image and container in the daemon it \
                 drives. Pass --i-know-this-deletes-images if that is what you want.",
                socket.display()
            );
        }
        let api = Api::connect(&socket)?;
        let (images, containers) = (api.images()?, api.containers()?);
        let empty = images.is_empty() && containers.is_empty();
        if !empty && !opts.allow_default_socket {
            bail!(
                "the daemon at {} is not empty ({} images, {} containers): the harness deletes everything in it between \
                 scenarios. Empty it, or pass --i-know-this-deletes-images.",
                socket.display(),
                images.len(),
                containers.len()
            );
        }
        let reset = Reset::from_env(RESET_VAR, Reset::Api)?;
        if reset == Reset::FreshRoot {
            bail!("RMISPEC_DOCKER_RESET=fresh-root needs a sandboxed engine, not --socket");
        }
        let registry_dir = StateDir::fresh(&format!("{}-registry", flavor.profile().id()))?;
        let registry = Registry::start(&registry_dir)?;
        Ok(DockerBackend {
            flavor,
            api,
            reset,
            dirty: !empty,
            timings: Timings::default(),
            registry,
            _registry_dir: Some(registry_dir),
            engine: None,
        })
    }

    /// The engine flavor.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// The API connection (for tests and diagnostics).
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// The sandboxed engine, when the harness runs it.
    pub fn engine(&self) -> Option<&SandboxedDocker> {
        self.engine.as_ref()
    }

    /// How resets are done.
    pub fn set_reset(&mut self, reset: Reset) -> anyhow::Result<()> {
        if reset == Reset::FreshRoot && self.engine.is_none() {
            bail!("a fresh root needs a sandboxed engine");
        }
        self.reset = reset;
        Ok(())
    }

    /// The local registry (`<reg>`).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Returns the engine to empty if a scenario used it, and checks that it is.
    pub fn reset(&mut self) -> anyhow::Result<Duration> {
        let t0 = Instant::now();
        if self.dirty {
            let fresh = match self.reset {
                Reset::FreshRoot => true,
                Reset::Api => match self.api.remove_everything() {
                    Ok(()) => false,
                    // Something the API could not delete: start over from an empty root, if
                    // the harness owns one.
                    Err(e) if self.engine.is_some() && !sandbox::shutting_down() => {
                        eprintln!("rmispec: emptying {} through the API failed ({e:#}); restarting it on a fresh root", self.flavor.profile());
                        true
                    }
                    Err(e) => return Err(e),
                },
            };
            if fresh {
                let engine = self
                    .engine
                    .as_mut()
                    .context("a fresh root needs a sandboxed engine")?;
                // Containers first, through the API: a shim killed with its containerd leaks.
                for (id, _) in self.api.containers()? {
                    self.api.remove_container(&id)?;
                }
                engine.fresh_root()?;
            }
            self.dirty = false;
        }
        let took = t0.elapsed();
        self.api.take_engine_time();
        self.timings.resets.push(took);
        Ok(took)
    }

    /// Marks the engine as holding something (the next [`reset`](Self::reset) empties it).
    pub fn touch(&mut self) {
        self.dirty = true;
    }

    /// Performs `request` as the docker CLI does: one `DELETE /images/{name}?force=&noprune=`
    /// per name, in order, each error collected (`docker/cli@v20.10.24:cli/command/image/remove.go`).
    /// The status is the one call's HTTP status, or for several names the CLI's exit code.
    pub fn remove(
        &mut self,
        request: &Request,
    ) -> anyhow::Result<(Vec<Record>, Vec<Failure>, Status)> {
        if request.all || request.ignore {
            bail!("Docker's image delete API has no --all or --ignore (the scenario should skip this engine)");
        }
        if request.names.is_empty() {
            bail!("no names to remove");
        }
        self.dirty = true;
        let mut records = Vec::new();
        let mut errors = Vec::new();
        let mut last_status = 200;
        for name in &request.names {
            match self.api.delete_image(name, request.force, !request.prune)? {
                DeleteAnswer::Ok(r) => {
                    last_status = 200;
                    records.extend(r);
                }
                DeleteAnswer::Err { status, message } => {
                    last_status = status;
                    errors.push(Failure {
                        kind: classify::classify(status, &message),
                        message,
                        status: Status::Http(status),
                    });
                }
            }
        }
        let status = if request.names.len() == 1 {
            Status::Http(last_status)
        } else {
            Status::Exit(cli_exit_code(request.force, &errors))
        };
        Ok((records, errors, status))
    }

    /// `GET /images/json?all=1` and `GET /containers/json?all=1`, as a [`Listing`]: IDs as the
    /// engine spells them (config digest on docker-classic, manifest digest on
    /// docker-containerd), names fully qualified (Docker lists familiar names:
    /// `busybox:latest` is `docker.io/library/busybox:latest`), `<none>` placeholders dropped.
    pub fn listing(&self) -> anyhow::Result<Listing> {
        let mut images = Vec::new();
        for i in self.api.images()? {
            let id = Digest::parse(&i.id).with_context(|| format!("image ID {:?}", i.id))?;
            let mut names: Vec<String> = i
                .repo_tags
                .iter()
                .chain(&i.repo_digests)
                .filter(|n| !n.starts_with("<none>"))
                .map(|n| fully_qualified(n))
                .collect();
            names.sort();
            names.dedup();
            images.push(ListedImage { id, names });
        }
        let mut containers = Vec::new();
        for (id, state) in self.api.containers()? {
            containers.push((
                Digest::parse(&id).with_context(|| format!("container ID {id:?}"))?,
                state,
            ));
        }
        Ok(Listing { images, containers })
    }
}

impl crate::backend::Backend for DockerBackend {
    fn profile(&self) -> Profile {
        self.flavor.profile()
    }

    fn label(&self) -> String {
        format!("live docker {}", self.api.server_version)
    }

    /// Empties the engine (if a scenario used it), builds `given`, performs the request,
    /// lists what is left. The time goes to [`DockerBackend::timings`].
    fn run(&mut self, scenario: &Scenario) -> anyhow::Result<Observation> {
        let t0 = Instant::now();
        let reset = self.reset().context("emptying the engine")?;
        self.dirty = true;
        let synthesized = synth::synthesize(&scenario.given);
        let mut symbols = synthesized.symbols(self.flavor.profile(), &self.registry.host());
        let source = Source {
            synthesized: &synthesized,
            given: &scenario.given,
        };
        build::build(
            self.flavor,
            &self.api,
            &scenario.given,
            &source,
            &self.registry,
            &mut symbols,
        )
        .with_context(|| {
            format!(
                "building the given store of {} on {}",
                scenario.name,
                self.flavor.profile()
            )
        })?;
        let request = scenario.request(&mut symbols)?;
        let (records, errors, status) = self.remove(&request)?;
        let after = self.listing()?;
        let engine = self.api.take_engine_time();
        self.timings.runs.push(RunTiming {
            scenario: scenario.name.clone(),
            total: t0.elapsed(),
            reset,
            engine,
        });
        Ok(Observation {
            records,
            errors,
            status,
            after,
            symbols,
        })
    }
}

impl Drop for DockerBackend {
    fn drop(&mut self) {
        if std::env::var_os("RMISPEC_TIMINGS").is_some() {
            eprintln!(
                "rmispec: {}: {}",
                self.flavor.profile(),
                self.timings.summary()
            );
            for (what, n, median, total) in self.api.call_stats() {
                eprintln!("rmispec:   {what:<30} {n:>5} calls, median {median:>10.2?}, total {total:>9.2?}");
            }
        }
        // Everything goes through the API first: the containers' shims exit cleanly (a shim
        // killed with containerd leaks its socket in /run/containerd/s), and a daemon the user
        // pointed us at is left as empty as we found it.
        if self.dirty {
            let result = if self.engine.is_some() {
                self.api.containers().and_then(|cs| {
                    cs.iter()
                        .try_for_each(|(id, _)| self.api.remove_container(id))
                })
            } else {
                self.api.remove_everything()
            };
            if let Err(e) = result.or_else(|e| {
                if sandbox::shutting_down() {
                    Ok(())
                } else {
                    Err(e)
                }
            }) {
                eprintln!("rmispec: emptying {} failed: {e:#}", self.flavor.profile());
            }
        }
    }
}

/// The synthesized images, as the store builder needs them.
struct Source<'a> {
    synthesized: &'a Synthesized,
    given: &'a Given,
}

impl Source<'_> {
    fn image(&self, h: &ImageHandle) -> anyhow::Result<&synth::SynthImage> {
        self.synthesized
            .image(h.as_str())
            .with_context(|| format!("{h} was not synthesized"))
    }
}

impl build::ImageSource for Source<'_> {
    fn digests(&self, image: &ImageHandle) -> anyhow::Result<(Digest, Digest)> {
        let i = self.image(image)?;
        Ok((i.config.digest.clone(), i.manifest.digest.clone()))
    }

    fn archive(&self, images: &[(&ImageHandle, Vec<String>)]) -> anyhow::Result<Vec<u8>> {
        let images: Vec<(&synth::SynthImage, &[String])> = images
            .iter()
            .map(|(h, names)| Ok((self.image(h)?, names.as_slice())))
            .collect::<anyhow::Result<_>>()?;
        Ok(synth::archive(&images))
    }

    fn own_layer(&self, image: &ImageHandle) -> anyhow::Result<Option<Vec<u8>>> {
        let spec = &self.given.images[image];
        if spec.layers.is_empty() {
            return Ok(None);
        }
        Ok(self
            .image(image)?
            .layers
            .last()
            .map(|l| l.blob.bytes.clone()))
    }

    fn push(&self, registry: &Registry, image: &ImageHandle, repo: &str) -> anyhow::Result<Digest> {
        let i = self.image(image)?;
        let blobs: Vec<&[u8]> = i.blobs().map(|b| b.bytes.as_slice()).collect();
        registry.push(repo, i.manifest.media_type, &i.manifest.bytes, &blobs)
    }
}

/// The docker CLI's exit code for `rmi` with several names (`docker/cli@v20.10.24:
/// cli/command/image/remove.go#L62-L86`): 1 if any call failed, unless `--force` was given and
/// every failure was a not-found (404, which the client maps to `errdefs.NotFound`).
pub fn cli_exit_code(force: bool, errors: &[Failure]) -> u8 {
    let fatal = errors.iter().any(|e| e.status != Status::Http(404));
    u8::from(!errors.is_empty() && (!force || fatal))
}

/// A name as Docker lists it, fully qualified (`busybox:latest` →
/// `docker.io/library/busybox:latest`); a name that does not parse is kept as it is.
pub fn fully_qualified(listed: &str) -> String {
    match grammar::parse_normalized(listed) {
        Ok((repo, tag, digest)) => {
            let mut s = repo.full();
            if let Some(t) = tag {
                s.push(':');
                s.push_str(&t);
            }
            if let Some(d) = digest {
                s.push('@');
                s.push_str(&d.to_string());
            }
            s
        }
        Err(_) => listed.to_owned(),
    }
}

fn check_version(flavor: Flavor, api: &Api) -> anyhow::Result<()> {
    let want = flavor.profile().version();
    if !api.server_version.starts_with(want) {
        eprintln!(
            "rmispec: {} is modelled at {want}; the daemon says {}",
            flavor.profile(),
            api.server_version
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmispec_model::ErrorKind;

    fn failure(status: u16) -> Failure {
        Failure {
            kind: ErrorKind::Other,
            message: String::new(),
            status: Status::Http(status),
        }
    }

    #[test]
    fn cli_exit_code_follows_the_force_and_not_found_rule() {
        assert_eq!(cli_exit_code(false, &[]), 0);
        assert_eq!(cli_exit_code(false, &[failure(404)]), 1);
        assert_eq!(cli_exit_code(true, &[failure(404), failure(404)]), 0);
        assert_eq!(cli_exit_code(true, &[failure(404), failure(409)]), 1);
    }

    #[test]
    fn listed_names_are_fully_qualified() {
        assert_eq!(
            fully_qualified("busybox:latest"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(fully_qualified("user/app:1"), "docker.io/user/app:1");
        assert_eq!(fully_qualified("localhost/app:1"), "localhost/app:1");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            fully_qualified(&format!("127.0.0.1:5000/app@{d}")),
            format!("127.0.0.1:5000/app@{d}")
        );
        assert_eq!(
            fully_qualified(&format!("busybox@{d}")),
            format!("docker.io/library/busybox@{d}")
        );
    }
}
