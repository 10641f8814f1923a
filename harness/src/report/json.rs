//! The machine-readable report: `{"results":[{scenario, engine, backend, verdict, outcome}…]}`.

use crate::observation::Normalized;
use crate::runner::ScenarioRuns;

#[derive(serde::Serialize)]
struct Report<'a> {
    results: Vec<Entry<'a>>,
}

#[derive(serde::Serialize)]
struct Entry<'a> {
    scenario: &'a str,
    /// The profile id (`cri-containerd@1.6`).
    engine: &'a str,
    backend: &'a str,
    verdict: &'static str,
    /// What the backend did, in symbols; `null` when skipped or when it could not run.
    outcome: Option<&'a Normalized>,
    /// Why it failed, diverged or was skipped, as the terminal report says it.
    #[serde(skip_serializing_if = "String::is_empty")]
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
}

/// Renders every result as one JSON object, pretty-printed.
pub fn render(runs: &[ScenarioRuns]) -> String {
    let results = runs
        .iter()
        .flat_map(|s| {
            s.results.iter().map(|r| Entry {
                scenario: &s.name,
                engine: r.profile.id(),
                backend: &r.backend,
                verdict: r.verdict.id(),
                outcome: r.outcome.as_ref(),
                detail: r.verdict.detail(),
                source: r.source.as_deref(),
            })
        })
        .collect();
    let mut text =
        serde_json::to_string_pretty(&Report { results }).expect("plain data serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{runs, untag};

    #[test]
    fn one_entry_per_result_with_the_normalized_outcome() {
        let value: serde_json::Value = serde_json::from_str(&render(&runs())).expect("valid JSON");
        let results = value["results"].as_array().expect("results array");
        assert_eq!(results.len(), 8);
        let first = &results[0];
        assert_eq!(first["scenario"], "untag/one-of-two-tags");
        assert_eq!(first["engine"], "docker-classic@20.10");
        assert_eq!(first["backend"], "model");
        assert_eq!(first["verdict"], "pass");
        let outcome: Normalized =
            serde_json::from_value(first["outcome"].clone()).expect("a Normalized");
        assert_eq!(outcome, untag());
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
}
