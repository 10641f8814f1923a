//! Processes: whether one runs, when it started, and stopping the ones the harness owns.
//!
//! Nothing here finds a process to signal by its command line: [`processes_mentioning`] is
//! for tests and diagnostics (counting leftovers), never for killing.

use super::POLL;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

/// Whether `pid` runs (exists and is not a zombie).
pub fn process_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// When `pid` started, in clock ticks since boot (`/proc/<pid>/stat` field 22): with the PID,
/// it names one process for the machine's uptime, so a reused PID is not mistaken for it.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the comm: state is field 3, so starttime (22) is the 20th.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// Whether the process `pid` that started at `start` (clock ticks) still runs.
pub fn same_process_alive(pid: i32, start: u64) -> bool {
    process_alive(pid) && start_time(pid) == Some(start)
}

/// PIDs of processes (other than this one) whose command line mentions `dir`.
///
/// For tests and diagnostics only (how many processes name a state dir after a run): a
/// command line proves nothing about who started a process, so the harness never signals
/// what this finds.
pub fn processes_mentioning(dir: &Path) -> Vec<i32> {
    let needle = dir.as_os_str().as_encoded_bytes();
    let me = std::process::id() as i32;
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me && process_alive(pid))
        .filter(|&pid| fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| mentions(&c, needle)))
        .collect()
}

/// Whether a command line (NUL-separated) names `dir` or a path below it: the match must end
/// the argument or go on with `/`, so `/x/engine-1` does not match `/x/engine-10`.
fn mentions(cmdline: &[u8], dir: &[u8]) -> bool {
    (0..cmdline.len().saturating_sub(dir.len()) + 1)
        .filter(|&i| cmdline[i..].starts_with(dir))
        .any(|i| matches!(cmdline.get(i + dir.len()), None | Some(b'/') | Some(0)))
}

/// SIGTERM, wait up to `timeout` (reaping our children, polling the others), SIGKILL.
/// Only for PIDs the harness started (or found in a cgroup it created).
pub(crate) fn stop_pids(pids: &[i32], timeout: Duration) {
    if pids.is_empty() {
        return;
    }
    for &p in pids {
        let _ = kill(Pid::from_raw(p), Signal::SIGTERM);
        // A stopped process (SIGSTOP) acts on SIGTERM only once continued.
        let _ = kill(Pid::from_raw(p), Signal::SIGCONT);
    }
    let deadline = Instant::now() + timeout;
    let gone = |p: i32| {
        let _ = waitpid(Pid::from_raw(p), Some(WaitPidFlag::WNOHANG));
        !process_alive(p)
    };
    while Instant::now() < deadline && !pids.iter().all(|&p| gone(p)) {
        std::thread::sleep(POLL);
    }
    for &p in pids.iter().filter(|&&p| !gone(p)) {
        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        let _ = waitpid(Pid::from_raw(p), Some(WaitPidFlag::WNOHANG));
    }
    // SIGKILL is not instant: wait (briefly) until they are really gone, so that what comes
    // next (unmounting, removing their cgroups) does not find them busy.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !pids.iter().all(|&p| gone(p)) {
        std::thread::sleep(POLL);
    }
}

/// Polls `pred` until it holds or `timeout` passes; whether it held.
pub fn wait_until(timeout: Duration, mut pred: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if pred() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_line_mentions_a_dir_only_as_a_whole_path() {
        assert!(mentions(
            b"containerd\0--config\0/x/e-1/containerd.toml\0",
            b"/x/e-1"
        ));
        assert!(mentions(
            b"dockerd\0-H\0unix:///x/e-1/docker.sock",
            b"/x/e-1"
        ));
        assert!(mentions(b"sh\0/x/e-1", b"/x/e-1"));
        assert!(!mentions(
            b"containerd\0--config\0/x/e-10/containerd.toml\0",
            b"/x/e-1"
        ));
        assert!(!mentions(b"short", b"/x/e-1"));
    }

    #[test]
    fn this_process_has_a_start_time() {
        let me = std::process::id() as i32;
        let t = start_time(me).expect("a start time");
        assert!(same_process_alive(me, t));
        assert!(!same_process_alive(me, t + 1));
    }
}
