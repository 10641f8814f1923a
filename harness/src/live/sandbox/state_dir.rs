//! State directories: one engine instance's directory, taken only when it is provably ours.

use super::cgroups::{empty_and_remove, members};
use super::mounts::unmount_below;
use super::owner::{DaemonRecord, Owner, OWNER_FILE};
use super::process::{same_process_alive, stop_pids};
use super::signals::{register, shutting_down, unregister, wait_for_shutdown, Entry, Registration};
use super::suffix_pid;
use anyhow::{bail, Context};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Names in a state directory that survive a wipe: the logs, for whoever debugs a failure,
/// and the owner record, which lets the next run take the directory again.
const KEEP_ON_WIPE: &[&str] = &["logs", OWNER_FILE];

/// One engine instance's directory: every file its daemons write lives below it.
///
/// Taking it ([`StateDir::create`], [`StateDir::fresh`]) writes this process's owner record
/// into it, after checking that it is empty, already ours, or debris of a dead rmispec run
/// (which is swept first). Dropping it cleans it ([`StateDir::clean`]): unmounts what is
/// mounted below it, deletes the runc containers and shim sockets it holds, and removes it (a
/// directory the harness chose) or empties it except the logs and the owner record (a
/// directory the user named).
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

    /// A fresh directory for `instance` (`docker-classic`): `<default_parent>/<instance>-<pid>-<n>`.
    /// Directories of earlier runs whose owner record names a dead process are swept first.
    pub fn fresh(instance: &str) -> anyhow::Result<StateDir> {
        let parent = Self::default_parent();
        Self::sweep(&parent, instance);
        let path = parent.join(format!("{instance}-{}", super::instance_suffix()));
        Self::open(&path, true)
    }

    /// Uses `path` (created if missing). It must be empty, or hold an rmispec owner record: a
    /// directory with files and no record is refused (rmispec deletes only what it created),
    /// and so is one whose owner still runs. What a dead owner left is swept first.
    pub fn create(path: &Path) -> anyhow::Result<StateDir> {
        Self::open(path, false)
    }

    fn open(path: &Path, owned: bool) -> anyhow::Result<StateDir> {
        wait_for_shutdown();
        if shutting_down() {
            bail!(
                "not creating {}: the harness is shutting down",
                path.display()
            );
        }
        fs::create_dir_all(path)
            .with_context(|| format!("creating state dir {}", path.display()))?;
        let path = fs::canonicalize(path)?;
        take(&path)?;
        let dir = StateDir {
            registration: register(clean_on_signal(path.clone(), owned)),
            path,
            owned,
        };
        dir.clean()?;
        dir.wipe()?;
        Ok(dir)
    }

    /// Sweeps and removes the harness's own directories `<parent>/<instance>-<pid>-<n>` whose
    /// owner record names a process that no longer runs (what a crashed or killed run left),
    /// saying so on stderr. A directory without a record is left alone (and said so): nothing
    /// proves it is ours. Errors are reported and otherwise ignored: a stale directory must
    /// not stop this run.
    pub fn sweep(parent: &Path, instance: &str) {
        let Ok(entries) = fs::read_dir(parent) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(suffix) = name
                .strip_prefix(instance)
                .and_then(|r| r.strip_prefix('-'))
            else {
                continue;
            };
            let Some(pid) = suffix_pid(suffix) else {
                continue;
            };
            if pid as u32 == std::process::id() {
                continue;
            }
            let path = entry.path();
            match Owner::read(&path) {
                Ok(Some(owner)) if !owner.alive() => {
                    let result = sweep_debris(&path, &owner).and_then(|()| {
                        fs::remove_dir_all(&path)
                            .with_context(|| format!("removing {}", path.display()))
                    });
                    if let Err(e) = result {
                        eprintln!(
                            "rmispec: could not sweep stale state dir {}: {e:#}",
                            path.display()
                        );
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    if !super::process::process_alive(pid) {
                        eprintln!(
                            "rmispec: not sweeping {}: it has no rmispec owner record",
                            path.display()
                        );
                    }
                }
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
        wait_for_shutdown();
        let p = self.path.join(rel);
        fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(p)
    }

    /// Deletes the runc containers and shim sockets below this directory and unmounts what is
    /// mounted below it. Call it after the daemons have been stopped; see [`clean_dir`].
    pub fn clean(&self) -> anyhow::Result<()> {
        clean_dir(&self.path)
    }

    /// Removes everything in the directory except the logs and the owner record. Unmount
    /// first ([`clean`](Self::clean)).
    pub fn wipe(&self) -> anyhow::Result<()> {
        wipe_dir(&self.path)
    }

    /// Removes the given subdirectories (roots of a daemon between runs). Unmount first.
    pub fn wipe_only(&self, names: &[&str]) -> anyhow::Result<()> {
        wait_for_shutdown();
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
        wait_for_shutdown();
        // After a signal the handler may have removed it already: nothing left to do.
        if !self.path.exists() {
            unregister(&self.registration);
            return;
        }
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

/// Makes `dir` ours: refuses a directory with files and no owner record, or whose owner
/// still runs; sweeps what a dead owner left; writes this process's record.
fn take(dir: &Path) -> anyhow::Result<()> {
    let owner = Owner::read(dir).with_context(|| {
        format!(
            "refusing {}: rmispec deletes only what it created",
            dir.display()
        )
    })?;
    match owner {
        None => {
            let mut entries = fs::read_dir(dir)
                .with_context(|| format!("reading {}", dir.display()))?
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect::<Vec<_>>();
            if !entries.is_empty() {
                entries.sort();
                entries.truncate(5);
                bail!(
                    "refusing state dir {}: it is not empty ({}) and has no rmispec owner record ({OWNER_FILE}); \
                     rmispec deletes everything in its state dirs, so it takes only an empty one or one it made. \
                     Choose another --state-dir, or empty this one yourself.",
                    dir.display(),
                    entries.join(", ")
                );
            }
        }
        Some(o) if o.is_me() => {}
        Some(o) if o.alive() => bail!(
            "refusing state dir {}: rmispec process {} (version {}) still uses it; two runs cannot share a state dir",
            dir.display(),
            o.pid,
            o.version
        ),
        Some(o) => sweep_debris(dir, &o)?,
    }
    Owner::me().write(dir)
}

/// Removes what the dead run `owner` left in `dir`, in the order that works, and says what
/// it removed in one line on stderr:
///
/// 1. the daemons its records name (`run/*.pid`, if the PID still has the recorded start
///    time) and every process in their tracking cgroups (containerd's shims), SIGTERM then
///    SIGKILL; then those cgroups;
/// 2. runc containers whose state lives below `dir`, shim sockets, mounts ([`clean_dir`]).
fn sweep_debris(dir: &Path, owner: &Owner) -> anyhow::Result<()> {
    let mut processes = 0;
    for record in DaemonRecord::all_in(dir) {
        let mut pids: Vec<i32> = record.cgroup.as_deref().map(members).unwrap_or_default();
        if same_process_alive(record.pid, record.start) && !pids.contains(&record.pid) {
            pids.push(record.pid);
        }
        processes += pids.len();
        stop_pids(&pids, Duration::from_secs(5));
        if let Some(c) = &record.cgroup {
            processes += empty_and_remove(c, Duration::from_secs(1));
        }
    }
    let cleaned = clean_dir_counting(dir)?;
    let mut said = Vec::new();
    for (n, what) in [
        (processes, "processes"),
        (cleaned.containers, "runc containers"),
        (cleaned.sockets, "shim sockets"),
        (cleaned.mounts, "mounts"),
    ] {
        if n > 0 {
            said.push(format!("{n} {what}"));
        }
    }
    if !said.is_empty() {
        eprintln!(
            "rmispec: swept what rmispec {} (pid {}, gone) left in {}: {}",
            owner.version,
            owner.pid,
            dir.display(),
            said.join(", ")
        );
    }
    Ok(())
}

/// Removes everything in `dir` except the logs and the owner record.
pub(crate) fn wipe_dir(dir: &Path) -> anyhow::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if KEEP_ON_WIPE.iter().any(|k| entry.file_name() == *k) {
            continue;
        }
        remove_path(&entry.path())?;
    }
    Ok(())
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

/// What [`clean_dir`] removed.
#[derive(Debug, Default)]
struct Cleaned {
    containers: usize,
    sockets: usize,
    mounts: usize,
}

/// What a run leaves below `dir` once its daemons are stopped, removed in the order that
/// works:
///
/// 1. runc containers whose state lives below `dir` (`runc --root R delete --force`), which
///    also kills their processes (they live in their own PID namespace and cgroups);
/// 2. containerd shim sockets in `/run/containerd/s` named by task bundles below `dir`
///    (their `address` file), which a killed shim leaves;
/// 3. mounts below `dir`, deepest first.
///
/// It signals no process by name or command line: the daemons and what they forked are
/// stopped through their own records and tracking cgroups.
pub fn clean_dir(dir: &Path) -> anyhow::Result<()> {
    clean_dir_counting(dir).map(drop)
}

fn clean_dir_counting(dir: &Path) -> anyhow::Result<Cleaned> {
    let mut cleaned = Cleaned::default();
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
        let deleted = Command::new("runc")
            .arg("--root")
            .arg(root)
            .args(["delete", "--force"])
            .arg(id)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        cleaned.containers += usize::from(deleted);
    }
    for address in found
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "address"))
    {
        let Ok(text) = fs::read_to_string(address) else {
            continue;
        };
        let sock = text.trim().trim_start_matches("unix://");
        if sock.starts_with("/run/containerd/s/")
            && Path::new(sock).exists()
            && fs::remove_file(sock).is_ok()
        {
            cleaned.sockets += 1;
        }
    }
    cleaned.mounts = unmount_below(dir)?;
    Ok(cleaned)
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

/// What the signal handler does for a state directory still in use: clean it, then remove
/// it if the harness made it, or wipe it as a normal end does (the logs and the owner record
/// stay).
fn clean_on_signal(path: PathBuf, remove: bool) -> Entry {
    Entry::new(move || {
        let result = clean_dir(&path).and_then(|()| {
            if remove && std::env::var_os("RMISPEC_KEEP_STATE").is_none() {
                fs::remove_dir_all(&path).map_err(Into::into)
            } else {
                wipe_dir(&path)
            }
        });
        if let Err(e) = result {
            eprintln!("rmispec: cleaning {} failed: {e:#}", path.display());
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::process::{process_alive, start_time};
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("rmispec-statedir-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        fs::canonicalize(p).unwrap()
    }

    #[test]
    fn a_foreign_file_is_refused_and_kept() {
        let path = scratch("foreign");
        fs::create_dir_all(path.join("my-project")).unwrap();
        fs::write(path.join("my-project/notes.txt"), "mine").unwrap();
        let err = StateDir::create(&path).unwrap_err().to_string();
        assert!(err.contains("no rmispec owner record"), "{err}");
        assert!(err.contains("my-project"), "{err}");
        assert_eq!(
            fs::read_to_string(path.join("my-project/notes.txt")).unwrap(),
            "mine"
        );
        fs::remove_dir_all(path).unwrap();
    }

    #[test]
    fn a_foreign_process_naming_the_dir_is_not_signalled() {
        let path = scratch("tail");
        let dir = StateDir::create(&path).unwrap();
        // `tail -f` of a log, as a user would in another terminal.
        fs::create_dir_all(path.join("logs")).unwrap();
        fs::write(path.join("logs/d.log"), "x\n").unwrap();
        let mut tail = Command::new("tail")
            .arg("-f")
            .arg(path.join("logs/d.log"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        drop(dir);
        let again = StateDir::create(&path).unwrap();
        drop(again);
        assert!(tail.try_wait().unwrap().is_none(), "the tail was signalled");
        tail.kill().unwrap();
        tail.wait().unwrap();
        fs::remove_dir_all(path).unwrap();
    }

    #[test]
    fn a_dead_owners_daemons_are_stopped_by_their_records() {
        let path = scratch("dead");
        fs::create_dir_all(path.join("run")).unwrap();
        // A daemon of a "crashed run": recorded with its start time, owner dead.
        let mut orphan = Command::new("sleep").arg("1000").spawn().unwrap();
        let pid = orphan.id() as i32;
        DaemonRecord {
            pid,
            start: start_time(pid).unwrap(),
            cgroup: None,
        }
        .write(&path.join("run/d.pid"))
        .unwrap();
        // An unrelated process whose PID a stale record names with another start time.
        let mut bystander = Command::new("sleep").arg("1000").spawn().unwrap();
        let bpid = bystander.id() as i32;
        DaemonRecord {
            pid: bpid,
            start: start_time(bpid).unwrap() + 1,
            cgroup: None,
        }
        .write(&path.join("run/reused.pid"))
        .unwrap();
        Owner {
            pid: i32::MAX - 1,
            start: 1,
            version: "0.0.0".into(),
        }
        .write(&path)
        .unwrap();
        let dir = StateDir::create(&path).unwrap();
        let _ = orphan.wait();
        assert!(!process_alive(pid));
        assert!(
            bystander.try_wait().unwrap().is_none(),
            "a reused PID was signalled"
        );
        assert_eq!(Owner::read(&path).unwrap(), Some(Owner::me()));
        drop(dir);
        bystander.kill().unwrap();
        bystander.wait().unwrap();
        fs::remove_dir_all(path).unwrap();
    }

    #[test]
    fn a_live_owner_keeps_its_dir() {
        let path = scratch("live");
        // This test process's parent runs: pretend it owns the directory.
        let ppid = nix::unistd::getppid().as_raw();
        Owner {
            pid: ppid,
            start: start_time(ppid).unwrap(),
            version: "x".into(),
        }
        .write(&path)
        .unwrap();
        let err = StateDir::create(&path).unwrap_err().to_string();
        assert!(err.contains("still uses it"), "{err}");
        fs::remove_dir_all(path).unwrap();
    }
}
