//! The generic live backend: the runner half of the seam, the same for every engine.
//!
//! [`LiveBackend`] drives an [`Adapter`] through one scenario at a time and owns, once, what
//! every engine needs: the safety refusals (the host's default sockets, a daemon that is not
//! empty), the local registry, resets and the check that they emptied the engine (a fresh root
//! when the API could not), the check that the built store lists as the model says `given`
//! lists (a difference is part of the observation, not an abort), timings in one shape, and
//! the order things stop in (the harness's containers through the API first, then the
//! registry, then the engine).

use super::adapter::{Adapter, Build, Origin};
use super::options::LiveOptions;
use super::registry::Registry;
use super::reset::Reset;
use super::sandbox::{self, StateDir};
use super::source::Source;
use crate::backend::Unsupported;
use crate::normalize;
use crate::observation::{Observation, Race, RaceAnswer, RaceObservation, StepObservation};
use crate::scenario::{Domain, Scenario, StoredName};
use crate::synth;
use anyhow::{bail, Context};
use rmispec_model::{Engine, Listing, Profile, Request};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where the time of a run went.
#[derive(Clone, Debug, Default)]
pub struct Timings {
    /// Starting (or attaching to) the engine.
    pub start: Duration,
    /// One entry per scenario run.
    pub runs: Vec<RunTiming>,
}

/// Where one scenario's time went.
#[derive(Clone, Debug, Default)]
pub struct RunTiming {
    /// The scenario.
    pub scenario: String,
    /// The whole run.
    pub total: Duration,
    /// Returning to empty first.
    pub reset: Duration,
    /// Building the store (the engine's calls and the harness's work between them).
    pub build: Duration,
    /// The request and the listings.
    pub request: Duration,
    /// Of all that, the time spent waiting on the engine's API (as far as the adapter
    /// measures it: zero when it does not).
    pub engine: Duration,
}

impl RunTiming {
    /// The harness's own time: synthesizing, archiving, pushing, mapping symbols.
    pub fn harness(&self) -> Duration {
        self.total.saturating_sub(self.reset + self.engine)
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

impl Timings {
    /// One paragraph: totals and per-scenario medians, and the scenario where the harness
    /// spent longest.
    pub fn summary(&self) -> String {
        let sum = |f: fn(&RunTiming) -> Duration| self.runs.iter().map(f).sum::<Duration>();
        let med = |f: fn(&RunTiming) -> Duration| median(self.runs.iter().map(f).collect());
        let slowest = self
            .runs
            .iter()
            .max_by_key(|r| r.harness())
            .map(|r| {
                format!(
                    "; the harness's slowest: {} ({:.2?})",
                    r.scenario,
                    r.harness()
                )
            })
            .unwrap_or_default();
        format!(
            "{} scenarios in {:.2?} (start {:.2?}): resets {:.2?}, builds {:.2?}, requests {:.2?}, of which engine API \
             {:.2?}, harness {:.2?}; per scenario (median): total {:.2?}, reset {:.2?}, build {:.2?}, request {:.2?}, \
             harness {:.2?}{slowest}",
            self.runs.len(),
            self.start + sum(|r| r.total),
            self.start,
            sum(|r| r.reset),
            sum(|r| r.build),
            sum(|r| r.request),
            sum(|r| r.engine),
            sum(RunTiming::harness),
            med(|r| r.total),
            med(|r| r.reset),
            med(|r| r.build),
            med(|r| r.request),
            med(RunTiming::harness),
        )
    }
}

/// A live engine the runner can drive: an [`Adapter`] and everything around it.
pub struct LiveBackend<A: Adapter> {
    reset: Reset,
    /// Why the engine cannot be used any more (it died and could not be restarted): every
    /// later trial fails at once with this line.
    dead: Option<String>,
    /// The engine holds something a scenario (or its owner, before us) put there.
    dirty: bool,
    /// What the run's time went to.
    pub timings: Timings,
    // Drop order: Drop below empties the engine through the API; then the registry stops,
    // then its own directory goes (external engines only), then the adapter stops the engine.
    registry: Option<Registry>,
    registry_dir: Option<StateDir>,
    adapter: A,
}

impl<A: Adapter> std::fmt::Debug for LiveBackend<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveBackend")
            .field("profile", &self.adapter.profile())
            .field("label", &self.adapter.label())
            .field("reset", &self.reset)
            .finish_non_exhaustive()
    }
}

impl<A: Adapter> LiveBackend<A> {
    /// Starts `profile`'s engine sandboxed, or attaches to `opts.socket`: never the host's
    /// default sockets, never a daemon that is not empty, unless
    /// `opts.allow_default_socket` (the harness deletes everything in the engine it drives).
    pub fn connect(profile: Profile, opts: &LiveOptions) -> anyhow::Result<LiveBackend<A>> {
        let t0 = Instant::now();
        let mut reset = Reset::from_env(A::RESET_VAR, A::DEFAULT_RESET)?;
        let (adapter, dirty) = match &opts.socket {
            None => {
                let state_dir = opts.state_dir.as_ref().map(|d| d.join(profile.id()));
                let adapter = A::start(profile, state_dir.as_deref())
                    .with_context(|| format!("starting {profile} sandboxed"))?;
                (adapter, false)
            }
            Some(socket) => {
                if is_default_socket(socket, &A::default_sockets()) && !opts.allow_default_socket {
                    bail!(
                        "{} is a host's default socket for {}: the harness deletes every image and container in the \
                         engine it drives. Pass --i-know-this-deletes-images if that is what you want.",
                        socket.display(),
                        profile.engine()
                    );
                }
                if std::env::var_os(A::RESET_VAR).is_some() && reset == Reset::FreshRoot {
                    bail!(
                        "{}=fresh-root needs an engine the harness starts, not --socket",
                        A::RESET_VAR
                    );
                }
                reset = Reset::Api;
                let mut adapter = A::attach(profile, socket)
                    .with_context(|| format!("attaching to {} as {profile}", socket.display()))?;
                let held = adapter.listing()?;
                let empty = held.images.is_empty() && held.containers.is_empty();
                if !empty && !opts.allow_default_socket {
                    bail!(
                        "the engine at {} is not empty ({} images, {} containers): the harness deletes everything in it \
                         between scenarios. Empty it, or pass --i-know-this-deletes-images.",
                        socket.display(),
                        held.images.len(),
                        held.containers.len()
                    );
                }
                (adapter, !empty)
            }
        };
        Ok(LiveBackend {
            reset,
            dead: None,
            dirty,
            timings: Timings {
                start: t0.elapsed(),
                ..Timings::default()
            },
            registry: None,
            registry_dir: None,
            adapter,
        })
    }

    /// The adapter (for tests and diagnostics).
    pub fn adapter(&self) -> &A {
        &self.adapter
    }

    /// The adapter, mutably (for tests that drive the engine directly).
    pub fn adapter_mut(&mut self) -> &mut A {
        &mut self.adapter
    }

    /// Whether the harness started the engine.
    pub fn sandboxed(&self) -> bool {
        matches!(self.adapter.origin(), Origin::Sandboxed(_))
    }

    /// The state directory of a sandboxed engine.
    pub fn state_dir(&self) -> Option<&Path> {
        match self.adapter.origin() {
            Origin::Sandboxed(dir) => Some(dir.path()),
            Origin::External(_) => None,
        }
    }

    /// How resets are done.
    pub fn set_reset(&mut self, reset: Reset) -> anyhow::Result<()> {
        if reset == Reset::FreshRoot && !self.sandboxed() {
            bail!("a fresh root needs an engine the harness starts");
        }
        self.reset = reset;
        Ok(())
    }

    /// Marks the engine as holding something (the next [`reset`](Self::reset) empties it).
    pub fn touch(&mut self) {
        self.dirty = true;
    }

    /// The local registry, started on first use (the adapter's own, if its start needed one).
    pub fn registry(&mut self) -> anyhow::Result<&Registry> {
        if self.adapter.own_registry().is_none() && self.registry.is_none() {
            let dir = match self.adapter.origin() {
                Origin::Sandboxed(dir) => dir,
                Origin::External(_) => self.registry_dir.insert(StateDir::fresh(&format!(
                    "{}-registry",
                    self.adapter.profile().id()
                ))?),
            };
            self.registry = Some(Registry::start(dir).context("starting the local registry")?);
        }
        Ok(self
            .adapter
            .own_registry()
            .or(self.registry.as_ref())
            .expect("started above"))
    }

    /// The registry if it runs.
    fn running_registry(&self) -> Option<&Registry> {
        self.adapter.own_registry().or(self.registry.as_ref())
    }

    /// Returns the engine to empty if a scenario used it, and checks that it is: nothing
    /// listed, nothing left behind the listing. A sandboxed engine that the API could not
    /// empty starts over from a fresh root; anything else that is not empty is an error.
    pub fn reset(&mut self) -> anyhow::Result<Duration> {
        let t0 = Instant::now();
        if self.dirty {
            // Containers first, whatever the reset: a shim killed with its daemon leaks.
            self.adapter.remove_containers()?;
            let fresh = match self.reset {
                Reset::FreshRoot => true,
                Reset::Api => match self.adapter.remove_images() {
                    Ok(()) => false,
                    // A daemon that died is not restarted here: the error goes back to
                    // `run`, which says the death plainly and starts it over itself.
                    Err(e)
                        if self.sandboxed()
                            && !sandbox::shutting_down()
                            && self.dead_daemon().is_ok() =>
                    {
                        eprintln!(
                            "rmispec: emptying {} through the API failed ({e:#}); restarting it on a fresh root",
                            self.adapter.profile()
                        );
                        true
                    }
                    Err(e) => return Err(e),
                },
            };
            if fresh {
                self.adapter.fresh_root()?;
            }
            self.dirty = false;
        }
        if let Some(left) = self.not_empty()? {
            if !(self.sandboxed() && self.reset == Reset::Api) {
                bail!("the engine is not empty after a reset: {left}");
            }
            eprintln!(
                "rmispec: {} kept {left} after a reset through the API; using a fresh root",
                self.adapter.profile()
            );
            self.adapter.remove_containers()?;
            self.adapter.fresh_root()?;
            if let Some(left) = self.not_empty()? {
                bail!("the engine is not empty after a fresh root: {left}");
            }
        }
        self.adapter.take_engine_time();
        Ok(t0.elapsed())
    }

    /// What the engine still holds, if anything.
    fn not_empty(&mut self) -> anyhow::Result<Option<String>> {
        let listed = self.adapter.listing()?;
        let behind = self.adapter.leftovers();
        if listed.images.is_empty() && listed.containers.is_empty() && behind.is_empty() {
            return Ok(None);
        }
        let mut what = format!(
            "{} images, {} containers",
            listed.images.len(),
            listed.containers.len()
        );
        if !behind.is_empty() {
            what += &format!(" ({})", behind.join(", "));
        }
        Ok(Some(what))
    }

    /// Sends `request` (the engine must hold a store: see [`touch`](Self::touch)).
    pub fn remove(&mut self, request: &Request) -> anyhow::Result<super::adapter::Answer> {
        self.dirty = true;
        self.adapter.remove(request)
    }

    /// The store as the engine lists it.
    pub fn listing(&mut self) -> anyhow::Result<Listing> {
        self.adapter.listing()
    }

    /// From an empty engine, builds `scenario`'s `given` store and checks how it lists: what
    /// both request forms start with.
    fn build_given(&mut self, scenario: &Scenario) -> anyhow::Result<BuiltStore> {
        let t0 = Instant::now();
        let reset = self.reset().context("emptying the engine")?;
        self.dirty = true;
        let profile = self.adapter.profile();
        if let Some(reason) = inexpressible(scenario, profile) {
            return Err(Unsupported::new(reason).into());
        }
        // Synthesized once per scenario for the model and every engine: ID prefixes are ground
        // by hashing, which costs seconds for a few scenarios in a debug build.
        let synthesized = crate::model_backend::synthesized(scenario);
        if A::NEEDS_REGISTRY || needs_registry(scenario) {
            self.registry()?;
        }
        let host = self.running_registry().map(Registry::host);
        let mut symbols = synthesized.symbols(profile, host.as_deref().unwrap_or_default());
        // Stored names that hold image ID symbols are spelled for this engine before anything
        // is built: the adapters see literal names only.
        let resolved;
        let scenario = if scenario.given.has_symbol_names() {
            let mut copy = scenario.clone();
            copy.given = scenario.given.resolved(&symbols)?;
            resolved = copy;
            &resolved
        } else {
            scenario
        };
        let t_build = Instant::now();
        let build = Build {
            scenario,
            source: Source::new(&synthesized, &scenario.given),
            registry: self.registry.as_ref(),
            symbols: &mut symbols,
        };
        self.adapter.build(build).with_context(|| {
            format!("building the given store of {} on {profile}", scenario.name)
        })?;
        let built = self.adapter.listing().context("listing the built store")?;
        Ok(BuiltStore {
            symbols,
            built,
            given: scenario.given.clone(),
            synthesized,
            t0,
            reset,
            t_build,
            t_request: Instant::now(),
        })
    }

    fn record_timing(&mut self, scenario: &Scenario, given: &BuiltStore) {
        let engine = self.adapter.take_engine_time();
        self.timings.runs.push(RunTiming {
            scenario: scenario.name.clone(),
            total: given.t0.elapsed(),
            reset: given.reset,
            build: given.t_request - given.t_build,
            request: given.t_request.elapsed(),
            engine,
        });
    }

    /// One scenario, from an empty engine: build `given`, check how it lists, send the
    /// request (each step's in turn), list what is left (after each step).
    fn run_scenario(&mut self, scenario: &Scenario) -> anyhow::Result<Observation> {
        let mut given = self.build_given(scenario)?;
        // Every step's request is expanded and checked before the first is sent: a step the
        // engine cannot express skips the whole sequence rather than half of it.
        let requests = scenario.requests(&mut given.symbols)?;
        self.adapter.check_requests(&requests, &given.symbols)?;
        let mut steps = Vec::with_capacity(requests.len());
        for request in &requests {
            // A step is one more request on the same store: no reset between steps.
            let answer = self.adapter.remove(request)?;
            let after = self.adapter.listing()?;
            steps.push(StepObservation {
                records: answer.records,
                errors: answer.errors,
                status: answer.status,
                after,
            });
        }
        let mut steps = steps.into_iter();
        let first = steps.next().context("a scenario without a request")?;
        self.record_timing(scenario, &given);
        let built = given.if_not_as_modeled(self.adapter.profile());
        Ok(Observation {
            records: first.records,
            errors: first.errors,
            status: first.status,
            after: first.after,
            symbols: given.symbols,
            built,
            then: steps.collect(),
        })
    }

    /// A `parallel:` scenario: `runs` times, from an empty engine, build `given`, send the
    /// requests at once ([`Adapter::remove_at_once`]), list what is left. A built store that
    /// lists otherwise than the model's `given` is kept (`built`) and judged, as for one
    /// request.
    fn race_scenario(&mut self, scenario: &Scenario) -> anyhow::Result<RaceObservation> {
        let parallel = scenario
            .parallel
            .as_ref()
            .context("not a scenario of requests sent at once")?;
        let mut runs = Vec::with_capacity(parallel.runs as usize);
        for run in 1..=parallel.runs {
            let mut given = self.build_given(scenario)?;
            let requests = scenario.requests(&mut given.symbols)?;
            let built = given.if_not_as_modeled(self.adapter.profile());
            self.adapter.check_requests(&requests, &given.symbols)?;
            let answers = self
                .adapter
                .remove_at_once(&requests)
                .with_context(|| format!("run {run}: sending the requests at once"))?;
            let after = self.adapter.listing()?;
            self.record_timing(scenario, &given);
            runs.push(Race {
                answers: answers
                    .into_iter()
                    .map(|a| RaceAnswer {
                        records: a.records,
                        errors: a.errors,
                        status: a.status,
                    })
                    .collect(),
                after,
                symbols: given.symbols,
                built,
            });
        }
        Ok(RaceObservation { runs })
    }
}

/// A `given` store built on the engine, with what the request needs next.
struct BuiltStore {
    /// The scenario's symbols for this engine, with the IDs the engine made up.
    symbols: crate::symbols::Symbols,
    /// How the built store listed.
    built: Listing,
    /// The `given` it was built from (its symbol names spelled for this engine).
    given: crate::scenario::Given,
    synthesized: std::sync::Arc<synth::Synthesized>,
    t0: Instant,
    reset: Duration,
    t_build: Instant,
    t_request: Instant,
}

/// What no adapter of `profile` can build or send, whatever the scenario's `skip:` says:
/// image mounts exist from Docker 28.0 (`moby/moby@v28.5.2:api/types/mount/mount.go`,
/// `TypeImage`) and in the CRI from containerd 2.1.0 ([`image_mounts`]); the `platforms`
/// option is the Docker Engine API's alone (older daemons ignore it, so it is sent to them).
pub fn inexpressible(scenario: &Scenario, profile: Profile) -> Option<String> {
    if scenario
        .given
        .containers
        .values()
        .any(|c| !c.mounts.is_empty())
    {
        if let Err(why) = image_mounts(profile) {
            return Some(why);
        }
    }
    let docker = matches!(
        profile.engine(),
        Engine::DockerClassic | Engine::DockerContainerd
    );
    if !docker && !scenario.when.platforms.is_empty() {
        return Some(format!(
            "{profile}'s image removal has no platform option (only Docker's image delete API has `platforms`)"
        ));
    }
    let podman = matches!(
        profile,
        Profile::Podman43 | Profile::Podman54 | Profile::Podman58 | Profile::Libpod301
    );
    if !podman && !scenario.given.manifests.is_empty() {
        return Some(format!(
            "manifest lists are built through the libpod API only (`POST /libpod/manifests`); {profile} has no such store"
        ));
    }
    if !podman && !scenario.given.pods.is_empty() {
        return Some(format!(
            "pods are Podman's (`POST /libpod/pods/create`); {profile} has none an image removal could meet"
        ));
    }
    None
}

/// Whether the harness can build a container that mounts an image on `profile`, or why not.
///
/// - Docker 28.0+: `HostConfig.Mounts` of type `image`.
/// - containerd 2.1.0+'s CRI: `Mount.image` (Kubernetes image volumes), which
///   `mutateMounts` unpacks and mounts read-only under a lease of the pod sandbox
///   (`containerd/containerd@v2.1.9:internal/cri/server/container_image_mount.go#L36-L52`,
///   called from `container_create.go#L278-L282`; first in v2.1.0, commit 1ec10d9ae). The CRI
///   plugins of 1.6.20 and 1.7.24 have no such code: a container asked for an image mount
///   would be made without one, a different store.
/// - Podman (libimage and legacy libpod 3.0.1): the libpod create spec's `image_volumes`
///   (`podman run --mount type=image`), at every version we run
///   (`containers/podman@v3.0.1:pkg/specgen/specgen.go#L219`, `@v5.8.2:…#L307`).
pub fn image_mounts(profile: Profile) -> Result<(), String> {
    match profile {
        Profile::DockerClassic28 | Profile::DockerContainerd28 | Profile::Cri21 => Ok(()),
        Profile::Podman43 | Profile::Podman54 | Profile::Podman58 | Profile::Libpod301 => Ok(()),
        Profile::Cri16 | Profile::Cri17 => Err(format!(
            "{profile}'s CRI plugin has no image mounts: the code that mounts `Mount.image` (`mutateMounts`) came with \
             containerd v2.1.0 (containerd/containerd@v2.1.9:internal/cri/server/container_image_mount.go), so a container \
             asked for one would be made without it"
        )),
        _ if matches!(profile.engine(), Engine::DockerClassic | Engine::DockerContainerd) => Err(format!(
            "image mounts (HostConfig.Mounts type image) are new in Docker 28.0 (moby/moby@v28.5.2:api/types/mount/mount.go, TypeImage): {profile} has none"
        )),
        _ => Err(format!(
            "{profile} runs nowhere live, so no image mount is built for it"
        )),
    }
}

/// Whether the built store lists differently from what the model says `given` lists as on
/// `profile`, both in symbols.
impl BuiltStore {
    /// The built store's listing, when it differs from what the model says `given` lists as
    /// (judged with the symbols as they are now: after the requests' prefixes are bound).
    fn if_not_as_modeled(&self, profile: Profile) -> Option<Listing> {
        differs_from_model(
            &self.given,
            profile,
            &self.synthesized,
            &self.built,
            &self.symbols,
        )
        .then(|| self.built.clone())
    }
}

fn differs_from_model(
    given: &crate::scenario::Given,
    profile: Profile,
    synthesized: &synth::Synthesized,
    built: &Listing,
    symbols: &crate::symbols::Symbols,
) -> bool {
    let (store, model_symbols) = crate::model_backend::model_store(synthesized, given, profile);
    let model = rmispec_model::engine::listing(profile, &store);
    normalize::normalize_store(&model, &model_symbols) != normalize::normalize_store(built, symbols)
}

impl<A: Adapter> crate::backend::Backend for LiveBackend<A> {
    fn profile(&self) -> Profile {
        self.adapter.profile()
    }

    fn label(&self) -> String {
        self.adapter.label()
    }

    /// One scenario. When it fails, the daemons are checked: one that died (or was stopped)
    /// is said plainly, once, and restarted on a fresh root for the next scenario; if that
    /// fails too, every later trial fails at once with the same line ([`Self::guarded`]).
    fn run(&mut self, scenario: &Scenario) -> anyhow::Result<Observation> {
        self.guarded(|b| b.run_scenario(scenario))
    }

    /// Requests sent at once, `runs` times, each from an empty engine; a daemon that dies is
    /// handled as in [`run`](Self::run).
    fn run_parallel(&mut self, scenario: &Scenario) -> anyhow::Result<RaceObservation> {
        self.guarded(|b| b.race_scenario(scenario))
    }
}

impl<A: Adapter> LiveBackend<A> {
    /// Runs `f`; when it fails, checks the daemons: one that died (or was stopped) is said
    /// plainly, once, and restarted on a fresh root for the next scenario; if that fails too,
    /// every later trial fails at once with the same line.
    fn guarded<T>(&mut self, f: impl FnOnce(&mut Self) -> anyhow::Result<T>) -> anyhow::Result<T> {
        if let Some(dead) = &self.dead {
            bail!("{dead}");
        }
        let error = match f(self) {
            Ok(o) => return Ok(o),
            Err(e) => e,
        };
        // After a signal the handler stopped the daemons on purpose.
        if sandbox::shutting_down() || crate::live::interrupted().is_some() {
            return Err(error);
        }
        let Err(exit) = self.dead_daemon() else {
            return Err(error);
        };
        let profile = self.adapter.profile();
        eprintln!(
            "rmispec: {profile}: {} {}; its log ends with:\n{}",
            exit.name, exit.how, exit.log_tail
        );
        if self.sandboxed() && !sandbox::shutting_down() {
            match self.adapter.fresh_root() {
                Ok(()) => {
                    eprintln!("rmispec: {profile}: restarted on a fresh root");
                    self.dirty = false;
                    return Err(error.context(format!(
                        "{} {} during this scenario (restarted on a fresh root for the next one)",
                        exit.name, exit.how
                    )));
                }
                Err(e) => {
                    eprintln!("rmispec: {profile}: restarting failed: {e:#}");
                }
            }
        }
        let line = format!(
            "{} {}: the engine is gone, so this trial did not run",
            exit.name, exit.how
        );
        self.dead = Some(line.clone());
        Err(error.context(line))
    }
}

impl<A: Adapter> LiveBackend<A> {
    /// Whether a daemon died, after a call failed ([`sandbox::died_after_a_failed_call`]).
    fn dead_daemon(&mut self) -> Result<(), sandbox::DaemonExit> {
        sandbox::died_after_a_failed_call(|| self.adapter.check_alive())
    }
}

impl<A: Adapter> Drop for LiveBackend<A> {
    fn drop(&mut self) {
        if std::env::var_os("RMISPEC_TIMINGS").is_some() {
            eprintln!(
                "rmispec: {}: {}",
                self.adapter.profile(),
                self.timings.summary()
            );
            for line in self.adapter.timing_lines() {
                eprintln!("rmispec:   {line}");
            }
        }
        // Everything goes through the API first: the containers' shims exit cleanly, and an
        // engine the user pointed us at is left as empty as we found it. After a signal, the
        // handler has stopped the daemons and cleaned up already.
        if self.dirty && !sandbox::shutting_down() {
            let result = self.adapter.remove_containers().and_then(|()| {
                if self.sandboxed() {
                    Ok(())
                } else {
                    self.adapter.remove_images()
                }
            });
            if let Err(e) = result {
                eprintln!("rmispec: emptying {} failed: {e:#}", self.adapter.profile());
            }
        }
    }
}

/// Whether `scenario` mentions the local registry (a `<reg>` name in its store or its
/// request), so that it must run before the symbol table is made.
pub fn needs_registry(scenario: &Scenario) -> bool {
    let in_store = scenario
        .given
        .images
        .values()
        .flat_map(|i| &i.tags)
        .any(|n| {
            matches!(
                n,
                StoredName::Digested { .. }
                    | StoredName::Tagged {
                        domain: Domain::Registry,
                        ..
                    }
            )
        });
    in_store
        || scenario
            .steps()
            .any(|(when, _)| when.rmi.iter().any(|n| n.contains("<reg>")))
}

/// Whether `socket` is (or resolves to) one of `defaults`, through symlinks, also dangling
/// ones (a link to a default path names it even before the daemon creates it).
pub fn is_default_socket(socket: &Path, defaults: &[PathBuf]) -> bool {
    let s = resolve(socket);
    defaults.iter().any(|d| resolve(d) == s)
}

/// `p` with symlinks resolved; a link whose target does not exist (yet) resolves to that
/// target's path.
fn resolve(p: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    match std::fs::read_link(p) {
        Ok(target) => resolve(&p.parent().unwrap_or(Path::new("/")).join(target)),
        Err(_) => p.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_mounts_are_built_where_the_engine_has_them() {
        for p in [
            Profile::DockerClassic28,
            Profile::DockerContainerd28,
            Profile::Cri21,
            Profile::Podman43,
            Profile::Podman54,
            Profile::Podman58,
            Profile::Libpod301,
        ] {
            assert_eq!(image_mounts(p), Ok(()), "{p}");
        }
        for p in [
            Profile::DockerClassic,
            Profile::DockerContainerd,
            Profile::Cri16,
            Profile::Cri17,
            Profile::Libpod19,
        ] {
            assert!(image_mounts(p).is_err(), "{p}");
        }
    }

    #[test]
    fn default_sockets_are_recognized_even_through_a_symlink() {
        let defaults = [PathBuf::from("/run/podman/podman.sock")];
        assert!(is_default_socket(
            Path::new("/run/podman/podman.sock"),
            &defaults
        ));
        let dir = std::env::temp_dir().join(format!("rmispec-default-sock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.join("p.sock");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("/run/podman/podman.sock", &link).unwrap();
        assert!(is_default_socket(&link, &defaults));
        assert!(!is_default_socket(&dir.join("other.sock"), &defaults));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
