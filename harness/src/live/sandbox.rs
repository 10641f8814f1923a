//! Sandboxed daemons: one state directory per engine instance, and a supervisor for the
//! processes that run in it.
//!
//! Everything a live engine writes lives under its [`StateDir`]: roots, exec roots, sockets,
//! configs, `TMPDIR`, logs. The harness starts each daemon itself as a child ([`Daemon`]),
//! waits on it (PID 1 here reaps orphans seconds late, so a daemon that is not our child looks
//! alive after it died), and stops it on every exit path:
//!
//! - normally, through [`Daemon::stop`] or when the [`Daemon`] is dropped (also on panic);
//! - on SIGINT / SIGTERM / SIGHUP, from a handler thread that stops every registered daemon,
//!   newest first, cleans every registered state directory and exits ([`install_signal_handler`]);
//! - after a crash (SIGKILL, power loss), at the next start: [`StateDir::create`] finds what the
//!   previous run left in the same directory (daemons, shims, runc containers, mounts, shim
//!   sockets) and removes it, and [`StateDir::sweep`] does the same for sibling directories of
//!   processes that are gone.
//!
//! Daemons run in their own process group, so a Ctrl-C in the terminal reaches only the
//! harness, which then stops them in order (dockerd before containerd: stopping containerd
//! first would kill the shims and leak their sockets in `/run/containerd/s`).

use anyhow::{bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a daemon gets to exit after SIGTERM before it is killed.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How often readiness probes and stop waits poll.
const POLL: Duration = Duration::from_millis(5);

/// Names in a state directory that survive a wipe: the logs, for whoever debugs a failure.
const KEEP_ON_WIPE: &[&str] = &["logs"];

// ---------------------------------------------------------------------------------------------
// State directories

/// One engine instance's directory: every file its daemons write lives below it.
///
/// Dropping it cleans it ([`StateDir::clean`]): kills what still runs from it, unmounts what is
/// mounted below it, and removes it (a directory the harness chose) or empties it except the
/// logs (a directory the user named).
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
    /// The harness chose the path, so it removes the directory at the end.
    owned: bool,
    registration: Registration,
}

impl StateDir {
    /// The parent of the directories the harness chooses: `$TMPDIR/rmispec-live`.
    ///
    /// Unix socket paths are limited to 107 bytes, so this stays short (not under `target/`,
    /// whose path can be long).
    pub fn default_parent() -> PathBuf {
        std::env::temp_dir().join("rmispec-live")
    }

    /// A fresh directory for `instance` (`docker-classic`): `<default_parent>/<instance>-<pid>`.
    /// Directories of earlier runs whose process is gone are cleaned and removed first.
    pub fn fresh(instance: &str) -> anyhow::Result<StateDir> {
        let parent = Self::default_parent();
        Self::sweep(&parent, instance);
        let path = parent.join(format!("{instance}-{}", instance_suffix()));
        Self::open(&path, true)
    }

    /// Uses `path` (created if missing). What a previous run left in it is cleaned first:
    /// processes still running from it, mounts below it, files (except `logs/`).
    pub fn create(path: &Path) -> anyhow::Result<StateDir> {
        Self::open(path, false)
    }

    fn open(path: &Path, owned: bool) -> anyhow::Result<StateDir> {
        if shutting_down() {
            bail!(
                "not creating {}: the harness is shutting down",
                path.display()
            );
        }
        fs::create_dir_all(path)
            .with_context(|| format!("creating state dir {}", path.display()))?;
        let path = fs::canonicalize(path)?;
        let dir = StateDir {
            registration: register(Entry::Dir {
                path: path.clone(),
                remove: owned,
            }),
            path,
            owned,
        };
        dir.clean()?;
        dir.wipe()?;
        Ok(dir)
    }

    /// Cleans and removes the harness's own directories `<parent>/<instance>-<pid>` whose
    /// process no longer runs (what a crashed or killed run left). Errors are reported on
    /// stderr and otherwise ignored: a stale directory must not stop this run.
    pub fn sweep(parent: &Path, instance: &str) {
        let Ok(entries) = fs::read_dir(parent) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix(instance)
                .and_then(|r| r.strip_prefix('-'))
            else {
                continue;
            };
            let Some(pid) = suffix_pid(pid) else {
                continue;
            };
            if pid as u32 == std::process::id() || process_alive(pid) {
                continue;
            }
            let path = entry.path();
            let result = clean_dir(&path).and_then(|()| {
                fs::remove_dir_all(&path).with_context(|| format!("removing {}", path.display()))
            });
            if let Err(e) = result {
                eprintln!(
                    "rmispec: could not clean stale state dir {}: {e:#}",
                    path.display()
                );
            }
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path below the directory.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// Creates (if needed) and returns a subdirectory.
    pub fn subdir(&self, rel: impl AsRef<Path>) -> anyhow::Result<PathBuf> {
        let p = self.path.join(rel);
        fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(p)
    }

    /// Stops what still runs from this directory and unmounts what is mounted below it.
    /// Call it after the daemons have been stopped; see [`clean_dir`].
    pub fn clean(&self) -> anyhow::Result<()> {
        clean_dir(&self.path)
    }

    /// Removes everything in the directory except the logs. Unmount first ([`clean`](Self::clean)).
    pub fn wipe(&self) -> anyhow::Result<()> {
        for entry in fs::read_dir(&self.path)? {
            let entry = entry?;
            if KEEP_ON_WIPE.iter().any(|k| entry.file_name() == *k) {
                continue;
            }
            remove_path(&entry.path())?;
        }
        Ok(())
    }

    /// Removes the given subdirectories (roots of a daemon between runs). Unmount first.
    pub fn wipe_only(&self, names: &[&str]) -> anyhow::Result<()> {
        for n in names {
            let p = self.path.join(n);
            if p.symlink_metadata().is_ok() {
                remove_path(&p)?;
            }
        }
        Ok(())
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let result = self.clean().and_then(|()| {
            if self.owned && std::env::var_os("RMISPEC_KEEP_STATE").is_none() {
                fs::remove_dir_all(&self.path)
                    .with_context(|| format!("removing {}", self.path.display()))
            } else {
                self.wipe()
            }
        });
        if let Err(e) = result {
            eprintln!("rmispec: cleaning {} failed: {e:#}", self.path.display());
        }
        unregister(&self.registration);
    }
}

fn remove_path(p: &Path) -> anyhow::Result<()> {
    let meta = p.symlink_metadata()?;
    if meta.is_dir() {
        fs::remove_dir_all(p)
    } else {
        fs::remove_file(p)
    }
    .with_context(|| format!("removing {}", p.display()))
}

/// Everything a crashed run can leave behind from `dir`, removed in the order that works:
///
/// 1. processes whose command line names `dir` (daemons, containerd shims), SIGTERM then SIGKILL;
/// 2. runc containers whose state lives below `dir` (`runc --root R delete --force`), which
///    also kills their processes (they live in their own PID namespace and do not name `dir`);
/// 3. containerd shim sockets in `/run/containerd/s` named by task bundles below `dir`
///    (their `address` file), which a killed shim leaves;
/// 4. mounts below `dir`, deepest first.
pub fn clean_dir(dir: &Path) -> anyhow::Result<()> {
    // Daemons the harness still supervises are not leftovers (a registry sharing the
    // directory with an engine being restarted, for one).
    let supervised = supervised_pids();
    let pids: Vec<i32> = processes_mentioning(dir)
        .into_iter()
        .filter(|p| !supervised.contains(p))
        .collect();
    stop_pids(&pids, Duration::from_secs(5));
    let found = find_files(dir, 8);
    for state in found
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "state.json"))
    {
        // <root>/<id>/state.json
        let (Some(id_dir), Some(root)) = (state.parent(), state.parent().and_then(Path::parent))
        else {
            continue;
        };
        let Some(id) = id_dir.file_name() else {
            continue;
        };
        let _ = Command::new("runc")
            .arg("--root")
            .arg(root)
            .args(["delete", "--force"])
            .arg(id)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    for address in found
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "address"))
    {
        let Ok(text) = fs::read_to_string(address) else {
            continue;
        };
        let sock = text.trim().trim_start_matches("unix://");
        if sock.starts_with("/run/containerd/s/") && Path::new(sock).exists() {
            let _ = fs::remove_file(sock);
        }
    }
    unmount_below(dir)
}

/// Files below `dir` (not following symlinks, not crossing into mounts' contents any deeper
/// than `depth`).
fn find_files(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    while let Some((d, level)) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                if level < depth {
                    stack.push((e.path(), level + 1));
                }
            } else if t.is_file() {
                out.push(e.path());
            }
        }
    }
    out
}

/// The mount points at or below `dir`, from `/proc/self/mountinfo` (field 5, octal escapes
/// decoded), in mount order.
pub fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| p.starts_with(dir))
        .collect()
}

fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts everything mounted at or below `dir`: newest mount first (so stacked mounts come
/// off top first), then again until nothing is left. A busy mount is detached lazily.
pub fn unmount_below(dir: &Path) -> anyhow::Result<()> {
    use nix::mount::{umount2, MntFlags};
    for _round in 0..8 {
        let mounts = mounts_below(dir);
        if mounts.is_empty() {
            return Ok(());
        }
        for m in mounts.iter().rev() {
            if umount2(m.as_path(), MntFlags::empty()).is_err() {
                let _ = umount2(m.as_path(), MntFlags::MNT_DETACH);
            }
        }
    }
    let left = mounts_below(dir);
    if left.is_empty() {
        Ok(())
    } else {
        bail!("mounts left below {}: {left:?}", dir.display())
    }
}

/// PIDs of processes (other than this one) whose command line mentions `dir`.
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

/// SIGTERM, wait up to `timeout` (reaping our children, polling the others), SIGKILL.
fn stop_pids(pids: &[i32], timeout: Duration) {
    if pids.is_empty() {
        return;
    }
    for &p in pids {
        let _ = kill(Pid::from_raw(p), Signal::SIGTERM);
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
        let _ = waitpid(Pid::from_raw(p), None);
    }
}

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

// ---------------------------------------------------------------------------------------------
// Cgroups

/// The cgroup hierarchies' mount points (`/sys/fs/cgroup/<controller>` on a v1 or hybrid
/// host, `/sys/fs/cgroup` itself on a v2 host).
fn cgroup_roots() -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    if base.join("cgroup.controllers").exists() {
        return vec![base.to_path_buf()];
    }
    let Ok(entries) = fs::read_dir(base) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !p.is_symlink())
        .collect()
}

/// Removes the cgroup `name` (a direct child of each hierarchy's root, as a daemon's
/// `cgroup-parent` makes it) with its empty descendants, in every hierarchy. A cgroup that
/// still has processes stays (rmdir fails with EBUSY); that is reported, not fatal.
pub fn remove_cgroup(name: &str) {
    let mut stays = Vec::new();
    for root in cgroup_roots() {
        let top = root.join(name);
        if top.is_dir() {
            if let Err(e) = remove_cgroup_tree(&top) {
                stays.push(e);
            }
        }
    }
    if let Some(first) = stays.first() {
        eprintln!(
            "rmispec: cgroup {name} stays in {} hierarchies ({first})",
            stays.len()
        );
    }
}

/// Removes `dir` and its descendants, deepest first; the first failure is returned.
fn remove_cgroup_tree(dir: &Path) -> Result<(), String> {
    let mut first = None;
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                if let Err(e) = remove_cgroup_tree(&e.path()) {
                    first.get_or_insert(e);
                }
            }
        }
    }
    if let Err(e) = fs::remove_dir(dir) {
        first.get_or_insert(format!("{}: {e}", dir.display()));
    }
    first.map_or(Ok(()), Err)
}

/// A cgroup the harness names as a daemon's `cgroup-parent`: removed (with its empty
/// descendants) when dropped, or by the signal handler. Create it before the daemons that
/// use it, so that it is cleaned after they are stopped.
#[derive(Debug)]
pub struct CgroupParent {
    name: String,
    registration: Registration,
}

impl CgroupParent {
    /// The cgroup `name` (a direct child of each hierarchy's root). Nothing is created: the
    /// daemons create it when they start containers.
    pub fn new(name: impl Into<String>) -> CgroupParent {
        let name = name.into();
        CgroupParent {
            registration: register(Entry::Cgroup(name.clone())),
            name,
        }
    }

    /// Its name, without a leading `/`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for CgroupParent {
    fn drop(&mut self) {
        remove_cgroup(&self.name);
        unregister(&self.registration);
    }
}

/// Removes the cgroups `<prefix><pid>` whose process `pid` is gone (a crashed run's
/// `cgroup-parent`), in every hierarchy.
pub fn sweep_cgroups(prefix: &str) {
    let me = std::process::id() as i32;
    let mut stale = std::collections::BTreeSet::new();
    for root in cgroup_roots() {
        let Ok(entries) = fs::read_dir(&root) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix(prefix).and_then(suffix_pid) else {
                continue;
            };
            if pid != me && !process_alive(pid) {
                stale.insert(name);
            }
        }
    }
    for name in stale {
        remove_cgroup(&name);
    }
}

// ---------------------------------------------------------------------------------------------
// Daemons

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

    /// Starts it in `dir`: stdout and stderr go to `logs/<name>.log` (appended), its PID to
    /// `run/<name>.pid` (so a later run can find it), in its own process group.
    pub fn spawn(self, dir: &StateDir) -> anyhow::Result<Daemon> {
        install_signal_handler();
        if shutting_down() {
            bail!("not starting {}: the harness is shutting down", self.name);
        }
        let log_path = dir.subdir("logs")?.join(format!("{}.log", self.name));
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        let mut cmd = Command::new(&self.program);
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
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {} ({})", self.name, self.program.display()))?;
        let pid = child.id() as i32;
        let pid_file = dir.subdir("run")?.join(format!("{}.pid", self.name));
        fs::write(&pid_file, pid.to_string())?;
        let registration = register(Entry::Process {
            pid,
            name: self.name.clone(),
            timeout: self.stop_timeout,
        });
        Ok(Daemon {
            name: self.name,
            child: Some(child),
            stop_timeout: self.stop_timeout,
            log_path,
            pid_file,
            registration,
            started: Instant::now(),
        })
    }
}

/// A daemon the harness started and supervises. Dropping it stops it.
#[derive(Debug)]
pub struct Daemon {
    name: String,
    child: Option<Child>,
    stop_timeout: Duration,
    log_path: PathBuf,
    pid_file: PathBuf,
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

    /// The last `n` lines of its log, for error messages.
    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.log_path, n)
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
            if let Some(status) = self
                .child
                .as_mut()
                .map(Child::try_wait)
                .transpose()?
                .flatten()
            {
                self.child = None;
                bail!(
                    "{} exited before it was ready ({status}); its log ends with:\n{}",
                    self.name,
                    self.log_tail(20)
                );
            }
            if probe() {
                return Ok(self.started.elapsed());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} not ready after {timeout:?}; its log ends with:\n{}",
                    self.name,
                    self.log_tail(20)
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGTERM, wait up to the stop timeout, then SIGKILL; reaps it and removes its PID file.
    /// Returns how it exited (`None` if it was already stopped).
    pub fn stop(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        let Some(mut child) = self.child.take() else {
            return Ok(None);
        };
        let pid = Pid::from_raw(child.id() as i32);
        let status = match child.try_wait() {
            // Reaped by someone else (the signal handler's shutdown): it is gone.
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ECHILD as i32) => {
                let _ = fs::remove_file(&self.pid_file);
                unregister(&self.registration);
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
            Ok(Some(s)) => s,
            Ok(None) => {
                let _ = kill(pid, Signal::SIGTERM);
                let deadline = Instant::now() + self.stop_timeout;
                loop {
                    if let Some(s) = child.try_wait()? {
                        break s;
                    }
                    if Instant::now() >= deadline {
                        eprintln!(
                            "rmispec: {} did not stop within {:?} of SIGTERM; killing it",
                            self.name, self.stop_timeout
                        );
                        let _ = child.kill();
                        break child.wait()?;
                    }
                    std::thread::sleep(POLL);
                }
            }
        };
        let _ = fs::remove_file(&self.pid_file);
        unregister(&self.registration);
        Ok(Some(status))
    }

    /// SIGKILL at once (for tests of crash recovery).
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            child.wait()?;
        }
        unregister(&self.registration);
        Ok(())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("rmispec: stopping {} failed: {e:#}", self.name);
        }
        unregister(&self.registration);
    }
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

// ---------------------------------------------------------------------------------------------
// Readiness probes

/// Readiness probes for [`Daemon::wait_ready`]: plain std I/O, no async runtime needed.
pub mod probe {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::os::unix::net::UnixStream;
    use std::path::Path;
    use std::time::Duration;

    const TIMEOUT: Duration = Duration::from_millis(500);

    /// Something listens on the unix socket.
    pub fn unix_listening(socket: &Path) -> bool {
        UnixStream::connect(socket).is_ok()
    }

    /// `GET <path>` over the unix socket answers 200 (dockerd and podman: `/_ping`).
    pub fn unix_http_ok(socket: &Path, path: &str) -> bool {
        UnixStream::connect(socket).is_ok_and(|s| http_ok(s, path))
    }

    /// `GET <path>` on a TCP address answers 200 (the registry: `/v2/`).
    pub fn tcp_http_ok(addr: SocketAddr, path: &str) -> bool {
        TcpStream::connect_timeout(&addr, TIMEOUT).is_ok_and(|s| {
            let _ = s.set_read_timeout(Some(TIMEOUT));
            http_ok(s, path)
        })
    }

    fn http_ok(mut s: impl Read + Write, path: &str) -> bool {
        if write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").is_err() {
            return false;
        }
        let mut head = [0u8; 16];
        let mut n = 0;
        while n < head.len() {
            match s.read(&mut head[n..]) {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k,
            }
        }
        head[..n].starts_with(b"HTTP/1.") && head[..n].get(9..12) == Some(b"200")
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, release it).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

// ---------------------------------------------------------------------------------------------
// What the signal handler cleans

#[derive(Debug)]
enum Entry {
    Process {
        pid: i32,
        name: String,
        timeout: Duration,
    },
    Dir {
        path: PathBuf,
        remove: bool,
    },
    Cgroup(String),
}

/// A handle on an entry in the cleanup list; unregistering twice is harmless.
#[derive(Debug)]
struct Registration(u64);

fn live() -> &'static Mutex<Vec<(u64, Entry)>> {
    static LIVE: OnceLock<Mutex<Vec<(u64, Entry)>>> = OnceLock::new();
    LIVE.get_or_init(|| Mutex::new(Vec::new()))
}

/// PIDs of the daemons registered (spawned and not yet stopped) in this process.
fn supervised_pids() -> Vec<i32> {
    live()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter_map(|(_, e)| match e {
            Entry::Process { pid, .. } => Some(*pid),
            Entry::Dir { .. } | Entry::Cgroup(_) => None,
        })
        .collect()
}

fn register(e: Entry) -> Registration {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    live()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((id, e));
    Registration(id)
}

fn unregister(r: &Registration) {
    live()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|(id, _)| *id != r.0);
}

/// Set once [`shutdown_all`] has begun: no daemon starts after it.
static SHUTTING_DOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the harness is shutting down (a signal arrived): adapters stop restarting things
/// and stay quiet about the errors that follow.
pub fn shutting_down() -> bool {
    SHUTTING_DOWN.load(Ordering::SeqCst)
}

/// Stops every daemon the harness still runs (newest first) and cleans every state directory
/// still in use. The signal handler calls it; a runner that leaves through
/// [`std::process::exit`] while backends are alive (destructors do not run then) should too.
pub fn shutdown_all() {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
    // Twice: whatever registered while the first pass ran (a directory created just before
    // the flag was seen) is cleaned too.
    for _pass in 0..2 {
        let entries: Vec<(u64, Entry)> =
            std::mem::take(&mut *live().lock().unwrap_or_else(|p| p.into_inner()));
        for (_, e) in entries.iter().rev() {
            shutdown_one(e);
        }
    }
}

fn shutdown_one(e: &Entry) {
    match e {
        Entry::Process { pid, name, timeout } => {
            if process_alive(*pid) {
                eprintln!("rmispec: stopping {name} (pid {pid})");
                stop_pids(&[*pid], *timeout);
            }
        }
        Entry::Dir { path, remove } => {
            let result = clean_dir(path).and_then(|()| {
                if *remove && std::env::var_os("RMISPEC_KEEP_STATE").is_none() {
                    fs::remove_dir_all(path).map_err(Into::into)
                } else {
                    Ok(())
                }
            });
            if let Err(e) = result {
                eprintln!("rmispec: cleaning {} failed: {e:#}", path.display());
            }
        }
        Entry::Cgroup(name) => remove_cgroup(name),
    }
}

/// Installs (once) a handler thread for SIGINT, SIGTERM and SIGHUP that runs
/// [`shutdown_all`] and exits with 128 + the signal number. Spawning a [`Daemon`] installs it.
pub fn install_signal_handler() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            Ok(mut signals) => {
                std::thread::Builder::new()
                    .name("rmispec-signals".into())
                    .spawn(move || {
                        if let Some(sig) = signals.forever().next() {
                            let _ = writeln!(
                                std::io::stderr(),
                                "rmispec: signal {sig}, stopping live engines"
                            );
                            shutdown_all();
                            std::process::exit(128 + sig);
                        }
                    })
                    .map(drop)
                    .unwrap_or_else(|e| eprintln!("rmispec: no signal handler thread: {e}"));
            }
            Err(e) => eprintln!("rmispec: could not install the signal handler: {e}"),
        }
    });
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
    }

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
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape_mountinfo(r"/x\134y"), r"/x\y");
        assert_eq!(unescape_mountinfo(r"/plain\04"), r"/plain\04");
    }

    #[test]
    fn daemon_is_stopped_and_reaped() {
        let dir = StateDir::create(
            &std::env::temp_dir().join(format!("rmispec-sandbox-test-{}", std::process::id())),
        )
        .unwrap();
        let mut d = DaemonSpec::new("sleeper", "sleep")
            .arg("1000")
            .spawn(&dir)
            .unwrap();
        let pid = d.pid().unwrap() as i32;
        assert!(d.running());
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
        let dir = StateDir::create(
            &std::env::temp_dir().join(format!("rmispec-sandbox-test2-{}", std::process::id())),
        )
        .unwrap();
        let mut d = DaemonSpec::new("failing", "sh")
            .args(["-c", "echo broken config >&2; exit 3"])
            .spawn(&dir)
            .unwrap();
        let err = d
            .wait_ready(Duration::from_secs(5), || false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("broken config"), "{err}");
        let path = dir.path().to_path_buf();
        drop(dir);
        fs::remove_dir_all(path).unwrap();
    }

    #[test]
    fn leftover_processes_are_cleaned_at_start() {
        let path =
            std::env::temp_dir().join(format!("rmispec-sandbox-test3-{}", std::process::id()));
        fs::create_dir_all(&path).unwrap();
        let path = fs::canonicalize(path).unwrap();
        // A process that names the directory, as a daemon from a crashed run would.
        let mut orphan = Command::new("sh")
            .arg("-c")
            .arg("while :; do sleep 0.05; done")
            .arg(&path)
            .spawn()
            .unwrap();
        let pid = orphan.id() as i32;
        assert!(processes_mentioning(&path).contains(&pid));
        let dir = StateDir::create(&path).unwrap();
        let _ = orphan.wait();
        assert!(!process_alive(pid));
        drop(dir);
        fs::remove_dir_all(path).unwrap();
    }
}
