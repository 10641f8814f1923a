//! The Docker Engine API adapter: docker-classic (dockerd 20.10.24, graphdriver store) and
//! docker-containerd (dockerd 26.1.5, containerd image store), or any daemon that speaks the
//! Docker Engine API at a socket the user names.
//!
//! The [`Adapter`] half only: build the `given` store through the API ([`build`]), send one
//! `DELETE /images/{name}` per name as the docker CLI does, list images and containers. The
//! generic [`LiveBackend`] does the rest.

mod api;
mod build;
mod classify;
mod engine;

pub use api::{escape_path, Api, DeleteAnswer};
pub use engine::{default_sockets, is_default_socket, Flavor, SandboxedDocker};

use crate::live::adapter::{Adapter, Answer, Build, Origin, Unsupported};
use crate::live::backend::LiveBackend;
pub use crate::live::reset::Reset;
use anyhow::Context;
use rmispec_model::reference::grammar;
use rmispec_model::{Digest, Failure, ListedImage, Listing, Profile, Request, Status};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A live Docker engine, driven by the generic backend.
pub type DockerBackend = LiveBackend<Docker>;

/// The Docker Engine API adapter: a sandboxed dockerd (with its containerd), or the daemon at
/// a socket the user names.
pub struct Docker {
    flavor: Flavor,
    api: Api,
    /// The sandboxed daemons; `None` for a daemon someone else runs.
    engine: Option<SandboxedDocker>,
    /// The socket the API speaks to.
    socket: PathBuf,
}

impl std::fmt::Debug for Docker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Docker")
            .field("flavor", &self.flavor)
            .field("server", &self.api.server_version)
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl Docker {
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

    fn flavor_of(profile: Profile) -> anyhow::Result<Flavor> {
        Flavor::of(profile).with_context(|| format!("{profile} is not a Docker engine"))
    }
}

impl DockerBackend {
    /// The sandboxed engine, when the harness runs it.
    pub fn engine(&self) -> Option<&SandboxedDocker> {
        self.adapter().engine()
    }

    /// The API connection (for tests and diagnostics).
    pub fn api(&self) -> &Api {
        self.adapter().api()
    }
}

impl Adapter for Docker {
    /// Measured over the whole catalogue (84 scenarios, medians per scenario, a loaded 2-core
    /// VM): API deletes 18 ms (docker-classic) and 50 ms (docker-containerd); a fresh root
    /// about 1.06 s on both (mostly the daemons' restart). The catalogue passes the same either
    /// way, so API deletes are the default (the backend checks that they emptied the engine).
    const RESET_VAR: &'static str = "RMISPEC_DOCKER_RESET";
    const DEFAULT_RESET: Reset = Reset::Api;

    fn start(profile: Profile, state_dir: Option<&Path>) -> anyhow::Result<Docker> {
        let flavor = Self::flavor_of(profile)?;
        let engine = SandboxedDocker::start(flavor, state_dir)?;
        let socket = engine.socket();
        let api = Api::connect(&socket)?;
        check_version(flavor, &api);
        Ok(Docker {
            flavor,
            api,
            engine: Some(engine),
            socket,
        })
    }

    fn attach(profile: Profile, socket: &Path) -> anyhow::Result<Docker> {
        let flavor = Self::flavor_of(profile)?;
        let api = Api::connect(socket)?;
        Ok(Docker {
            flavor,
            api,
            engine: None,
            socket: socket.to_path_buf(),
        })
    }

    fn default_sockets() -> Vec<PathBuf> {
        default_sockets()
    }

    fn profile(&self) -> Profile {
        self.flavor.profile()
    }

    /// `live docker 20.10.24`; an implementation that names itself otherwise in `/version`
    /// says so (`live Podman Engine 4.3.1 (Docker API)`).
    fn label(&self) -> String {
        match self.api.server_name.as_str() {
            "Engine" | "" => format!("live docker {}", self.api.server_version),
            other => format!("live {other} {} (Docker API)", self.api.server_version),
        }
    }

    fn origin(&self) -> Origin<'_> {
        match &self.engine {
            Some(e) => Origin::Sandboxed(e.dir()),
            None => Origin::External(&self.socket),
        }
    }

    fn build(&mut self, b: Build<'_>) -> anyhow::Result<()> {
        build::build(
            self.flavor,
            &self.api,
            &b.scenario.given,
            &b.source,
            b.registry,
            b.symbols,
            self.engine.is_some(),
        )
    }

    /// One `DELETE /images/{name}?force=&noprune=` per name, in order, each error collected,
    /// as the docker CLI does (`docker/cli@v20.10.24:cli/command/image/remove.go`). The
    /// status is the one call's HTTP status, or for several names the CLI's exit code.
    fn remove(&mut self, request: &Request) -> anyhow::Result<Answer> {
        sendable(request)?;
        let mut calls = Vec::with_capacity(request.names.len());
        for name in &request.names {
            calls.push(self.api.delete_image(
                name,
                request.force,
                !request.prune,
                &request.platforms,
            )?);
        }
        Ok(answer_of(request, calls))
    }

    /// Each request as [`remove`](Self::remove) sends it (its names one after the other),
    /// all requests at once: as several `docker rmi` run side by side do.
    fn remove_at_once(&mut self, requests: &[Request]) -> anyhow::Result<Vec<Answer>> {
        requests.iter().try_for_each(sendable)?;
        let calls: Vec<Vec<api::Delete<'_>>> = requests
            .iter()
            .map(|r| {
                r.names
                    .iter()
                    .map(|name| api::Delete {
                        name,
                        force: r.force,
                        noprune: !r.prune,
                        platforms: &r.platforms,
                    })
                    .collect()
            })
            .collect();
        let answers = self.api.delete_images_at_once(&calls)?;
        Ok(requests
            .iter()
            .zip(answers)
            .map(|(r, calls)| answer_of(r, calls))
            .collect())
    }

    /// `GET /images/json?all=1` and `GET /containers/json?all=1`, as a [`Listing`]: IDs as the
    /// engine spells them (config digest on docker-classic, manifest digest on
    /// docker-containerd), names fully qualified (Docker lists familiar names:
    /// `busybox:latest` is `docker.io/library/busybox:latest`), `<none>` placeholders dropped.
    fn listing(&mut self) -> anyhow::Result<Listing> {
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

    fn remove_containers(&mut self) -> anyhow::Result<()> {
        for (id, _) in self.api.containers()? {
            self.api.remove_container(&id)?;
        }
        Ok(())
    }

    fn remove_images(&mut self) -> anyhow::Result<()> {
        self.api.remove_everything()
    }

    fn fresh_root(&mut self) -> anyhow::Result<()> {
        self.api.forget_images();
        self.engine
            .as_mut()
            .context("a fresh root needs a sandboxed engine")?
            .fresh_root()
    }

    fn check_alive(&mut self) -> Result<(), crate::live::sandbox::DaemonExit> {
        self.engine
            .as_mut()
            .map_or(Ok(()), SandboxedDocker::check_alive)
    }

    fn take_engine_time(&mut self) -> Duration {
        self.api.take_engine_time()
    }

    fn timing_lines(&self) -> Vec<String> {
        self.api.call_stats()
    }
}

/// Whether Docker's image delete API can send `request` (else [`Unsupported`]).
fn sendable(request: &Request) -> anyhow::Result<()> {
    if request.all || request.ignore {
        return Err(Unsupported::new(
            "Docker's image delete API has no --all or --ignore (they are libimage options)",
        )
        .into());
    }
    if request.names.is_empty() {
        return Err(Unsupported::new(
            "Docker's image delete API takes one name per call, and there is none",
        )
        .into());
    }
    Ok(())
}

/// The answer to `request` from its calls' answers (one per name, in order): the records and
/// errors in order, and the status as the docker CLI gives it.
fn answer_of(request: &Request, calls: Vec<DeleteAnswer>) -> Answer {
    let mut records = Vec::new();
    let mut errors = Vec::new();
    let mut last_status = 200;
    for call in calls {
        match call {
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
    Answer {
        records,
        errors,
        status,
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
    // A bare digest is no name: the containerd store lists `RepoDigests: ["sha256:…"]` for
    // an image with no platform content left (after a `platforms` delete); it stays as it is.
    if listed
        .strip_prefix("sha256:")
        .is_some_and(|hex| Digest::parse(hex).is_ok())
    {
        return listed.to_owned();
    }
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

/// Says on stderr when the daemon is not the version the profile models (the run goes on).
fn check_version(flavor: Flavor, api: &Api) {
    let want = flavor.profile().version();
    if !api.server_version.starts_with(want) {
        eprintln!(
            "rmispec: {} is modelled at {want}; the daemon says {}",
            flavor.profile(),
            api.server_version
        );
    }
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
