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
use crate::live::sandbox::StateDir;
use anyhow::{bail, Context};
use rmispec_model::reference::grammar;
use rmispec_model::{Digest, Failure, ListedImage, Listing, Profile, Record, Request, Status};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How the engine returns to empty between scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reset {
    /// Force-remove every container and image through the API.
    Api,
    /// Remove the containers through the API, stop both daemons, unmount, wipe their roots,
    /// start again: also drops build cache, dangling content and snapshots. Sandboxed only.
    FreshRoot,
}

impl Reset {
    /// From `RMISPEC_DOCKER_RESET` (`api` or `fresh-root`), else `default`.
    fn from_env(default: Reset) -> anyhow::Result<Reset> {
        match std::env::var("RMISPEC_DOCKER_RESET").ok().as_deref() {
            None | Some("") => Ok(default),
            Some("api") => Ok(Reset::Api),
            Some("fresh-root") => Ok(Reset::FreshRoot),
            Some(other) => bail!("RMISPEC_DOCKER_RESET={other:?}: expected `api` or `fresh-root`"),
        }
    }
}

/// Where the time of a run went.
#[derive(Clone, Debug, Default)]
pub struct Timings {
    /// Scenarios run.
    pub scenarios: u32,
    /// Waiting on the engine's API (building stores, the requests, listing).
    pub engine: Duration,
    /// Everything else in `run` (synthesizing, archiving, pushing to the registry, mapping).
    pub harness: Duration,
    /// Returning to empty between scenarios (API deletes or fresh roots, daemon restarts).
    pub reset: Duration,
    /// Each reset's duration, in order.
    pub resets: Vec<Duration>,
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
    registry: Option<Registry>,
    registry_dir: Option<StateDir>,
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
        let state_dir = opts
            .state_dir
            .as_ref()
            .map(|d| d.join(flavor.profile().id()));
        let engine = SandboxedDocker::start(flavor, state_dir.as_deref())
            .with_context(|| format!("starting {} sandboxed", flavor.profile()))?;
        let api = Api::connect(&engine.socket())?;
        check_version(flavor, &api)?;
        Ok(DockerBackend {
            flavor,
            api,
            reset: Reset::from_env(Reset::FreshRoot)?,
            dirty: false,
            timings: Timings::default(),
            registry: None,
            registry_dir: None,
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
        let reset = Reset::from_env(Reset::Api)?;
        if reset == Reset::FreshRoot {
            bail!("RMISPEC_DOCKER_RESET=fresh-root needs a sandboxed engine, not --socket");
        }
        Ok(DockerBackend {
            flavor,
            api,
            reset,
            dirty: !images.is_empty() || !containers.is_empty(),
            timings: Timings::default(),
            registry: None,
            registry_dir: None,
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

    /// The local registry, started on first use.
    pub fn registry(&mut self) -> anyhow::Result<&Registry> {
        if self.registry.is_none() {
            let dir = match &self.engine {
                Some(e) => e.dir(),
                None => self.registry_dir.insert(StateDir::fresh(&format!(
                    "{}-registry",
                    self.flavor.profile().id()
                ))?),
            };
            self.registry = Some(Registry::start(dir)?);
        }
        Ok(self.registry.as_ref().expect("just started"))
    }

    /// Returns the engine to empty if a scenario used it, and checks that it is.
    pub fn reset(&mut self) -> anyhow::Result<Duration> {
        let t0 = Instant::now();
        if self.dirty {
            match (self.reset, self.engine.as_mut()) {
                (Reset::FreshRoot, Some(engine)) => {
                    // Containers first, through the API: a shim killed with its containerd leaks.
                    for (id, _) in self.api.containers()? {
                        self.api.remove_container(&id)?;
                    }
                    engine.fresh_root()?;
                }
                _ => self.api.remove_everything()?,
            }
            self.dirty = false;
        }
        let took = t0.elapsed();
        self.api.take_engine_time();
        self.timings.reset += took;
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
                    let kind = match self.flavor {
                        Flavor::Classic => classify::classic(status, &message),
                        Flavor::Containerd => classify::containerd(status, &message),
                    };
                    errors.push(Failure {
                        kind,
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

    fn run(
        &mut self,
        _scenario: &crate::scenario::Scenario,
    ) -> anyhow::Result<crate::observation::Observation> {
        bail!(
            "building a scenario's store on {} is not written yet",
            self.flavor.profile()
        )
    }
}

impl Drop for DockerBackend {
    fn drop(&mut self) {
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
            if let Err(e) = result {
                eprintln!("rmispec: emptying {} failed: {e:#}", self.flavor.profile());
            }
        }
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
