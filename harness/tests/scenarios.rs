//! The scenarios as tests: one trial per (profile, scenario), named
//! `<profile-id>/<scenario-name>` (`docker-classic/untag/one-of-two-tags`), so `cargo test`
//! filters, `--list`, `--exact` and nextest select slices of the matrix.
//!
//! - Model trials always run, for every profile: the model against the scenario's
//!   expectation, and against the live engine's committed snapshot when there is one.
//! - Live trials (kind `live`: `[live] docker-classic/untag/one-of-two-tags`) run when
//!   `RMISPEC_LIVE` names profiles (`docker-classic,cri-containerd@1.6`, or `all`): the live
//!   engine against the model (or the scenario's known divergence) and against its snapshot,
//!   through insta, so `cargo insta review` accepts new snapshots and `INSTA_UPDATE=no` / CI
//!   fail on a mismatch. An engine that was asked for and cannot start fails its trials.
//!
//! A skipped expectation (`skip:`) reports the trial as ignored, with the reason.

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use rmispec::compare::Verdict;
use rmispec::live::{self, LiveOptions};
use rmispec::observation::Normalized;
use rmispec::runner::{self, RunResult};
use rmispec::scenario::Scenario;
use rmispec::snapshot;
use rmispec_model::Profile;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
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

    let mut trials = Vec::new();
    for profile in Profile::ALL {
        for index in 0..scenarios.len() {
            let (scenarios, snapshots) = (Arc::clone(&scenarios), Arc::clone(&snapshots));
            let name = format!("{}/{}", profile.id(), scenarios[index].name);
            trials.push(Trial::ignorable_test(name, move || {
                conclude(
                    runner::model_result(&scenarios[index], profile, Some(&snapshots)),
                    None,
                )
            }));
        }
    }

    // One worker per live engine: it owns the engine (one daemon for all its scenarios,
    // started on the first trial that needs it) and runs that engine's trials one at a time,
    // whatever `--test-threads` says; engines run side by side.
    let engines: Vec<Arc<Engine>> = live_profiles
        .iter()
        .map(|&p| Arc::new(Engine::spawn(p, Arc::clone(&scenarios))))
        .collect();
    for engine in &engines {
        for index in 0..scenarios.len() {
            let (engine, scenarios) = (Arc::clone(engine), Arc::clone(&scenarios));
            let name = format!("{}/{}", engine.profile.id(), scenarios[index].name);
            trials.push(
                Trial::ignorable_test(name, move || live_trial(&engine, &scenarios[index]))
                    .with_kind("live"),
            );
        }
    }

    let conclusion = libtest_mimic::run(&args, trials);
    // Stop the daemons before the process exits (exit skips destructors).
    for engine in &engines {
        engine.shutdown();
    }
    conclusion.exit_code()
}

/// The profiles `RMISPEC_LIVE` names: comma-separated ids, or `all` (every profile that runs
/// live on our machines: all but `libpod-legacy@1.9`, which is model only).
fn live_profiles(var: Option<&str>) -> Result<Vec<Profile>, String> {
    let Some(var) = var.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(Vec::new());
    };
    if var == "all" {
        return Ok(Profile::ALL
            .into_iter()
            .filter(|p| *p != Profile::Libpod19)
            .collect());
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

/// A live trial: the engine's outcome against the model, then against its snapshot.
fn live_trial(engine: &Engine, scenario: &Scenario) -> Result<Completion, Failed> {
    let profile = engine.profile;
    if let Some(reason) = runner::skip_reason(scenario, profile) {
        return Ok(Completion::ignored_with(reason));
    }
    let (label, live) = engine.observe(&scenario.name);
    let snapshot_problem = live
        .as_ref()
        .ok()
        .and_then(|outcome| assert_snapshot(profile, scenario, outcome).err());
    conclude(
        runner::live_result(scenario, profile, label, live, None),
        snapshot_problem,
    )
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

/// One live engine, owned by its worker thread.
struct Engine {
    profile: Profile,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

/// A scenario to run, by name, and where to send what the engine did.
struct Job {
    scenario: String,
    reply: mpsc::Sender<(String, anyhow::Result<Normalized>)>,
}

impl Engine {
    /// Starts the worker; the engine itself starts on the first job.
    fn spawn(profile: Profile, scenarios: Arc<Vec<Scenario>>) -> Engine {
        let (jobs, queue) = mpsc::channel::<Job>();
        let worker = std::thread::Builder::new()
            .name(format!("live {profile}"))
            .spawn(move || {
                let mut backend: Option<Result<Box<dyn rmispec::backend::Backend>, String>> = None;
                for job in queue {
                    let backend = backend.get_or_insert_with(|| {
                        runner::catching(|| live::connect(profile, &live_options()))
                            .map_err(|e| format!("starting the live {profile} engine: {e:#}"))
                    });
                    let answer = match (backend, scenarios.iter().find(|s| s.name == job.scenario))
                    {
                        (Err(e), _) => (format!("live {profile}"), Err(anyhow::anyhow!("{e}"))),
                        (Ok(_), None) => (
                            format!("live {profile}"),
                            Err(anyhow::anyhow!("no scenario {}", job.scenario)),
                        ),
                        (Ok(b), Some(s)) => (b.label(), runner::observe(b.as_mut(), s)),
                    };
                    let _ = job.reply.send(answer);
                }
                // The queue closed: dropping the backend stops its daemon.
            })
            .expect("spawning a worker thread");
        Engine {
            profile,
            jobs: Mutex::new(Some(jobs)),
            worker: Mutex::new(Some(worker)),
        }
    }

    /// Runs a scenario on the engine, waiting for the trials queued before it.
    fn observe(&self, scenario: &str) -> (String, anyhow::Result<Normalized>) {
        let gone = || {
            (
                format!("live {}", self.profile),
                Err(anyhow::anyhow!("the live engine's worker stopped")),
            )
        };
        let (reply, answer) = mpsc::channel();
        let sent = self.jobs.lock().ok().and_then(|jobs| {
            jobs.as_ref().map(|j| {
                j.send(Job {
                    scenario: scenario.to_owned(),
                    reply,
                })
                .is_ok()
            })
        });
        if sent != Some(true) {
            return gone();
        }
        answer.recv().unwrap_or_else(|_| gone())
    }

    /// Closes the queue and waits for the worker, which stops the engine.
    fn shutdown(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        let worker = self.worker.lock().ok().and_then(|mut w| w.take());
        if let Some(worker) = worker {
            let _ = worker.join();
        }
    }
}

/// Live options for tests: sandboxed daemons only (no `--socket` here), their state under
/// `RMISPEC_STATE_DIR` if set.
fn live_options() -> LiveOptions {
    LiveOptions {
        socket: None,
        allow_default_socket: false,
        state_dir: std::env::var_os("RMISPEC_STATE_DIR").map(PathBuf::from),
        command: None,
    }
}
