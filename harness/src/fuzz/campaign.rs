//! A campaign: generated cases one after another on one engine, each disagreement shrunk,
//! checked against the catalogue's known divergences, and written out.

use super::case;
use super::report::{self, FindingSummary, Summary};
use super::run::{Judge, Judgement};
use super::shrink;
use super::write::{self, Origin};
use crate::scenario::Scenario;
use anyhow::Context;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long a campaign runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// This many generated cases.
    Cases(u64),
    /// Until this much time has passed (the case under way finishes).
    Time(Duration),
}

/// What a campaign is asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    /// The seed: the same seed gives the same cases.
    pub seed: u64,
    /// How long it runs.
    pub limit: Limit,
    /// Where findings are written (`None`: nowhere).
    pub out: Option<PathBuf>,
    /// Shrink candidates tried per finding at most.
    pub shrink_budget: u32,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Stop after this many errors in a row: an engine that died makes every case fail.
    pub max_errors_in_a_row: u32,
}

impl Options {
    /// `seed` and `limit`, no output folder, 200 shrink candidates, no bar.
    pub fn new(seed: u64, limit: Limit) -> Options {
        Options {
            seed,
            limit,
            out: None,
            shrink_budget: 200,
            progress: false,
            max_errors_in_a_row: 20,
        }
    }
}

/// The catalogue scenario that records `found` as a known divergence of `judge`'s profile:
/// the same `given` and requests (every step's), and a `divergence` entry for the profile or
/// its engine.
fn known_in<'a>(catalogue: &'a [Scenario], found: &Scenario, judge: &Judge) -> Option<&'a str> {
    catalogue
        .iter()
        .find(|s| {
            s.given == found.given
                && s.when == found.when
                && s.then.len() == found.then.len()
                && s.then
                    .iter()
                    .zip(&found.then)
                    .all(|(a, b)| a.when == b.when)
                && s.divergence_for(judge.profile()).is_some()
        })
        .map(|s| s.name.as_str())
}

/// How many more times a shrunk case runs, to tell an engine whose answer varies.
const RERUNS: usize = 3;

/// Whether the engine answers `scenario` otherwise than `seen` in one of [`RERUNS`] more runs.
fn varies(judge: &mut Judge, scenario: &Scenario, seen: &crate::observation::Normalized) -> bool {
    (0..RERUNS).any(|_| match judge.judge_scenario(scenario) {
        Judgement::Differs(d) => d.live != *seen,
        Judgement::Agrees => true,
        _ => false,
    })
}

/// Runs a campaign on `judge`'s backend. `catalogue` holds the scenarios whose known
/// divergences a finding may be.
pub fn run(judge: &mut Judge, catalogue: &[Scenario], opts: &Options) -> anyhow::Result<Summary> {
    let start = Instant::now();
    let profile = judge.profile();
    let mut summary = Summary {
        profile: profile.id().to_owned(),
        backend: judge.label(),
        seed: opts.seed,
        cases: 0,
        agreed: 0,
        disagreements: 0,
        unsupported: 0,
        errors: 0,
        findings: Vec::new(),
        live_runs: 0,
        cached: 0,
        seconds: 0.0,
        cases_per_minute: 0.0,
        error_samples: Vec::new(),
        unsupported_reasons: Vec::new(),
    };
    let bar = report::progress_bar(
        opts.progress,
        profile,
        match opts.limit {
            Limit::Cases(n) => Some(n),
            Limit::Time(_) => None,
        },
    );
    // Shrunk case body → its index in `summary.findings`.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut errors_in_a_row = 0;
    for index in 0.. {
        let done = match opts.limit {
            Limit::Cases(n) => index >= n,
            Limit::Time(t) => start.elapsed() >= t,
        };
        if done || crate::live::interrupted().is_some() {
            break;
        }
        let (case, mut tree) = case::generate(opts.seed, index, profile);
        summary.cases += 1;
        match judge.judge(&case) {
            Judgement::Agrees => summary.agreed += 1,
            Judgement::Unsupported(reason) => {
                summary.unsupported += 1;
                if summary.unsupported_reasons.len() < 5
                    && !summary.unsupported_reasons.contains(&reason)
                {
                    summary.unsupported_reasons.push(reason);
                }
            }
            Judgement::Error(e) => {
                summary.errors += 1;
                errors_in_a_row += 1;
                if summary.error_samples.len() < 5 {
                    summary.error_samples.push(format!("case {index}: {e}"));
                }
                if errors_in_a_row >= opts.max_errors_in_a_row {
                    summary.error_samples.push(format!(
                        "stopped after {errors_in_a_row} errors in a row (case {index})"
                    ));
                    bar.inc(1);
                    break;
                }
                bar.inc(1);
                continue;
            }
            Judgement::Differs(first) => {
                summary.disagreements += 1;
                bar.set_message(format!(
                    "{} findings; shrinking case {index}",
                    summary.findings.len()
                ));
                let found = shrink::shrink(&mut tree, *first, judge, opts.shrink_budget);
                let body = case::body(&found.case);
                if let Some(&i) = seen.get(&body) {
                    summary.findings[i].hits += 1;
                } else {
                    let scenario =
                        case::scenario(&found.case).context("the shrunk case does not load")?;
                    let known = known_in(catalogue, &scenario, judge).map(str::to_owned);
                    let nondeterministic = varies(judge, &scenario, &found.difference.live);
                    let origin = Origin {
                        profile,
                        backend: judge.label(),
                        seed: opts.seed,
                        index,
                    };
                    let file = match (&opts.out, &known) {
                        (Some(dir), None) => {
                            std::fs::create_dir_all(dir)
                                .with_context(|| format!("creating {}", dir.display()))?;
                            let path = dir.join(write::file_name(&origin));
                            std::fs::write(&path, write::scenario_text(&found, &origin))
                                .with_context(|| format!("writing {}", path.display()))?;
                            Some(path.display().to_string())
                        }
                        _ => None,
                    };
                    seen.insert(body, summary.findings.len());
                    summary.findings.push(FindingSummary {
                        case: index,
                        hits: 1,
                        fields: found.difference.fields.clone(),
                        file,
                        known,
                        nondeterministic,
                    });
                }
                bar.set_message(format!("{} findings", summary.findings.len()));
            }
        }
        errors_in_a_row = 0;
        bar.inc(1);
    }
    bar.finish_and_clear();
    summary.live_runs = judge.runs;
    summary.cached = judge.cached;
    summary.seconds = start.elapsed().as_secs_f64();
    summary.cases_per_minute = report::per_minute(summary.cases, start.elapsed());
    Ok(summary)
}
