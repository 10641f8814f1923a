//! Reports: the same results shown for a terminal ([`matrix`], [`explain`]), for machines
//! ([`json`], [`junit`]) and for the docs ([`markdown`]).

pub mod explain;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod matrix;

use crate::compare::Verdict;
use crate::observation::Normalized;
use crate::runner::{RunResult, ScenarioRuns};
use crate::scenario::Scenario;
use rmispec_model::{Profile, Status};
use std::collections::{BTreeMap, BTreeSet};

/// What reports show about a scenario besides its results: the text a person reads.
#[derive(Clone, Debug, Default)]
pub struct About {
    /// Free text from the scenario's `notes`.
    pub notes: Option<String>,
    /// The `given` section as written in the file (YAML).
    pub given: String,
    /// The `when` section as written in the file (YAML).
    pub when: String,
    /// Known divergences: engine or profile id, reason, upstream source.
    pub divergences: Vec<(String, String, Option<String>)>,
}

/// A top-level `key:` section of a YAML document, as written (comments and layout kept),
/// without the key line's own indentation; empty if absent.
pub fn yaml_section(text: &str, key: &str) -> String {
    let head = format!("{key}:");
    let mut lines = text.lines().skip_while(|l| !l.starts_with(&head));
    let Some(first) = lines.next() else {
        return String::new();
    };
    let mut out = vec![first];
    out.extend(lines.take_while(|l| l.is_empty() || l.starts_with([' ', '\t'])));
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    out.join("\n") + "\n"
}

/// Profiles whose outcomes are identical, grouped in the order they first appear: the way a
/// reader sees at a glance which engines agree. Results without an outcome are each their own
/// group.
pub fn groups(results: &[RunResult]) -> Vec<Vec<&RunResult>> {
    let mut groups: Vec<Vec<&RunResult>> = Vec::new();
    for r in results {
        match groups
            .iter_mut()
            .find(|g| r.outcome.is_some() && g[0].outcome == r.outcome)
        {
            Some(g) => g.push(r),
            None => groups.push(vec![r]),
        }
    }
    groups
}

/// A short column label for a profile, as the semantics notes name engines: `DC` / `DC28`
/// (Docker classic), `DK` / `DK28` (Docker containerd store), `CRI1.6` / `CRI` / `CRI2.1`,
/// `P4` / `P5` / `P5.8` (libimage), `P3` / `P1` (legacy libpod); the model's profile table
/// holds them ([`Profile::label`]).
pub fn short_label(profile: Profile) -> &'static str {
    profile.label()
}

/// What a cell's codes and marks mean, for the legend under a matrix: one entry a line
/// item, so a renderer can wrap it to the terminal.
pub const CELL_LEGEND: [&str; 2] = [
    "cells: U<n> untagged n names · D<n> deleted n images · then, when the request reported \
     errors, its status: 409, 404… the HTTP status · e<n> the exit code n (e0: errors, yet \
     exit 0) · NotFound, Unknown… the gRPC code · · nothing happened · - skipped (the engine \
     cannot express it) · ERR could not run · a→b steps one after the other · a & b ⇒ D<n> \
     requests sent at once (each one's code, then the images the store lost), | between the \
     outcomes allowed",
    "marks: ✗ fail · ~ known divergence · * leaves a store unlike most engines in the row · \
     ≠ rows: the engines leave different stores · ≈ rows: the same store, but not the same \
     errors",
];

/// A few characters summarising one outcome: `U1`, `U1D1`, `D2`, `409`, `U1 e1`, `·`.
///
/// Deleted images are counted from the listing afterwards (images of `given` no longer
/// listed), not from the records: CRI reports none, and docker-classic also reports layers.
pub fn outcome_code(outcome: &Normalized, images_before: &[String]) -> String {
    // Requests sent at once show each allowed (or seen) outcome, `U1 & U1D1 ⇒ D1 | …`: each
    // request's code from its own answer (the images its records say it deleted: the store
    // after is all of theirs), then what the store lost.
    if outcome.is_race() {
        return outcome
            .one_of
            .iter()
            .map(|race| {
                let answers: Vec<String> = race
                    .answers
                    .iter()
                    .map(|a| answer_code(a, images_before))
                    .collect();
                let deleted = images_before
                    .iter()
                    .filter(|h| !race.after.images.contains_key(*h))
                    .count();
                format!("{} ⇒ D{deleted}", answers.join(" & "))
            })
            .collect::<Vec<_>>()
            .join(" | ");
    }
    // A sequence shows one code a step, `U1→D1`: each step's deletions counted against the
    // store the step before it left.
    let mut before: Vec<String> = images_before.to_vec();
    let mut codes = Vec::new();
    for step in outcome.steps() {
        codes.push(step_code(&step, &before));
        before.retain(|h| step.after.images.contains_key(h));
    }
    codes.join("→")
}

/// One of several requests sent at once: `U1`, `U1D1`, `404`, `·`; its deletions are the
/// images of `given` its records name (`Deleted: sha256:<A>`, `Deleted: <A>`).
fn answer_code(a: &crate::observation::NormalizedAnswer, images_before: &[String]) -> String {
    let untagged = a
        .records
        .iter()
        .filter(|r| r.starts_with("Untagged:"))
        .count();
    let deleted = images_before
        .iter()
        .filter(|h| {
            let id = format!("<{h}>");
            a.records.iter().any(|r| {
                r.strip_prefix("Deleted: ")
                    .is_some_and(|d| d.trim_start_matches("sha256:") == id)
            })
        })
        .count();
    code(untagged, deleted, !a.errors.is_empty(), &a.status)
}

fn step_code(step: &crate::observation::NormalizedStep, images_before: &[String]) -> String {
    let untagged = step
        .records
        .iter()
        .filter(|r| r.starts_with("Untagged:"))
        .count();
    let deleted = images_before
        .iter()
        .filter(|h| !step.after.images.contains_key(*h))
        .count();
    code(untagged, deleted, !step.errors.is_empty(), &step.status)
}

/// `U<n>` and `D<n>` when any, then the status when there were errors; `·` for nothing.
fn code(untagged: usize, deleted: usize, errors: bool, status: &str) -> String {
    let mut code = String::new();
    if untagged > 0 {
        code.push_str(&format!("U{untagged}"));
    }
    if deleted > 0 {
        code.push_str(&format!("D{deleted}"));
    }
    if errors {
        if !code.is_empty() {
            code.push(' ');
        }
        code.push_str(&status_code(status));
    }
    if code.is_empty() {
        code.push('·');
    }
    code
}

/// `http 409` → `409`, `exit 2` → `e2`, `grpc NotFound` → `NotFound` (gRPC codes by their
/// name: numbers mean nothing to most readers); anything unparsable as is.
fn status_code(status: &str) -> String {
    match status.parse::<Status>() {
        Ok(Status::Http(c)) => c.to_string(),
        Ok(Status::Exit(c)) => format!("e{c}"),
        Ok(Status::Grpc(_)) => status.trim_start_matches("grpc ").to_owned(),
        Err(_) => status.to_owned(),
    }
}

/// The mark a verdict adds to a cell.
pub fn verdict_mark(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Pass | Verdict::Skip { .. } => "",
        Verdict::Fail(_) | Verdict::Error { .. } => "✗",
        Verdict::KnownDivergence { .. } => "~",
    }
}

/// A whole cell: the outcome code and the verdict mark; `-` when skipped, `ERR` when the
/// backend could not run.
pub fn cell(result: &RunResult, images_before: &[String]) -> String {
    match (&result.verdict, &result.outcome) {
        (Verdict::Skip { .. }, _) => "-".to_owned(),
        (_, None) => format!("ERR{}", verdict_mark(&result.verdict)),
        (verdict, Some(outcome)) => format!(
            "{}{}",
            outcome_code(outcome, images_before),
            verdict_mark(verdict)
        ),
    }
}

/// What an outcome left, engine-neutrally: the images left (by handle) with their tags, the
/// containers left. Spelling (records, messages, statuses) is each engine's own, and so are
/// digest references (docker-containerd lists a computed one for every image); neither
/// counts. Errors do not either: they are the weaker difference ([`RowMark::Errors`]).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Effect {
    /// What was left: one store, or of requests sent at once each outcome's, in order.
    stores: Vec<Left>,
}

/// One store left, engine-neutrally: images by handle with their tags, containers by handle.
type Left = (BTreeMap<String, Vec<String>>, BTreeMap<String, String>);

impl Effect {
    /// A sequence's effect is what its last step left; that of requests sent at once, what
    /// each of its outcomes left.
    fn of(o: &Normalized) -> Effect {
        let afters: Vec<&crate::observation::NormalizedStore> = if o.is_race() {
            o.one_of.iter().map(|r| &r.after).collect()
        } else {
            vec![o.then.last().map_or(&o.after, |s| &s.after)]
        };
        let stores = afters
            .into_iter()
            .map(|after| {
                (
                    after
                        .images
                        .iter()
                        .map(|(h, names)| {
                            (
                                h.clone(),
                                names.iter().filter(|n| !n.contains('@')).cloned().collect(),
                            )
                        })
                        .collect(),
                    after.containers.clone(),
                )
            })
            .collect();
        Effect { stores }
    }
}

/// The kinds of error an outcome reported, engine-neutrally.
fn error_kinds(o: &Normalized) -> Vec<(&str, Option<&str>)> {
    o.errors
        .iter()
        .chain(o.then.iter().flat_map(|s| &s.errors))
        .chain(
            o.one_of
                .iter()
                .flat_map(|r| r.answers.iter().flat_map(|a| &a.errors)),
        )
        .map(|e| (e.kind.as_str(), e.reason.as_deref()))
        .collect()
}

/// Per result, whether the store it left differs from the store most engines of the row
/// left (ties go to the first seen); `false` for results without an outcome.
pub fn odd_ones(runs: &ScenarioRuns) -> Vec<bool> {
    let effects: Vec<Option<Effect>> = runs
        .results
        .iter()
        .map(|r| r.outcome.as_ref().map(Effect::of))
        .collect();
    let count = |e: &Effect| effects.iter().flatten().filter(|f| *f == e).count();
    let mut common: Option<(&Effect, usize)> = None;
    for e in effects.iter().flatten() {
        let n = count(e);
        if common.is_none_or(|(_, m)| n > m) {
            common = Some((e, n));
        }
    }
    effects
        .iter()
        .map(|e| matches!((e, common), (Some(e), Some((c, _))) if e != c))
        .collect()
}

/// How the engines of a row differ, if they do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowMark {
    /// They leave the same store and report the same kinds of error (spelling aside).
    Agree,
    /// They leave the same store, but not all report the same kinds of error (one reports
    /// "not found", another nothing): `≈`.
    Errors,
    /// They leave different stores: the difference a user of one engine would trip over on
    /// another (`≠`).
    Stores,
}

impl RowMark {
    /// The one-character mark at the start of a matrix row.
    pub fn symbol(self) -> &'static str {
        match self {
            RowMark::Agree => " ",
            RowMark::Errors => "≈",
            RowMark::Stores => "≠",
        }
    }
}

/// How the engines that ran this scenario differ.
pub fn row_mark(runs: &ScenarioRuns) -> RowMark {
    if odd_ones(runs).contains(&true) {
        return RowMark::Stores;
    }
    let mut kinds = runs
        .results
        .iter()
        .filter_map(|r| r.outcome.as_ref())
        .map(error_kinds);
    match kinds.next() {
        Some(first) if kinds.any(|k| k != first) => RowMark::Errors,
        _ => RowMark::Agree,
    }
}

/// Whether the engines that ran this scenario disagree: a different store afterwards, or
/// different kinds of error.
pub fn engines_disagree(runs: &ScenarioRuns) -> bool {
    row_mark(runs) != RowMark::Agree
}

/// The row of cells for a scenario, by profile: [`cell`] plus `*` where the engine's effect
/// differs from the row's most common one.
pub fn row_cells(runs: &ScenarioRuns) -> Vec<(Profile, String)> {
    runs.results
        .iter()
        .zip(odd_ones(runs))
        .map(|(r, odd)| {
            let mut c = cell(r, &runs.images);
            if odd {
                let at = c.find(['✗', '~']).unwrap_or(c.len());
                c.insert(at, '*');
            }
            (r.profile, c)
        })
        .collect()
}

/// [`row_cells`] in the order of `profiles`; empty where a profile has no result.
pub fn cells_for(runs: &ScenarioRuns, profiles: &[Profile]) -> Vec<String> {
    let row = row_cells(runs);
    profiles
        .iter()
        .map(|p| {
            row.iter()
                .find(|(q, _)| q == p)
                .map(|(_, c)| c.clone())
                .unwrap_or_default()
        })
        .collect()
}

/// Per profile, how many results had each verdict ([`Verdict::IDS`] order).
pub fn verdict_counts(runs: &[ScenarioRuns], profiles: &[Profile]) -> Vec<(Profile, [usize; 5])> {
    profiles
        .iter()
        .map(|&p| {
            let mut counts = [0; 5];
            for r in runs
                .iter()
                .flat_map(|s| &s.results)
                .filter(|r| r.profile == p)
            {
                let i = Verdict::IDS
                    .iter()
                    .position(|id| *id == r.verdict.id())
                    .unwrap_or(0);
                counts[i] += 1;
            }
            (p, counts)
        })
        .collect()
}

/// The profiles that appear in `runs`, in [`Profile::ALL`] order.
pub fn profiles_in(runs: &[ScenarioRuns]) -> Vec<Profile> {
    let seen: BTreeSet<Profile> = runs
        .iter()
        .flat_map(|s| &s.results)
        .map(|r| r.profile)
        .collect();
    Profile::ALL
        .into_iter()
        .filter(|p| seen.contains(p))
        .collect()
}

/// What reports show of a scenario besides its results: notes, and `given` / `when` as
/// written in its file.
pub fn about(scenario: &Scenario) -> About {
    let text = std::fs::read_to_string(&scenario.path).unwrap_or_default();
    About {
        notes: scenario.notes.clone(),
        given: yaml_section(&text, "given"),
        when: if let Some(p) = &scenario.parallel {
            requests_text("parallel:\n", "  - {", p.requests.iter())
        } else if scenario.is_sequence() {
            requests_text("steps:\n", "  - when: {", scenario.steps().map(|(w, _)| w))
        } else {
            yaml_section(&text, "when")
        },
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

/// A sequence's requests (or those sent at once), one line each, in the scenario's own
/// spelling (its `steps:` section would bury them among every engine's expectations).
fn requests_text<'a>(
    header: &str,
    item: &str,
    whens: impl Iterator<Item = &'a crate::scenario::When>,
) -> String {
    let mut out = String::from(header);
    for when in whens {
        let names: Vec<String> = when.rmi.iter().map(|n| format!("{n:?}")).collect();
        let mut line = format!("{item}rmi: [{}]", names.join(", "));
        for (flag, set) in [
            ("force", when.force),
            ("noprune", when.noprune),
            ("ignore", when.ignore),
            ("all", when.all),
        ] {
            if set {
                line.push_str(&format!(", {flag}: true"));
            }
        }
        out.push_str(&line);
        out.push_str("}\n");
    }
    out
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Hand-made results for the renderers' tests.

    use crate::compare::{Against, Diff, Problem, Verdict};
    use crate::observation::{Normalized, NormalizedError, NormalizedStore};
    use crate::runner::{RunResult, ScenarioRuns};
    use rmispec_model::Profile;

    pub fn untag() -> Normalized {
        Normalized {
            records: vec!["Untagged: localhost/app:1".into()],
            errors: vec![],
            status: "http 200".into(),
            after: NormalizedStore {
                images: [("A".to_owned(), vec!["localhost/app:2".to_owned()])].into(),
                containers: Default::default(),
            },
            built: None,
            then: Vec::new(),
            one_of: Vec::new(),
        }
    }

    pub fn deleted_silently() -> Normalized {
        Normalized {
            records: vec![],
            errors: vec![],
            status: "grpc OK".into(),
            after: NormalizedStore::default(),
            built: None,
            then: Vec::new(),
            one_of: Vec::new(),
        }
    }

    pub fn conflict() -> Normalized {
        Normalized {
            records: vec![],
            errors: vec![NormalizedError {
                kind: "conflict".into(),
                reason: Some("multiple-references".into()),
                forceable: Some(true),
                message: "conflict: unable to delete <A:12> (must be forced) - image is referenced in multiple repositories"
                    .into(),
                status: "http 409".into(),
            }],
            status: "http 409".into(),
            after: NormalizedStore {
                images: [("A".to_owned(), vec!["localhost/app:1".to_owned(), "localhost/app:2".to_owned()])].into(),
                containers: Default::default(),
            },
            built: None,
            then: Vec::new(),
            one_of: Vec::new(),
        }
    }

    pub fn result(profile: Profile, verdict: Verdict, outcome: Option<Normalized>) -> RunResult {
        RunResult {
            profile,
            backend: "model".into(),
            verdict,
            expected: outcome.clone(),
            outcome,
            source: None,
            duration: std::time::Duration::from_millis(15),
        }
    }

    /// Two scenarios: one where engines disagree (with a failure), one where they agree.
    pub fn runs() -> Vec<ScenarioRuns> {
        let fail = Verdict::Fail(vec![Problem::Differs {
            against: Against::Expectation,
            diff: Diff::between(&untag(), &conflict()).expect("differ"),
        }]);
        vec![
            ScenarioRuns {
                name: "untag/one-of-two-tags".into(),
                summary: "Removing one of two tags of an image only untags it.".into(),
                images: vec!["A".into()],
                results: vec![
                    result(Profile::DockerClassic, Verdict::Pass, Some(untag())),
                    result(Profile::Cri17, Verdict::Pass, Some(deleted_silently())),
                    result(Profile::Podman43, fail, Some(conflict())),
                    result(
                        Profile::Libpod19,
                        Verdict::Skip {
                            reason: "no API".into(),
                        },
                        None,
                    ),
                ],
            },
            ScenarioRuns {
                name: "untag/same".into(),
                summary: "Everyone agrees & <escapes>.".into(),
                images: vec!["A".into()],
                results: vec![
                    result(Profile::DockerClassic, Verdict::Pass, Some(untag())),
                    result(
                        Profile::Cri17,
                        Verdict::KnownDivergence {
                            reason: "bug".into(),
                        },
                        Some(untag()),
                    ),
                    result(
                        Profile::Podman43,
                        Verdict::Error {
                            message: "todo!()".into(),
                        },
                        None,
                    ),
                    result(Profile::Libpod19, Verdict::Pass, Some(untag())),
                ],
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn codes_summarise_effect_and_error_status() {
        let a = ["A".to_owned()];
        assert_eq!(outcome_code(&untag(), &a), "U1");
        assert_eq!(outcome_code(&deleted_silently(), &a), "D1");
        assert_eq!(outcome_code(&conflict(), &a), "409");
        let mut mixed = untag();
        mixed.errors = conflict().errors;
        mixed.status = "exit 1".into();
        assert_eq!(outcome_code(&mixed, &a), "U1 e1");
        let mut noop = conflict();
        noop.errors.clear();
        assert_eq!(outcome_code(&noop, &a), "·");
        mixed.status = "grpc NotFound".into();
        assert_eq!(outcome_code(&mixed, &a), "U1 NotFound");
    }

    #[test]
    fn cells_carry_verdict_marks() {
        let runs = runs();
        let cells: Vec<_> = runs[0]
            .results
            .iter()
            .map(|r| cell(r, &runs[0].images))
            .collect();
        assert_eq!(cells, ["U1", "D1", "409✗", "-"]);
        let cells: Vec<_> = runs[1]
            .results
            .iter()
            .map(|r| cell(r, &runs[1].images))
            .collect();
        assert_eq!(cells, ["U1", "U1~", "ERR✗", "U1"]);
    }

    #[test]
    fn disagreement_is_about_effect_not_spelling() {
        let runs = runs();
        assert!(engines_disagree(&runs[0]));
        assert!(!engines_disagree(&runs[1]));
        let mut respelled = runs[1].clone();
        if let Some(o) = respelled.results[0].outcome.as_mut() {
            o.records = vec!["Untagged: app:1".into()];
            o.status = "exit 0".into();
        }
        assert!(!engines_disagree(&respelled));
        let mut digest_listed = runs[1].clone();
        if let Some(o) = digest_listed.results[0].outcome.as_mut() {
            o.after
                .images
                .get_mut("A")
                .expect("A")
                .push("localhost/app@sha256:<A>".into());
        }
        assert!(
            !engines_disagree(&digest_listed),
            "a listed digest reference is spelling"
        );
    }

    #[test]
    fn the_odd_ones_out_are_marked() {
        let runs = runs();
        assert_eq!(odd_ones(&runs[0]), [false, true, true, false]);
        let cells: Vec<String> = row_cells(&runs[0]).into_iter().map(|(_, c)| c).collect();
        assert_eq!(cells, ["U1", "D1*", "409*✗", "-"]);
        assert_eq!(odd_ones(&runs[1]), [false, false, false, false]);
        // The majority wins over the first seen.
        let mut row = runs[1].clone();
        row.results[0].outcome = Some(conflict());
        assert_eq!(odd_ones(&row), [true, false, false, false]);
    }

    #[test]
    fn yaml_sections_keep_the_text_as_written() {
        let text = "summary: x\ngiven:\n  images:\n    A: {} # one\n\n  containers: {}\nwhen:\n  rmi: a\nexpect:\n  default: {}\n";
        assert_eq!(
            yaml_section(text, "given"),
            "given:\n  images:\n    A: {} # one\n\n  containers: {}\n"
        );
        assert_eq!(yaml_section(text, "when"), "when:\n  rmi: a\n");
        assert_eq!(yaml_section(text, "notes"), "");
    }

    #[test]
    fn groups_join_identical_outcomes_only() {
        let runs = runs();
        let g = groups(&runs[1].results);
        let profiles: Vec<Vec<Profile>> = g
            .iter()
            .map(|g| g.iter().map(|r| r.profile).collect())
            .collect();
        assert_eq!(
            profiles,
            [
                vec![Profile::DockerClassic, Profile::Cri17, Profile::Libpod19],
                vec![Profile::Podman43]
            ]
        );
        let mut one = runs[1].results.clone();
        one.push(one[2].clone());
        assert_eq!(groups(&one).len(), 3, "results without outcome never merge");
    }

    #[test]
    fn counts_per_profile_and_verdict() {
        let runs = runs();
        let counts = verdict_counts(&runs, &profiles_in(&runs));
        let get = |p| {
            counts
                .iter()
                .find(|(q, _)| *q == p)
                .map(|(_, c)| *c)
                .expect("profile counted")
        };
        assert_eq!(get(Profile::DockerClassic), [2, 0, 0, 0, 0]);
        assert_eq!(get(Profile::Cri17), [1, 0, 1, 0, 0]);
        assert_eq!(get(Profile::Podman43), [0, 1, 0, 0, 1]);
        assert_eq!(get(Profile::Libpod19), [1, 0, 0, 1, 0]);
        assert_eq!(
            profiles_in(&runs),
            [
                Profile::DockerClassic,
                Profile::Cri17,
                Profile::Podman43,
                Profile::Libpod19
            ]
        );
    }
}
