//! containerd with its CRI plugin, as the harness runs it: one containerd and one local
//! registry under one [`StateDir`] (docs/engines.md#cri-containerd), the sandbox ("pause") image synthesized,
//! pushed to the registry and pulled through CRI after every start.

use super::client::{ok, Cri};
use crate::live::containerd::{self, Containerd};
use crate::live::registry::Registry;
use crate::live::sandbox::{self, CgroupParent, Daemon, StateDir};
use crate::scenario::{Given, ImageHandle, ImageSpec};
use crate::synth::{self, SynthImage};
use anyhow::{bail, Context};
use rmispec_model::{Digest, Profile};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Which containerd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// containerd 1.7.24 (trixie, unpacked under the engines dir).
    V17,
    /// containerd 1.6.20 (bookworm's `/usr/bin/containerd`).
    V16,
    /// containerd 2.1.9 (forky, unpacked under the engines dir), version-3 config, NRI off.
    V21,
}

impl Flavor {
    /// The flavor whose semantics `profile` has, if it is a CRI one.
    pub fn of(profile: Profile) -> Option<Flavor> {
        match profile {
            Profile::Cri17 => Some(Flavor::V17),
            Profile::Cri16 => Some(Flavor::V16),
            Profile::Cri21 => Some(Flavor::V21),
            _ => None,
        }
    }

    /// The profile.
    pub fn profile(self) -> Profile {
        match self {
            Flavor::V17 => Profile::Cri17,
            Flavor::V16 => Profile::Cri16,
            Flavor::V21 => Profile::Cri21,
        }
    }

    /// The `containerd` binary.
    pub fn binary(self) -> PathBuf {
        match self {
            Flavor::V17 => crate::live::engines_dir().join("trixie/usr/bin/containerd"),
            Flavor::V16 => PathBuf::from("/usr/bin/containerd"),
            Flavor::V21 => crate::live::engines_dir().join("forky/usr/bin/containerd"),
        }
    }

    /// The containerd config for `dir`, with `sandbox_image` as the sandbox image.
    fn containerd(self, dir: &Path, sandbox_image: &str) -> Containerd {
        match self {
            Flavor::V17 | Flavor::V16 => Containerd::for_cri(self.binary(), dir, sandbox_image),
            Flavor::V21 => Containerd::for_cri_2(self.binary(), dir, sandbox_image),
        }
    }

    /// A name without `@`, for cgroups.
    fn slug(self) -> &'static str {
        match self {
            Flavor::V17 => "cri-containerd-1.7",
            Flavor::V16 => "cri-containerd-1.6",
            Flavor::V21 => "cri-containerd-2.1",
        }
    }
}

/// The sandbox image's handle: its config carries the label `rmispec.image=RmispecPause`, so
/// its ID differs from every scenario image's.
const PAUSE_HANDLE: &str = "RmispecPause";
/// Where the sandbox image lives in the local registry.
const PAUSE_REPO: &str = "rmispec/pause";
const PAUSE_TAG: &str = "1";

/// The synthesized sandbox image: the `base` layer alone (it holds `/bin/pause`, which
/// pauses until killed).
pub fn pause_image() -> SynthImage {
    let handle = ImageHandle::new(PAUSE_HANDLE).expect("a valid handle");
    let mut given = Given::default();
    given.images.insert(handle, ImageSpec::default());
    synth::synthesize(&given)
        .images
        .shift_remove(PAUSE_HANDLE)
        .expect("synthesized")
}

/// What a fresh root wipes besides containerd's own directories: runc's state.
const CRI_ROOTS: &[&str] = &["runc"];

/// containerd (CRI on) + a registry under one state dir.
#[derive(Debug)]
pub struct SandboxedCri {
    flavor: Flavor,
    // Drop order (after Drop below): the client, containerd, the registry, the cgroup
    // parent, the directory.
    cri: Option<Cri>,
    containerd: Option<Daemon>,
    registry: Registry,
    pause: SynthImage,
    sandbox_image: String,
    cgroup_parent: CgroupParent,
    dir: StateDir,
    /// How long the last start took: spawn to `Status` RuntimeReady, plus the pause pull.
    pub last_start: Duration,
}

impl SandboxedCri {
    /// Starts the registry and containerd under `state_dir` (cleaned first), or under a fresh
    /// directory of its own in `$TMPDIR/rmispec-live/`.
    pub fn start(flavor: Flavor, state_dir: Option<&Path>) -> anyhow::Result<SandboxedCri> {
        let profile = flavor.profile();
        let bin = flavor.binary();
        if !bin.exists() {
            bail!(
                "{profile}: containerd not found at {} (scripts/install-engines installs it)",
                bin.display()
            );
        }
        sandbox::sweep_cgroups(&format!("rmispec-{}-", flavor.slug()));
        let dir = match state_dir {
            Some(p) => StateDir::create(p)?,
            None => StateDir::fresh(profile.id())?,
        };
        let registry = Registry::start(&dir).context("starting the local registry")?;
        let pause = pause_image();
        let blobs: Vec<&[u8]> = pause.blobs().map(|b| b.bytes.as_slice()).collect();
        registry.push(
            PAUSE_REPO,
            pause.manifest.media_type,
            &pause.manifest.bytes,
            &blobs,
        )?;
        registry.tag(
            PAUSE_REPO,
            PAUSE_TAG,
            pause.manifest.media_type,
            &pause.manifest.bytes,
        )?;
        let sandbox_image = format!("{}/{PAUSE_REPO}:{PAUSE_TAG}", registry.host());
        let mut engine = SandboxedCri {
            flavor,
            cri: None,
            containerd: None,
            registry,
            pause,
            sandbox_image,
            cgroup_parent: CgroupParent::new(format!(
                "rmispec-{}-{}",
                flavor.slug(),
                sandbox::instance_suffix()
            )),
            dir,
            last_start: Duration::ZERO,
        };
        engine.start_daemon()?;
        Ok(engine)
    }

    /// containerd, ready (`Version`, then `Status` with RuntimeReady), with the sandbox image
    /// pulled through CRI.
    fn start_daemon(&mut self) -> anyhow::Result<()> {
        let t0 = Instant::now();
        for d in Containerd::CRI_DIRS {
            self.dir.subdir(d)?;
        }
        let mut daemon = self
            .flavor
            .containerd(self.dir.path(), &self.sandbox_image)
            .start(&self.dir)?;
        let cri = Cri::connect(&Containerd::socket(&self.dir))?;
        daemon.wait_ready(Duration::from_secs(30), || {
            cri.version().is_ok() && cri.runtime_ready()
        })?;
        self.containerd = Some(daemon);
        ok("pulling the sandbox image", cri.pull(&self.sandbox_image))?;
        cri.take_engine_time();
        self.cri = Some(cri);
        self.last_start = t0.elapsed();
        Ok(())
    }

    /// The CRI client (while containerd runs).
    pub fn cri(&self) -> anyhow::Result<&Cri> {
        self.cri.as_ref().context("containerd does not run")
    }

    /// The profile it runs.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// The state directory.
    pub fn dir(&self) -> &StateDir {
        &self.dir
    }

    /// The local registry (`<reg>`).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The sandbox image's name, as configured (`<reg>/rmispec/pause:1`).
    pub fn sandbox_image(&self) -> &str {
        &self.sandbox_image
    }

    /// The sandbox image's ID (its config digest).
    pub fn sandbox_image_id(&self) -> &Digest {
        &self.pause.config.digest
    }

    /// The cgroup (below each hierarchy's root) that pods are put under.
    pub fn cgroup_parent(&self) -> String {
        format!("/{}", self.cgroup_parent.name())
    }

    /// Stops containerd and cleans the state dir (kills leftovers, removes leaked shim
    /// sockets, unmounts). Remove pods through CRI first: a shim killed with containerd
    /// leaks its socket in `/run/containerd/s`.
    pub fn stop_daemon(&mut self) -> anyhow::Result<()> {
        self.cri = None;
        let mut first_err = None;
        if let Some(mut d) = self.containerd.take() {
            if let Err(e) = d.stop() {
                first_err = Some(e);
            }
        }
        // The registry runs from the same directory; supervised daemons are spared.
        if let Err(e) = self.dir.clean() {
            first_err.get_or_insert(e);
        }
        first_err.map_or(Ok(()), Err)
    }

    /// A fresh root: stop containerd, unmount, wipe its directories and runc's, start again
    /// (and pull the sandbox image again). The registry keeps running.
    pub fn fresh_root(&mut self) -> anyhow::Result<()> {
        self.stop_daemon()?;
        self.dir.wipe_only(containerd::ROOTS)?;
        self.dir.wipe_only(CRI_ROOTS)?;
        self.start_daemon().context("restarting on a fresh root")
    }

    /// `Ok` while containerd runs and can answer (see [`Daemon::check_alive`]).
    pub fn check_alive(&mut self) -> Result<(), sandbox::DaemonExit> {
        match self.containerd.as_mut() {
            Some(d) => d.check_alive(),
            None => Ok(()),
        }
    }

    /// The tail of containerd's log, for error messages.
    pub fn log_tail(&self, n: usize) -> String {
        self.containerd
            .as_ref()
            .map(|d| d.log_tail(n))
            .unwrap_or_default()
    }
}

impl Drop for SandboxedCri {
    fn drop(&mut self) {
        if let Err(e) = self.stop_daemon() {
            eprintln!("rmispec: stopping {} failed: {e:#}", self.flavor.profile());
        }
        // The registry, the cgroup parent, then the directory, drop after this.
    }
}
