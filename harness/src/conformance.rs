//! Conformance of one implementation under test: its own expectations file, and the report.
//!
//! An implementer keeps an expectations file in their own repository (`--expect FILE`): the
//! divergences from the semantics they claim that they accept, per scenario and field, each
//! with its reason and the code that explains it. It is strict, as toml-test's
//! `-skip-must-err` and wasmtime's should-fail lists are: an entry that names a scenario which
//! no longer diverges in those fields fails, and so does a glob entry that matches no
//! divergence at all. No shared scenario is edited.
//!
//! The verdict of a result in conformance mode is the implementation against the model only
//! (a reference engine's snapshot says what *that* engine did, not what this one must do):
//! pass, diverges as expected, diverges unexpectedly, skip, error.

use crate::compare::{Diff, Problem, Verdict};
use crate::observation::Normalized;
use crate::report::About;
use crate::runner::{self, ScenarioRuns};
use crate::scenario::Scenario;
use anyhow::Context;
use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The fields an entry may name: those [`Diff`] reports.
pub const FIELDS: [&str; 8] = [
    "records",
    "errors",
    "status",
    "after.images",
    "after.containers",
    "built",
    "then",
    "one_of",
];

/// An implementation's expectations file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    /// What is checked: `podman-compat@4.3`.
    pub implementation: String,
    /// The semantics it claims (a profile id): `docker-classic`.
    pub semantics: String,
    /// The accepted divergences.
    #[serde(default)]
    pub divergences: Vec<Entry>,
}

/// One accepted divergence: these scenarios may differ from the semantics in these fields.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Scenario names, or globs over them (`digest/*`, `*`).
    pub scenarios: Vec<String>,
    /// The fields that may differ (see [`FIELDS`]).
    pub fields: Vec<String>,
    /// Why the implementation does this.
    pub reason: String,
    /// The implementation's code that does it (`repo@tag:path#Lx-Ly`).
    pub source: String,
}

impl Expectations {
    /// Reads and checks `path`: every field name known, every glob valid.
    pub fn load(path: &Path) -> anyhow::Result<Expectations> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let e: Expectations = serde_norway::from_str(&text).map_err(|err| {
            let at = err
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            anyhow::anyhow!("{}{at}: {err}", path.display())
        })?;
        for (i, entry) in e.divergences.iter().enumerate() {
            for f in &entry.fields {
                anyhow::ensure!(
                    FIELDS.contains(&f.as_str()),
                    "{}: divergences[{i}].fields: unknown field `{f}`, expected one of: {}",
                    path.display(),
                    FIELDS.join(", ")
                );
            }
            for s in &entry.scenarios {
                Glob::new(s).with_context(|| {
                    format!("{}: divergences[{i}].scenarios: `{s}`", path.display())
                })?;
            }
        }
        Ok(e)
    }

    fn matchers(&self) -> Vec<Vec<(String, GlobMatcher)>> {
        self.divergences
            .iter()
            .map(|e| {
                e.scenarios
                    .iter()
                    .map(|s| (s.clone(), Glob::new(s).expect("checked").compile_matcher()))
                    .collect()
            })
            .collect()
    }
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// How one result stands against the semantics and the expectations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standing {
    /// Agrees with the semantics.
    Pass,
    /// Differs only where the expectations file says it does.
    Expected,
    /// Differs where no entry allows it, or an entry says it differs and it does not.
    Unexpected,
    /// The scenario cannot be expressed through this API.
    Skip,
    /// The run could not be made.
    Error,
}

/// One judged scenario.
#[derive(Clone, Debug, Serialize)]
pub struct Judged {
    /// The scenario.
    pub scenario: String,
    /// Where it stands.
    pub standing: Standing,
    /// The fields that differ from the semantics.
    pub fields: Vec<&'static str>,
    /// Why: the entries' reasons, the skip reason, the error, or what is unexpected.
    pub why: String,
    /// What the semantics say (the model), when it ran.
    pub semantics: Option<Normalized>,
    /// What the implementation did, when it ran.
    pub observed: Option<Normalized>,
}

/// The report for one implementation.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// What was checked.
    pub implementation: String,
    /// The semantics it was checked as.
    pub semantics: String,
    /// The backend's label (`live docker 4.3.1`).
    pub backend: String,
    /// Every scenario, in catalogue order.
    pub results: Vec<Judged>,
    /// Entries that matched no divergence at all (stale: they must go).
    pub stale: Vec<String>,
}

impl Report {
    /// Counts per standing.
    pub fn counts(&self) -> BTreeMap<Standing, usize> {
        let mut c = BTreeMap::new();
        for r in &self.results {
            *c.entry(r.standing).or_insert(0) += 1;
        }
        c
    }

    /// Whether the implementation conforms (nothing unexpected, no errors, nothing stale).
    pub fn conforms(&self) -> bool {
        self.stale.is_empty()
            && self
                .results
                .iter()
                .all(|r| !matches!(r.standing, Standing::Unexpected | Standing::Error))
    }
}

/// Judges the live results of `runs` (one profile: the expectations' semantics) against the
/// model and `expect`, and rewrites each result's verdict to match: what the report says and
/// what the run's exit status and JUnit say are the same.
pub fn judge(
    scenarios: &[Scenario],
    runs: &mut [ScenarioRuns],
    expect: &Expectations,
) -> anyhow::Result<Report> {
    let matchers = expect.matchers();
    let mut used = vec![false; expect.divergences.len()];
    let mut results = Vec::new();
    let mut backend = String::new();
    for (s, run) in scenarios.iter().zip(runs.iter_mut()) {
        let Some(result) = run.results.first_mut() else {
            continue;
        };
        backend.clone_from(&result.backend);
        let entries: Vec<usize> = (0..expect.divergences.len())
            .filter(|&i| matchers[i].iter().any(|(_, m)| m.is_match(&s.name)))
            .collect();
        let mut judged = Judged {
            scenario: s.name.clone(),
            standing: Standing::Pass,
            fields: Vec::new(),
            why: String::new(),
            semantics: None,
            observed: result.outcome.clone(),
        };
        match (&result.verdict, &result.outcome) {
            (Verdict::Skip { reason }, _) => {
                judged.standing = Standing::Skip;
                judged.why.clone_from(reason);
            }
            (verdict, None) => {
                judged.standing = Standing::Error;
                judged.why = verdict.detail().trim().to_owned();
            }
            (_, Some(observed)) => {
                let model = runner::model_outcome(s, result.profile)?;
                // Requests sent at once differ only by an outcome the model does not allow.
                let diff = if s.parallel.is_some() {
                    crate::compare::race_diff(&model, observed)
                } else {
                    Diff::between(&model, observed)
                };
                judged.fields = diff
                    .as_ref()
                    .map(|d| d.fields.iter().map(|f| f.field).collect())
                    .unwrap_or_default();
                let allowed: Vec<&str> = entries
                    .iter()
                    .flat_map(|&i| expect.divergences[i].fields.iter().map(String::as_str))
                    .collect();
                let outside: Vec<&str> = judged
                    .fields
                    .iter()
                    .copied()
                    .filter(|f| !allowed.contains(f))
                    .collect();
                // An entry that names this scenario exactly must still diverge in one of its
                // fields; a glob entry only has to match some divergence somewhere.
                let stale_here: Vec<usize> = entries
                    .iter()
                    .copied()
                    .filter(|&i| {
                        let e = &expect.divergences[i];
                        let exact = matchers[i]
                            .iter()
                            .any(|(pat, _)| !is_glob(pat) && *pat == s.name);
                        let hits = e.fields.iter().any(|f| judged.fields.contains(&f.as_str()));
                        if hits {
                            used[i] = true;
                        }
                        exact && !hits
                    })
                    .collect();
                judged.semantics = Some(model);
                if !outside.is_empty() {
                    judged.standing = Standing::Unexpected;
                    judged.why = format!("differs in {} (no entry allows it)", outside.join(", "));
                } else if !stale_here.is_empty() {
                    judged.standing = Standing::Unexpected;
                    judged.why = stale_here
                        .iter()
                        .map(|&i| {
                            format!(
                                "expected to differ in {} ({}), but does not: remove it from the expectations",
                                expect.divergences[i].fields.join(", "),
                                expect.divergences[i].reason
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                } else if !judged.fields.is_empty() {
                    judged.standing = Standing::Expected;
                    judged.why = entries
                        .iter()
                        .filter(|&&i| {
                            expect.divergences[i]
                                .fields
                                .iter()
                                .any(|f| judged.fields.contains(&f.as_str()))
                        })
                        .map(|&i| expect.divergences[i].reason.clone())
                        .collect::<Vec<_>>()
                        .join("; ");
                }
                result.verdict = match judged.standing {
                    Standing::Pass => Verdict::Pass,
                    Standing::Expected => Verdict::KnownDivergence {
                        reason: judged.why.clone(),
                    },
                    _ => match diff {
                        Some(diff) => Verdict::Fail(vec![Problem::Differs {
                            against: crate::compare::Against::Model,
                            diff,
                        }]),
                        None => Verdict::Error {
                            message: judged.why.clone(),
                        },
                    },
                };
            }
        }
        results.push(judged);
    }
    let stale = expect
        .divergences
        .iter()
        .zip(&used)
        .filter(|(_, used)| !**used)
        .map(|(e, _)| {
            format!(
                "{} ({}): {}",
                e.scenarios.join(", "),
                e.fields.join(", "),
                e.reason
            )
        })
        .collect();
    Ok(Report {
        implementation: expect.implementation.clone(),
        semantics: expect.semantics.clone(),
        backend,
        results,
        stale,
    })
}

/// The topic of a scenario: its folder.
fn topic(name: &str) -> &str {
    name.split_once('/').map_or(name, |(t, _)| t)
}

fn topics(report: &Report) -> BTreeMap<&str, [usize; 5]> {
    let mut t: BTreeMap<&str, [usize; 5]> = BTreeMap::new();
    for r in &report.results {
        t.entry(topic(&r.scenario)).or_default()[r.standing as usize] += 1;
    }
    t
}

/// The report in Markdown: a table per topic, then every unexpected divergence as a minimal
/// scenario (given, when, what the semantics say, what the implementation did), then the
/// expected ones and the skips with their reasons.
pub fn markdown(report: &Report, abouts: &BTreeMap<String, About>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Conformance: {} as `{}`\n\nGenerated by `rmispec run --live --engine {} --socket ... --expect ... --format markdown`; \
         do not edit. Backend: {}.\n",
        report.implementation, report.semantics, report.semantics, report.backend
    );
    let c = report.counts();
    let n = |s: Standing| c.get(&s).copied().unwrap_or(0);
    let _ = writeln!(
        out,
        "{} scenarios: {} pass, {} diverge as expected, {} diverge unexpectedly, {} skipped, {} errors.\n",
        report.results.len(),
        n(Standing::Pass),
        n(Standing::Expected),
        n(Standing::Unexpected),
        n(Standing::Skip),
        n(Standing::Error)
    );
    out.push_str("| topic | pass | diverges (expected) | diverges (unexpected) | skip | error |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- |\n");
    for (t, [p, e, u, s, x]) in topics(report) {
        let _ = writeln!(out, "| {t} | {p} | {e} | {u} | {s} | {x} |");
    }
    if !report.stale.is_empty() {
        out.push_str("\n## Stale expectations\n\n");
        for s in &report.stale {
            let _ = writeln!(out, "- {s}");
        }
    }
    for (title, standing) in [
        ("Unexpected divergences", Standing::Unexpected),
        ("Errors", Standing::Error),
        ("Expected divergences", Standing::Expected),
        ("Skipped", Standing::Skip),
    ] {
        let rows: Vec<&Judged> = report
            .results
            .iter()
            .filter(|r| r.standing == standing)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n## {title}\n");
        for r in rows {
            let _ = writeln!(out, "### {}\n\n{}\n", r.scenario, r.why);
            // The whole minimal scenario only where a person must act.
            if standing != Standing::Unexpected {
                continue;
            }
            if let Some(about) = abouts.get(&r.scenario) {
                let _ = writeln!(out, "```yaml\n{}{}```\n", about.given, about.when);
            }
            for (label, side) in [
                ("the semantics say", &r.semantics),
                ("the implementation did", &r.observed),
            ] {
                if let Some(n) = side {
                    let yaml = serde_norway::to_string(n).unwrap_or_default();
                    let _ = writeln!(out, "{label}:\n\n```yaml\n{yaml}```\n");
                }
            }
        }
    }
    out
}

/// The report as text: the per-topic table and every unexpected divergence in full.
pub fn text(report: &Report, abouts: &BTreeMap<String, About>) -> String {
    // The Markdown reads well on a terminal too; keep one renderer.
    markdown(report, abouts)
}

/// The report as JSON: `{implementation, semantics, backend, counts, topics, results, stale}`.
pub fn json(report: &Report) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        schema: u32,
        #[serde(flatten)]
        report: &'a Report,
        counts: BTreeMap<Standing, usize>,
        conforms: bool,
    }
    let mut s = serde_json::to_string_pretty(&Out {
        schema: 1,
        report,
        counts: report.counts(),
        conforms: report.conforms(),
    })
    .expect("plain data serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::RunResult;
    use rmispec_model::Profile;

    fn scenario() -> Scenario {
        crate::scenario::load(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/untag/one-of-two-tags.yaml"),
        )
        .expect("the catalogue's scenario loads")
    }

    /// One result for `s` on docker-classic, observed as `observed`.
    fn runs(s: &Scenario, observed: Normalized) -> Vec<ScenarioRuns> {
        let mut run = ScenarioRuns::new(s);
        run.results.push(RunResult {
            profile: Profile::DockerClassic,
            backend: "live test".into(),
            verdict: Verdict::Pass,
            outcome: Some(observed),
            expected: None,
            source: None,
            duration: std::time::Duration::ZERO,
        });
        vec![run]
    }

    fn expect(entries: &[(&str, &[&str])]) -> Expectations {
        Expectations {
            implementation: "impl".into(),
            semantics: Profile::DockerClassic.id().into(),
            divergences: entries
                .iter()
                .map(|(s, f)| Entry {
                    scenarios: vec![(*s).to_owned()],
                    fields: f.iter().map(|f| (*f).to_owned()).collect(),
                    reason: format!("because {s}"),
                    source: "somewhere".into(),
                })
                .collect(),
        }
    }

    fn judged(observed: Normalized, e: &Expectations) -> (Standing, Vec<String>, Verdict) {
        let s = scenario();
        let mut r = runs(&s, observed);
        let report = judge(std::slice::from_ref(&s), &mut r, e).unwrap();
        (
            report.results[0].standing,
            report.stale.clone(),
            r[0].results[0].verdict.clone(),
        )
    }

    fn model() -> Normalized {
        runner::model_outcome(&scenario(), Profile::DockerClassic).unwrap()
    }

    fn other_records() -> Normalized {
        let mut n = model();
        n.records = vec!["Deleted: <A>".into()];
        n
    }

    #[test]
    fn agreement_passes_and_a_named_entry_that_no_longer_diverges_fails() {
        assert_eq!(judged(model(), &expect(&[])).0, Standing::Pass);
        let (standing, _, verdict) =
            judged(model(), &expect(&[("untag/one-of-two-tags", &["records"])]));
        assert_eq!(standing, Standing::Unexpected);
        assert!(verdict.is_failure());
    }

    #[test]
    fn a_divergence_is_expected_only_in_the_fields_an_entry_names() {
        let (standing, _, verdict) = judged(other_records(), &expect(&[]));
        assert_eq!(standing, Standing::Unexpected);
        assert!(verdict.is_failure());
        let (standing, stale, verdict) =
            judged(other_records(), &expect(&[("untag/*", &["records"])]));
        assert_eq!(standing, Standing::Expected);
        assert!(stale.is_empty());
        assert_eq!(verdict.id(), "known-divergence");
        let (standing, _, _) = judged(other_records(), &expect(&[("untag/*", &["errors"])]));
        assert_eq!(standing, Standing::Unexpected);
    }

    #[test]
    fn a_glob_entry_that_matches_no_divergence_is_stale() {
        let (standing, stale, _) = judged(model(), &expect(&[("prune/*", &["records"])]));
        assert_eq!(standing, Standing::Pass);
        assert_eq!(stale.len(), 1, "{stale:?}");
    }

    #[test]
    fn the_committed_expectations_file_loads_and_bad_fields_are_named() {
        let e = Expectations::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/podman-compat.yaml"),
        )
        .unwrap();
        assert_eq!(e.semantics, Profile::DockerClassic.id());
        let dir = std::env::temp_dir().join(format!("rmispec-expect-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.yaml");
        std::fs::write(
            &bad,
            "implementation: x\nsemantics: docker-classic\ndivergences:\n  - scenarios: [a]\n    fields: [record]\n    reason: r\n    source: s\n",
        )
        .unwrap();
        let err = Expectations::load(&bad).unwrap_err().to_string();
        assert!(err.contains("unknown field `record`"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
