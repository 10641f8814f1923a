//! `rmispec engine up` / `engine down`: a reference engine started sandboxed and left running,
//! for people to poke at and for tests to exercise the `--socket` path for real.
//!
//! `up` starts a keeper process (`rmispec engine serve`, in its own session) that starts the
//! engine exactly as a live run does (the same sandbox, the same config), writes an
//! [`Record`] (`engine.json`) into the state directory once the engine answers, and then only
//! waits. `down` finds the keeper through that record, checks that the process is still the
//! one that wrote it (pid and start time), and sends it SIGTERM: the sandbox's signal handler
//! stops the daemons in order and cleans the directory, as on any other exit path.

use super::sandbox::{self, StateDir};
use anyhow::{bail, Context};
use rmispec_model::{Engine, Profile};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What `engine up` can start: any live profile, and implementations under test that run on
/// one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A live profile's engine, as the harness runs it.
    Profile(Profile),
    /// Podman's Docker-compatible API (`podman-compat@4.3`): the Podman service of a libimage
    /// profile, spoken to through `/v1.41/...`, checked as `docker-classic`.
    PodmanCompat(Profile),
}

impl Target {
    /// Parses `podman-compat@<version>` or a profile id.
    pub fn parse(id: &str) -> anyhow::Result<Target> {
        if let Some(version) = id.strip_prefix("podman-compat") {
            // `podman-compat@5.4` runs `podman-libimage@5.4`'s service; bare, the newest.
            let podman = Profile::from_id(&format!("podman-libimage{version}"))
                .filter(|p| p.engine() == Engine::PodmanLibimage && p.info().live)
                .with_context(|| format!("no live Podman profile for {id}"))?;
            return Ok(Target::PodmanCompat(podman));
        }
        Profile::from_id(id)
            .map(Target::Profile)
            .with_context(|| format!("unknown engine {id:?}"))
    }

    /// The profile whose engine runs.
    pub fn profile(self) -> Profile {
        match self {
            Target::Profile(p) | Target::PodmanCompat(p) => p,
        }
    }

    /// The id as the user typed it, canonical.
    pub fn id(self) -> String {
        match self {
            Target::Profile(p) => p.id().to_owned(),
            Target::PodmanCompat(p) => format!(
                "podman-compat@{}",
                p.version()
                    .rsplit_once('.')
                    .map_or(p.version(), |(mm, _)| mm)
            ),
        }
    }
}

/// What `engine.json` in the state directory says about a running keeper.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The target, as `engine up` was given it.
    pub id: String,
    /// The socket to point clients (and `rmispec run --socket`) at.
    pub socket: PathBuf,
    /// The API that socket speaks.
    pub api: String,
    /// The semantics to check it as (`--engine`).
    pub semantics: String,
    /// The keeper's pid.
    pub pid: i32,
    /// The keeper's start time (field 22 of `/proc/<pid>/stat`): a pid reused by another
    /// process does not match.
    pub start_time: u64,
}

/// What Podman's compat API is checked as: Docker's classic store at the API version it
/// speaks (`/v1.41`, Docker 20.10).
pub const COMPAT_SEMANTICS: &str = "docker-classic@20.10";

const RECORD: &str = "engine.json";
const LOG: &str = "engine-up.log";

/// `engine up`: starts the keeper and waits until it says the engine answers (or died).
/// Returns the record; the caller prints it.
pub fn up(target: Target, dir: &Path, timeout: Duration) -> anyhow::Result<Record> {
    if let Ok(r) = read(dir) {
        if alive(&r) {
            bail!(
                "{} already runs an engine ({}, pid {}): `rmispec engine down {}` first",
                dir.display(),
                r.id,
                r.pid,
                dir.display()
            );
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let _ = std::fs::remove_file(dir.join(RECORD));
    let log = std::fs::File::create(dir.join(LOG))?;
    let exe = std::env::current_exe().context("finding the rmispec binary")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["engine", "serve", &target.id(), "--state-dir"])
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // A process group of its own: the keeper outlives this command, and the terminal's
    // Ctrl-C (sent to the foreground group) does not reach it.
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    let mut child = cmd.spawn().context("starting the keeper")?;
    let t0 = Instant::now();
    loop {
        if let Ok(r) = read(dir) {
            return Ok(r);
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "the keeper exited ({status}) before the engine answered:\n{}",
                sandbox::log_tail(&dir.join(LOG), 30)
            );
        }
        if t0.elapsed() > timeout {
            let _ = child.kill();
            bail!(
                "{} did not answer within {timeout:?}:\n{}",
                target.id(),
                sandbox::log_tail(&dir.join(LOG), 30)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The keeper (`engine serve`): starts the engine, writes the record, waits for a signal.
pub fn serve(target: Target, dir: &Path) -> anyhow::Result<std::convert::Infallible> {
    sandbox::install_signal_handler();
    let dir = std::fs::canonicalize(dir)?;
    let engine_dir = dir.join(target.profile().id());
    let (held, socket, api, semantics) = start(target, &engine_dir)?;
    let pid = i32::try_from(std::process::id())?;
    let record = Record {
        id: target.id(),
        socket,
        api: api.to_owned(),
        semantics,
        pid,
        start_time: sandbox::start_time(pid).context("reading the keeper's own start time")?,
    };
    let tmp = dir.join(format!("{RECORD}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&record)?)?;
    std::fs::rename(&tmp, dir.join(RECORD))?;
    eprintln!("rmispec: {} up at {}", record.id, record.socket.display());
    loop {
        std::thread::park();
        // The signal handler exits the process; a spurious unpark just waits again.
        let _ = &held;
    }
}

/// Starts `target`'s engine in `dir`: something to hold, its socket, the API it speaks, and
/// the semantics to check it as.
#[allow(unused_variables)]
fn start(
    target: Target,
    dir: &Path,
) -> anyhow::Result<(Box<dyn std::any::Any>, PathBuf, &'static str, String)> {
    let profile = target.profile();
    #[allow(unreachable_code)]
    match (target, profile.engine()) {
        (Target::Profile(_), Engine::DockerClassic | Engine::DockerContainerd) => {
            #[cfg(feature = "live-docker")]
            {
                use super::docker::{Flavor, SandboxedDocker};
                let flavor = Flavor::of(profile).context("not a Docker profile")?;
                let engine = SandboxedDocker::start(flavor, Some(dir))?;
                let socket = engine.socket();
                return Ok((
                    Box::new(engine),
                    socket,
                    "Docker Engine API",
                    profile.id().to_owned(),
                ));
            }
            bail!("this build has no Docker adapter: rebuild with --features live-docker")
        }
        (Target::Profile(_), Engine::CriContainerd) => {
            #[cfg(feature = "live-cri")]
            {
                use super::cri::{Flavor, SandboxedCri};
                let flavor = Flavor::of(profile).context("not a CRI profile")?;
                let engine = SandboxedCri::start(flavor, Some(dir))?;
                let socket = engine.cri()?.socket().to_path_buf();
                return Ok((
                    Box::new(engine),
                    socket,
                    "CRI v1 gRPC (and containerd's API, namespace k8s.io)",
                    profile.id().to_owned(),
                ));
            }
            bail!("this build has no CRI adapter: rebuild with --features live-cri")
        }
        (_, Engine::PodmanLibimage | Engine::LibpodLegacy) => {
            #[cfg(feature = "live-podman")]
            {
                let (service, socket) = super::podman::start_service(profile, dir)?;
                let (api, semantics) = match target {
                    Target::PodmanCompat(_) => (
                        "Docker Engine API (Podman's compat layer, /v1.41)",
                        COMPAT_SEMANTICS.to_owned(),
                    ),
                    Target::Profile(_) => ("libpod API", profile.id().to_owned()),
                };
                return Ok((service, socket, api, semantics));
            }
            bail!("this build has no Podman adapter: rebuild with --features live-podman")
        }
        (Target::PodmanCompat(_), _) => unreachable!("parsed as a Podman profile"),
    }
}

/// `engine down`: stops the keeper that `dir`'s record names and waits until it is gone.
/// Returns what it stopped.
pub fn down(dir: &Path, timeout: Duration) -> anyhow::Result<Record> {
    let record = read(dir).with_context(|| {
        format!(
            "{} has no running engine (no {RECORD}): nothing to stop",
            dir.display()
        )
    })?;
    if alive(&record) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(record.pid),
            nix::sys::signal::Signal::SIGTERM,
        )
        .with_context(|| format!("signalling the keeper (pid {})", record.pid))?;
        let t0 = Instant::now();
        while alive(&record) {
            if t0.elapsed() > timeout {
                bail!(
                    "the keeper (pid {}) did not stop within {timeout:?}; see {}",
                    record.pid,
                    dir.join(LOG).display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    } else {
        // The keeper died without cleaning up (SIGKILL): opening its folder as a state
        // directory sweeps what it left (processes, mounts); then it goes like the rest.
        eprintln!(
            "rmispec: the keeper (pid {}) was not running; sweeping what it left in {}",
            record.pid,
            dir.display()
        );
        let engine_dir = dir.join(Target::parse(&record.id)?.profile().id());
        if engine_dir.exists() {
            drop(StateDir::create(&engine_dir)?);
        }
    }
    // The engine's folder is the keeper's (it created it below `dir`): with the keeper gone
    // and the sandbox cleaned (no process, no mount), it goes too.
    let engine_dir = dir.join(Target::parse(&record.id)?.profile().id());
    if engine_dir.exists() && std::env::var_os("RMISPEC_KEEP_STATE").is_none() {
        sandbox::clean_dir(&engine_dir)?;
        std::fs::remove_dir_all(&engine_dir)
            .with_context(|| format!("removing {}", engine_dir.display()))?;
    }
    let _ = std::fs::remove_file(dir.join(RECORD));
    let _ = std::fs::remove_file(dir.join(LOG));
    Ok(record)
}

fn read(dir: &Path) -> anyhow::Result<Record> {
    let text = std::fs::read(dir.join(RECORD))?;
    Ok(serde_json::from_slice(&text)?)
}

/// Whether the process the record names still runs and is the one that wrote it.
fn alive(r: &Record) -> bool {
    sandbox::same_process_alive(r.pid, r.start_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_canonically() {
        let compat = Target::parse("podman-compat@4.3").unwrap();
        assert_eq!(compat.id(), "podman-compat@4.3");
        assert_eq!(compat.profile().engine(), Engine::PodmanLibimage);
        assert_eq!(
            compat.profile(),
            Profile::from_id("podman-libimage@4.3").unwrap()
        );
        assert_eq!(
            Target::parse("podman-compat").unwrap().profile(),
            Profile::from_id("podman-libimage").unwrap(),
            "bare: the newest"
        );
        assert!(Target::parse("podman-compat@9.9").is_err());
        let p = Profile::ALL[0];
        assert_eq!(Target::parse(p.id()).unwrap(), Target::Profile(p));
        assert!(Target::parse("nope").is_err());
    }

    #[test]
    fn a_process_is_known_by_its_start_time() {
        let me = i32::try_from(std::process::id()).unwrap();
        let t = sandbox::start_time(me).expect("our own stat");
        let record = Record {
            id: "x".into(),
            socket: PathBuf::new(),
            api: String::new(),
            semantics: String::new(),
            pid: me,
            start_time: t,
        };
        assert!(alive(&record));
        assert!(!alive(&Record {
            start_time: t + 1,
            ..record
        }));
    }
}
