//! The terminal report: a matrix of scenarios × engines, a summary, and every failure spelled out.

use super::{cells_for, engines_disagree, profiles_in, short_label, verdict_counts, CELL_LEGEND};
use crate::compare::Verdict;
use crate::runner::ScenarioRuns;
use std::fmt::Write;

/// Renders the matrix, its legend, the per-engine summary and the failures' details.
pub fn render(runs: &[ScenarioRuns]) -> String {
    let profiles = profiles_in(runs);
    let mut out = String::new();

    let name_width = runs
        .iter()
        .map(|s| width(&s.name))
        .max()
        .unwrap_or(0)
        .max("scenario".len());
    let cells: Vec<Vec<String>> = runs.iter().map(|s| cells_for(s, &profiles)).collect();
    let col_widths: Vec<usize> = profiles
        .iter()
        .enumerate()
        .map(|(i, p)| {
            cells
                .iter()
                .map(|row| width(&row[i]))
                .chain([width(short_label(*p))])
                .max()
                .unwrap_or(0)
        })
        .collect();

    let _ = write!(out, "  {}", pad("scenario", name_width));
    for (p, w) in profiles.iter().zip(&col_widths) {
        let _ = write!(out, "  {}", pad(short_label(*p), *w));
    }
    out = out.trim_end().to_owned();
    out.push('\n');
    for (s, row) in runs.iter().zip(&cells) {
        let mark = if engines_disagree(s) { "≠" } else { " " };
        let _ = write!(out, "{mark} {}", pad(&s.name, name_width));
        for (c, w) in row.iter().zip(&col_widths) {
            let _ = write!(out, "  {}", pad(c, *w));
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push('\n');
    }

    out.push('\n');
    let engines: Vec<String> = profiles
        .iter()
        .map(|p| {
            let backend = runs
                .iter()
                .flat_map(|s| &s.results)
                .find(|r| r.profile == *p)
                .map(|r| r.backend.as_str());
            format!(
                "{} {} {} ({})",
                short_label(*p),
                p.id(),
                p.version(),
                backend.unwrap_or("model")
            )
        })
        .collect();
    let _ = writeln!(out, "engines: {}", engines.join(" · "));
    let _ = writeln!(out, "{CELL_LEGEND}");

    out.push('\n');
    let label_width = profiles.iter().map(|p| width(p.id())).max().unwrap_or(0);
    let _ = write!(out, "{}", pad("", label_width));
    for id in Verdict::IDS {
        let _ = write!(out, "  {id}");
    }
    out.push('\n');
    for (p, counts) in verdict_counts(runs, &profiles) {
        let _ = write!(out, "{}", pad(p.id(), label_width));
        for (id, n) in Verdict::IDS.iter().zip(counts) {
            let _ = write!(out, "  {n:>w$}", w = id.len());
        }
        out.push('\n');
    }

    for s in runs {
        for r in s.results.iter().filter(|r| r.verdict.is_failure()) {
            let _ = writeln!(
                out,
                "\n{} {}/{} ({})",
                r.verdict.id().to_uppercase(),
                r.profile.id(),
                s.name,
                r.backend
            );
            out.push_str(&r.verdict.detail());
        }
    }
    out
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::runs;

    #[test]
    fn matrix_has_a_row_per_scenario_a_column_per_profile_and_marks_disagreement() {
        let text = render(&runs());
        let lines: Vec<&str> = text.lines().collect();
        let header: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(header, ["scenario", "DC", "CRI", "P4", "P1"]);
        let row: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            row,
            ["≠", "untag/one-of-two-tags", "U1", "D1*", "409*✗", "-"]
        );
        let row: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(row, ["untag/same", "U1", "U1~", "ERR✗", "U1"]);
        // Columns line up: the cells of a column start at the same character offset.
        let col = |line: &str, cell: &str| line.find(cell).map(|b| line[..b].chars().count());
        assert_eq!(col(lines[0], "P4"), col(lines[1], "409*✗"));
        assert_eq!(col(lines[0], "P4"), col(lines[2], "ERR✗"));
    }

    #[test]
    fn summary_counts_and_failure_details_follow() {
        let text = render(&runs());
        let podman = text
            .lines()
            .find(|l| l.starts_with("podman-libimage@4.3 "))
            .expect("summary row");
        let counts: Vec<&str> = podman.split_whitespace().skip(1).collect();
        assert_eq!(counts, ["0", "1", "0", "0", "1"]);
        assert!(
            text.contains("FAIL podman-libimage@4.3/untag/one-of-two-tags (model)"),
            "{text}"
        );
        assert!(text.contains("differs from the expectation"), "{text}");
        assert!(
            text.contains("ERROR podman-libimage@4.3/untag/same (model)\nerror: todo!()"),
            "{text}"
        );
        assert!(!text.contains("FAIL docker-classic"), "{text}");
        assert!(
            text.contains(
                "engines: DC docker-classic@20.10 20.10.24 (model) · CRI cri-containerd@1.7 1.7.24 (model)"
            ),
            "{text}"
        );
    }
}
