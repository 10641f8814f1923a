//! The scenarios as tests: one trial per (profile, scenario), named
//! `[model] <profile-id> :: <scenario-name>` (`[model] docker-classic :: untag/one-of-two-tags`),
//! so `cargo test` filters, `--list`, `--exact` and nextest select slices of the matrix: the
//! ` :: ` keeps a scenario filter (`libimage/`) from matching a profile id
//! (`podman-libimage`), and `docker-classic ::` selects one profile.
//!
//! - Model trials always run, for every profile: the model against the scenario's
//!   expectation, and against the live engine's committed snapshot when there is one.
//! - Live trials (`[live] docker-classic :: untag/one-of-two-tags`) run when `RMISPEC_LIVE`
//!   names profiles (`docker-classic,cri-containerd@1.6`, or `all`: every profile with a live
//!   engine, as `rmispec run --live --engine all`): the live engine against the model (or the
//!   scenario's known divergence) and against its snapshot, through insta, so
//!   `cargo insta review` accepts new snapshots and `INSTA_UPDATE=no` / CI fail on a
//!   mismatch. An engine that was asked for and cannot start fails its trials.
//! - Live engines run side by side, `RMISPEC_JOBS` at a time (default: the number of cores),
//!   each in its own sandbox, ahead of the trials, which wait for their engine's answer.
//! - Under nextest (`NEXTEST` set), which runs every trial in a process of its own, live
//!   trials would each start their own daemons (and collide on a shared state dir): they are
//!   replaced by one trial that fails and says to use `cargo test`.
//!
//! A skipped expectation (`skip:`) reports the trial as ignored, with the reason. Listings
//! (`--list`, which nextest reads) mark those trials ignored, so nextest and its JUnit count
//! them as skipped rather than passed.

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use rmispec::compare::Verdict;
use rmispec::live::{self, LiveOptions};
use rmispec::observation::Normalized;
use rmispec::runner::{self, RunResult};
use rmispec::scenario::Scenario;
use rmispec::snapshot;
use rmispec_model::Profile;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let scenarios = match runner::load(&root.join("scenarios")) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let live_profiles = match live_profiles(std::env::var("RMISPEC_LIVE").ok().as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: RMISPEC_LIVE: {e}");
            return ExitCode::from(2);
        }
    };
    let snapshots = Arc::new(root.join("snapshots"));

    // Statically ignored when listed (nextest lists, then runs one trial per process: a trial
    // that ignores itself at run time would count as passed there); ignored at run time, with
    // the reason printed, under `cargo test`.
    let list_skips = args.list || under_nextest();
    let mut trials = Vec::new();
    for profile in Profile::ALL {
        for index in 0..scenarios.len() {
            let (scenarios, snapshots) = (Arc::clone(&scenarios), Arc::clone(&snapshots));
            let skipped = runner::skip_reason(&scenarios[index], profile).is_some();
            let name = trial_name(profile, &scenarios[index].name);
            trials.push(
                Trial::ignorable_test(name, move || {
                    conclude(
                        runner::model_result(&scenarios[index], profile, Some(&snapshots)),
                        None,
                    )
                })
                .with_kind("model")
                .with_ignored_flag(skipped && list_skips),
            );
        }
    }

    if under_nextest() && !live_profiles.is_empty() {
        trials.push(
            Trial::test("needs cargo test", || {
                Err(
                    "RMISPEC_LIVE is set, but nextest runs each trial in a process of its own, \
                     and live trials share one engine per profile across a whole run: run them \
                     with `cargo test -p rmispec --features ... --test scenarios -- '[live]'`"
                        .into(),
                )
            })
            .with_kind("live"),
        );
        let conclusion = libtest_mimic::run(&args, trials);
        return conclusion.exit_code();
    }

    // One worker per live engine: it owns the engine (one daemon for all its scenarios) and
    // runs, one at a time and ahead of the trials, every scenario of that engine the trials
    // will ask for; `RMISPEC_JOBS` engines (default: the cores) run side by side, in the
    // runner's start order, whatever `--test-threads` says. A trial waits for its engine's answer.
    let jobs = match jobs(std::env::var("RMISPEC_JOBS").ok().as_deref()) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("error: RMISPEC_JOBS: {e}");
            return ExitCode::from(2);
        }
    };
    let permits = Arc::new(Permits::new(jobs));
    let mut engines: Vec<(Arc<Engine>, Vec<usize>)> = Vec::new();
    for &profile in &live_profiles {
        let mut wanted = Vec::new();
        let mut engine_trials = Vec::new();
        let engine = Arc::new(Engine::new(profile));
        for index in 0..scenarios.len() {
            let (engine, scenarios) = (Arc::clone(&engine), Arc::clone(&scenarios));
            let skipped = runner::skip_reason(&scenarios[index], profile).is_some();
            let name = trial_name(profile, &scenarios[index].name);
            let trial = Trial::ignorable_test(name, move || live_trial(&engine, &scenarios[index]))
                .with_kind("live")
                .with_ignored_flag(skipped && list_skips);
            if !args.list && !args.ignored && !skipped && !args.is_filtered_out(&trial) {
                wanted.push(index);
            }
            engine_trials.push(trial);
        }
        trials.extend(engine_trials);
        engines.push((engine, wanted));
    }
    // Tickets in the runner's start order (slowest engines first when several run at once).
    for i in runner::start_order(&live_profiles, jobs) {
        let (engine, wanted) = &mut engines[i];
        if wanted.is_empty() {
            // Nothing to run: a trial that asks anyway is told so rather than left waiting.
            drop(Finish(engine));
        } else {
            let wanted = std::mem::take(wanted);
            engine.start(Arc::clone(&scenarios), wanted, Arc::clone(&permits));
        }
    }
    let engines: Vec<Arc<Engine>> = engines.into_iter().map(|(e, _)| e).collect();

    let conclusion = libtest_mimic::run(&args, trials);
    // Wait for the workers: each stops its daemons before it ends (exit skips destructors).
    for engine in &engines {
        engine.join();
    }
    conclusion.exit_code()
}

/// A trial's name (its kind, `model` or `live`, is printed before it).
fn trial_name(profile: Profile, scenario: &str) -> String {
    format!("{} :: {scenario}", profile.id())
}

/// Whether nextest runs us (it sets `NEXTEST` for the trials it runs, and newer versions
/// set `NEXTEST_RUN_ID` when listing too).
fn under_nextest() -> bool {
    std::env::var_os("NEXTEST").is_some() || std::env::var_os("NEXTEST_RUN_ID").is_some()
}

/// The profiles `RMISPEC_LIVE` names: comma-separated ids, or `all` (every profile that runs
/// live on our machines, as `rmispec run --live --engine all`).
fn live_profiles(var: Option<&str>) -> Result<Vec<Profile>, String> {
    let Some(var) = var.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(Vec::new());
    };
    if var == "all" {
        return Ok(runner::live_profiles());
    }
    let mut profiles = Vec::new();
    for id in var.split(',').map(str::trim).filter(|id| !id.is_empty()) {
        let p = Profile::from_id(id).ok_or_else(|| {
            let ids: Vec<_> = Profile::ALL.iter().map(|p| p.id()).collect();
            format!(
                "unknown profile {id:?}; expected `all` or ids from: {}",
                ids.join(", ")
            )
        })?;
        if !profiles.contains(&p) {
            profiles.push(p);
        }
    }
    Ok(profiles)
}

/// A trial's outcome from a result: pass and known divergence pass, skip is ignored (with the
/// reason), fail and error fail with their explanation. `extra` adds problems found outside
/// the verdict (a snapshot mismatch).
fn conclude(result: RunResult, extra: Option<String>) -> Result<Completion, Failed> {
    let mut message = String::new();
    if result.verdict.is_failure() {
        message.push_str(&format!(
            "{} ({}):\n{}",
            result.verdict.id(),
            result.backend,
            result.verdict.detail()
        ));
    }
    if let Some(extra) = extra {
        message.push_str(&extra);
    }
    if !message.is_empty() {
        return Err(message.into());
    }
    match result.verdict {
        Verdict::Skip { reason } => Ok(Completion::ignored_with(reason)),
        _ => Ok(Completion::Completed),
    }
}

/// A live trial: the engine's outcome against the model, then against its snapshot. When
/// the snapshot recorded what the model says, a change shows in insta's diff and in the
/// model's alike: it is printed once (insta's).
fn live_trial(engine: &Engine, scenario: &Scenario) -> Result<Completion, Failed> {
    let profile = engine.profile;
    if let Some(reason) = runner::skip_reason(scenario, profile) {
        return Ok(Completion::ignored_with(reason));
    }
    let (label, live) = engine.observe(&scenario.name);
    // Requests sent at once have no snapshot: which allowed outcome a run shows varies.
    let snapshot_problem = live
        .as_ref()
        .ok()
        .filter(|_| scenario.parallel.is_none())
        .and_then(|outcome| assert_snapshot(profile, scenario, outcome).err());
    let result = runner::live_result(scenario, profile, label, live, None);
    if let Some(problem) = &snapshot_problem {
        let recorded = snapshot::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../snapshots"),
            profile,
            &scenario.name,
        )
        .ok()
        .flatten();
        let same_change =
            recorded.is_some() && recorded == runner::model_outcome(scenario, profile).ok();
        if same_change && matches!(result.verdict, Verdict::Fail(_)) {
            return Err(format!(
                "fail ({}): differs from the model and from its snapshot alike: {problem}",
                result.backend
            )
            .into());
        }
    }
    conclude(result, snapshot_problem)
}

/// Checks `outcome` against `snapshots/<profile>/<name>.snap` with insta, so new and changed
/// snapshots go through `cargo insta review`.
fn assert_snapshot(
    profile: Profile,
    scenario: &Scenario,
    outcome: &Normalized,
) -> Result<(), String> {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(format!("../../snapshots/{}", profile.id()));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(scenario.summary.clone());
    settings.set_omit_expression(true);
    let name = snapshot::name(&scenario.name);
    let shown = format!("snapshots/{}/{name}.snap", profile.id());
    let recorded = snapshot::path(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../snapshots"),
        profile,
        &scenario.name,
    );
    let assert = || settings.bind(|| insta::assert_yaml_snapshot!(name.as_str(), outcome));
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(assert)).map_err(|_| {
        if recorded.exists() {
            format!("the live engine no longer does what {shown} recorded (insta's diff above; `cargo insta review` accepts it)\n")
        } else {
            format!("no snapshot recorded at {shown} yet: `cargo insta review` accepts the new one (insta writes it unless INSTA_UPDATE=no)\n")
        }
    })
}

/// `RMISPEC_JOBS`: how many live engines run at once (unset or empty: the number of cores).
fn jobs(var: Option<&str>) -> Result<usize, String> {
    match var.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(runner::default_jobs().get()),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{v:?} is not a number of engines (1 or more)")),
        },
    }
}

/// At most `jobs` engines at once, let in in the order they asked (profile order).
struct Permits {
    jobs: usize,
    /// (engines running, the next ticket to let in, the next ticket to hand out)
    state: Mutex<(usize, usize, usize)>,
    changed: Condvar,
}

impl Permits {
    fn new(jobs: usize) -> Permits {
        Permits {
            jobs,
            state: Mutex::new((0, 0, 0)),
            changed: Condvar::new(),
        }
    }

    /// A place in the queue.
    fn ticket(&self) -> usize {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.2 += 1;
        s.2 - 1
    }

    /// Waits until `ticket`'s turn and a free slot.
    fn acquire(&self, ticket: usize) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while !(s.1 == ticket && s.0 < self.jobs) {
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.0 += 1;
        s.1 += 1;
        self.changed.notify_all();
    }

    fn release(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.0 -= 1;
        self.changed.notify_all();
    }
}

/// What an engine's worker did with one scenario: the backend's label and the outcome.
type Answer = (String, anyhow::Result<Normalized>);

/// One live engine, run by its worker thread ahead of the trials.
struct Engine {
    profile: Profile,
    answers: Mutex<Answers>,
    ready: Condvar,
    worker: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct Answers {
    /// By scenario name, until its trial takes it.
    by_name: HashMap<String, Answer>,
    /// The worker has stopped: what is not here now never will be.
    finished: bool,
}

impl Engine {
    fn new(profile: Profile) -> Engine {
        Engine {
            profile,
            answers: Mutex::default(),
            ready: Condvar::new(),
            worker: Mutex::new(None),
        }
    }

    /// Starts the worker: when `permits` lets it in, it starts the engine, runs the
    /// scenarios at `wanted` in order, and stops the engine.
    fn start(
        self: &Arc<Self>,
        scenarios: Arc<Vec<Scenario>>,
        wanted: Vec<usize>,
        permits: Arc<Permits>,
    ) {
        let ticket = permits.ticket();
        let engine = Arc::clone(self);
        let profile = self.profile;
        let worker = std::thread::Builder::new()
            .name(format!("live {profile}"))
            .spawn(move || {
                // Whatever happens, trials waiting on this engine are let go at the end.
                let _finish = Finish(&engine);
                permits.acquire(ticket);
                let _slot = Release(&permits);
                let mut backend = runner::catching(|| live::connect(profile, &live_options()))
                    .map_err(|e| format!("starting the live {profile} engine: {e:#}"));
                for index in wanted {
                    let scenario = &scenarios[index];
                    let answer = match &mut backend {
                        Err(e) => (format!("live {profile}"), Err(anyhow::anyhow!("{e}"))),
                        Ok(b) => (b.label(), runner::observe(b.as_mut(), scenario)),
                    };
                    engine.answer(&scenario.name, answer);
                }
                // Dropping the backend stops its daemon before the slot is released.
                drop(backend);
            })
            .expect("spawning a worker thread");
        *self.worker.lock().unwrap_or_else(|p| p.into_inner()) = Some(worker);
    }

    fn answer(&self, scenario: &str, answer: Answer) {
        let mut answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        answers.by_name.insert(scenario.to_owned(), answer);
        self.ready.notify_all();
    }

    /// What the engine did with `scenario`, waiting for the worker to get to it.
    fn observe(&self, scenario: &str) -> Answer {
        let mut answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(answer) = answers.by_name.remove(scenario) {
                return answer;
            }
            if answers.finished {
                return (
                    format!("live {}", self.profile),
                    Err(anyhow::anyhow!(
                        "the live engine's worker stopped without running {scenario}"
                    )),
                );
            }
            answers = self.ready.wait(answers).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Waits for the worker (which stops the engine).
    fn join(&self) {
        let worker = self.worker.lock().ok().and_then(|mut w| w.take());
        if let Some(worker) = worker {
            let _ = worker.join();
        }
    }
}

/// Marks an engine's worker finished when dropped (also on a panic).
struct Finish<'a>(&'a Engine);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        let mut answers = self.0.answers.lock().unwrap_or_else(|p| p.into_inner());
        answers.finished = true;
        self.0.ready.notify_all();
    }
}

/// Gives an engine's slot back when dropped (also on a panic).
struct Release<'a>(&'a Permits);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Live options for tests: sandboxed daemons only (no `--socket` here), their state under
/// `RMISPEC_STATE_DIR` if set.
fn live_options() -> LiveOptions {
    LiveOptions {
        socket: None,
        allow_default_socket: false,
        state_dir: std::env::var_os("RMISPEC_STATE_DIR").map(PathBuf::from),
        ..LiveOptions::default()
    }
}
