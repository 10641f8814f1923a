//! Verdicts: what one backend's outcome on one scenario means, given what it is checked against.
//!
//! Comparison is three-way per (scenario, profile): the model against the scenario's YAML
//! expectation, the model against the committed snapshot of the live engine, and a live run
//! against the model and the snapshot. Everything compared is a [`Normalized`] value, so real
//! IDs never matter here; this module only decides and explains.

use crate::observation::{
    Normalized, NormalizedAnswer, NormalizedError, NormalizedRace, NormalizedStore,
};
use crate::scenario::{ExpectedOutcome, ExpectedRace, ExpectedStore};
use crate::symbols::Symbols;
use anyhow::Context;
use rmispec_model::ContainerState;
use std::fmt;

/// `s` expanded with the backend's table and symbolized again.
fn canon(symbols: &Symbols, s: &str) -> anyhow::Result<String> {
    symbols
        .canonicalize(s)
        .map_err(|err| anyhow::anyhow!("in {s:?}: {err}"))
}

/// A scenario's expectation for one profile, in the form it is compared in: every string
/// canonicalized with the backend's own symbol table (expanded, then symbolized again), so
/// `<A.manifest>` and `<A>` mean the same on docker-containerd.
///
/// Fails if a field is missing (the loader reports incomplete expectations, so this is a
/// harness error) or a symbol is not in the table.
pub fn expected(e: &ExpectedOutcome, symbols: &Symbols) -> anyhow::Result<Normalized> {
    let missing = e.missing();
    anyhow::ensure!(
        missing.is_empty(),
        "the expectation has no {}",
        missing.join(", no ")
    );
    let canon = |s: &str| canon(symbols, s);
    let records = e
        .records
        .iter()
        .flatten()
        .map(|r| canon(r))
        .collect::<anyhow::Result<_>>()?;
    let errors = e
        .errors
        .iter()
        .flatten()
        .map(|err| {
            let (kind, reason, forceable) = crate::normalize::error_fields(err.kind);
            Ok(NormalizedError {
                kind: kind.to_owned(),
                reason: reason.map(str::to_owned),
                forceable,
                message: canon(&err.message)?,
                status: err.status.to_string(),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let after = e.after.as_ref().map(|a| expected_store(a, symbols));
    Ok(Normalized {
        records,
        errors,
        status: e.status.map(|s| s.to_string()).unwrap_or_default(),
        after: after.transpose()?.unwrap_or_default(),
        built: None,
        then: Vec::new(),
        one_of: Vec::new(),
    })
}

/// An expected store, canonicalized with the backend's table.
fn expected_store(a: &ExpectedStore, symbols: &Symbols) -> anyhow::Result<NormalizedStore> {
    let canon = |s: &str| canon(symbols, s);
    let images = a
        .images
        .iter()
        .map(|(handle, names)| {
            Ok((
                canon(handle)?,
                names
                    .iter()
                    .map(|n| canon(n))
                    .collect::<anyhow::Result<Vec<_>>>()?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let containers = a
        .containers
        .iter()
        .map(|(handle, state)| (handle.to_string(), state_name(state.0).to_owned()))
        .collect();
    Ok(NormalizedStore { images, containers })
}

/// A sequence's expectations for one profile, one per step (first to last), as one
/// [`Normalized`]: the first step's fields, the later steps in `then`.
pub fn expected_steps(steps: &[ExpectedOutcome], symbols: &Symbols) -> anyhow::Result<Normalized> {
    let mut all = steps.iter().enumerate().map(|(i, e)| {
        expected(e, symbols).map_err(|err| {
            if steps.len() > 1 {
                err.context(format!("step {}", i + 1))
            } else {
                err
            }
        })
    });
    let mut first = all
        .next()
        .unwrap_or_else(|| Err(anyhow::anyhow!("a scenario without a step")))?;
    for step in all {
        let step = step?;
        first.then.push(crate::observation::NormalizedStep {
            records: step.records,
            errors: step.errors,
            status: step.status,
            after: step.after,
        });
    }
    Ok(first)
}

/// The expectation of requests sent at once for one profile (its `one_of`), canonicalized as
/// [`expected`] does, as the set [`Normalized::races`] makes.
pub fn expected_races(e: &ExpectedOutcome, symbols: &Symbols) -> anyhow::Result<Normalized> {
    let races = e.one_of.as_ref().context("the expectation has no one_of")?;
    race_set(races, symbols)
}

/// Outcomes of requests sent at once as written (`one_of`, a divergence's `also`),
/// canonicalized with the backend's table, as the set [`Normalized::races`] makes.
pub fn race_set(races: &[ExpectedRace], symbols: &Symbols) -> anyhow::Result<Normalized> {
    let races = races
        .iter()
        .enumerate()
        .map(|(k, race)| {
            let answers = (0..race.answers.len())
                .map(|i| expected(&race.answer(i), symbols))
                .collect::<anyhow::Result<Vec<_>>>()
                .with_context(|| format!("one_of item {}", k + 1))?;
            let after = expected_store(&race.after, symbols)
                .with_context(|| format!("one_of item {}", k + 1))?;
            Ok(NormalizedRace {
                answers: answers
                    .into_iter()
                    .map(|a| NormalizedAnswer {
                        records: a.records,
                        errors: a.errors,
                        status: a.status,
                    })
                    .collect(),
                after,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Normalized::races(races))
}

fn state_name(state: ContainerState) -> &'static str {
    state.name()
}

/// What an outcome was checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Against {
    /// The scenario's `expect` entry for this profile.
    Expectation,
    /// The committed snapshot of what the live engine did (`snapshots/<profile>/…`).
    Snapshot,
    /// The model's outcome for the same profile.
    Model,
    /// The model and the snapshot, which recorded the same outcome: one diff for both.
    ModelAndSnapshot,
}

impl fmt::Display for Against {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Against::Expectation => "expectation",
            Against::Snapshot => "snapshot",
            Against::Model => "model",
            Against::ModelAndSnapshot => "model and the snapshot",
        })
    }
}

/// Why a run failed: one entry per check that did not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The outcome differs from what it was checked against.
    Differs {
        /// What it was checked against.
        against: Against,
        /// Field by field.
        diff: Diff,
    },
    /// The scenario declares a known divergence for this engine, but the outcomes agree: the
    /// entry is stale and must go (divergences are kept strict).
    NoLongerDiverges {
        /// The two sides that now agree: the model and this.
        against: Against,
    },
    /// Requests sent at once turned out in a way none of the allowed outcomes has.
    NoneOf {
        /// What gave the allowed outcomes.
        against: Against,
        /// The outcomes seen that are not allowed, as lines.
        seen: Vec<String>,
        /// The allowed outcomes, as lines.
        allowed: Vec<String>,
    },
    /// A known divergence of requests sent at once accepts outcomes the model allows anyway.
    AlreadyAllowed {
        /// Those outcomes, as lines.
        outcomes: Vec<String>,
    },
    /// A problem as a saved report spelled it (`rmispec merge` reads reports back: the
    /// text survives, the structure does not).
    Recorded(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Differs { against, diff } => {
                writeln!(f, "differs from the {against} (- {against}, + actual):")?;
                write!(f, "{diff}")
            }
            Problem::NoLongerDiverges { against } => {
                // A live engine is judged against the model: then it is the live engine that
                // agrees with the model, not "the model and the model".
                let other = match against {
                    Against::Model => "the live engine".to_owned(),
                    other => format!("the {other}"),
                };
                writeln!(
                    f,
                    "known divergence no longer diverges (the model and {other} agree): remove it from the scenario's `divergence`"
                )
            }
            Problem::NoneOf {
                against,
                seen,
                allowed,
            } => {
                writeln!(
                    f,
                    "requests sent at once turned out in a way the {against} does not allow:"
                )?;
                for line in seen {
                    writeln!(f, "    + {line}")?;
                }
                writeln!(f, "  the {against} allows:")?;
                for line in allowed {
                    writeln!(f, "    {line}")?;
                }
                Ok(())
            }
            Problem::AlreadyAllowed { outcomes } => {
                writeln!(
                    f,
                    "the known divergence's `also` lists outcomes the model allows: remove them from it"
                )?;
                for line in outcomes {
                    writeln!(f, "    {line}")?;
                }
                Ok(())
            }
            Problem::Recorded(text) => f.write_str(text),
        }
    }
}

/// The verdict on one (scenario, profile, backend).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every check held.
    Pass,
    /// At least one check did not.
    Fail(Vec<Problem>),
    /// The live engine differs from the model, as the scenario says it does.
    KnownDivergence {
        /// The scenario's reason.
        reason: String,
    },
    /// The profile cannot express this request (the expectation says `skip`).
    Skip {
        /// The scenario's reason.
        reason: String,
    },
    /// The backend could not run the scenario at all (an engine error, an unimplemented
    /// model engine): a harness failure, counted as a failure.
    Error {
        /// What went wrong, with its context.
        message: String,
    },
}

impl Verdict {
    /// `pass`, `fail`, `known-divergence`, `skip`, `error`: the JSON and JUnit spelling.
    pub fn id(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail(_) => "fail",
            Verdict::KnownDivergence { .. } => "known-divergence",
            Verdict::Skip { .. } => "skip",
            Verdict::Error { .. } => "error",
        }
    }

    /// Whether this verdict makes a run fail (a non-zero exit, a failed trial).
    pub fn is_failure(&self) -> bool {
        matches!(self, Verdict::Fail(_) | Verdict::Error { .. })
    }

    /// Every verdict, in the order summaries count them.
    pub const IDS: [&'static str; 5] = ["pass", "fail", "known-divergence", "skip", "error"];

    /// The explanation a person reads: the problems, the divergence or skip reason, the error.
    /// Empty for a pass.
    pub fn detail(&self) -> String {
        match self {
            Verdict::Pass => String::new(),
            Verdict::Fail(problems) => problems.iter().map(ToString::to_string).collect(),
            Verdict::KnownDivergence { reason } => format!("known divergence: {reason}\n"),
            Verdict::Skip { reason } => format!("skipped: {reason}\n"),
            Verdict::Error { message } => format!("error: {message}\n"),
        }
    }

    fn from_problems(problems: Vec<Problem>) -> Verdict {
        if problems.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail(problems)
        }
    }
}

/// Judges the model's outcome.
///
/// - against the expectation: any difference fails;
/// - against the snapshot (if one was recorded): a difference is a known divergence when the
///   scenario declares one for this profile, and a failure otherwise; agreement while a
///   divergence is declared fails too (the entry is stale).
///
/// A missing snapshot is no failure: no live engine was recorded for this profile yet.
pub fn judge_model(
    expected: &Normalized,
    model: &Normalized,
    snapshot: Option<&Normalized>,
    divergence: Option<&str>,
) -> Verdict {
    let mut problems = Vec::new();
    if let Some(diff) = Diff::between(expected, model) {
        problems.push(Problem::Differs {
            against: Against::Expectation,
            diff,
        });
    }
    let mut diverged = None;
    if let Some(snapshot) = snapshot {
        match (Diff::between(snapshot, model), divergence) {
            (Some(_), Some(reason)) => diverged = Some(reason),
            (Some(diff), None) => problems.push(Problem::Differs {
                against: Against::Snapshot,
                diff,
            }),
            (None, Some(_)) => problems.push(Problem::NoLongerDiverges {
                against: Against::Snapshot,
            }),
            (None, None) => {}
        }
    }
    match diverged {
        Some(reason) if problems.is_empty() => Verdict::KnownDivergence {
            reason: reason.to_owned(),
        },
        _ => Verdict::from_problems(problems),
    }
}

/// Judges a live engine's outcome.
///
/// - against the model: a difference is a known divergence when the scenario declares one,
///   a failure otherwise; agreement while one is declared fails (stale entry);
/// - against the snapshot, if given: any difference fails (the engine changed behaviour, or
///   the snapshot must be reviewed). Tests leave `snapshot` out and let insta check it.
pub fn judge_live(
    live: &Normalized,
    model: &Normalized,
    snapshot: Option<&Normalized>,
    divergence: Option<&str>,
) -> Verdict {
    if model.is_race() || live.is_race() {
        // A divergence given only as a reason accepts no outcome beyond the model's.
        let none = Normalized::default();
        return judge_races(live, model, divergence.map(|reason| (reason, &none)));
    }
    let mut problems = Vec::new();
    let mut diverged = None;
    // A snapshot that recorded what the model says would show the same diff twice: it is
    // shown once, against both.
    let same = snapshot == Some(model) && divergence.is_none();
    let snapshot = snapshot.filter(|_| !same);
    let against = if same {
        Against::ModelAndSnapshot
    } else {
        Against::Model
    };
    match (Diff::between(model, live), divergence) {
        (Some(_), Some(reason)) => diverged = Some(reason),
        (Some(diff), None) => problems.push(Problem::Differs { against, diff }),
        (None, Some(_)) => problems.push(Problem::NoLongerDiverges {
            against: Against::Model,
        }),
        (None, None) => {}
    }
    if let Some(diff) = snapshot.and_then(|s| Diff::between(s, live)) {
        problems.push(Problem::Differs {
            against: Against::Snapshot,
            diff,
        });
    }
    match diverged {
        Some(reason) if problems.is_empty() => Verdict::KnownDivergence {
            reason: reason.to_owned(),
        },
        _ => Verdict::from_problems(problems),
    }
}

/// Judges the runs of requests sent at once: every outcome a live engine showed must be one
/// the model allows. One that is not is a failure, or the scenario's known divergence.
/// Showing only some of the allowed outcomes is no failure (a few runs need not meet every
/// race), and for the same reason a declared divergence that did not show in these runs is
/// not called stale.
///
/// `divergence` is the scenario's known divergence for this profile: its reason and the
/// outcomes it accepts beyond the model's (its `also`). A run that shows one of those is the
/// known divergence; one that shows an outcome neither allows fails.
/// Of requests sent at once: the outcomes `observed` showed that `allowed` does not have,
/// as a diff of the `one_of` field (`-` what is allowed, `+` what is not); `None` when every
/// observed outcome is allowed (showing only some of them is no difference).
pub fn race_diff(allowed: &Normalized, observed: &Normalized) -> Option<Diff> {
    let mut fields = Vec::new();
    if allowed.built != observed.built {
        let lines = |n: &Normalized| n.built.as_ref().map(built_lines).unwrap_or_default();
        fields.push(FieldDiff {
            field: "built",
            expected: lines(allowed),
            actual: lines(observed),
        });
    }
    let outside: Vec<NormalizedRace> = observed
        .one_of
        .iter()
        .filter(|r| !allowed.one_of.contains(r))
        .cloned()
        .collect();
    if !outside.is_empty() {
        fields.push(FieldDiff {
            field: "one_of",
            expected: race_lines(allowed),
            actual: race_lines(&Normalized::races(outside)),
        });
    }
    (!fields.is_empty()).then_some(Diff { fields })
}

pub fn judge_races(
    live: &Normalized,
    model: &Normalized,
    divergence: Option<(&str, &Normalized)>,
) -> Verdict {
    // A store built otherwise than `given` is judged as for one request.
    if live.built.is_some() {
        let built = Normalized {
            built: live.built.clone(),
            ..Normalized::default()
        };
        if let Some(diff) = race_diff(&Normalized::default(), &built) {
            return Verdict::Fail(vec![Problem::Differs {
                against: Against::Model,
                diff,
            }]);
        }
    }
    let accepted = divergence
        .map(|(_, also)| &also.one_of[..])
        .unwrap_or_default();
    let outside: Vec<NormalizedRace> = live
        .one_of
        .iter()
        .filter(|r| !model.one_of.contains(r) && !accepted.contains(r))
        .cloned()
        .collect();
    if !outside.is_empty() {
        let mut allowed = model.clone();
        allowed.one_of.extend(accepted.iter().cloned());
        return Verdict::Fail(vec![Problem::NoneOf {
            against: Against::Model,
            seen: race_lines(&Normalized::races(outside)),
            allowed: race_lines(&Normalized::races(allowed.one_of)),
        }]);
    }
    match divergence {
        Some((reason, _)) if live.one_of.iter().any(|r| accepted.contains(r)) => {
            Verdict::KnownDivergence {
                reason: reason.to_owned(),
            }
        }
        _ => Verdict::Pass,
    }
}

/// Judges the model's outcomes of requests sent at once against the expectation's set, and
/// checks that a declared divergence accepts only outcomes the model does not allow (else
/// the entry says nothing, and must go).
pub fn judge_model_races(
    expected: &Normalized,
    model: &Normalized,
    divergence: Option<&Normalized>,
) -> Verdict {
    let mut problems = Vec::new();
    if let Some(diff) = Diff::between(expected, model) {
        problems.push(Problem::Differs {
            against: Against::Expectation,
            diff,
        });
    }
    if let Some(also) = divergence {
        let allowed: Vec<NormalizedRace> = also
            .one_of
            .iter()
            .filter(|r| model.one_of.contains(r))
            .cloned()
            .collect();
        if !allowed.is_empty() {
            problems.push(Problem::AlreadyAllowed {
                outcomes: race_lines(&Normalized::races(allowed)),
            });
        }
    }
    Verdict::from_problems(problems)
}

/// The fields of two outcomes that differ, each with both sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diff {
    /// One entry per differing field, in the order [`Normalized`] declares them.
    pub fields: Vec<FieldDiff>,
}

/// One differing field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDiff {
    /// `records`, `errors`, `status`, `after.images`, `after.containers`, `built`, `then`
    /// (a sequence's later steps).
    pub field: &'static str,
    /// The field on the reference side, one line per item.
    pub expected: Vec<String>,
    /// The field on the observed side.
    pub actual: Vec<String>,
}

impl Diff {
    /// The fields where `actual` differs from `expected`, or `None` if they are equal.
    pub fn between(expected: &Normalized, actual: &Normalized) -> Option<Diff> {
        let fields: Vec<FieldDiff> = field_lines(expected)
            .into_iter()
            .zip(field_lines(actual))
            .filter(|((_, e), (_, a))| e != a)
            .map(|((field, expected), (_, actual))| FieldDiff {
                field,
                expected,
                actual,
            })
            .collect();
        (!fields.is_empty()).then_some(Diff { fields })
    }
}

/// Each field of an outcome as the lines a diff shows.
fn field_lines(n: &Normalized) -> [(&'static str, Vec<String>); 8] {
    let errors = n
        .errors
        .iter()
        .map(|e| {
            let mut kind = e.kind.clone();
            if let Some(reason) = &e.reason {
                kind = format!("{kind} ({reason}");
                if let Some(forceable) = e.forceable {
                    kind.push_str(if forceable {
                        ", forceable"
                    } else {
                        ", not forceable"
                    });
                }
                kind.push(')');
            }
            format!("{kind}, {}: {}", e.status, e.message)
        })
        .collect();
    [
        ("records", n.records.clone()),
        ("errors", errors),
        ("status", vec![n.status.clone()]),
        (
            "after.images",
            n.after
                .images
                .iter()
                .map(|(h, names)| format!("{h}: [{}]", names.join(", ")))
                .collect(),
        ),
        (
            "after.containers",
            n.after
                .containers
                .iter()
                .map(|(h, state)| format!("{h}: {state}"))
                .collect(),
        ),
        // Only a live engine that stored `given` differently has it: lines only then.
        (
            "built",
            n.built.as_ref().map(built_lines).unwrap_or_default(),
        ),
        // A sequence's later steps, each line prefixed with its step number.
        ("then", then_lines(n)),
        // Requests sent at once: each allowed outcome, numbered in the set's order.
        ("one_of", race_lines(n)),
    ]
}

/// The outcomes of requests sent at once as diff lines: `outcome 1 request 2 records: …`,
/// `outcome 1 after.images: …`.
fn race_lines(n: &Normalized) -> Vec<String> {
    let mut lines = Vec::new();
    for (k, race) in n.one_of.iter().enumerate() {
        for (i, a) in race.answers.iter().enumerate() {
            let as_one = Normalized {
                records: a.records.clone(),
                errors: a.errors.clone(),
                status: a.status.clone(),
                ..Normalized::default()
            };
            let answer_fields = field_lines(&as_one)
                .into_iter()
                .filter(|(field, _)| ["records", "errors", "status"].contains(field));
            for (field, items) in answer_fields {
                if items.is_empty() {
                    lines.push(format!(
                        "outcome {} request {} {field}: (none)",
                        k + 1,
                        i + 1
                    ));
                }
                for item in items {
                    lines.push(format!(
                        "outcome {} request {} {field}: {item}",
                        k + 1,
                        i + 1
                    ));
                }
            }
        }
        let after = Normalized {
            after: race.after.clone(),
            ..Normalized::default()
        };
        let store_fields = field_lines(&after)
            .into_iter()
            .filter(|(field, _)| field.starts_with("after."));
        for (field, items) in store_fields {
            if items.is_empty() {
                lines.push(format!("outcome {} {field}: (none)", k + 1));
            }
            for item in items {
                lines.push(format!("outcome {} {field}: {item}", k + 1));
            }
        }
    }
    lines
}

/// The later steps of a sequence as diff lines, `step 2 records: …`, `step 2 after.images: …`.
fn then_lines(n: &Normalized) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, step) in n.then.iter().enumerate() {
        let as_one = Normalized {
            records: step.records.clone(),
            errors: step.errors.clone(),
            status: step.status.clone(),
            after: step.after.clone(),
            ..Normalized::default()
        };
        for (field, items) in field_lines(&as_one).into_iter().take(5) {
            if items.is_empty() {
                lines.push(format!("step {} {field}: (none)", i + 2));
            }
            for item in items {
                lines.push(format!("step {} {field}: {item}", i + 2));
            }
        }
    }
    lines
}

/// The built store as lines: images, then containers; `(nothing)` for an empty one, so that it
/// never reads as absent.
fn built_lines(store: &crate::observation::NormalizedStore) -> Vec<String> {
    let mut lines: Vec<String> = store
        .images
        .iter()
        .map(|(h, names)| format!("{h}: [{}]", names.join(", ")))
        .chain(
            store
                .containers
                .iter()
                .map(|(h, state)| format!("{h}: {state}")),
        )
        .collect();
    if lines.is_empty() {
        lines.push("(nothing)".to_owned());
    }
    lines
}

impl fmt::Display for Diff {
    /// A unified line diff per field: `-` only on the reference side, `+` only observed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for field in &self.fields {
            writeln!(f, "  {}:", field.field)?;
            if field.expected.is_empty() && field.actual.is_empty() {
                continue;
            }
            for (mark, line) in line_diff(&field.expected, &field.actual) {
                writeln!(f, "    {mark} {line}")?;
            }
            if field.expected.is_empty() {
                writeln!(f, "    - (none)")?;
            }
            if field.actual.is_empty() {
                writeln!(f, "    + (none)")?;
            }
        }
        Ok(())
    }
}

/// A line diff (Myers, from `similar`): unchanged lines in between keep the order readable.
fn line_diff(a: &[String], b: &[String]) -> Vec<(char, String)> {
    similar::capture_diff_slices(similar::Algorithm::Myers, a, b)
        .iter()
        .flat_map(|op| op.iter_changes(a, b))
        .map(|change| {
            let mark = match change.tag() {
                similar::ChangeTag::Equal => ' ',
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
            };
            (mark, change.value())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::{NormalizedError, NormalizedStore};

    fn untag_one() -> Normalized {
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

    fn conflict() -> Normalized {
        Normalized {
            records: vec![],
            errors: vec![NormalizedError {
                kind: "conflict".into(),
                reason: Some("running-container".into()),
                forceable: Some(false),
                message: "conflict: unable to delete <A:12> (cannot be forced)".into(),
                status: "http 409".into(),
            }],
            status: "http 409".into(),
            after: NormalizedStore {
                images: [(
                    "A".to_owned(),
                    vec!["localhost/app:1".to_owned(), "localhost/app:2".to_owned()],
                )]
                .into(),
                containers: [("c1".to_owned(), "running".to_owned())].into(),
            },
            built: None,
            then: Vec::new(),
            one_of: Vec::new(),
        }
    }

    fn table(profile: rmispec_model::Profile) -> Symbols {
        let d = |c: char| rmispec_model::Digest::parse(&c.to_string().repeat(64)).expect("hex");
        let mut s = Symbols::new(profile, "127.0.0.1:5000");
        s.add_image(
            crate::scenario::ImageHandle::new("A").expect("handle"),
            d('a'),
            d('b'),
        );
        s
    }

    const EXPECTATION: &str = r#"
records: ["Untagged: <reg>/app@sha256:<A.manifest>", "Deleted: sha256:<A.manifest>"]
errors:
  - kind: conflict
    reason: stopped-container
    forceable: true
    message: "unable to delete <A.config:12>"
    status: http 409
status: http 200
after:
  images:
    "<?1>": [localhost/app:1]
  containers:
    c1: stopped
source: moby/moby@v26.1.5:daemon/containerd/image_delete.go#L1-L2
"#;

    #[test]
    fn expectations_are_canonicalized_with_the_backends_table() {
        let e: ExpectedOutcome = serde_norway::from_str(EXPECTATION).expect("valid expectation");
        let dk = expected(&e, &table(rmispec_model::Profile::DockerContainerd)).expect("complete");
        assert_eq!(
            dk.records,
            ["Untagged: <reg>/app@sha256:<A>", "Deleted: sha256:<A>"]
        );
        assert_eq!(dk.errors[0].message, "unable to delete <A.config:12>");
        assert_eq!(
            (
                dk.errors[0].kind.as_str(),
                dk.errors[0].reason.as_deref(),
                dk.errors[0].forceable
            ),
            ("conflict", Some("stopped-container"), Some(true))
        );
        assert_eq!(dk.errors[0].status, "http 409");
        assert_eq!(dk.status, "http 200");
        assert_eq!(dk.after.images.get("<?1>").map(Vec::len), Some(1));
        assert_eq!(
            dk.after.containers.get("c1").map(String::as_str),
            Some("stopped")
        );

        let dc = expected(&e, &table(rmispec_model::Profile::DockerClassic)).expect("complete");
        assert_eq!(
            dc.records,
            [
                "Untagged: <reg>/app@sha256:<A.manifest>",
                "Deleted: sha256:<A.manifest>"
            ]
        );
        assert_eq!(dc.errors[0].message, "unable to delete <A:12>");
    }

    #[test]
    fn incomplete_or_unknown_expectations_are_errors() {
        let e: ExpectedOutcome =
            serde_norway::from_str("records: []\nstatus: http 200\n").expect("valid");
        let err =
            expected(&e, &table(rmispec_model::Profile::DockerClassic)).expect_err("no after");
        assert!(err.to_string().contains("after"), "{err}");
        let e: ExpectedOutcome = serde_norway::from_str(
            "records: [\"Deleted: <B>\"]\nstatus: http 200\nafter: {images: {}}\n",
        )
        .expect("valid");
        assert!(expected(&e, &table(rmispec_model::Profile::DockerClassic)).is_err());
    }

    #[test]
    fn equal_outcomes_have_no_diff() {
        assert_eq!(Diff::between(&untag_one(), &untag_one()), None);
    }

    #[test]
    fn diff_lists_only_the_fields_that_differ_in_declaration_order() {
        let diff = Diff::between(&untag_one(), &conflict()).expect("they differ");
        let fields: Vec<_> = diff.fields.iter().map(|f| f.field).collect();
        assert_eq!(
            fields,
            [
                "records",
                "errors",
                "status",
                "after.images",
                "after.containers"
            ]
        );

        let mut other = untag_one();
        other.status = "http 409".into();
        let diff = Diff::between(&untag_one(), &other).expect("status differs");
        assert_eq!(diff.fields.len(), 1);
        let text = diff.to_string();
        assert!(text.contains("status:"), "{text}");
        assert!(text.contains("- http 200"), "{text}");
        assert!(text.contains("+ http 409"), "{text}");
    }

    #[test]
    fn line_diff_keeps_common_lines_and_marks_the_rest() {
        let a: Vec<String> = ["x", "y", "z"].map(String::from).into();
        let b: Vec<String> = ["x", "q", "z"].map(String::from).into();
        let owned = line_diff(&a, &b);
        let d: Vec<(char, &str)> = owned.iter().map(|(m, l)| (*m, l.as_str())).collect();
        assert_eq!(d.first(), Some(&(' ', "x")));
        assert_eq!(d.last(), Some(&(' ', "z")));
        assert_eq!(d[1..3], [('-', "y"), ('+', "q")], "removed before added");
        assert_eq!(d.len(), 4);
    }

    #[test]
    fn empty_side_is_shown_as_none() {
        let mut a = untag_one();
        a.records.clear();
        let text = Diff::between(&a, &untag_one())
            .expect("records differ")
            .to_string();
        assert!(text.contains("- (none)"), "{text}");
        assert!(text.contains("+ Untagged: localhost/app:1"), "{text}");
    }

    #[test]
    fn model_passes_when_it_meets_the_expectation_and_no_snapshot_exists() {
        assert_eq!(
            judge_model(&untag_one(), &untag_one(), None, None),
            Verdict::Pass
        );
    }

    #[test]
    fn model_fails_against_the_expectation() {
        let v = judge_model(&untag_one(), &conflict(), None, None);
        assert!(
            matches!(&v, Verdict::Fail(p) if matches!(p[..], [Problem::Differs { against: Against::Expectation, .. }])),
            "{v:?}"
        );
        assert!(v.is_failure());
    }

    #[test]
    fn model_fails_against_an_undeclared_snapshot_difference() {
        let v = judge_model(&untag_one(), &untag_one(), Some(&conflict()), None);
        assert!(
            matches!(&v, Verdict::Fail(p) if matches!(p[..], [Problem::Differs { against: Against::Snapshot, .. }])),
            "{v:?}"
        );
    }

    #[test]
    fn declared_divergence_confirmed_by_the_snapshot() {
        let v = judge_model(
            &untag_one(),
            &untag_one(),
            Some(&conflict()),
            Some("engine bug"),
        );
        assert_eq!(
            v,
            Verdict::KnownDivergence {
                reason: "engine bug".into()
            }
        );
        assert!(!v.is_failure());
    }

    #[test]
    fn stale_divergence_fails() {
        let v = judge_model(
            &untag_one(),
            &untag_one(),
            Some(&untag_one()),
            Some("engine bug"),
        );
        assert_eq!(
            v,
            Verdict::Fail(vec![Problem::NoLongerDiverges {
                against: Against::Snapshot
            }])
        );
        assert!(v.detail().contains("no longer diverges"));
    }

    #[test]
    fn divergence_does_not_hide_an_expectation_failure() {
        let v = judge_model(
            &conflict(),
            &untag_one(),
            Some(&conflict()),
            Some("engine bug"),
        );
        assert!(matches!(v, Verdict::Fail(_)), "{v:?}");
    }

    #[test]
    fn live_checks_model_then_snapshot() {
        assert_eq!(
            judge_live(&untag_one(), &untag_one(), Some(&untag_one()), None),
            Verdict::Pass
        );
        let v = judge_live(&conflict(), &untag_one(), Some(&untag_one()), None);
        assert!(
            matches!(&v, Verdict::Fail(p) if matches!(p[..], [Problem::Differs { against: Against::ModelAndSnapshot, .. }])),
            "one diff when the snapshot recorded the model's outcome: {v:?}"
        );
        let v = judge_live(&conflict(), &untag_one(), None, None);
        assert!(
            matches!(&v, Verdict::Fail(p) if matches!(p[..], [Problem::Differs { against: Against::Model, .. }])),
            "{v:?}"
        );
        let v = judge_live(&conflict(), &untag_one(), None, Some("bug"));
        assert_eq!(
            v,
            Verdict::KnownDivergence {
                reason: "bug".into()
            }
        );
        let v = judge_live(&untag_one(), &untag_one(), None, Some("bug"));
        assert_eq!(
            v,
            Verdict::Fail(vec![Problem::NoLongerDiverges {
                against: Against::Model
            }])
        );
        let text = v.detail();
        assert!(
            text.contains("the model and the live engine agree"),
            "{text}"
        );
        assert!(!text.contains("the model and the model"), "{text}");
        let v = judge_live(&conflict(), &untag_one(), Some(&untag_one()), Some("bug"));
        assert!(
            matches!(&v, Verdict::Fail(p) if matches!(p[..], [Problem::Differs { against: Against::Snapshot, .. }])),
            "{v:?}"
        );
    }

    fn race(first: &str, second: &str) -> NormalizedRace {
        let answer = |status: &str| NormalizedAnswer {
            records: Vec::new(),
            errors: Vec::new(),
            status: status.to_owned(),
        };
        NormalizedRace {
            answers: vec![answer(first), answer(second)],
            after: NormalizedStore::default(),
        }
    }

    #[test]
    fn races_are_sets_and_a_live_run_must_be_one_the_model_allows() {
        let model = Normalized::races(vec![
            race("http 200", "http 404"),
            race("http 404", "http 200"),
        ]);
        let same = Normalized::races(vec![
            race("http 404", "http 200"),
            race("http 200", "http 404"),
        ]);
        assert_eq!(model, same, "the order of the outcomes does not matter");
        assert_eq!(judge_model_races(&same, &model, None), Verdict::Pass);
        let fewer = Normalized::races(vec![race("http 200", "http 404")]);
        assert!(judge_model_races(&fewer, &model, None).is_failure());
        // A live engine that shows only some of the allowed outcomes passes.
        assert_eq!(judge_races(&fewer, &model, None), Verdict::Pass);
        let finer = Normalized::races(vec![race("http 200", "http 500")]);
        let v = judge_races(&finer, &model, None);
        assert!(v.detail().contains("does not allow"), "{v:?}");
        assert!(
            v.detail()
                .contains("+ outcome 1 request 2 status: http 500"),
            "{v:?}"
        );
        // A divergence accepts exactly the outcomes it lists.
        let also = finer.clone();
        assert_eq!(
            judge_races(&finer, &model, Some(("a finer race", &also))),
            Verdict::KnownDivergence {
                reason: "a finer race".into()
            }
        );
        assert_eq!(
            judge_races(&fewer, &model, Some(("a finer race", &also))),
            Verdict::Pass
        );
        let other = Normalized::races(vec![race("http 200", "http 409")]);
        assert!(judge_races(&other, &model, Some(("a finer race", &also))).is_failure());
        // …and only outcomes the model does not allow already.
        let v = judge_model_races(&model, &model, Some(&fewer));
        assert!(
            v.detail().contains("lists outcomes the model allows"),
            "{v:?}"
        );
        assert_eq!(
            judge_model_races(&model, &model, Some(&also)),
            Verdict::Pass
        );
    }
}
