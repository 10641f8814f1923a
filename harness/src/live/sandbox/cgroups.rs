//! Cgroups the harness creates: tracking cgroups for the processes it starts, and the cgroup
//! parents under which engines put their containers.
//!
//! A **tracking cgroup** (`rmispec-procs/<daemon>-<pid>-<n>` in the `pids` hierarchy, or the
//! unified one on a cgroup v2 host) holds one daemon and everything it forks that does not
//! move itself elsewhere (containerd's shims, podman's namespace init). It is how the harness
//! finds what it started without reading command lines: a member of our cgroup is ours.
//!
//! A **cgroup parent** (`rmispec-<instance>-<pid>-<n>`, `rmispec-podman/<instance>-<pid>-<n>`)
//! is unique per instance, so two runs never share one; a crashed run's parents are found by
//! the PID in their name ([`sweep_cgroups`]) and removed once their processes are gone.

use super::process::{process_alive, stop_pids};
use super::signals::{register, unregister, Entry, Registration};
use super::trailing_suffix_pid;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where tracking cgroups go, below the tracking hierarchy's root.
pub const TRACKING_PARENT: &str = "rmispec-procs";

/// How long a removal waits for a cgroup whose last process just exited (it is busy until
/// the process is reaped).
const REMOVE_WAIT: Duration = Duration::from_secs(5);

/// The cgroup hierarchies' mount points (`/sys/fs/cgroup/<controller>` on a v1 or hybrid
/// host, `/sys/fs/cgroup` itself on a v2 host).
pub(crate) fn cgroup_roots() -> Vec<PathBuf> {
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
        .filter(|p| p.is_dir() && !p.is_symlink() && p.join("cgroup.procs").exists())
        .collect()
}

/// The hierarchy tracking cgroups live in: the unified hierarchy of a v2 host, else v1's
/// `pids` (every host with cgroups has it; it has no effect without a limit).
fn tracking_root() -> Option<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    if base.join("cgroup.controllers").exists() {
        return Some(base.to_path_buf());
    }
    let pids = base.join("pids");
    pids.join("cgroup.procs").exists().then_some(pids)
}

/// Creates the tracking cgroup `rmispec-procs/<name>` and returns its path, or `None` where
/// the harness cannot create cgroups (then only the process group tracks a daemon).
pub(crate) fn create_tracking(name: &str) -> Option<PathBuf> {
    let dir = tracking_root()?.join(TRACKING_PARENT).join(name);
    fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

/// The PIDs in a cgroup and its descendants.
pub fn members(dir: &Path) -> Vec<i32> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(text) = fs::read_to_string(d.join("cgroup.procs")) {
            out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
        if let Ok(entries) = fs::read_dir(&d) {
            stack.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
    }
    out.retain(|&p| process_alive(p));
    out.sort_unstable();
    out.dedup();
    out
}

/// Stops every process in a tracking cgroup (SIGTERM, `grace`, SIGKILL) and removes it (and
/// its parent `rmispec-procs` if nothing else uses it). Returns how many processes it stopped.
pub(crate) fn empty_and_remove(dir: &Path, grace: Duration) -> usize {
    let mut stopped = 0;
    // Members can fork while we stop them: a few rounds.
    for _ in 0..4 {
        let pids = members(dir);
        if pids.is_empty() {
            break;
        }
        stopped += pids.len();
        stop_pids(&pids, grace);
    }
    let _ = remove_cgroup_tree(dir, Instant::now() + REMOVE_WAIT);
    if let Some(parent) = dir.parent() {
        let _ = fs::remove_dir(parent);
    }
    stopped
}

/// Removes the cgroup `name` (a path below each hierarchy's root, as a daemon's
/// `cgroup-parent` makes it) with its empty descendants, in every hierarchy, waiting a little
/// for cgroups whose last process is being reaped. A cgroup that still has processes stays;
/// that is reported, not fatal.
pub fn remove_cgroup(name: &str) {
    let deadline = Instant::now() + REMOVE_WAIT;
    let mut stays = Vec::new();
    for root in cgroup_roots() {
        let top = root.join(name.trim_start_matches('/'));
        if top.is_dir() {
            if let Err(e) = remove_cgroup_tree(&top, deadline) {
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

/// Stops the processes in the cgroup `name` (in every hierarchy; a cgroup parent of ours
/// holds only our containers) and removes it. Returns how many processes it stopped.
pub(crate) fn empty_and_remove_named(name: &str) -> usize {
    let name = name.trim_start_matches('/');
    let pids: Vec<i32> = cgroup_roots()
        .iter()
        .flat_map(|r| members(&r.join(name)))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    stop_pids(&pids, Duration::from_secs(1));
    remove_cgroup(name);
    pids.len()
}

/// Removes `dir` and its descendants, deepest first, retrying busy ones until `deadline`;
/// the first failure is returned.
fn remove_cgroup_tree(dir: &Path, deadline: Instant) -> Result<(), String> {
    let mut first = None;
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                if let Err(e) = remove_cgroup_tree(&e.path(), deadline) {
                    first.get_or_insert(e);
                }
            }
        }
    }
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => {
                let busy = e.raw_os_error() == Some(nix::errno::Errno::EBUSY as i32);
                if !busy || Instant::now() >= deadline || !members(dir).is_empty() {
                    first.get_or_insert(format!("{}: {e}", dir.display()));
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    first.map_or(Ok(()), Err)
}

/// A cgroup the harness names as a daemon's `cgroup-parent`: removed (with its empty
/// descendants) when dropped, or by the signal handler. Create it before the daemons that
/// use it, so that it is cleaned after they are stopped. Removing it first stops the
/// processes still in it: the harness made it, so they are containers of ours that their
/// engine left (a CRI pod at Ctrl-C, for one).
#[derive(Debug)]
pub struct CgroupParent {
    name: String,
    registration: Registration,
}

impl CgroupParent {
    /// The cgroup `name` (a path below each hierarchy's root). Nothing is created: the
    /// daemons create it when they start containers.
    pub fn new(name: impl Into<String>) -> CgroupParent {
        let name = name.into().trim_start_matches('/').to_owned();
        CgroupParent {
            registration: register({
                let name = name.clone();
                Entry::new(move || {
                    empty_and_remove_named(&name);
                })
            }),
            name,
        }
    }

    /// Its name, without a leading `/`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Lets it go without removing it (a daemon restarted on a fresh root reuses it, and a
    /// new `CgroupParent` of the same name takes over). Returns its name.
    pub fn release(self) -> String {
        let this = std::mem::ManuallyDrop::new(self);
        unregister(&this.registration);
        this.name.clone()
    }
}

impl Drop for CgroupParent {
    fn drop(&mut self) {
        super::signals::wait_for_shutdown();
        // Whatever still runs in it is a container of ours its engine did not stop.
        empty_and_remove_named(&self.name);
        unregister(&self.registration);
    }
}

/// Removes the cgroups `<prefix>…-<pid>-<n>` (cgroup parents named with an
/// [`instance_suffix`](super::instance_suffix)) whose process `pid` is gone: a crashed run's.
/// `prefix` may name a folder (`rmispec-podman/`). Processes still in them (containers of the
/// dead run, whose shim died with it) are killed first, then the cgroups are removed, in
/// every hierarchy; each sweep is said in one line on stderr.
pub fn sweep_cgroups(prefix: &str) {
    let me = std::process::id() as i32;
    let (folder, name_prefix) = match prefix.rsplit_once('/') {
        Some((f, n)) => (Some(f), n),
        None => (None, prefix),
    };
    let mut stale = std::collections::BTreeSet::new();
    for root in cgroup_roots() {
        let parent = folder.map_or(root.clone(), |f| root.join(f));
        let Ok(entries) = fs::read_dir(&parent) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with(name_prefix) || !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Some(pid) = trailing_suffix_pid(&name) else {
                continue;
            };
            if pid != me && !process_alive(pid) {
                stale.insert(folder.map_or(name.clone(), |f| format!("{f}/{name}")));
            }
        }
    }
    for name in stale {
        let stopped = empty_and_remove_named(&name);
        let left = cgroup_roots()
            .iter()
            .filter(|r| r.join(&name).exists())
            .count();
        if left == 0 {
            eprintln!(
                "rmispec: swept cgroup {name} of a run that is gone ({stopped} processes stopped)"
            );
        }
    }
    if let Some(f) = folder {
        for root in cgroup_roots() {
            let _ = fs::remove_dir(root.join(f));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tracking_cgroup_holds_what_its_daemon_forks_and_is_emptied() {
        let name = format!("test-{}-1", std::process::id());
        let Some(dir) = create_tracking(&name) else {
            eprintln!("no cgroups here: skipped");
            return;
        };
        let script = format!(
            "echo $$ > {}/cgroup.procs; sleep 1000 & sleep 1000",
            dir.display()
        );
        let mut child = std::process::Command::new("sh")
            .args(["-c", &script])
            .spawn()
            .unwrap();
        let ok =
            super::super::process::wait_until(Duration::from_secs(5), || members(&dir).len() == 3);
        assert!(ok, "members: {:?}", members(&dir));
        assert_eq!(empty_and_remove(&dir, Duration::from_secs(1)), 3);
        let _ = child.wait();
        assert!(!dir.exists());
    }
}
