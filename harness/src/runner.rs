//! The runner: every scenario on every chosen backend, each outcome judged.
//!
//! The CLI drives whole runs through [`run`]; the test harness (`tests/scenarios.rs`) drives
//! one trial at a time through [`model_result`], [`observe`] and [`live_result`], so both
//! judge the same way.

use crate::backend::{Backend, Unsupported};
use crate::compare::{self, Verdict};
use crate::live::{self, LiveOptions};
use crate::model_backend::ModelBackend;
use crate::observation::Normalized;
use crate::scenario::{self, Scenario};
use crate::snapshot;
use anyhow::Context;
use rmispec_model::Profile;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What one backend did with one scenario, and the verdict on it.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The profile the backend has the semantics of.
    pub profile: Profile,
    /// The backend's label: `model`, `live docker 20.10.24`.
    pub backend: String,
    /// The verdict.
    pub verdict: Verdict,
    /// What the backend did, in symbols; `None` when it was skipped or could not run.
    pub outcome: Option<Normalized>,
    /// What it was expected to do: the scenario's expectation (model runs) or the model's
    /// outcome (live runs); `None` when that could not be worked out.
    pub expected: Option<Normalized>,
    /// The upstream code the expectation cites, if it does.
    pub source: Option<String>,
    /// How long the trial took (building the store, the request, the listing); zero when it
    /// was skipped. JUnit reports it, so CI shows slow scenarios.
    pub duration: Duration,
}

/// One scenario's results across backends, with what reports need to show them.
#[derive(Clone, Debug)]
pub struct ScenarioRuns {
    /// The scenario's name: `untag/one-of-two-tags`.
    pub name: String,
    /// Its one-line summary.
    pub summary: String,
    /// The image handles in its `given` store, in creation order: reports tell deleted
    /// images from the listing afterwards, so engines that report no records (CRI) compare.
    pub images: Vec<String>,
    /// One result per backend, in the order the backends were given.
    pub results: Vec<RunResult>,
}

impl ScenarioRuns {
    /// No results yet.
    pub fn new(scenario: &Scenario) -> ScenarioRuns {
        ScenarioRuns {
            name: scenario.name.clone(),
            summary: scenario.summary.clone(),
            images: scenario
                .given
                .images
                .keys()
                .map(|h| h.to_string())
                .collect(),
            results: Vec::new(),
        }
    }
}

/// Which profiles to run, and where their snapshots are.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The profiles, in report order.
    pub profiles: Vec<Profile>,
    /// The `snapshots` folder.
    pub snapshots: PathBuf,
    /// Show a progress bar per live engine on stderr (the CLI sets it when stderr is a
    /// terminal; a live run takes minutes).
    pub progress: bool,
    /// How many live engines run at once (each in its own sandbox); the model ignores it.
    pub jobs: std::num::NonZeroUsize,
}

impl Plan {
    /// `profiles` with their snapshots in `snapshots`, no progress bars, one live engine at
    /// a time per core.
    pub fn new(profiles: Vec<Profile>, snapshots: PathBuf) -> Plan {
        Plan {
            profiles,
            snapshots,
            progress: false,
            jobs: default_jobs(),
        }
    }
}

/// How many live engines run at once unless told: the number of cores (an engine's time is
/// mostly its daemon's, on the other core, and waiting on it).
pub fn default_jobs() -> std::num::NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(std::num::NonZeroUsize::MIN)
}

/// What runs the scenarios.
#[derive(Clone, Debug)]
pub enum Backends {
    /// The reference model, checked against the expectations and the snapshots.
    Model,
    /// The live engines (through [`live::connect`]), checked against the model and the
    /// snapshots.
    Live(LiveOptions),
}

/// Loads every scenario below `dir`; the error lists every bad file as `path:line:column:
/// message`.
pub fn load(dir: &Path) -> anyhow::Result<Vec<Scenario>> {
    anyhow::ensure!(dir.is_dir(), "no scenarios folder at {}", dir.display());
    Ok(scenario::load_dir(dir)?)
}

/// Runs every scenario on every profile of the plan. Results that fail are in the returned
/// runs. A live engine that will not start fails only its own results (each an error with
/// the reason): the other engines' results are still worth having.
pub fn run(
    scenarios: &[Scenario],
    plan: &Plan,
    backends: &Backends,
) -> anyhow::Result<Vec<ScenarioRuns>> {
    let mut runs: Vec<ScenarioRuns> = scenarios.iter().map(ScenarioRuns::new).collect();
    match backends {
        Backends::Model => {
            for (s, run) in scenarios.iter().zip(&mut runs) {
                run.results = plan
                    .profiles
                    .iter()
                    .map(|&p| model_result(s, p, Some(&plan.snapshots)))
                    .collect();
            }
        }
        Backends::Live(options) => {
            let engines = run_engines(scenarios, plan, options);
            for engine in engines {
                for (run, result) in runs.iter_mut().zip(engine.results) {
                    run.results.push(result);
                }
            }
        }
    }
    Ok(runs)
}

/// What one live engine did with the whole selection: its results in scenario order, and
/// where its time went (for `rmispec bench`).
#[derive(Debug)]
pub struct EngineRun {
    /// The profile.
    pub profile: Profile,
    /// One result per scenario, in the scenarios' order.
    pub results: Vec<RunResult>,
    /// From the engine's start to its stop (the daemon's start and stop included).
    pub wall: Duration,
    /// Starting the engine.
    pub start: Duration,
    /// The CPU time the harness's thread for this engine used (synthesis, archives, JSON,
    /// gRPC and HTTP clients, judging); `None` where it cannot be measured.
    pub cpu: Option<Duration>,
}

/// Runs the selection on every live profile of the plan, up to `plan.jobs` engines at a time,
/// each on a thread of its own with its own sandbox (state directory, registry port, cgroups).
/// The engines are returned in the plan's order whatever order they finished in, so a report
/// is the same as a serial run's.
pub fn run_engines(scenarios: &[Scenario], plan: &Plan, options: &LiveOptions) -> Vec<EngineRun> {
    let bars = plan.progress.then(|| {
        indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr())
    });
    let jobs = plan.jobs.get().min(plan.profiles.len()).max(1);
    let order = start_order(&plan.profiles, jobs);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: Vec<std::sync::Mutex<Option<EngineRun>>> =
        plan.profiles.iter().map(|_| Default::default()).collect();
    std::thread::scope(|scope| {
        for worker in 0..jobs {
            let (next, done, bars, order) = (&next, &done, &bars, &order);
            std::thread::Builder::new()
                .name(format!("rmispec-engine-{worker}"))
                .spawn_scoped(scope, move || loop {
                    // Each worker takes the next engine of `order`, one at a time.
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(&i) = order.get(n) else {
                        break;
                    };
                    let profile = plan.profiles[i];
                    let bar = progress_bar(bars.as_ref(), profile, scenarios.len());
                    let run = run_engine(scenarios, profile, plan, options, &bar);
                    *done[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(run);
                })
                .expect("spawning an engine thread");
        }
    });
    done.into_iter()
        .zip(&plan.profiles)
        .map(|(slot, &profile)| {
            slot.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or_else(|| EngineRun {
                    profile,
                    results: scenarios
                        .iter()
                        .map(|s| unstarted(s, profile, "the engine's thread stopped"))
                        .collect(),
                    wall: Duration::ZERO,
                    start: Duration::ZERO,
                    cpu: None,
                })
        })
        .collect()
}

/// The order engines start in, as indices into `profiles`: the plan's order when they run
/// one at a time, else the slowest engines first, so that the last engine to finish is a
/// short one rather than one that runs alone for a minute while the other cores idle (the
/// longest-first rule for spreading jobs over workers).
pub fn start_order(profiles: &[Profile], jobs: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..profiles.len()).collect();
    if jobs > 1 {
        order.sort_by_key(|&i| std::cmp::Reverse(relative_cost(profiles[i])));
    }
    order
}

/// How long an engine takes over the catalogue, roughly, relative to the others: measured on
/// our machines (Podman's service and its storage about 17 s a version; Docker's classic
/// store 9 s, CRI 9 s, Docker's containerd store 6 s). Only the order matters: a wrong
/// guess costs time, never a result.
fn relative_cost(profile: Profile) -> u32 {
    use rmispec_model::Engine;
    match profile.engine() {
        Engine::PodmanLibimage | Engine::LibpodLegacy => 17,
        Engine::DockerClassic | Engine::CriContainerd => 9,
        Engine::DockerContainerd => 6,
    }
}

/// Every scenario on one live engine: one daemon for all of them, started first and stopped
/// (by dropping the backend) before the thread takes the next engine.
fn run_engine(
    scenarios: &[Scenario],
    profile: Profile,
    plan: &Plan,
    options: &LiveOptions,
    bar: &indicatif::ProgressBar,
) -> EngineRun {
    let t0 = Instant::now();
    let cpu0 = crate::cpu::thread_time();
    let mut run = EngineRun {
        profile,
        results: Vec::with_capacity(scenarios.len()),
        wall: Duration::ZERO,
        start: Duration::ZERO,
        cpu: None,
    };
    if let Some(signal) = live::interrupted() {
        let message = format!("interrupted (signal {signal}) before this engine started");
        run.results = scenarios
            .iter()
            .map(|s| unstarted(s, profile, &message))
            .collect();
        bar.abandon_with_message("interrupted");
        return run;
    }
    bar.set_message("starting the engine");
    let started = catching(|| live::connect(profile, options));
    run.start = t0.elapsed();
    let mut backend = match started {
        Ok(b) => b,
        Err(e) => {
            let message = format!("starting the live {profile} engine: {e:#}");
            bar.abandon_with_message(format!("could not start: {e:#}"));
            run.results = scenarios
                .iter()
                .map(|s| unstarted(s, profile, &message))
                .collect();
            run.wall = t0.elapsed();
            return run;
        }
    };
    let label = backend.label();
    for s in scenarios {
        // After Ctrl-C the daemons are stopped already: what is left is reported as not
        // run, and the caller prints the report of what finished.
        if let Some(signal) = live::interrupted() {
            run.results.push(unstarted(
                s,
                profile,
                &format!("interrupted (signal {signal}) before this scenario ran"),
            ));
            continue;
        }
        bar.set_message(s.name.clone());
        let result = if skip_reason(s, profile).is_some() {
            live_result(
                s,
                profile,
                backend.label(),
                Err(anyhow::anyhow!("skipped")),
                None,
            )
        } else {
            let start = Instant::now();
            let live = observe(backend.as_mut(), s);
            let mut r = live_result(s, profile, backend.label(), live, Some(&plan.snapshots));
            r.duration = start.elapsed();
            r
        };
        run.results.push(result);
        bar.inc(1);
    }
    // Dropping the backend stops the daemon: part of this engine's time.
    drop(backend);
    run.wall = t0.elapsed();
    run.cpu = crate::cpu::thread_time()
        .zip(cpu0)
        .map(|(end, start)| end.saturating_sub(start));
    bar.finish_with_message(format!("done ({label})"));
    run
}

/// The result of a scenario on an engine that did not start: an error with the reason
/// (skips stay skips: the engine was never going to run them).
fn unstarted(scenario: &Scenario, profile: Profile, message: &str) -> RunResult {
    let expectation = scenario.expect.for_profile(profile);
    RunResult {
        profile,
        backend: format!("live {profile}"),
        verdict: match scenario.skip_for(profile) {
            Some(reason) => Verdict::Skip { reason },
            None => Verdict::Error {
                message: message.to_owned(),
            },
        },
        outcome: None,
        source: expectation.source.as_ref().map(|s| s.as_str().to_owned()),
        expected: None,
        duration: Duration::ZERO,
    }
}

/// A bar for one live engine: scenario, count, elapsed, ETA, one line of `bars` (the CLI
/// shows them on a terminal only, so logs and pipes stay clean); hidden without `bars`.
fn progress_bar(
    bars: Option<&indicatif::MultiProgress>,
    profile: Profile,
    len: usize,
) -> indicatif::ProgressBar {
    let Some(bars) = bars else {
        return indicatif::ProgressBar::hidden();
    };
    let bar = bars.add(indicatif::ProgressBar::new(len as u64));
    let style = indicatif::ProgressStyle::with_template(
        "{prefix:<23} {bar:20} {pos}/{len} {elapsed} (ETA {eta}) {wide_msg}",
    )
    .expect("a valid template")
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(profile.id());
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// The profiles that have a live engine on our machines: every profile but the model-only
/// ones (`libpod-legacy@1.9`: Podman 1.9 no longer runs on any Debian we can unpack, so its
/// differences live in the model only). What `--engine all` and `RMISPEC_LIVE=all` mean on
/// live runs, in the CLI and in the tests alike.
pub fn live_profiles() -> Vec<Profile> {
    Profile::live().collect()
}

/// Which scenarios a run takes: globs over scenario names (`--filter`, any of them; none:
/// all), globs to leave out (`--skip`), and a share of what is left (`--partition`).
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Scenario-name globs to keep (`untag/*`, `*digest*`); a glob without `*`, `?` or `[`
    /// matches as a substring, as `cargo test` filters do.
    pub filters: Vec<String>,
    /// Scenario-name globs to leave out, spelled as `filters`.
    pub skips: Vec<String>,
    /// This machine's share of the scenarios.
    pub partition: Option<Partition>,
}

/// `--partition count:k/n` or `hash:k/n` (as nextest spells it; `k/n` alone is `count`):
/// share `k` of `n`. `count` deals the selected scenarios out in turn (even shares);
/// `hash` puts each scenario by the hash of its name (a scenario keeps its share when
/// others are added).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Deal by count, or by hash.
    pub by_hash: bool,
    /// Which share, from 1.
    pub k: u64,
    /// How many shares.
    pub n: u64,
}

impl std::str::FromStr for Partition {
    type Err = String;
    fn from_str(s: &str) -> Result<Partition, String> {
        let (by_hash, rest) = match s.split_once(':') {
            Some(("hash", r)) => (true, r),
            Some(("count", r)) => (false, r),
            Some((other, _)) => {
                return Err(format!(
                    "unknown partition kind {other:?}: expected `count:k/n` or `hash:k/n`"
                ))
            }
            None => (false, s),
        };
        let bad = || format!("invalid partition {s:?}: expected `k/n` with 1 <= k <= n");
        let (k, n) = rest.split_once('/').ok_or_else(bad)?;
        let (k, n): (u64, u64) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        Ok(Partition { by_hash, k, n })
    }
}

impl Partition {
    /// Whether the `index`-th selected scenario, named `name`, is in this share.
    fn takes(&self, index: usize, name: &str) -> bool {
        let slot = if self.by_hash {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(name.as_bytes());
            let mut first = [0u8; 8];
            first.copy_from_slice(&digest[..8]);
            u64::from_be_bytes(first) % self.n
        } else {
            index as u64 % self.n
        };
        slot == self.k - 1
    }
}

/// What a selection did not find.
#[derive(Debug, thiserror::Error)]
pub enum SelectionError {
    /// A glob that does not parse.
    #[error("invalid pattern {pattern:?}: {reason}")]
    Pattern {
        /// As given.
        pattern: String,
        /// globset's reason.
        reason: String,
    },
    /// A `--filter` that matches no scenario: a typo would otherwise pass as an empty run.
    #[error("--filter {0:?} matches no scenario (names look like `untag/one-of-two-tags`; `--list` shows them)")]
    NoMatch(String),
}

fn glob(pattern: &str) -> Result<globset::GlobMatcher, SelectionError> {
    let literal = !pattern.contains(['*', '?', '[', '{']);
    let text = if literal {
        format!("*{pattern}*")
    } else {
        pattern.to_owned()
    };
    globset::GlobBuilder::new(&text)
        .literal_separator(false)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| SelectionError::Pattern {
            pattern: pattern.to_owned(),
            reason: e.kind().to_string(),
        })
}

/// The scenarios `selection` takes, in their order. Every filter must match some scenario.
pub fn select(
    scenarios: Vec<Scenario>,
    selection: &Selection,
) -> Result<Vec<Scenario>, SelectionError> {
    let filters = selection
        .filters
        .iter()
        .map(|f| glob(f).map(|g| (f, g)))
        .collect::<Result<Vec<_>, _>>()?;
    let skips = selection
        .skips
        .iter()
        .map(|f| glob(f))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some((f, _)) = filters
        .iter()
        .find(|(_, g)| !scenarios.iter().any(|s| g.is_match(&s.name)))
    {
        return Err(SelectionError::NoMatch((*f).clone()));
    }
    Ok(scenarios
        .into_iter()
        .filter(|s| filters.is_empty() || filters.iter().any(|(_, g)| g.is_match(&s.name)))
        .filter(|s| !skips.iter().any(|g| g.is_match(&s.name)))
        .enumerate()
        .filter(|(i, s)| selection.partition.is_none_or(|p| p.takes(*i, &s.name)))
        .map(|(_, s)| s)
        .collect())
}

/// Why `profile` skips `scenario`, if its expectation says so.
pub fn skip_reason(scenario: &Scenario, profile: Profile) -> Option<String> {
    scenario.skip_for(profile)
}

/// The model's result: its outcome against the expectation and, when `snapshots` is given
/// and holds one, against the live engine's snapshot.
pub fn model_result(scenario: &Scenario, profile: Profile, snapshots: Option<&Path>) -> RunResult {
    let expectation = scenario.expect.for_profile(profile);
    let mut result = RunResult {
        profile,
        backend: "model".to_owned(),
        verdict: Verdict::Pass,
        outcome: None,
        source: expectation.source.as_ref().map(|s| s.as_str().to_owned()),
        expected: None,
        duration: Duration::ZERO,
    };
    if let Some(reason) = scenario.skip_for(profile) {
        result.verdict = Verdict::Skip { reason };
        return result;
    }
    let start = Instant::now();
    let judged = (|| -> anyhow::Result<(Normalized, Verdict)> {
        if scenario.parallel.is_some() {
            // Requests sent at once have no snapshot: a live engine's outcome varies from run
            // to run. The model's set of outcomes is checked against the expectation's.
            let races = catching(|| ModelBackend::new(profile).run_parallel(scenario))?;
            let model = crate::normalize::normalize_races(&races);
            let symbols = &races.runs.first().context("no outcome at all")?.symbols;
            let expected = compare::expected_races(&expectation, symbols)
                .with_context(|| format!("the expectation for {profile}"))?;
            let also = scenario
                .divergence_for(profile)
                .map(|d| compare::race_set(&d.also, symbols))
                .transpose()
                .with_context(|| format!("the known divergence for {profile}"))?;
            let verdict = compare::judge_model_races(&expected, &model, also.as_ref());
            result.expected = Some(expected);
            return Ok((model, verdict));
        }
        let observation = catching(|| ModelBackend::new(profile).run(scenario))?;
        let model = crate::normalize::normalize(&observation);
        let steps: Vec<_> = scenario
            .steps()
            .map(|(_, e)| e.for_profile(profile))
            .collect();
        let expected = compare::expected_steps(&steps, &observation.symbols)
            .with_context(|| format!("the expectation for {profile}"))?;
        let recorded = match snapshots {
            Some(root) => snapshot::load(root, profile, &scenario.name)?,
            None => None,
        };
        let divergence = scenario.divergence_for(profile).map(|d| d.reason.as_str());
        let verdict = compare::judge_model(&expected, &model, recorded.as_ref(), divergence);
        result.expected = Some(expected);
        Ok((model, verdict))
    })();
    result.duration = start.elapsed();
    match judged {
        Ok((model, verdict)) => {
            result.outcome = Some(model);
            result.verdict = verdict;
        }
        Err(e) => {
            result.verdict = Verdict::Error {
                message: format!("{e:#}"),
            }
        }
    }
    result
}

/// The model's outcome alone (for comparing a live engine with it).
pub fn model_outcome(scenario: &Scenario, profile: Profile) -> anyhow::Result<Normalized> {
    observe(&mut ModelBackend::new(profile), scenario).context("the model")
}

/// What `backend` does with `scenario`, normalized; a panicking backend is an error, not
/// the end of the run.
pub fn observe(backend: &mut dyn Backend, scenario: &Scenario) -> anyhow::Result<Normalized> {
    if scenario.parallel.is_some() {
        let races = catching(|| backend.run_parallel(scenario))?;
        return Ok(crate::normalize::normalize_races(&races));
    }
    let observation = catching(|| backend.run(scenario))?;
    Ok(crate::normalize::normalize(&observation))
}

/// A live engine's result from what it did (`live`): compared with the model (or the
/// scenario's known divergence) and, when `snapshots` is given and holds one, its snapshot.
pub fn live_result(
    scenario: &Scenario,
    profile: Profile,
    backend: String,
    live: anyhow::Result<Normalized>,
    snapshots: Option<&Path>,
) -> RunResult {
    let expectation = scenario.expect.for_profile(profile);
    let mut result = RunResult {
        profile,
        backend,
        verdict: Verdict::Pass,
        outcome: None,
        source: expectation.source.as_ref().map(|s| s.as_str().to_owned()),
        expected: None,
        duration: Duration::ZERO,
    };
    if let Some(reason) = scenario.skip_for(profile) {
        result.verdict = Verdict::Skip { reason };
        return result;
    }
    if let Some(u) = live.as_ref().err().and_then(Unsupported::find) {
        result.verdict = Verdict::Skip {
            reason: u.reason.clone(),
        };
        return result;
    }
    let judged = (|| -> anyhow::Result<(Normalized, Verdict)> {
        let live = live?;
        if scenario.parallel.is_some() {
            let races = catching(|| ModelBackend::new(profile).run_parallel(scenario))
                .context("the model")?;
            let model = crate::normalize::normalize_races(&races);
            let symbols = &races.runs.first().context("no outcome at all")?.symbols;
            let divergence = scenario
                .divergence_for(profile)
                .map(|d| {
                    Ok::<_, anyhow::Error>((
                        d.reason.as_str(),
                        compare::race_set(&d.also, symbols)?,
                    ))
                })
                .transpose()
                .with_context(|| format!("the known divergence for {profile}"))?;
            result.expected = Some(model.clone());
            let verdict =
                compare::judge_races(&live, &model, divergence.as_ref().map(|(r, a)| (*r, a)));
            return Ok((live, verdict));
        }
        let model = model_outcome(scenario, profile)?;
        result.expected = Some(model.clone());
        let recorded = match snapshots {
            Some(root) if scenario.parallel.is_none() => {
                snapshot::load(root, profile, &scenario.name)?
            }
            _ => None,
        };
        let divergence = scenario.divergence_for(profile).map(|d| d.reason.as_str());
        Ok((
            live.clone(),
            compare::judge_live(&live, &model, recorded.as_ref(), divergence),
        ))
    })();
    match judged {
        Ok((live, verdict)) => {
            result.outcome = Some(live);
            result.verdict = verdict;
        }
        Err(e) => {
            result.verdict = Verdict::Error {
                message: format!("{e:#}"),
            }
        }
    }
    result
}

thread_local! {
    /// Whether this thread is inside [`catching`] (the quiet hook stays quiet only then).
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    /// Where the last caught panic happened, as the hook saw it.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs a panic hook that keeps panics caught by [`catching`] off the terminal (their
/// message and location become the result's error instead) and leaves every other panic to
/// the previous hook. For the CLI: one unimplemented model engine should read as `ERR` cells,
/// not as pages of backtraces.
pub fn quiet_panics() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if CATCHING.with(Cell::get) {
            let location = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(location));
        } else {
            previous(info);
        }
    }));
}

/// Runs `f`, turning a panic into an error with the panic's message (and, with
/// [`quiet_panics`], its location).
pub fn catching<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let was = CATCHING.with(|c| c.replace(true));
    let outcome = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(was));
    outcome.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        let location = LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_default();
        Err(anyhow::anyhow!("panicked: {message}{location}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_parse_as_nextest_spells_them() {
        let p: Partition = "2/3".parse().expect("count");
        assert_eq!(
            p,
            Partition {
                by_hash: false,
                k: 2,
                n: 3
            }
        );
        assert!("hash:1/2".parse::<Partition>().expect("hash").by_hash);
        assert!("count:1/2".parse::<Partition>().is_ok());
        for bad in ["0/2", "3/2", "1/0", "x/2", "1", "slice:1/2"] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shares_cover_every_index_once() {
        for by_hash in [false, true] {
            let names: Vec<String> = (0..40).map(|i| format!("s/{i}")).collect();
            let mut seen = vec![0; names.len()];
            for k in 1..=3 {
                let p = Partition { by_hash, k, n: 3 };
                for (i, n) in names.iter().enumerate() {
                    if p.takes(i, n) {
                        seen[i] += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "{by_hash}: {seen:?}");
        }
    }

    #[test]
    fn engines_start_slowest_first_only_when_several_run_at_once() {
        let profiles = [Profile::ALL[0], Profile::Cri16, Profile::Podman58];
        assert_eq!(start_order(&profiles, 1), [0, 1, 2]);
        let order = start_order(&profiles, 2);
        assert_eq!(order[0], 2, "Podman first");
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2], "every engine once");
    }

    #[test]
    fn catching_turns_panics_into_errors() {
        quiet_panics();
        let e = catching::<()>(|| panic!("not yet implemented")).expect_err("a panic is an error");
        assert!(
            e.to_string().starts_with("panicked: not yet implemented"),
            "{e}"
        );
        assert!(
            e.to_string().contains("runner.rs"),
            "the location is kept: {e}"
        );
        let n = 7;
        let e = catching::<()>(|| panic!("formatted {n}")).expect_err("a panic is an error");
        assert!(e.to_string().starts_with("panicked: formatted 7"), "{e}");
        assert_eq!(catching(|| Ok(3)).expect("no panic"), 3);
        assert!(
            catching::<()>(|| anyhow::bail!("plain"))
                .expect_err("error")
                .to_string()
                == "plain"
        );
    }
}
