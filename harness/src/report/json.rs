//! The machine-readable report, and reading it back (`rmispec merge`).
//!
//! ```json
//! {"schema_version": 2,
//!  "counts": {"total": 90, "pass": 85, "fail": 0, "known-divergence": 0, "skip": 5, "error": 0},
//!  "results": [{"scenario", "summary", "images", "engine", "version", "backend", "verdict",
//!               "time", "expected", "outcome", "detail", "source"}…]}
//! ```
//!
//! `schema_version` changes whenever a field changes meaning or goes away (adding one does
//! not): 1 was the unversioned `{"results":[…]}` without counts, expectations or times.

use crate::compare::{Problem, Verdict};
use crate::observation::Normalized;
use crate::runner::{RunResult, ScenarioRuns};
use anyhow::Context;
use rmispec_model::Profile;
use std::collections::BTreeMap;
use std::time::Duration;

/// The version of the report's shape this code writes and reads.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(serde::Serialize, serde::Deserialize)]
struct Report {
    schema_version: u32,
    /// Results per verdict id, and `total`.
    counts: BTreeMap<String, usize>,
    results: Vec<Entry>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    scenario: String,
    summary: String,
    /// The image handles of the scenario's `given` store (what the matrix counts deletions by).
    images: Vec<String>,
    /// The profile id (`cri-containerd@1.6`).
    engine: String,
    /// The version whose semantics the profile has.
    version: String,
    backend: String,
    verdict: String,
    /// Seconds the trial took.
    time: f64,
    /// What the backend was expected to do: the scenario's expectation (model runs) or the
    /// model's outcome (live runs); `null` when it could not be worked out.
    expected: Option<Normalized>,
    /// What the backend did, in symbols; `null` when skipped or when it could not run.
    outcome: Option<Normalized>,
    /// Why it failed, diverged or was skipped, as the terminal report says it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
}

/// Renders every result as one JSON object, pretty-printed.
pub fn render(runs: &[ScenarioRuns]) -> String {
    let results: Vec<Entry> = runs
        .iter()
        .flat_map(|s| {
            s.results.iter().map(|r| Entry {
                scenario: s.name.clone(),
                summary: s.summary.clone(),
                images: s.images.clone(),
                engine: r.profile.id().to_owned(),
                version: r.profile.version().to_owned(),
                backend: r.backend.clone(),
                verdict: r.verdict.id().to_owned(),
                time: r.duration.as_secs_f64(),
                expected: r.expected.clone(),
                outcome: r.outcome.clone(),
                detail: r.verdict.detail(),
                source: r.source.clone(),
            })
        })
        .collect();
    let mut counts: BTreeMap<String, usize> = Verdict::IDS
        .iter()
        .map(|id| ((*id).to_owned(), 0))
        .collect();
    for e in &results {
        *counts.entry(e.verdict.clone()).or_default() += 1;
    }
    counts.insert("total".to_owned(), results.len());
    let report = Report {
        schema_version: SCHEMA_VERSION,
        counts,
        results,
    };
    let mut text = serde_json::to_string_pretty(&report).expect("plain data serializes");
    text.push('\n');
    text
}

/// Reads reports back (`(name, text)` each, the name for errors) and joins their results:
/// one scenario's results from several reports (one per partition, or per engine) go
/// together, in [`Profile::ALL`] order; scenarios keep the order they first appear in. A
/// result that two reports both hold is an error: the runs overlapped.
pub fn merge(reports: &[(String, String)]) -> anyhow::Result<Vec<ScenarioRuns>> {
    let mut runs: Vec<ScenarioRuns> = Vec::new();
    for (name, text) in reports {
        let report: Report = serde_json::from_str(text)
            .with_context(|| format!("{name}: not a rmispec JSON report"))?;
        anyhow::ensure!(
            report.schema_version == SCHEMA_VERSION,
            "{name}: schema_version {} (this rmispec reads {SCHEMA_VERSION})",
            report.schema_version
        );
        for e in report.results {
            let profile = Profile::from_id(&e.engine)
                .with_context(|| format!("{name}: unknown engine {:?}", e.engine))?;
            let verdict = verdict(&e.verdict, &e.detail)
                .with_context(|| format!("{name}: unknown verdict {:?}", e.verdict))?;
            let index = match runs.iter().position(|s| s.name == e.scenario) {
                Some(i) => i,
                None => {
                    runs.push(ScenarioRuns {
                        name: e.scenario.clone(),
                        summary: e.summary.clone(),
                        images: e.images.clone(),
                        results: Vec::new(),
                    });
                    runs.len() - 1
                }
            };
            let run = &mut runs[index];
            anyhow::ensure!(
                !run.results.iter().any(|r| r.profile == profile),
                "{name}: {}/{} is in more than one report",
                e.engine,
                e.scenario
            );
            run.results.push(RunResult {
                profile,
                backend: e.backend,
                verdict,
                outcome: e.outcome,
                expected: e.expected,
                source: e.source,
                duration: Duration::from_secs_f64(e.time.max(0.0)),
            });
        }
    }
    for run in &mut runs {
        run.results
            .sort_by_key(|r| Profile::ALL.iter().position(|p| *p == r.profile));
    }
    Ok(runs)
}

/// A verdict back from its id and the detail text the report kept.
fn verdict(id: &str, detail: &str) -> Option<Verdict> {
    let text = |prefix: &str| {
        detail
            .strip_prefix(prefix)
            .unwrap_or(detail)
            .trim_end()
            .to_owned()
    };
    Some(match id {
        "pass" => Verdict::Pass,
        "fail" => Verdict::Fail(vec![Problem::Recorded(detail.to_owned())]),
        "known-divergence" => Verdict::KnownDivergence {
            reason: text("known divergence: "),
        },
        "skip" => Verdict::Skip {
            reason: text("skipped: "),
        },
        "error" => Verdict::Error {
            message: text("error: "),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{runs, untag};

    #[test]
    fn one_entry_per_result_with_counts_expectation_and_outcome() {
        let value: serde_json::Value = serde_json::from_str(&render(&runs())).expect("valid JSON");
        assert_eq!(value["schema_version"], SCHEMA_VERSION);
        assert_eq!(value["counts"]["total"], 8);
        assert_eq!(value["counts"]["pass"], 4);
        assert_eq!(value["counts"]["fail"], 1);
        assert_eq!(value["counts"]["skip"], 1);
        let results = value["results"].as_array().expect("results array");
        assert_eq!(results.len(), 8);
        let first = &results[0];
        assert_eq!(first["scenario"], "untag/one-of-two-tags");
        assert_eq!(first["engine"], "docker-classic@20.10");
        assert_eq!(first["version"], Profile::DockerClassic.version());
        assert_eq!(first["backend"], "model");
        assert_eq!(first["verdict"], "pass");
        assert!(first["time"].as_f64().is_some_and(|t| t > 0.0));
        let outcome: Normalized =
            serde_json::from_value(first["outcome"].clone()).expect("a Normalized");
        assert_eq!(outcome, untag());
        let expected: Normalized =
            serde_json::from_value(first["expected"].clone()).expect("a Normalized");
        assert_eq!(expected, untag());
        assert!(first.get("detail").is_none());
        assert_eq!(results[2]["verdict"], "fail");
        assert!(results[2]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("expectation")));
        assert_eq!(results[3]["verdict"], "skip");
        assert!(results[3]["outcome"].is_null());
        assert_eq!(results[5]["verdict"], "known-divergence");
        assert_eq!(results[6]["verdict"], "error");
    }

    #[test]
    fn reports_merge_back_into_the_same_runs() {
        let all = runs();
        // Split by engine, as two machines would.
        let split = |keep: fn(Profile) -> bool| {
            let part: Vec<ScenarioRuns> = all
                .iter()
                .map(|s| ScenarioRuns {
                    results: s
                        .results
                        .iter()
                        .filter(|r| keep(r.profile))
                        .cloned()
                        .collect(),
                    ..s.clone()
                })
                .collect();
            render(&part)
        };
        let a = split(|p| p == Profile::DockerClassic || p == Profile::Podman43);
        let b = split(|p| !(p == Profile::DockerClassic || p == Profile::Podman43));
        let merged = merge(&[("a".into(), a.clone()), ("b".into(), b)]).expect("merges");
        assert_eq!(render(&merged), render(&all));
        let twice = merge(&[("a".into(), a.clone()), ("a again".into(), a)]);
        assert!(twice.is_err(), "overlapping reports are refused");
    }
}
