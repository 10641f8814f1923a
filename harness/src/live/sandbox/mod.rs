//! Sandboxed daemons: one state directory per engine instance, and a supervisor for the
//! processes that run in it.
//!
//! rmispec runs as root and deletes images, so this module is built around one rule: **it
//! touches only what it can prove it made.**
//!
//! - A [`StateDir`] holds everything a live engine writes (roots, exec roots, sockets, configs,
//!   `TMPDIR`, logs) and carries an owner record (`.rmispec-owner`: PID, process start time,
//!   rmispec version, [`owner`]). A non-empty directory without one is refused: it is not ours
//!   to empty. A directory whose record names a dead rmispec process is debris of a crashed
//!   run, and is swept (what was removed is said in one line on stderr).
//! - Every process the harness starts is its child ([`Daemon`]), in its own process group and
//!   its own tracking cgroup ([`cgroups`]), so that what it forks (containerd's shims, for one)
//!   is found by membership, never by command line: a `tail -f` of a log in the state dir is
//!   not ours and is never signalled.
//! - Daemons are stopped on every exit path: [`Daemon::stop`] or its `Drop` (also on panic);
//!   on SIGINT / SIGTERM / SIGHUP from a handler thread ([`signals`]); after a crash (SIGKILL)
//!   by the next run, from the owner record and the daemons' PID records.
//! - Cgroup parents are unique per instance ([`CgroupParent`]) and swept once the processes in
//!   them are gone ([`sweep_cgroups`]).
//!
//! Daemons run in their own process group, so a Ctrl-C in the terminal reaches only the
//! harness, which then stops them in order (dockerd before containerd: stopping containerd
//! first would kill the shims and leak their sockets in `/run/containerd/s`).

pub mod cgroups;
pub mod daemon;
pub mod mounts;
pub mod owner;
pub mod probe;
pub mod process;
pub mod signals;
pub mod state_dir;

pub use cgroups::{remove_cgroup, sweep_cgroups, CgroupParent};
pub use daemon::{died_after_a_failed_call, log_tail, Daemon, DaemonExit, DaemonSpec};
pub use mounts::{mounts_below, unmount_below};
pub use process::{
    process_alive, processes_mentioning, same_process_alive, start_time, wait_until,
};
pub use signals::{
    check_interrupted, defer_exit_on_signal, install_signal_handler, interrupted, interrupted_by,
    shutdown_all, shutting_down, Interrupted,
};
pub use state_dir::{clean_dir, StateDir};

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long a daemon gets to exit after SIGTERM before it is killed.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How often readiness probes and stop waits poll.
const POLL: Duration = Duration::from_millis(5);

/// A suffix unique to this instance among every live harness process: `<pid>-<n>`, `n`
/// counting the instances this process made (tests run several engines in one process).
/// What a crashed run leaves is recognized by its PID ([`StateDir::sweep`], [`sweep_cgroups`]).
pub fn instance_suffix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The PID in a suffix made by [`instance_suffix`] (or a bare `<pid>`).
fn suffix_pid(suffix: &str) -> Option<i32> {
    let pid = suffix.split_once('-').map_or(suffix, |(p, n)| {
        if n.bytes().all(|b| b.is_ascii_digit()) {
            p
        } else {
            ""
        }
    });
    pid.parse().ok()
}

/// The PID in a name that ends with an [`instance_suffix`] (`podman-libimage-123-4`).
fn trailing_suffix_pid(name: &str) -> Option<i32> {
    let mut parts = name.rsplitn(3, '-');
    let n = parts.next()?;
    let pid = parts.next()?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, release it).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_suffixes_are_unique_and_name_the_process() {
        let (a, b) = (instance_suffix(), instance_suffix());
        assert_ne!(a, b);
        assert_eq!(suffix_pid(&a), Some(std::process::id() as i32));
        assert_eq!(suffix_pid("123"), Some(123));
        assert_eq!(suffix_pid("registry-123-4"), None);
        assert_eq!(trailing_suffix_pid("podman-libimage-123-4"), Some(123));
        assert_eq!(trailing_suffix_pid("123-4"), Some(123));
        assert_eq!(trailing_suffix_pid("podman-libimage"), None);
    }
}
