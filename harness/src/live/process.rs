//! The process protocol adapter: an engine behind any program that speaks rmispec's JSON
//! lines (`docs/protocol.md`), started with `--command PROG [ARGS]` and judged against the
//! semantics `--engine ID` names, as toml-test judges a decoder command.
//!
//! - [`child`]: the program as a child process (its own process group, a deadline per call,
//!   stopped on drop: stdin closed, then SIGTERM, then SIGKILL);
//! - [`wire`]: the messages, and the `unsupported` / `error` answers every call may give;
//! - [`classify`]: the errors it reports, read by the claimed semantics' classifier.
//!
//! The program owns its engine, so the origin is [`Origin::External`] (the backend refuses a
//! program whose engine is not empty at start, and resets through the protocol); there is
//! no fresh root. The backend's local registry serves the digest references a store needs:
//! the harness pushes the images there, and the program pulls them.

pub mod child;
pub mod classify;
pub mod wire;

use crate::backend::Unsupported;
use crate::live::adapter::{Adapter, Answer, Build, Origin};
use crate::live::backend::LiveBackend;
use crate::live::options::LiveOptions;
use crate::live::reset::Reset;
use crate::scenario::StoredName;
use anyhow::{bail, Context};
use child::{Grace, Program};
use rmispec_model::{
    ContainerState, Digest, ListedImage, Listing, Profile, Record, Request, Status,
};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A program speaking the protocol, driven by the generic backend.
pub type ProcessBackend = LiveBackend<Process>;

/// The deadline of every call when `RMISPEC_PROCESS_TIMEOUT` (seconds) does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How to start the program and how long to wait for it.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The program and its arguments.
    pub command: Vec<String>,
    /// The deadline of each call.
    pub timeout: Duration,
    /// How long it gets to exit when stopped.
    pub grace: Grace,
}

impl Settings {
    /// `command` with the deadline from `RMISPEC_PROCESS_TIMEOUT` (seconds), else
    /// [`DEFAULT_TIMEOUT`].
    pub fn new(command: Vec<String>) -> anyhow::Result<Settings> {
        let timeout = match std::env::var("RMISPEC_PROCESS_TIMEOUT") {
            Ok(v) if !v.trim().is_empty() => Duration::from_secs_f64(
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|s| *s > 0.0 && s.is_finite())
                    .with_context(|| format!("RMISPEC_PROCESS_TIMEOUT={v:?}: expected seconds"))?,
            ),
            _ => DEFAULT_TIMEOUT,
        };
        Ok(Settings {
            command,
            timeout,
            grace: Grace::default(),
        })
    }
}

thread_local! {
    /// What [`connect_with`] hands to [`Process::attach`] (the adapter trait's attach takes
    /// a path only): set and taken on the same thread, within one call.
    static PENDING: RefCell<Option<Settings>> = const { RefCell::new(None) };
}

/// The backend for `opts.command`, judged as `profile`.
pub fn connect(profile: Profile, opts: &LiveOptions) -> anyhow::Result<ProcessBackend> {
    let command = opts.command.clone().context("no --command given")?;
    connect_with(profile, opts, Settings::new(command)?)
}

/// The backend for the program `settings` starts, judged as `profile`. Of `opts`, only
/// `allow_default_socket` matters (a program whose engine is not empty at start is refused
/// unless it is set).
pub fn connect_with(
    profile: Profile,
    opts: &LiveOptions,
    settings: Settings,
) -> anyhow::Result<ProcessBackend> {
    let program = PathBuf::from(settings.command.first().context("--command is empty")?);
    PENDING.with(|p| *p.borrow_mut() = Some(settings));
    let via = LiveOptions {
        socket: Some(program),
        allow_default_socket: opts.allow_default_socket,
        state_dir: None,
        command: None,
        timeout: opts.timeout,
    };
    let backend = LiveBackend::connect(profile, &via);
    PENDING.with(|p| p.borrow_mut().take());
    backend
}

/// The process adapter.
#[derive(Debug)]
pub struct Process {
    profile: Profile,
    /// The program's path, as given (what [`Origin::External`] shows).
    path: PathBuf,
    /// What the program says it drives.
    engine: String,
    timeout: Duration,
    /// How many stores it was asked to build (names each build's directory).
    builds: usize,
    program: Program,
}

impl Process {
    /// Sends `request`, waits for its answer, reads it as `T`.
    fn call<T: serde::de::DeserializeOwned>(
        &mut self,
        request: &wire::Request,
    ) -> anyhow::Result<T> {
        let op = request.op();
        let line = serde_json::to_string(request).context("encoding a request")?;
        let (n, answer) = self.program.call(op, &line, self.timeout)?;
        wire::decode(op, n, &answer)
    }

    /// The program's PID (its process group's ID).
    pub fn pid(&self) -> u32 {
        self.program.pid()
    }
}

impl Adapter for Process {
    /// Resets go through the protocol (`remove-containers`, `remove-images`), checked by a
    /// `list`; there is no other way.
    const RESET_VAR: &'static str = "RMISPEC_PROCESS_RESET";
    const DEFAULT_RESET: Reset = Reset::Api;

    fn start(profile: Profile, _state_dir: Option<&Path>) -> anyhow::Result<Process> {
        bail!("{profile} through the process protocol: the program owns its engine; start it with --command")
    }

    fn attach(profile: Profile, path: &Path) -> anyhow::Result<Process> {
        let settings = PENDING
            .with(|p| p.borrow_mut().take())
            .context("the process adapter starts through live::connect with --command")?;
        let program = Program::spawn(&settings.command, settings.grace)?;
        let mut p = Process {
            profile,
            path: path.to_path_buf(),
            engine: String::new(),
            timeout: settings.timeout,
            builds: 0,
            program,
        };
        let hello: wire::Hello = p
            .call(&wire::Request::Hello {
                protocol: wire::VERSION,
                semantics: profile.id().to_owned(),
            })
            .context("the handshake")?;
        if hello.protocol != wire::VERSION {
            bail!(
                "`{}` speaks protocol version {}; this harness speaks {}",
                p.program.name(),
                hello.protocol,
                wire::VERSION
            );
        }
        // A claim is the profile's id, or its engine's bare id (the engine at whatever version
        // the user judges it as).
        if hello.semantics != profile.id() && hello.semantics != profile.engine().id() {
            bail!(
                "`{}` claims the semantics {:?}, but it is judged as {profile} (--engine): pass --engine {} or \
                 have the program claim {profile}",
                p.program.name(),
                hello.semantics,
                hello.semantics
            );
        }
        p.engine = hello.engine.unwrap_or_else(|| p.program.name().to_owned());
        p.program.take_waited();
        Ok(p)
    }

    fn default_sockets() -> Vec<PathBuf> {
        Vec::new()
    }

    fn profile(&self) -> Profile {
        self.profile
    }

    fn label(&self) -> String {
        format!("process {}", self.engine)
    }

    fn origin(&self) -> Origin<'_> {
        Origin::External(&self.path)
    }

    fn build(&mut self, b: Build<'_>) -> anyhow::Result<()> {
        let given = b.source.given;
        // What `build` cannot carry (docs/protocol.md) is a store the program cannot make: a
        // skip, never a different store (a program that left the list or the mount out would
        // be judged on a store the scenario does not have).
        if !given.manifests.is_empty() {
            return Err(Unsupported::new(
                "the process protocol's `build` has no manifest lists (docs/protocol.md)",
            )
            .into());
        }
        if given.images.values().any(|i| i.is_pulled_by_tag()) {
            return Err(Unsupported::new(
                "the process protocol's `build` has no pulls (`made_by: pull`, docs/protocol.md)",
            )
            .into());
        }
        if !given.pods.is_empty() {
            return Err(Unsupported::new(
                "the process protocol's `build` has no pods (docs/protocol.md)",
            )
            .into());
        }
        if given.containers.values().any(|c| !c.mounts.is_empty()) {
            return Err(Unsupported::new(
                "the process protocol's `build` has no image mounts (docs/protocol.md)",
            )
            .into());
        }
        self.builds += 1;
        let dir = BuildDir::create(self.program.pid(), self.builds)?;
        let registry = b.registry.map(|r| r.host());
        let mut images = Vec::new();
        for (handle, spec) in &given.images {
            let (config, manifest) = b.source.digests(handle)?;
            let archive = dir.path.join(format!("{handle}.tar"));
            std::fs::write(&archive, b.source.archive(&[(handle, Vec::new())])?)
                .with_context(|| format!("writing {}", archive.display()))?;
            let mut names = Vec::new();
            for name in &spec.tags {
                if let StoredName::Digested { path, .. } = name {
                    let r = b
                        .registry
                        .context("a digest reference needs the local registry")?;
                    let pushed = b.source.push(r, handle, path)?;
                    anyhow::ensure!(
                        pushed == manifest,
                        "{handle}: the registry stored manifest {pushed}, not {manifest}"
                    );
                }
                names.push(name.expand(registry.as_deref().unwrap_or_default(), &manifest));
            }
            images.push(wire::BuildImage {
                handle: handle.to_string(),
                id: config.prefixed(),
                archive: archive.to_string_lossy().into_owned(),
                names,
                parent: spec.parent.as_ref().map(|p| p.to_string()),
            });
        }
        let containers = given
            .containers
            .iter()
            .map(|(handle, spec)| wire::BuildContainer {
                handle: handle.to_string(),
                image: spec.image.to_string(),
                state: spec.state.name(),
            })
            .collect();
        let built: wire::Built = self.call(&wire::Request::Build(wire::BuildStore {
            dir: dir.path.to_string_lossy().into_owned(),
            registry,
            images,
            containers,
        }))?;
        drop(dir);
        // Children get the ID the engine gave them (a commit's depends on its time).
        for (handle, spec) in &given.images {
            if spec.parent.is_none() {
                continue;
            }
            let id = built.images.get(handle.as_str()).with_context(|| {
                format!("the build's answer has no ID for the child image {handle}")
            })?;
            let id = Digest::parse(id).with_context(|| format!("the ID of {handle}: {id:?}"))?;
            if let Some(prefix) = &spec.id {
                if !id.hex().starts_with(prefix.as_str()) {
                    return Err(Unsupported::new(format!(
                        "the engine gave the child {handle} the ID {id}, and the scenario needs one starting with \
                         {prefix} (an engine that commits children cannot be given an ID)"
                    ))
                    .into());
                }
            }
            b.symbols.add_image(handle.clone(), id.clone(), id);
        }
        for handle in given.containers.keys() {
            let id = built.containers.get(handle.as_str()).with_context(|| {
                format!("the build's answer has no ID for the container {handle}")
            })?;
            let id = Digest::parse(id)
                .with_context(|| format!("the ID of container {handle}: {id:?}"))?;
            b.symbols.add_container(handle.clone(), id);
        }
        Ok(())
    }

    /// The protocol is one request and one answer at a time over one pipe (version 1 has no
    /// message for requests at once): a `parallel:` scenario is a skip, said so.
    fn remove_at_once(&mut self, _requests: &[Request]) -> anyhow::Result<Vec<Answer>> {
        Err(Unsupported::new(
            "the process protocol (version 1) carries one request at a time over one pipe: it cannot race \
             requests (docs/protocol.md)",
        )
        .into())
    }

    fn remove(&mut self, request: &Request) -> anyhow::Result<Answer> {
        let removed: wire::Removed = self.call(&wire::Request::Remove {
            names: request.names.clone(),
            force: request.force,
            noprune: !request.prune,
            ignore: request.ignore,
            all: request.all,
        })?;
        let records = removed
            .records
            .iter()
            .map(|r| record(r))
            .collect::<anyhow::Result<_>>()?;
        let errors = removed
            .errors
            .iter()
            .map(|e| classify::failure(self.profile, &e.message, e.status.as_deref()))
            .collect::<anyhow::Result<_>>()?;
        let status: Status = removed
            .status
            .parse()
            .map_err(anyhow::Error::msg)
            .context("the status of `remove`")?;
        Ok(Answer {
            records,
            errors,
            status,
        })
    }

    fn listing(&mut self) -> anyhow::Result<Listing> {
        let listed: wire::Listed = self.call(&wire::Request::List)?;
        listing(listed)
    }

    fn remove_containers(&mut self) -> anyhow::Result<()> {
        let wire::Done {} = self.call(&wire::Request::RemoveContainers)?;
        Ok(())
    }

    fn remove_images(&mut self) -> anyhow::Result<()> {
        let wire::Done {} = self.call(&wire::Request::RemoveImages)?;
        Ok(())
    }

    fn fresh_root(&mut self) -> anyhow::Result<()> {
        Err(
            Unsupported::new("the process protocol has no fresh root: the program owns its engine")
                .into(),
        )
    }

    fn take_engine_time(&mut self) -> Duration {
        self.program.take_waited()
    }
}

impl Drop for Process {
    /// `bye`, then the program is stopped ([`Program`]'s drop) if it does not exit.
    fn drop(&mut self) {
        let _ = self.call::<wire::Done>(&wire::Request::Bye);
    }
}

/// `Untagged: x` / `Deleted: x`.
fn record(line: &str) -> anyhow::Result<Record> {
    if let Some(n) = line.strip_prefix("Untagged: ") {
        Ok(Record::Untagged(n.to_owned()))
    } else if let Some(d) = line.strip_prefix("Deleted: ") {
        Ok(Record::Deleted(d.to_owned()))
    } else {
        bail!("the record {line:?} is neither `Untagged: <name>` nor `Deleted: <id>`")
    }
}

/// A listing as the model's: names tags first, then digest references, each sorted.
pub fn listing(listed: wire::Listed) -> anyhow::Result<Listing> {
    let images = listed
        .images
        .into_iter()
        .map(|i| {
            let (mut names, mut digests): (Vec<String>, Vec<String>) =
                i.names.into_iter().partition(|n| !n.contains('@'));
            names.sort();
            digests.sort();
            names.extend(digests);
            Ok(ListedImage {
                id: Digest::parse(&i.id)
                    .with_context(|| format!("the listed image ID {:?}", i.id))?,
                names,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let containers = listed
        .containers
        .into_iter()
        .map(|c| {
            // Podman 3.0 lists a never-started container as `configured`; any state not
            // named here (`exited`, `stopped`, `dead`…) is stopped (docs/protocol.md).
            let state = match c.state.as_str() {
                "configured" => ContainerState::Created,
                other => ContainerState::from_name(other).unwrap_or(ContainerState::Stopped),
            };
            Ok((
                Digest::parse(&c.id)
                    .with_context(|| format!("the listed container ID {:?}", c.id))?,
                state,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Listing { images, containers })
}

/// The directory one build's archives are written to, removed when the build is answered.
struct BuildDir {
    path: PathBuf,
}

impl BuildDir {
    fn create(pid: u32, n: usize) -> anyhow::Result<BuildDir> {
        let path =
            std::env::temp_dir().join(format!("rmispec-process-{}-{pid}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(BuildDir { path })
    }
}

impl Drop for BuildDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
