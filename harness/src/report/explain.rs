//! `rmispec explain NAME`: one scenario and every engine's outcome, as a person reads them.

use super::{groups, About};
use crate::observation::Normalized;
use crate::runner::{RunResult, ScenarioRuns};
use std::fmt::Write;

/// Renders the scenario (summary, notes, given, when, divergences), then the outcomes,
/// engines with identical outcomes together, each with its verdict and source.
pub fn render(runs: &ScenarioRuns, about: &About) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n  {}\n", runs.name, runs.summary);
    if let Some(notes) = &about.notes {
        for line in notes.trim_end().lines() {
            let _ = writeln!(out, "  {line}");
        }
        out.push('\n');
    }
    out.push_str(&about.given);
    out.push_str(&about.when);
    if !about.divergences.is_empty() {
        out.push_str("divergence:\n");
        for (id, reason, source) in &about.divergences {
            let _ = writeln!(out, "  {id}: {reason}");
            if let Some(source) = source {
                let _ = writeln!(out, "    source: {source}");
            }
        }
    }

    for group in groups(&runs.results) {
        let names: Vec<String> = group
            .iter()
            .map(|r| format!("{} {}", r.profile.engine().id(), r.profile.version()))
            .collect();
        let _ = writeln!(out, "\n== {} ({})", names.join(", "), group[0].backend);
        // One source line for the group when every engine in it cites the same code.
        let shared_source = group.len() > 1 && group.iter().all(|r| r.source == group[0].source);
        for r in &group {
            verdict_line(&mut out, r, group.len() > 1, !shared_source);
        }
        if let (true, Some(source)) = (shared_source, &group[0].source) {
            let _ = writeln!(out, "  source: {source}");
        }
        if let Some(outcome) = &group[0].outcome {
            for line in outcome_lines(outcome) {
                let _ = writeln!(out, "  {line}");
            }
        }
        for r in group.iter().filter(|r| !r.verdict.detail().is_empty()) {
            let prefix = if group.len() > 1 {
                format!("{}: ", r.profile.id())
            } else {
                String::new()
            };
            for line in r.verdict.detail().lines() {
                let _ = writeln!(out, "  {prefix}{line}");
            }
        }
    }
    out
}

fn verdict_line(out: &mut String, r: &RunResult, named: bool, with_source: bool) {
    let who = if named {
        format!("{}: ", r.profile.id())
    } else {
        String::new()
    };
    let source = match (&r.source, with_source) {
        (Some(s), true) => format!(" · source: {s}"),
        _ => String::new(),
    };
    let _ = writeln!(out, "  {who}{}{source}", r.verdict.id());
}

/// An outcome as indented lines: records, errors, status, the store afterwards; a sequence's
/// steps each under its `step N:` heading.
pub fn outcome_lines(o: &Normalized) -> Vec<String> {
    if o.is_race() {
        return race_lines(o);
    }
    if o.then.is_empty() {
        return step_lines(o);
    }
    let mut lines = Vec::new();
    for (i, step) in o.steps().into_iter().enumerate() {
        lines.push(format!("step {}:", i + 1));
        let one = Normalized {
            records: step.records,
            errors: step.errors,
            status: step.status,
            after: step.after,
            ..Normalized::default()
        };
        lines.extend(step_lines(&one).into_iter().map(|l| format!("  {l}")));
    }
    lines
}

/// Requests sent at once: each outcome of the set under `outcome K of N:`, each request's
/// answer under `request I:`, then the store after all of them.
fn race_lines(o: &Normalized) -> Vec<String> {
    let mut lines = Vec::new();
    let n = o.one_of.len();
    for (k, race) in o.one_of.iter().enumerate() {
        lines.push(format!("outcome {} of {n}:", k + 1));
        for (i, a) in race.answers.iter().enumerate() {
            lines.push(format!("  request {}:", i + 1));
            let one = Normalized {
                records: a.records.clone(),
                errors: a.errors.clone(),
                status: a.status.clone(),
                after: race.after.clone(),
                ..Normalized::default()
            };
            // The store is the same after every request: it is shown once, below.
            let answer = step_lines(&one);
            let keep = answer
                .iter()
                .position(|l| l.starts_with("after"))
                .unwrap_or(answer.len());
            lines.extend(answer[..keep].iter().map(|l| format!("    {l}")));
        }
        let store = step_lines(&Normalized {
            after: race.after.clone(),
            ..Normalized::default()
        });
        let from = store
            .iter()
            .position(|l| l.starts_with("after"))
            .unwrap_or(0);
        lines.extend(store[from..].iter().map(|l| format!("  {l}")));
    }
    lines
}

fn step_lines(o: &Normalized) -> Vec<String> {
    let mut lines = Vec::new();
    if o.records.is_empty() {
        lines.push("records: (none)".to_owned());
    } else {
        lines.push("records:".to_owned());
        lines.extend(o.records.iter().map(|r| format!("  {r}")));
    }
    if !o.errors.is_empty() {
        lines.push("errors:".to_owned());
        for e in &o.errors {
            let mut kind = e.kind.clone();
            if let Some(reason) = &e.reason {
                let force = match e.forceable {
                    Some(true) => ", forceable",
                    Some(false) => ", not forceable",
                    None => "",
                };
                kind = format!("{kind} ({reason}{force})");
            }
            lines.push(format!("  {kind}, {}", e.status));
            lines.push(format!("    {}", e.message));
        }
    }
    lines.push(format!("status: {}", o.status));
    if o.after.images.is_empty() && o.after.containers.is_empty() {
        lines.push("after: (empty store)".to_owned());
    } else {
        lines.push("after:".to_owned());
        for (handle, names) in &o.after.images {
            let names = if names.is_empty() {
                "(no names)".to_owned()
            } else {
                names.join(", ")
            };
            lines.push(format!("  {handle}: {names}"));
        }
        for (handle, state) in &o.after.containers {
            lines.push(format!("  {handle}: {state}"));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::runs;

    fn about() -> About {
        About {
            notes: Some("Why it matters.".into()),
            given: "given:\n  images:\n    A:\n      tags: [localhost/app:1, localhost/app:2]\n"
                .into(),
            when: "when:\n  rmi: localhost/app:1\n".into(),
            divergences: vec![(
                "cri-containerd".into(),
                "bug".into(),
                Some("containerd/containerd@v1.7.24:x#L1".into()),
            )],
        }
    }

    #[test]
    fn shows_the_scenario_then_each_engine() {
        let runs = runs();
        let text = render(&runs[0], &about());
        for part in [
            "untag/one-of-two-tags\n  Removing one of two tags",
            "  Why it matters.",
            "given:\n  images:",
            "when:\n  rmi: localhost/app:1",
            "divergence:\n  cri-containerd: bug\n    source: containerd/containerd@v1.7.24:x#L1",
            "== docker-classic 20.10.24 (model)\n  pass\n  records:\n    Untagged: localhost/app:1\n  status: http 200\n  after:\n    A: localhost/app:2",
            "== cri-containerd 1.7.24 (model)\n  pass\n  records: (none)\n  status: grpc OK\n  after: (empty store)",
            "errors:\n    conflict (multiple-references, forceable), http 409\n      conflict: unable to delete <A:12>",
            "== libpod-legacy 1.9.3 (model)\n  skip\n  skipped: no API",
        ] {
            assert!(text.contains(part), "missing {part:?} in:\n{text}");
        }
        // The failure's diff is shown under its engine.
        assert!(text.contains("differs from the expectation"), "{text}");
    }

    #[test]
    fn a_source_all_engines_of_a_group_share_is_shown_once() {
        let mut runs = runs();
        for r in &mut runs[1].results {
            r.source = Some("moby/moby@v20.10.24:x#L1".into());
        }
        let text = render(&runs[1], &about());
        assert!(
            text.contains("  libpod-legacy@1.9: pass\n  source: moby/moby@v20.10.24:x#L1\n"),
            "{text}"
        );
        assert_eq!(
            text.matches("source: moby").count(),
            2,
            "once per group: {text}"
        );
        runs[1].results[0].source = None;
        let text = render(&runs[1], &about());
        assert!(
            text.contains(
                "  cri-containerd@1.7: known-divergence · source: moby/moby@v20.10.24:x#L1\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn identical_outcomes_share_one_block_with_each_verdict() {
        let runs = runs();
        let text = render(&runs[1], &about());
        assert!(
            text.contains("== docker-classic 20.10.24, cri-containerd 1.7.24, libpod-legacy 1.9.3 (model)\n  docker-classic@20.10: pass\n  cri-containerd@1.7: known-divergence\n  libpod-legacy@1.9: pass\n"),
            "{text}"
        );
        assert!(
            text.contains("cri-containerd@1.7: known divergence: bug"),
            "{text}"
        );
        assert_eq!(text.matches("records:").count(), 1, "{text}");
    }
}
