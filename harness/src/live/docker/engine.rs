//! The Docker engines as the harness runs them: containerd + dockerd, sandboxed under one
//! [`StateDir`] (docs/engines.md#docker-classic), or a daemon someone else runs, reached through its socket.
//!
//! What still lands outside the state dir: the shims' sockets in `/run/containerd/s`
//! (removed when the shims exit; a crashed run's are removed by the next start), cgroups under
//! our own `cgroup-parent` (removed at the end), and the empty directory `/run/docker/plugins`,
//! which dockerd creates whatever its `--exec-root` (`moby/moby@v20.10.24:daemon/daemon_linux.go#L19-L25`,
//! `@v26.1.5:daemon/daemon_linux.go#L29-L31`: "plugin socket files are created here and they
//! cannot exceed max path length"). It is shared by every dockerd on the host, so it stays.

use crate::live::containerd::{self, Containerd};
use crate::live::sandbox::{self, probe, CgroupParent, Daemon, DaemonSpec, StateDir};
use anyhow::{bail, Context};
use rmispec_model::Profile;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Which Docker engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// dockerd 20.10.24 + containerd 1.6.20 (bookworm), graphdriver overlay2.
    Classic,
    /// dockerd 26.1.5 + containerd 1.7.24 (trixie, unpacked under the engines dir), with the
    /// containerd image store (snapshotter overlayfs).
    Containerd,
    /// dockerd 28.5.2 + containerd 2.1.9 + runc 1.3.6 (forky, unpacked under the engines dir),
    /// graphdriver overlay2 (28.x uses the classic store when `features` does not say
    /// otherwise).
    Classic28,
    /// dockerd 28.5.2 + containerd 2.1.9 (forky), with the containerd image store.
    Containerd28,
}

impl Flavor {
    /// The flavor whose semantics `profile` has, if it is a Docker one.
    pub fn of(profile: Profile) -> Option<Flavor> {
        match profile {
            Profile::DockerClassic => Some(Flavor::Classic),
            Profile::DockerContainerd => Some(Flavor::Containerd),
            Profile::DockerClassic28 => Some(Flavor::Classic28),
            Profile::DockerContainerd28 => Some(Flavor::Containerd28),
            _ => None,
        }
    }

    /// The profile.
    pub fn profile(self) -> Profile {
        match self {
            Flavor::Classic => Profile::DockerClassic,
            Flavor::Containerd => Profile::DockerContainerd,
            Flavor::Classic28 => Profile::DockerClassic28,
            Flavor::Containerd28 => Profile::DockerContainerd28,
        }
    }

    /// Whether it uses the containerd image store (IDs are manifest digests).
    pub fn containerd_store(self) -> bool {
        matches!(self, Flavor::Containerd | Flavor::Containerd28)
    }

    /// `(dockerd, containerd)` binaries.
    pub fn binaries(self) -> (PathBuf, PathBuf) {
        match self {
            Flavor::Classic => ("/usr/sbin/dockerd".into(), "/usr/bin/containerd".into()),
            Flavor::Containerd => {
                let t = crate::live::engines_dir().join("trixie/usr");
                (t.join("sbin/dockerd"), t.join("bin/containerd"))
            }
            Flavor::Classic28 | Flavor::Containerd28 => {
                let t = crate::live::engines_dir().join("forky/usr");
                (t.join("sbin/dockerd"), t.join("bin/containerd"))
            }
        }
    }

    /// The containerd to run under dockerd: 2.1.9 takes a version-3 config, NRI off.
    fn containerd(self, bin: &Path) -> Containerd {
        match self {
            Flavor::Classic | Flavor::Containerd => Containerd::for_docker(bin),
            Flavor::Classic28 | Flavor::Containerd28 => Containerd::for_docker_2(bin),
        }
    }

    /// `daemon.json`. `shutdown-timeout` is short because a scenario's containers are
    /// disposable (and their images stop with SIGKILL); the key path keeps dockerd 20.10 out
    /// of `/etc/docker` (it has no flag for it; 28.x no longer writes a key and knows no such
    /// key).
    fn daemon_json(self, dir: &Path, cgroup_parent: &str) -> String {
        let common = format!(r#""cgroup-parent":"/{cgroup_parent}","shutdown-timeout":2"#);
        match self {
            Flavor::Classic => format!(
                r#"{{"storage-driver":"overlay2",{common},"deprecated-key-path":"{}/key.json"}}"#,
                dir.display()
            ),
            Flavor::Classic28 => format!(r#"{{"storage-driver":"overlay2",{common}}}"#),
            Flavor::Containerd | Flavor::Containerd28 => {
                format!(
                    r#"{{"features":{{"containerd-snapshotter":true}},"storage-driver":"overlayfs",{common}}}"#
                )
            }
        }
    }
}

/// What a fresh root wipes, besides containerd's directories.
const DOCKER_ROOTS: &[&str] = &["data", "exec", "dockerd.pid"];

/// containerd + dockerd under one state dir.
#[derive(Debug)]
pub struct SandboxedDocker {
    flavor: Flavor,
    // Field order matters only for the explicit Drop below: dockerd stops before containerd.
    dockerd: Option<Daemon>,
    containerd: Option<Daemon>,
    cgroup_parent: CgroupParent,
    dir: StateDir,
    /// How long the last start took, spawn to `GET /_ping` 200.
    pub last_start: Duration,
}

impl SandboxedDocker {
    /// Starts the engine under `state_dir` (cleaned first), or under a fresh directory of its
    /// own in `$TMPDIR/rmispec-live/`.
    pub fn start(flavor: Flavor, state_dir: Option<&Path>) -> anyhow::Result<SandboxedDocker> {
        let instance = flavor.profile().id();
        for (bin, what) in [
            (flavor.binaries().0, "dockerd"),
            (flavor.binaries().1, "containerd"),
        ] {
            if !bin.exists() {
                bail!(
                    "{instance}: {what} not found at {} (scripts/install-engines installs it)",
                    bin.display()
                );
            }
        }
        let dir = match state_dir {
            Some(p) => StateDir::create(p)?,
            None => StateDir::fresh(instance)?,
        };
        // After the directories: a crashed run's containers are gone only once its state dir
        // is cleaned (runc delete), and only then can its cgroups go.
        // Cgroup names without `@` and `.`: `rmispec-docker-classic-28-5-<suffix>`.
        let slug = instance.replace(['@', '.'], "-");
        sandbox::sweep_cgroups(&format!("rmispec-{slug}-"));
        let cgroup_parent =
            CgroupParent::new(format!("rmispec-{slug}-{}", sandbox::instance_suffix()));
        let mut engine = SandboxedDocker {
            flavor,
            dockerd: None,
            containerd: None,
            cgroup_parent,
            dir,
            last_start: Duration::ZERO,
        };
        engine.start_daemons()?;
        Ok(engine)
    }

    /// The flavor.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// dockerd's API socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    /// The state dir.
    pub fn dir(&self) -> &StateDir {
        &self.dir
    }

    fn start_daemons(&mut self) -> anyhow::Result<()> {
        let t0 = Instant::now();
        let (dockerd_bin, containerd_bin) = self.flavor.binaries();
        self.containerd = Some(self.flavor.containerd(&containerd_bin).start(&self.dir)?);
        let d = self.dir.path();
        let config = self.dir.join("daemon.json");
        std::fs::write(
            &config,
            self.flavor.daemon_json(d, self.cgroup_parent.name()),
        )?;
        // dockerd refuses to start while a PID file names a live process; ours is gone.
        let _ = std::fs::remove_file(self.dir.join("dockerd.pid"));
        let mut dockerd = DaemonSpec::new("dockerd", &dockerd_bin);
        // dockerd reads DOCKER_TMPDIR, DOCKER_DRIVER and friends: none of the harness's.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("DOCKER") {
                dockerd = dockerd.env_remove(k);
            }
        }
        let mut dockerd = dockerd
            .arg("--config-file")
            .arg(&config)
            .arg("--containerd")
            .arg(containerd::Containerd::socket(&self.dir))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", self.socket().display()))
            .args([
                "--iptables=false",
                "--ip6tables=false",
                "--ip-masq=false",
                "--ip-forward=false",
                "--bridge=none",
            ])
            // dockerd 26 mounts container filesystems under $TMPDIR (docs/engines.md#docker-containerd).
            .env("TMPDIR", self.dir.subdir("tmp")?)
            .env("PATH", containerd::path_with(containerd_bin.parent()))
            .stop_timeout(Duration::from_secs(20))
            .spawn(&self.dir)?;
        let socket = self.socket();
        dockerd.wait_ready(Duration::from_secs(60), || {
            probe::unix_http_ok(&socket, "/_ping")
        })?;
        self.dockerd = Some(dockerd);
        self.last_start = t0.elapsed();
        Ok(())
    }

    /// Stops dockerd, then containerd, then cleans the state dir (kills leftovers, unmounts).
    /// Remove the containers through the API first: a killed shim leaks its socket.
    pub fn stop_daemons(&mut self) -> anyhow::Result<()> {
        let mut first_err = None;
        for d in [self.dockerd.take(), self.containerd.take()]
            .into_iter()
            .flatten()
        {
            let mut d = d;
            if let Err(e) = d.stop() {
                first_err.get_or_insert(e);
            }
        }
        if let Err(e) = self.dir.clean() {
            first_err.get_or_insert(e);
        }
        first_err.map_or(Ok(()), Err)
    }

    /// A fresh root: stop both daemons, unmount, wipe their roots, start again.
    pub fn fresh_root(&mut self) -> anyhow::Result<()> {
        self.stop_daemons()?;
        self.dir.wipe_only(DOCKER_ROOTS)?;
        self.dir.wipe_only(containerd::ROOTS)?;
        self.start_daemons().context("restarting on a fresh root")
    }

    /// `Ok` while both daemons run and can answer; else what happened to the first that
    /// does not (see [`Daemon::check_alive`]).
    pub fn check_alive(&mut self) -> Result<(), sandbox::DaemonExit> {
        for d in [self.dockerd.as_mut(), self.containerd.as_mut()]
            .into_iter()
            .flatten()
        {
            d.check_alive()?;
        }
        Ok(())
    }

    /// Whether both daemons still run.
    pub fn running(&mut self) -> bool {
        self.dockerd.as_mut().is_some_and(Daemon::running)
            && self.containerd.as_mut().is_some_and(Daemon::running)
    }

    /// The tail of both logs, for error messages.
    pub fn log_tail(&self, n: usize) -> String {
        [self.dockerd.as_ref(), self.containerd.as_ref()]
            .into_iter()
            .flatten()
            .map(|d| format!("--- {} ---\n{}", d.name(), d.log_tail(n)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for SandboxedDocker {
    fn drop(&mut self) {
        if let Err(e) = self.stop_daemons() {
            eprintln!("rmispec: stopping {} failed: {e:#}", self.flavor.profile());
        }
        // Then the fields drop: the cgroup parent is removed, the directory removed (or
        // emptied).
    }
}

/// The socket paths a host's own Docker daemon answers on: never used without
/// `--i-know-this-deletes-images`.
pub fn default_sockets() -> Vec<PathBuf> {
    let mut v = vec![
        PathBuf::from("/var/run/docker.sock"),
        PathBuf::from("/run/docker.sock"),
    ];
    if let Some(h) = std::env::var_os("DOCKER_HOST") {
        if let Some(p) = h.to_string_lossy().strip_prefix("unix://") {
            v.push(PathBuf::from(p));
        }
    }
    v
}

/// Whether `socket` is (or resolves to) one of the host's default Docker sockets.
pub fn is_default_socket(socket: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let s = canon(socket);
    default_sockets().iter().any(|d| canon(d) == s)
}
