//! Live engines: the real daemons, started sandboxed by the harness or reached through a
//! socket the user names.
//!
//! - [`adapter`]: the engine half of the seam, one small [`adapter::Adapter`] per engine
//!   (start or attach, build, one request, list, empty);
//! - [`backend`]: the runner half, [`backend::LiveBackend`], the same for every engine
//!   (refusals, registry, resets and their check, the built-store check, timings, stop order);
//! - `call_stats`: how long each kind of API call took (`RMISPEC_TIMINGS`);
//! - `source`: the synthesized images as builders load, push and archive them;
//! - [`options`]: what the user asked for (`--socket`, `--state-dir`, the safety flag);
//! - `sandbox`: a state directory per instance and a supervisor for the daemons in it
//!   (stopped on every exit path);
//! - `registry`: a local `docker-registry` on 127.0.0.1, for digest references;
//! - `containerd`: a sandboxed containerd (Docker's engines, CRI);
//! - `docker`: the Docker Engine API adapter (docker-classic, docker-containerd);
//! - `cri`: the CRI adapter (the containerd CRI plugin, 1.7 and 1.6; or any CRI runtime's socket).
//!
//! [`connect`] is the entry point: a profile and the user's options in, a [`Backend`] out.

#[cfg(feature = "live")]
pub mod adapter;
#[cfg(feature = "live")]
pub mod backend;
#[cfg(feature = "live")]
pub mod call_stats;
#[cfg(feature = "live")]
pub mod containerd;
#[cfg(feature = "live-cri")]
pub mod cri;
#[cfg(feature = "live-docker")]
pub mod docker;
pub mod options;
#[cfg(feature = "live-podman")]
pub mod podman;
#[cfg(feature = "live")]
pub mod process;
#[cfg(feature = "live")]
pub mod registry;
#[cfg(feature = "live")]
pub mod reset;
#[cfg(feature = "live")]
pub mod sandbox;
#[cfg(feature = "live")]
pub mod source;
#[cfg(feature = "live")]
pub mod up;

pub use options::LiveOptions;

use crate::backend::Backend;
use rmispec_model::{Engine, Profile};
use std::path::PathBuf;

/// A live backend for `profile`: a sandboxed engine the harness starts (stopped when the
/// backend is dropped, or on Ctrl-C), or the daemon at `opts.socket`.
///
/// Profiles whose adapter is not compiled in (or does not exist) are an error that says which
/// cargo feature builds it.
// Without any adapter compiled in, `opts` has no one to go to.
#[cfg_attr(
    not(any(feature = "live-docker", feature = "live-cri", feature = "live-podman")),
    allow(unused_variables)
)]
pub fn connect(profile: Profile, opts: &LiveOptions) -> anyhow::Result<Box<dyn Backend>> {
    if opts.command.is_some() {
        #[cfg(feature = "live")]
        return Ok(Box::new(process::connect(profile, opts)?));
        #[cfg(not(feature = "live"))]
        return missing(profile, "live");
    }
    #[allow(unreachable_code)]
    match profile.engine() {
        Engine::DockerClassic | Engine::DockerContainerd => {
            #[cfg(feature = "live-docker")]
            return Ok(Box::new(docker::DockerBackend::connect(profile, opts)?));
            missing(profile, "live-docker")
        }
        Engine::CriContainerd => {
            #[cfg(feature = "live-cri")]
            return Ok(Box::new(cri::CriBackend::connect(profile, opts)?));
            missing(profile, "live-cri")
        }
        Engine::PodmanLibimage | Engine::LibpodLegacy => {
            #[cfg(feature = "live-podman")]
            return Ok(Box::new(podman::PodmanBackend::connect(profile, opts)?));
            missing(profile, "live-podman")
        }
    }
}

fn missing(profile: Profile, feature: &str) -> anyhow::Result<Box<dyn Backend>> {
    anyhow::bail!(
        "no live adapter for {profile} in this build: rebuild with `--features {feature}` (and install the engines \
         with scripts/install-engines)"
    )
}

/// Where `scripts/install-engines` unpacks the engines that are not system packages
/// (trixie's docker 26 + containerd 1.7, bullseye's podman 3, ...): `RMISPEC_ENGINES_DIR`,
/// else [`DEFAULT_ENGINES_DIR`]. Read when the harness runs, not when it is built, so that a
/// binary built in one checkout finds the engines another checkout's script installed.
pub fn engines_dir() -> PathBuf {
    std::env::var_os("RMISPEC_ENGINES_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ENGINES_DIR))
}

/// The engines folder when `RMISPEC_ENGINES_DIR` is not set; `scripts/install-engines` uses
/// the same default.
pub const DEFAULT_ENGINES_DIR: &str = "/var/lib/rmispec/engines";

/// The signal that interrupted this live run, if one did: the handler has stopped every
/// daemon and cleaned up already, and (after [`defer_exit_on_signal`]) left the process
/// running so that the report of what finished can be printed.
pub fn interrupted() -> Option<i32> {
    #[cfg(feature = "live")]
    return sandbox::interrupted_by();
    #[cfg(not(feature = "live"))]
    None
}

/// Asks the signal handler not to exit after it stopped and cleaned everything (the CLI
/// prints the partial report, then exits 128 + the signal). Without live adapters there is
/// nothing to stop, and this does nothing.
pub fn defer_exit_on_signal() {
    #[cfg(feature = "live")]
    sandbox::defer_exit_on_signal();
}
