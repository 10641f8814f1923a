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
use crate::report::{yaml_section, About};
use crate::scenario::{self, Scenario};
use crate::snapshot;
use anyhow::Context;
use rmispec_model::Profile;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

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
    /// The upstream code the expectation cites, if it does.
    pub source: Option<String>,
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
/// runs; the error is for a run that could not be made at all (a live engine that would not
/// start: one that was asked for and is missing is an error, not a skip).
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
            for &profile in &plan.profiles {
                // One engine at a time, one daemon for all its scenarios; dropping the
                // backend stops the daemon before the next engine starts.
                let mut backend = live::connect(profile, options)
                    .with_context(|| format!("starting the live {profile} engine"))?;
                for (s, run) in scenarios.iter().zip(&mut runs) {
                    let result = if skip_reason(s, profile).is_some() {
                        live_result(
                            s,
                            profile,
                            backend.label(),
                            Err(anyhow::anyhow!("skipped")),
                            None,
                        )
                    } else {
                        let live = observe(backend.as_mut(), s);
                        live_result(s, profile, backend.label(), live, Some(&plan.snapshots))
                    };
                    run.results.push(result);
                }
            }
        }
    }
    Ok(runs)
}

/// Why `profile` skips `scenario`, if its expectation says so.
pub fn skip_reason(scenario: &Scenario, profile: Profile) -> Option<String> {
    scenario.expect.for_profile(profile).skip
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
    };
    if let Some(reason) = expectation.skip.clone() {
        result.verdict = Verdict::Skip { reason };
        return result;
    }
    let judged = (|| -> anyhow::Result<(Normalized, Verdict)> {
        let observation = catching(|| ModelBackend::new(profile).run(scenario))?;
        let model = crate::normalize::normalize(&observation);
        let expected = compare::expected(&expectation, &observation.symbols)
            .with_context(|| format!("the expectation for {profile}"))?;
        let recorded = match snapshots {
            Some(root) => snapshot::load(root, profile, &scenario.name)?,
            None => None,
        };
        let divergence = scenario.divergence_for(profile).map(|d| d.reason.as_str());
        let verdict = compare::judge_model(&expected, &model, recorded.as_ref(), divergence);
        Ok((model, verdict))
    })();
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
    let observation = catching(|| ModelBackend::new(profile).run(scenario)).context("the model")?;
    Ok(crate::normalize::normalize(&observation))
}

/// What `backend` does with `scenario`, normalized; a panicking backend is an error, not
/// the end of the run.
pub fn observe(backend: &mut dyn Backend, scenario: &Scenario) -> anyhow::Result<Normalized> {
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
    };
    if let Some(reason) = expectation.skip {
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
        let model = model_outcome(scenario, profile)?;
        let recorded = match snapshots {
            Some(root) => snapshot::load(root, profile, &scenario.name)?,
            None => None,
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

/// What reports show of a scenario besides its results: notes, and `given` / `when` as
/// written in its file.
pub fn about(scenario: &Scenario) -> About {
    let text = std::fs::read_to_string(&scenario.path).unwrap_or_default();
    About {
        notes: scenario.notes.clone(),
        given: yaml_section(&text, "given"),
        when: yaml_section(&text, "when"),
        divergences: scenario
            .divergence
            .iter()
            .map(|(target, d)| {
                (
                    target.id().to_owned(),
                    d.reason.clone(),
                    Some(d.source.as_str().to_owned()),
                )
            })
            .collect(),
    }
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
