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

use crate::live::adapter::{Adapter, Answer, Build, Origin};
use crate::live::backend::LiveBackend;
pub use crate::live::reset::Reset;
use crate::live::sandbox::StateDir;
use anyhow::{bail, Context};
use api::{Libpod, RemoveFlags, RemoveTarget};
use config::{Flavor, Layout};
use rmispec_model::{Listing, Profile, Request};
use service::Service;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The registries a sandboxed service reaches over plain HTTP: every port of 127.0.0.1.
/// containers/image matches a `[[registry]]` location as a prefix that may end at a `:`, so
/// `127.0.0.1` covers `127.0.0.1:<any port>`
/// (`containers/common@v0.50.1:vendor/github.com/containers/image/v5/pkg/sysregistriesv2/system_registries_v2.go#L843-L868`,
/// which calls it unintended but keeps it). The local registry's port is chosen per run, and
/// the compat API's pull takes no `tlsVerify`, so this is what lets a Docker client of the
/// service (`engine up podman-compat`) pull from it.
const LOOPBACK_REGISTRIES: &str = "127.0.0.1";

/// Starts a sandboxed Podman service for `profile` in `dir` and leaves it running: what to
/// hold (dropping it stops the service and cleans `dir`), and its socket (`engine up`).
pub fn start_service(
    profile: Profile,
    dir: &Path,
) -> anyhow::Result<(Box<dyn std::any::Any>, PathBuf)> {
    let podman = Podman::start(profile, Some(dir))?;
    let socket = podman.api().socket().to_path_buf();
    Ok((Box::new(podman), socket))
}

/// A live Podman, driven by the generic backend.
pub type PodmanBackend = LiveBackend<Podman>;

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
    External { api: Libpod, socket: PathBuf },
}

/// The libpod API adapter.
#[derive(Debug)]
pub struct Podman {
    flavor: Flavor,
    /// The server's Podman version (`GET /version`).
    server_version: String,
    engine: Engine,
}

impl Podman {
    fn flavor_of(profile: Profile) -> anyhow::Result<Flavor> {
        Flavor::for_profile(profile)
            .with_context(|| format!("{profile} is not a Podman engine that runs live"))
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
            Engine::External { api, .. } => api,
        }
    }

    /// The cgroup parent of the containers it creates: the sandboxed instance's own; none
    /// (the service's default) for a service the user named, whose cgroups are not ours.
    pub fn cgroup_parent(&self) -> String {
        match &self.engine {
            Engine::Sandboxed {
                service: Some(s), ..
            } => s.cgroup_parent().to_owned(),
            Engine::Sandboxed { dir, .. } => Layout::new(dir.path()).cgroup_parent(),
            Engine::External { .. } => String::new(),
        }
    }
}

/// A request as the batch remove endpoint's target and flags.
fn batch(request: &Request) -> anyhow::Result<(RemoveTarget, RemoveFlags)> {
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
    Ok((target, flags))
}

impl Podman {
    /// A batch remove's report as an answer: its records, its errors classified, its status.
    fn answer_of(&self, report: &api::RemoveReport) -> anyhow::Result<Answer> {
        Ok(Answer {
            records: observe::records(report),
            errors: observe::failures(self.flavor, report),
            status: observe::status(report)?,
        })
    }
}

impl Adapter for Podman {
    /// Through the API, checked down to containers/storage's records ([`leftovers`]; a fresh
    /// root if anything is left). Measured on the live test's 14 scenarios (2 cores, other
    /// sessions busy): a reset by API took a median of 3 ms on 4.3.1 and 5 ms on 3.0.1, a
    /// fresh root (containers removed, service stopped, store wiped, service started and
    /// pinged) 220 ms and 322 ms; the outcomes and snapshots were the same either way.
    const RESET_VAR: &'static str = "RMISPEC_PODMAN_RESET";
    const DEFAULT_RESET: Reset = Reset::Api;

    fn start(profile: Profile, state_dir: Option<&Path>) -> anyhow::Result<Podman> {
        let flavor = Self::flavor_of(profile)?;
        let dir = match state_dir {
            Some(d) => StateDir::create(d)?,
            None => StateDir::fresh(profile.id())?,
        };
        let service = Box::new(Service::start(flavor, &dir, Some(LOOPBACK_REGISTRIES))?);
        let server_version = service.api().version()?;
        Ok(Podman {
            flavor,
            server_version,
            engine: Engine::Sandboxed {
                service: Some(service),
                dir,
            },
        })
    }

    fn attach(profile: Profile, socket: &Path) -> anyhow::Result<Podman> {
        let flavor = Self::flavor_of(profile)?;
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
        Ok(Podman {
            flavor,
            server_version,
            engine: Engine::External {
                api,
                socket: socket.to_path_buf(),
            },
        })
    }

    fn default_sockets() -> Vec<PathBuf> {
        default_sockets()
    }

    fn profile(&self) -> Profile {
        self.flavor.profile()
    }

    fn label(&self) -> String {
        format!("live podman {}", self.server_version)
    }

    fn origin(&self) -> Origin<'_> {
        match &self.engine {
            Engine::Sandboxed { dir, .. } => Origin::Sandboxed(dir),
            Engine::External { socket, .. } => Origin::External(socket),
        }
    }

    fn build(&mut self, b: Build<'_>) -> anyhow::Result<()> {
        build::build(
            self.flavor,
            self.api(),
            &b.source,
            b.registry,
            &self.cgroup_parent(),
            b.symbols,
            matches!(self.engine, Engine::Sandboxed { .. }),
        )
    }

    /// The batch remove endpoint (or the CLI, see [`cli`]).
    fn remove(&mut self, request: &Request) -> anyhow::Result<Answer> {
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
                Engine::External { api, .. } => (
                    std::env::temp_dir(),
                    cli::Via::Remote {
                        socket: api.socket(),
                    },
                ),
            };
            let o = cli::rmi(self.flavor, &state, via, request)?;
            let errors = o
                .errors
                .iter()
                .map(|e| observe::failure(self.flavor, e))
                .collect();
            return Ok(Answer {
                records: o.records,
                errors,
                status: o.status,
            });
        }
        let (target, flags) = batch(request)?;
        let report = self.api().remove_images(&target, flags)?;
        self.answer_of(&report)
    }

    /// Batch removes at once, each on its own connection, as several `podman --remote rmi`
    /// side by side make them. A request only the CLI can send (see [`cli`]) is not raced.
    fn remove_at_once(&mut self, requests: &[Request]) -> anyhow::Result<Vec<Answer>> {
        if requests.iter().any(|r| cli::needs_cli(self.flavor, r)) {
            return Err(crate::live::adapter::Unsupported::new(format!(
                "a request here goes through the podman CLI on {} (the libpod API cannot express it: an empty \
                 name, names with --all, or 3.0's --ignore/--no-prune), and only API calls are raced",
                self.flavor.profile()
            ))
            .into());
        }
        let batches = requests
            .iter()
            .map(batch)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let reports = self.api().remove_images_at_once(&batches)?;
        reports.iter().map(|r| self.answer_of(r)).collect()
    }

    /// Every image and container, as the API lists them.
    fn listing(&mut self) -> anyhow::Result<Listing> {
        observe::listing(&self.api().images()?, &self.api().containers()?)
    }

    /// A container that cannot be removed makes a sandboxed service start over on a fresh
    /// root: a container whose image volume's image was removed cannot be removed through the
    /// API at all (its cleanup looks the image up to unmount it and fails, "image not known":
    /// containers/podman@v5.8.2:libpod/container_internal.go#L2252-L2262,
    /// @v3.0.1:libpod/container_internal.go#L1851-L1862).
    /// A service that died is not restarted here: the error goes back to the backend, which
    /// says the death plainly and starts it over itself.
    fn remove_containers(&mut self) -> anyhow::Result<()> {
        match service::remove_all_containers(self.api()) {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(self.engine, Engine::Sandboxed { .. })
                    && crate::live::sandbox::died_after_a_failed_call(|| self.check_alive())
                        .is_ok() =>
            {
                eprintln!(
                    "rmispec: removing {}'s containers failed ({e:#}); restarting it on a fresh root",
                    self.flavor.profile()
                );
                self.restart_fresh(true)
            }
            Err(e) => Err(e),
        }
    }

    fn remove_images(&mut self) -> anyhow::Result<()> {
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

    /// A sandboxed store must be empty down to its layers.
    fn leftovers(&self) -> Vec<String> {
        match &self.engine {
            Engine::Sandboxed { dir, .. } => leftovers(&Layout::new(dir.path()).graph_root()),
            Engine::External { .. } => Vec::new(),
        }
    }

    fn check_alive(&mut self) -> Result<(), crate::live::sandbox::DaemonExit> {
        match &mut self.engine {
            Engine::Sandboxed {
                service: Some(s), ..
            } => s.check_alive(),
            _ => Ok(()),
        }
    }

    /// Stops the service (containers first), wipes the store's directories, starts again.
    fn fresh_root(&mut self) -> anyhow::Result<()> {
        self.restart_fresh(false)
    }

    fn take_engine_time(&mut self) -> Duration {
        self.api().take_engine_time()
    }

    /// The libpod client's calls by endpoint (since the service last started).
    fn timing_lines(&self) -> Vec<String> {
        self.api().call_stats()
    }
}

impl Podman {
    /// Stops the service (containers first), wipes the store's directories, starts again.
    /// `stuck`: some container could not be removed, so the stop's failure to remove it is
    /// expected and only reported; the service's end takes the container's processes and
    /// mounts with it.
    fn restart_fresh(&mut self, stuck: bool) -> anyhow::Result<()> {
        let Engine::Sandboxed { service, dir } = &mut self.engine else {
            bail!("a fresh root needs a sandboxed service");
        };
        if let Some(mut s) = service.take() {
            match s.stop(false) {
                Err(e) if stuck => eprintln!("rmispec: stopping podman: {e:#}"),
                other => other?,
            }
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
            Some(LOOPBACK_REGISTRIES),
        )?));
        Ok(())
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
}
