//! Live engines: the real daemons, started sandboxed by the harness or reached through a
//! socket the user names.
//!
//! - [`options`]: what the user asked for (`--socket`, `--state-dir`, the safety flag);
//! - `sandbox`: a state directory per instance and a supervisor for the daemons in it
//!   (stopped on every exit path);
//! - `registry`: a local `docker-registry` on 127.0.0.1, for digest references;
//! - `docker`: the Docker Engine API adapter (docker-classic, docker-containerd).

pub mod options;
#[cfg(feature = "live-podman")]
pub mod podman;
#[cfg(feature = "live")]
pub mod registry;
#[cfg(feature = "live")]
pub mod sandbox;

pub use options::LiveOptions;
