//! Daemons the harness starts: its children, each in its own process group and tracking
//! cgroup, with a PID record in the state directory, waited on by the harness itself.
//!
//! The harness's own wait is the only reliable word on a daemon's death here (PID 1 of these
//! machines reaps orphans seconds late, so a daemon that is not our child looks alive after
//! it died): [`Daemon::exit_status`] and [`Daemon::check_alive`] ask it without blocking.

use super::cgroups::{create_tracking, empty_and_remove};
use super::owner::DaemonRecord;
use super::process::{process_alive, start_time, stop_pids};
use super::signals::{
    install_signal_handler, register, shutting_down, unregister, wait_for_shutdown, Entry,
    Registration,
};
use super::state_dir::StateDir;
use super::{instance_suffix, DEFAULT_STOP_TIMEOUT, POLL};
use anyhow::{bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The shell step that puts the daemon in its tracking cgroup before it runs: `$0` is the
/// cgroup's `cgroup.procs`; then it execs the daemon (same PID), so nothing the daemon forks
/// escapes the cgroup. (No `pre_exec`: the workspace forbids unsafe code.)
const TRACK_SCRIPT: &str = r#"{ echo $$ > "$0"; } 2>/dev/null; exec "$@""#;

/// How many log lines a [`DaemonExit`] carries.
const TAIL_LINES: usize = 20;

/// How to start a daemon: program, arguments, environment, and how long it gets to stop.
#[derive(Clone, Debug)]
pub struct DaemonSpec {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    env_remove: Vec<OsString>,
    stop_timeout: Duration,
}

impl DaemonSpec {
    /// A daemon called `name` (for logs and errors) that runs `program`.
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>) -> Self {
        DaemonSpec {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            env_remove: Vec::new(),
            stop_timeout: DEFAULT_STOP_TIMEOUT,
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable (the rest of the harness's environment is inherited).
    pub fn env(mut self, k: impl Into<OsString>, v: impl Into<OsString>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Removes an inherited environment variable.
    pub fn env_remove(mut self, k: impl Into<OsString>) -> Self {
        self.env_remove.push(k.into());
        self
    }

    /// How long SIGTERM gets before SIGKILL.
    pub fn stop_timeout(mut self, t: Duration) -> Self {
        self.stop_timeout = t;
        self
    }

    /// Starts it in `dir`: stdout and stderr go to `logs/<name>.log` (appended), its record
    /// (PID, start time, tracking cgroup) to `run/<name>.pid` (so a later run can stop it if
    /// this one dies), in its own process group and tracking cgroup.
    pub fn spawn(self, dir: &StateDir) -> anyhow::Result<Daemon> {
        install_signal_handler();
        wait_for_shutdown();
        if shutting_down() {
            bail!("not starting {}: the harness is shutting down", self.name);
        }
        let program = resolve(&self.program).with_context(|| {
            format!(
                "starting {} ({}): no such program",
                self.name,
                self.program.display()
            )
        })?;
        let log_path = dir.subdir("logs")?.join(format!("{}.log", self.name));
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        let cgroup = create_tracking(&format!("{}-{}", self.name, instance_suffix()));
        let mut cmd = match &cgroup {
            Some(c) => {
                let mut cmd = Command::new("/bin/sh");
                cmd.arg("-c")
                    .arg(TRACK_SCRIPT)
                    .arg(c.join("cgroup.procs"))
                    .arg(&program);
                cmd
            }
            None => Command::new(&program),
        };
        for k in &self.env_remove {
            cmd.env_remove(k);
        }
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .current_dir(dir.path())
            .process_group(0);
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                if let Some(c) = &cgroup {
                    empty_and_remove(c, Duration::ZERO);
                }
                return Err(e)
                    .with_context(|| format!("starting {} ({})", self.name, program.display()));
            }
        };
        let pid = child.id() as i32;
        let pid_file = dir.subdir("run")?.join(format!("{}.pid", self.name));
        DaemonRecord {
            pid,
            start: start_time(pid).unwrap_or(0),
            cgroup: cgroup.clone(),
        }
        .write(&pid_file)?;
        let registration = register(stop_on_signal(
            pid,
            self.name.clone(),
            self.stop_timeout,
            cgroup.clone(),
        ));
        Ok(Daemon {
            name: self.name,
            child: Some(child),
            exited: None,
            stop_timeout: self.stop_timeout,
            log_path,
            pid_file,
            cgroup,
            registration,
            started: Instant::now(),
        })
    }
}

/// `program` as `Command` would find it: a path as is, a bare name on `PATH`.
fn resolve(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.exists().then(|| program.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// A daemon that is not running any more, said plainly: its name, how it ended (from the
/// harness's own wait), and the end of its log.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{name} {how}; its log ends with:\n{log_tail}")]
pub struct DaemonExit {
    /// The daemon's name (`dockerd`).
    pub name: String,
    /// How it ended: `exited with signal 9 (SIGKILL)`, `exited with status 1`, or
    /// `is stopped (SIGSTOP): it cannot answer`.
    pub how: String,
    /// Its exit status, if it exited.
    pub status: Option<ExitStatus>,
    /// The last lines of its log.
    pub log_tail: String,
}

/// Whether a daemon died, asked after one of its calls failed. A daemon killed a moment ago
/// closes its socket (the call fails with "connection refused" or "connection closed") while
/// its other threads still exit, before the kernel shows it dead: so one that still looks
/// alive is looked at again through `check` for up to half a second (only on this error path)
/// before it is believed alive.
pub fn died_after_a_failed_call(
    mut check: impl FnMut() -> Result<(), DaemonExit>,
) -> Result<(), DaemonExit> {
    for _ in 0..10 {
        check()?;
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

/// A daemon the harness started and supervises. Dropping it stops it.
#[derive(Debug)]
pub struct Daemon {
    name: String,
    child: Option<Child>,
    /// How it exited, once the harness's wait saw it.
    exited: Option<ExitStatus>,
    stop_timeout: Duration,
    log_path: PathBuf,
    pid_file: PathBuf,
    cgroup: Option<PathBuf>,
    registration: Registration,
    started: Instant,
}

impl Daemon {
    /// The name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its PID (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Its log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The tracking cgroup it runs in, if the host let the harness make one.
    pub fn tracking_cgroup(&self) -> Option<&Path> {
        self.cgroup.as_deref()
    }

    /// The last `n` lines of its log, for error messages.
    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.log_path, n)
    }

    /// How it exited, if it has (non-blocking; the harness's own `waitpid`). `None` while it
    /// runs, and for a daemon stopped through [`stop`](Self::stop) or [`kill`](Self::kill).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.exited = Some(status);
            }
        }
        self.exited
    }

    /// `Ok` while it runs and can answer; otherwise what happened to it, said plainly
    /// ("dockerd exited with signal 9 (SIGKILL)", "dockerd is stopped (SIGSTOP)"), with its
    /// log's tail. Non-blocking: call it after a failed or timed-out API call to tell a dead
    /// daemon from a bad answer.
    pub fn check_alive(&mut self) -> Result<(), DaemonExit> {
        let exit = |d: &Daemon, how: String, status| DaemonExit {
            name: d.name.clone(),
            how,
            status,
            log_tail: d.log_tail(TAIL_LINES),
        };
        if let Some(status) = self.exit_status() {
            return Err(exit(self, describe(status), Some(status)));
        }
        let Some(pid) = self.pid() else {
            return Err(exit(self, "was stopped by the harness".into(), None));
        };
        match process_state(pid as i32) {
            Some('T') => Err(exit(
                self,
                format!("(pid {pid}) is stopped (SIGSTOP or SIGTSTP): it cannot answer"),
                None,
            )),
            // Gone, or dead and not yet reaped, without the harness's wait having seen it
            // (its status went elsewhere): dead all the same.
            None | Some('Z') | Some('X') => Err(exit(
                self,
                format!("(pid {pid}) exited: it is gone (its exit status was not seen)"),
                None,
            )),
            _ => Ok(()),
        }
    }

    /// Polls `probe` until it says ready, failing if the daemon exits or `timeout` passes
    /// (with the log's tail in the error). Returns how long the daemon took since spawn.
    pub fn wait_ready(
        &mut self,
        timeout: Duration,
        mut probe: impl FnMut() -> bool,
    ) -> anyhow::Result<Duration> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit_status() {
                bail!(
                    "{} exited before it was ready ({}); its log ends with:\n{}",
                    self.name,
                    describe(status),
                    self.log_tail(TAIL_LINES)
                );
            }
            if probe() {
                return Ok(self.started.elapsed());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} not ready after {timeout:?}; its log ends with:\n{}",
                    self.name,
                    self.log_tail(TAIL_LINES)
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        self.child.is_some() && self.exit_status().is_none()
    }

    /// SIGTERM, wait up to the stop timeout, then SIGKILL; reaps it, stops what is left in its
    /// tracking cgroup, and removes its PID record. Returns how it exited (`None` if it was
    /// already stopped).
    pub fn stop(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        let Some(mut child) = self.child.take() else {
            return Ok(None);
        };
        let pid = Pid::from_raw(child.id() as i32);
        let already = match self.exited {
            Some(s) => Ok(Some(s)),
            None => child.try_wait(),
        };
        let status = match already {
            // Reaped by someone else (the signal handler's shutdown): it is gone.
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ECHILD as i32) => None,
            Err(e) => {
                self.finish();
                return Err(e.into());
            }
            Ok(Some(s)) => Some(s),
            Ok(None) => {
                let _ = kill(pid, Signal::SIGTERM);
                // A stopped daemon (SIGSTOP) cannot act on SIGTERM until it is continued.
                let _ = kill(pid, Signal::SIGCONT);
                let deadline = Instant::now() + self.stop_timeout;
                loop {
                    if let Ok(Some(s)) = child.try_wait() {
                        break Some(s);
                    }
                    if Instant::now() >= deadline {
                        eprintln!(
                            "rmispec: {} did not stop within {:?} of SIGTERM; killing it",
                            self.name, self.stop_timeout
                        );
                        let _ = child.kill();
                        break child.wait().ok();
                    }
                    std::thread::sleep(POLL);
                }
            }
        };
        self.finish();
        Ok(status)
    }

    /// SIGKILL at once (for tests of crash recovery), and whatever is in its tracking cgroup.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            child.wait()?;
        }
        self.finish();
        Ok(())
    }

    /// After the main process is gone: what it forked and left in its cgroup, its record.
    fn finish(&mut self) {
        if let Some(c) = &self.cgroup {
            empty_and_remove(c, Duration::from_secs(2));
        }
        let _ = fs::remove_file(&self.pid_file);
        unregister(&self.registration);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        wait_for_shutdown();
        if let Err(e) = self.stop() {
            eprintln!("rmispec: stopping {} failed: {e:#}", self.name);
        }
        unregister(&self.registration);
    }
}

/// "exited with status 3", "exited with signal 9 (SIGKILL)".
fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => {
            let name = Signal::try_from(s).map_or_else(|_| "?".into(), |s| s.as_str().to_owned());
            format!("exited with signal {s} ({name})")
        }
        (None, None) => format!("exited ({status})"),
    }
}

/// The state letter of `/proc/<pid>/stat` (`R`, `S`, `T` for stopped, `Z`…).
fn process_state(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// The last `n` lines of a file.
pub fn log_tail(path: &Path, n: usize) -> String {
    let mut s = String::new();
    if let Ok(mut f) = fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// What the signal handler does for a daemon still running: stop it, empty its cgroup.
fn stop_on_signal(pid: i32, name: String, timeout: Duration, cgroup: Option<PathBuf>) -> Entry {
    Entry::new(move || {
        if process_alive(pid) {
            eprintln!("rmispec: stopping {name} (pid {pid})");
            stop_pids(&[pid], timeout);
        }
        if let Some(c) = &cgroup {
            empty_and_remove(c, Duration::from_secs(2));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::process::process_alive;
    use super::*;

    fn test_dir(tag: &str) -> StateDir {
        StateDir::create(
            &std::env::temp_dir().join(format!("rmispec-sandbox-{tag}-{}", std::process::id())),
        )
        .unwrap()
    }

    #[test]
    fn daemon_is_stopped_and_reaped() {
        let dir = test_dir("stop");
        let mut d = DaemonSpec::new("sleeper", "sleep")
            .arg("1000")
            .spawn(&dir)
            .unwrap();
        let pid = d.pid().unwrap() as i32;
        assert!(d.running());
        assert!(d.check_alive().is_ok());
        let took = d.wait_ready(Duration::from_secs(1), || true).unwrap();
        assert!(took < Duration::from_secs(1));
        d.stop().unwrap();
        assert!(!process_alive(pid), "sleep {pid} still runs");
        assert!(!dir.join("run/sleeper.pid").exists());
        let path = dir.path().to_path_buf();
        drop(dir);
        assert!(
            path.join("logs").exists(),
            "a directory the user names keeps its logs"
        );
        fs::remove_dir_all(path).unwrap();
    }

    #[test]
    fn a_daemon_that_dies_is_reported_with_its_log() {
        let dir = test_dir("dies");
        let mut d = DaemonSpec::new("failing", "sh")
            .args(["-c", "echo broken config >&2; exit 3"])
            .spawn(&dir)
            .unwrap();
        let err = d
            .wait_ready(Duration::from_secs(5), || false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("broken config"), "{err}");
        assert!(err.contains("exited with status 3"), "{err}");
        let path = dir.path().to_path_buf();
        drop(dir);
        fs::remove_dir_all(path).unwrap();
    }

    #[test]
    fn a_killed_or_stopped_daemon_is_said_plainly() {
        let dir = test_dir("killed");
        let mut d = DaemonSpec::new("victim", "sh")
            .args(["-c", "echo started; exec sleep 1000"])
            .spawn(&dir)
            .unwrap();
        let pid = Pid::from_raw(d.pid().unwrap() as i32);
        // Stopped only once it has spoken: a SIGSTOP before `sh` echoes leaves the log empty.
        let spoke = super::super::process::wait_until(Duration::from_secs(5), || {
            d.log_tail(5).contains("started")
        });
        assert!(spoke, "the victim never logged");
        kill(pid, Signal::SIGSTOP).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let e = d.check_alive().unwrap_err().to_string();
        assert!(e.contains("victim") && e.contains("is stopped"), "{e}");
        kill(pid, Signal::SIGKILL).unwrap();
        let ok =
            super::super::process::wait_until(Duration::from_secs(5), || d.exit_status().is_some());
        assert!(ok);
        let e = d.check_alive().unwrap_err();
        assert_eq!(e.how, "exited with signal 9 (SIGKILL)");
        assert!(e.to_string().contains("started"), "{e}");
        let path = dir.path().to_path_buf();
        drop(d);
        drop(dir);
        fs::remove_dir_all(path).unwrap();
    }
}
