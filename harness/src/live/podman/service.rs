//! `podman system service` on a private socket, started and stopped by the harness.
//!
//! The service runs as the harness's child ([`crate::live::sandbox::Daemon`]), configured by
//! [`super::config`] so that its storage, run state, runc state, locks, events and temporary
//! files live under the state directory. Some writes cannot be moved by any setting:
//!
//! - the blob-info cache `/var/lib/containers/cache/blob-info-cache-v1.boltdb`: root's path is
//!   hard-coded unless the caller sets `SystemContext.BlobInfoCacheDir`, which Podman does not
//!   (`containers/image@v5.23.1:pkg/blobinfocache/default.go#L22-L37`);
//! - the short-name alias cache lock `/var/cache/containers/short-name-aliases.conf.lock`, the
//!   same way (`containers/image@v5.23.1:pkg/sysregistriesv2/shortnames.go#L28-L45`);
//! - Podman 4.3.1's `POST /libpod/images/load` extracts the archive into `/var/tmp/ociNNN`
//!   while it tries the OCI-archive format first (`containers/common@v0.50.1:libimage/load.go#L40-L60`,
//!   big files go to `/var/tmp`: `containers/image@v5.23.1:internal/tmpdir/tmpdir.go#L10-L33`);
//! - Podman 3.0.1 starts conmon with an environment that drops `CONTAINERS_CONF`
//!   (`podman@v3.0.1:libpod/oci_conmon_linux.go#L1322-L1352`; 4.3.1 passes it on,
//!   `podman@v4.3.1:libpod/oci_conmon_common.go#L1268-L1269`), so the exit command conmon
//!   runs when a container stops (`podman container cleanup`) reads the default
//!   containers.conf and opens the shared SHM lock `/dev/shm/libpod_lock` (creating it if
//!   missing) despite `lock_type = "file"`; its runc calls lack `--root`, so `/run/runc`;
//! - Podman 5.4.2 adds `/run/containers/networks` and `/run/lock/netavark.lock` (netavark's
//!   run directory and lock, created even with `netns = "none"`).
//!
//! One read is left as it is, on purpose: containers/image always reads the drop-in directory
//! `/etc/containers/registries.conf.d` besides the file `CONTAINERS_REGISTRIES_CONF` names
//! (`containers/image@v5.23.1:pkg/sysregistriesv2/system_registries_v2.go#L541-L577`), and
//! Debian's containers-common ships `shortnames.conf` there, whose aliases (`busybox` =
//! `docker.io/library/busybox`) come before `localhost/` when libimage resolves a short name.
//! The model encodes those aliases (`model/src/engines/podman.rs`), so the live engine keeps
//! reading them; hiding the directory (an empty tmpfs over it in the namespace) would make
//! `busybox` mean `localhost/busybox` again.
//!
//! So the service runs in a **private mount and PID namespace** (`unshare --mount --pid`,
//! with [`CATATONIT`] as the namespace's init) in which
//! `/var/lib`, `/var/cache`, `/var/tmp` and `/run` are overlays whose upper layers are in the
//! state directory, and `/dev/shm` a private tmpfs: Podman reads the host's files as they
//! are and every write lands in the sandbox.
//! The mounts Podman makes itself (its graph root's bind mount, container root filesystems)
//! stay in that namespace too and vanish with it. Containers' cgroups go under
//! the instance's own cgroup parent ([`cgroup_parent_for`]: unique per state dir and process,
//! so two runs never share one), removed when it stops, by the signal handler after a
//! signal, or by the next run's sweep after a crash.
//!
//! Stopping: every container is removed through the API first, then the namespace's init
//! gets SIGTERM and passes it on. conmon daemonizes, so without the PID namespace it would be
//! reparented to the host's PID 1 and a container left running would outlive the service;
//! inside it, catatonit reaps it, and the end of the namespace kills whatever is left.

use super::api::Libpod;
use super::config::{Flavor, Layout, CGROUP_ROOT};
use crate::live::sandbox::wait_until;
use crate::live::sandbox::{self, probe, CgroupParent, Daemon, DaemonSpec, StateDir};
use anyhow::{bail, Context};
use rmispec_model::ContainerState;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a stop waits for the cgroups of exited conmons to become removable.
pub const CGROUP_WAIT: Duration = Duration::from_secs(5);

/// The init of the service's PID namespace (Debian `catatonit`, a dependency of podman): it
/// reaps what conmon leaves (conmon daemonizes; PID 1 of these machines reaps orphans only
/// seconds later, and until then their cgroups cannot be removed), forwards signals to the
/// service, and its exit ends the namespace: whatever still runs in it is killed with it.
pub const CATATONIT: &str = "/usr/bin/catatonit";

/// How long the service gets to answer its first ping.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The directories of the host that are overlaid in the service's mount namespace (the
/// script below names them too).
pub const OVERLAID: [&str; 4] = ["/var/lib", "/var/cache", "/var/tmp", "/run"];

/// The shell step inside the new mount namespace: overlay each directory of [`OVERLAID`]
/// with an upper layer under `$1/host/`, give it its own `/dev/shm`, then exec the rest of
/// the command line.
const NAMESPACE_SCRIPT: &str = r#"set -eu
state=$1; shift
for d in /var/lib /var/cache /var/tmp /run; do
  h="$state/host/$(echo "$d" | tr / _)"
  mkdir -p "$h/upper" "$h/work"
  mount -t overlay overlay -o "lowerdir=$d,upperdir=$h/upper,workdir=$h/work" "$d"
done
mount -t tmpfs -o mode=1777,size=64m shm /dev/shm
exec "$@"
"#;

/// A running service and a client for it.
#[derive(Debug)]
pub struct Service {
    daemon: Daemon,
    api: Libpod,
    cgroup_parent: String,
    /// Its registration with the signal handler (which removes it after the service has
    /// stopped); released, not removed, by a stop for a fresh root, whose next service reuses it.
    cgroup: Option<CgroupParent>,
    /// How long it took from spawn to its first good ping.
    pub ready_after: Duration,
}

impl Service {
    /// Writes the configuration into `dir` and starts the service there.
    pub fn start(
        flavor: Flavor,
        dir: &StateDir,
        registry: Option<&str>,
    ) -> anyhow::Result<Service> {
        let layout = Layout::new(dir.path());
        check_state_path(dir.path())?;
        let binary = flavor.binary();
        if !binary.exists() {
            bail!(
                "{} is not installed: {} is missing (scripts/install-engines installs it)",
                flavor.profile(),
                binary.display()
            );
        }
        layout
            .write(flavor, registry)
            .with_context(|| format!("writing the configuration in {}", dir.path().display()))?;
        let socket = layout.socket();
        let _ = std::fs::remove_file(&socket);
        let mut url = std::ffi::OsString::from("unix://");
        url.push(&socket);
        if !Path::new(CATATONIT).exists() {
            bail!("{CATATONIT} is missing (Debian package catatonit, which scripts/install-engines installs)");
        }
        // A crashed run's cgroups first (their processes died with its namespace), then ours,
        // registered before the service so that a signal removes it after the service stops.
        sandbox::sweep_cgroups(&format!("{}/", CGROUP_ROOT.trim_start_matches('/')));
        let cgroup_parent = cgroup_parent_for(flavor, dir.path())?;
        let cgroup = CgroupParent::new(cgroup_parent.clone());
        let mut spec = DaemonSpec::new("podman", "unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount-proc",
                "--",
            ])
            .args([CATATONIT, "--", "/bin/sh", "-c", NAMESPACE_SCRIPT, "sh"])
            .arg(dir.path())
            .arg(&binary)
            .args(layout.global_flags())
            .args(["system", "service", "--time=0"])
            .arg(url)
            // `unshare` ignores SIGTERM: the supervisor's SIGTERM (on Ctrl-C, when nobody
            // signalled the namespace's init first as `stop` does) only waits this long
            // before SIGKILL, which `--kill-child` passes to the init and so to the whole
            // namespace. Containers are removed through the API before a normal stop.
            .stop_timeout(Duration::from_secs(3));
        for (k, v) in layout.env(flavor) {
            spec = spec.env(k, v);
        }
        let mut daemon = spec.spawn(dir)?;
        let ready_after = daemon
            .wait_ready(READY_TIMEOUT, || probe::unix_http_ok(&socket, "/_ping"))
            .with_context(|| format!("starting {} ({})", flavor.profile(), binary.display()))?;
        let api =
            Libpod::new(&socket, flavor.api_version())?.with_cgroup_parent(cgroup_parent.clone());
        let ping = api.ping()?;
        let version = ping.libpod_api.as_deref().unwrap_or("");
        if !version.starts_with(flavor.api_major()) {
            bail!(
                "{} answers as libpod API {version:?}, not {}x",
                binary.display(),
                flavor.api_major()
            );
        }
        Ok(Service {
            daemon,
            api,
            cgroup_parent,
            cgroup: Some(cgroup),
            ready_after,
        })
    }

    /// The client.
    pub fn api(&self) -> &Libpod {
        &self.api
    }

    /// The cgroup parent its containers are created under.
    pub fn cgroup_parent(&self) -> &str {
        &self.cgroup_parent
    }

    /// Removes every container through the API, then stops the service. Idempotent.
    ///
    /// With `cgroups`, also removes the cgroup directories its containers left, waiting (up
    /// to [`CGROUP_WAIT`]) for the last conmon to be gone: conmon daemonizes, so PID 1 reaps
    /// it, seconds late on these machines, and until then its empty cgroup cannot be
    /// removed. A fresh root skips that wait: the next service reuses the directories.
    ///
    /// A service that already died (killed, crashed) is stopped all the same: nothing is asked
    /// of its API, but its cgroups are still removed (its namespace's end killed its conmons).
    pub fn stop(&mut self, cgroups: bool) -> anyhow::Result<()> {
        let removed = if self.daemon.running() {
            let removed = remove_all_containers(&self.api);
            // `unshare --fork` ignores SIGTERM while it waits for its child: the namespace's
            // init gets it, forwards it to the service, and everything exits in order.
            if let Some(init) = self.init_pid() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(init as i32),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            removed
        } else {
            Ok(())
        };
        let stopped = self.daemon.stop();
        if cgroups {
            remove_cgroups(&self.cgroup_parent, CGROUP_WAIT);
            // Stops whatever is still in it, removes it in every hierarchy.
            drop(self.cgroup.take());
        } else if let Some(c) = self.cgroup.take() {
            c.release();
        }
        removed?;
        stopped.map(drop)
    }

    /// Whether the service still runs, and if not, how it ended (with its log's tail), from
    /// the harness's own wait: see [`Daemon::check_alive`].
    pub fn check_alive(&mut self) -> Result<(), sandbox::DaemonExit> {
        self.daemon.check_alive()
    }

    /// A PID whose mount and PID namespaces are the service's (for `nsenter`).
    pub fn pid(&self) -> Option<u32> {
        self.init_pid()
    }

    /// The PID (in the host's namespace) of catatonit, the service's PID namespace's init:
    /// the child of `unshare`.
    fn init_pid(&self) -> Option<u32> {
        let unshare = self.daemon.pid()?;
        let entries = std::fs::read_dir("/proc").ok()?;
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .find(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                    // "pid (comm) state ppid …": the fields after the last ')'.
                    stat.rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                        .and_then(|p| p.parse::<u32>().ok())
                        == Some(unshare)
                })
            })
    }

    /// The service's log, for error messages.
    pub fn log_tail(&self, n: usize) -> String {
        self.daemon.log_tail(n)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Err(e) = self.stop(true) {
            eprintln!("rmispec: stopping podman: {e:#}");
        }
    }
}

/// Removes every container, running or not (`DELETE /libpod/containers/{id}?force=true`).
/// A paused one is resumed first: 3.0.1 on a cgroups v1 host kills a paused container before
/// resuming it, and the resume of the dead container fails (HTTP 500), now and then
/// (containers/podman@v3.0.1:libpod/runtime_ctr.go#L608-L626).
pub fn remove_all_containers(api: &Libpod) -> anyhow::Result<()> {
    // Pods first: an infra container is removed only with its pod. Podman 3.0 may fail to
    // remove a pod's conmon cgroup while conmon is still exiting ("device or resource
    // busy"), so a failed pod removal is tried again, twice, a moment later.
    for pod in api.pods()? {
        let mut tries = 0;
        while let Err(e) = api.remove_pod(&pod) {
            tries += 1;
            if tries == 3 {
                return Err(e);
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    }
    for c in api.containers()? {
        if c.state() == ContainerState::Paused {
            api.unpause_container(&c.id)?;
        }
        // Killed before it is removed: the removal's `t=0` does not always spare the stop
        // timeout. On Podman 5.8 about one reset in fifteen of a running (or resumed)
        // container took ten seconds, the default stop timeout, for a command that is its
        // namespace's PID 1 and so ignores the SIGTERM a stop sends first.
        if matches!(c.state(), ContainerState::Running | ContainerState::Paused) {
            api.kill_container(&c.id)?;
        }
        api.remove_container(&c.id)?;
    }
    Ok(())
}

/// The cgroup parent of the service in `state`: `/rmispec-podman/<profile>-<pid>-<inode>`,
/// unique per process and state dir (two runs whose `--state-dir`s both end in
/// `podman-libimage` used to share one), stable across the fresh roots of one run (the next
/// service reuses the directories), and swept by the PID in its name after a crash
/// ([`sandbox::sweep_cgroups`]).
pub fn cgroup_parent_for(flavor: Flavor, state: &Path) -> anyhow::Result<String> {
    let ino = std::fs::metadata(state)
        .with_context(|| format!("reading {}", state.display()))?
        .ino();
    let id = flavor.profile().id().replace(
        |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
        "_",
    );
    Ok(format!("{CGROUP_ROOT}/{id}-{}-{ino}", std::process::id()))
}

/// The state directory must be reachable from the host at the same path: below an overlaid
/// directory the service's writes (its socket first) would land in the overlay's upper
/// layer, out of the harness's sight. Overlay mount options also cannot hold `,` or `:`.
fn check_state_path(state: &Path) -> anyhow::Result<()> {
    if let Some(d) = OVERLAID.iter().find(|d| state.starts_with(d)) {
        bail!("the podman state dir {} is below {d}, which the service overlays: choose another --state-dir", state.display());
    }
    let s = state.to_string_lossy();
    if s.contains([',', ':']) {
        bail!("the podman state dir {s:?} contains ',' or ':', which overlay mount options cannot carry");
    }
    Ok(())
}

/// Removes the cgroup directories of an instance (`cgroup_parent`) in every hierarchy,
/// deepest first, then the shared [`CGROUP_ROOT`] if nothing else uses it. The instance's
/// own directories are retried for up to `wait`: a conmon exits just after its container,
/// and until PID 1 has reaped it (seconds late on these machines) its cgroup stays busy.
pub fn remove_cgroups(cgroup_parent: &str, wait: Duration) {
    let base = Path::new("/sys/fs/cgroup");
    let mut hierarchies: Vec<PathBuf> = vec![base.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(base) {
        hierarchies.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    let deadline = Instant::now() + wait;
    let rel = cgroup_parent.trim_start_matches('/');
    for h in hierarchies {
        let own = h.join(rel);
        if own.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&own) {
                for e in entries.flatten().filter(|e| e.path().is_dir()) {
                    remove_cgroup(&e.path(), deadline);
                }
            }
            remove_cgroup(&own, deadline);
        }
        let _ = std::fs::remove_dir(h.join(CGROUP_ROOT.trim_start_matches('/')));
    }
}

/// `rmdir`, retried until it works, the directory is gone, or `deadline`.
fn remove_cgroup(dir: &Path, deadline: Instant) {
    let left = deadline.saturating_duration_since(Instant::now());
    wait_until(left, || std::fs::remove_dir(dir).is_ok() || !dir.exists());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dirs_below_overlaid_directories_are_refused() {
        assert!(check_state_path(Path::new("/var/tmp/rmispec")).is_err());
        assert!(check_state_path(Path::new("/var/lib/x")).is_err());
        assert!(check_state_path(Path::new("/run/user/0/rmispec")).is_err());
        assert!(check_state_path(Path::new("/tmp/a,b")).is_err());
        assert!(check_state_path(Path::new("/tmp/rmispec-live/podman-1")).is_ok());
        // Only whole components count: /var/library is not below /var/lib.
        assert!(check_state_path(Path::new("/var/library/x")).is_ok());
    }
}
