//! The terminal report: a matrix of scenarios × engines, a summary, and every failure spelled
//! out, laid out to fit a terminal of a given width.

use super::{cells_for, profiles_in, row_mark, short_label, verdict_counts, CELL_LEGEND};
use crate::compare::Verdict;
use crate::runner::ScenarioRuns;
use std::fmt::Write;

/// The narrowest width the layout plans for: below it, lines overflow rather than lose data.
pub const MIN_WIDTH: usize = 80;

/// The width to lay the matrix out for: the terminal's (stdout), else `COLUMNS`, else
/// [`MIN_WIDTH`]; never less than [`MIN_WIDTH`].
pub fn terminal_width() -> usize {
    let from_terminal = terminal_size::terminal_size().map(|(w, _)| usize::from(w.0));
    let from_env = || std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok());
    from_terminal
        .or_else(from_env)
        .unwrap_or(MIN_WIDTH)
        .max(MIN_WIDTH)
}

/// Renders the matrix, its legend, the per-engine summary and the failures' details, in
/// lines of at most `width` characters (failure details aside: a diff line is not cut).
///
/// When the names and the cells do not fit side by side, a long name gets a line of its own
/// and its cells go on the next one, under the column headers.
pub fn render(runs: &[ScenarioRuns], width: usize) -> String {
    let profiles = profiles_in(runs);
    let mut out = String::new();

    let cells: Vec<Vec<String>> = runs.iter().map(|s| cells_for(s, &profiles)).collect();
    let col_widths: Vec<usize> = profiles
        .iter()
        .enumerate()
        .map(|(i, p)| {
            cells
                .iter()
                .map(|row| chars(&row[i]))
                .chain([chars(short_label(*p))])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let longest = runs
        .iter()
        .map(|s| chars(&s.name))
        .max()
        .unwrap_or(0)
        .max("scenario".len());
    // Columns two spaces apart, or one when that is what makes them fit; more profiles than
    // fit beside a name column of 8 are shown as several tables, each as wide as fits.
    let all: Vec<usize> = (0..profiles.len()).collect();
    let cells_width =
        |cols: &[usize], gap: usize| -> usize { cols.iter().map(|&i| col_widths[i] + gap).sum() };
    let mut chunks: Vec<Vec<usize>> = Vec::new();
    for &i in &all {
        match chunks.last_mut() {
            Some(c) if 2 + 8 + cells_width(c, 1) + col_widths[i] < width => c.push(i),
            _ => chunks.push(vec![i]),
        }
    }
    for (n, cols) in chunks.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let gap = if 2 + 8 + cells_width(cols, 2) <= width {
            2
        } else {
            1
        };
        // Two characters of row mark, then the name column, then the cells. Without room for
        // a name column of 8, every name has a line of its own.
        let room = width.saturating_sub(2 + cells_width(cols, gap));
        let name_width = if room >= 8 { longest.min(room) } else { 0 };
        let sep = " ".repeat(gap);
        let mut line = format!(
            "  {}",
            pad(if name_width > 0 { "scenario" } else { "" }, name_width)
        );
        for (k, &i) in cols.iter().enumerate() {
            let lead = if name_width == 0 && k == 0 { "" } else { &sep };
            let _ = write!(
                line,
                "{lead}{}",
                pad(short_label(profiles[i]), col_widths[i])
            );
        }
        push_line(&mut out, &line);
        for (s, row) in runs.iter().zip(&cells) {
            let mark = row_mark(s).symbol();
            let mut line = if chars(&s.name) > name_width {
                push_line(&mut out, &format!("{mark} {}", s.name));
                format!("  {}", pad("", name_width))
            } else {
                format!("{mark} {}", pad(&s.name, name_width))
            };
            for (k, &i) in cols.iter().enumerate() {
                let lead = if name_width == 0 && k == 0 { "" } else { &sep };
                let _ = write!(line, "{lead}{}", pad(&row[i], col_widths[i]));
            }
            push_line(&mut out, &line);
        }
    }

    out.push('\n');
    for p in &profiles {
        let backend = runs
            .iter()
            .flat_map(|s| &s.results)
            .find(|r| r.profile == *p)
            .map(|r| r.backend.as_str());
        let text = format!(
            "{} {} {} ({})",
            pad(short_label(*p), 6),
            p.id(),
            p.version(),
            backend.unwrap_or("model")
        );
        wrapped(&mut out, &text, width);
    }
    for item in CELL_LEGEND {
        wrapped(&mut out, item, width);
    }

    out.push('\n');
    let label_width = profiles.iter().map(|p| chars(p.id())).max().unwrap_or(0);
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

    // Failures, each spelled out; the same error on many scenarios of one profile (an
    // engine that did not start) is said once, with the scenarios it stopped.
    let mut said: Vec<(rmispec_model::Profile, String)> = Vec::new();
    for s in runs {
        for r in s.results.iter().filter(|r| r.verdict.is_failure()) {
            if let Verdict::Error { message } = &r.verdict {
                if said.iter().any(|(p, m)| *p == r.profile && m == message) {
                    continue;
                }
                let stopped: Vec<&str> = runs
                    .iter()
                    .filter(|t| {
                        t.results.iter().any(|q| {
                            q.profile == r.profile
                                && matches!(&q.verdict, Verdict::Error { message: m } if m == message)
                        })
                    })
                    .map(|t| t.name.as_str())
                    .collect();
                if stopped.len() > 1 {
                    said.push((r.profile, message.clone()));
                    let _ = writeln!(
                        out,
                        "\nERROR {} ({}), {} scenarios ({} … {})",
                        r.profile.id(),
                        r.backend,
                        stopped.len(),
                        stopped[0],
                        stopped[stopped.len() - 1]
                    );
                    out.push_str(&r.verdict.detail());
                    continue;
                }
            }
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

/// Appends `line` without its trailing blanks.
fn push_line(out: &mut String, line: &str) {
    out.push_str(line.trim_end());
    out.push('\n');
}

/// Appends `text` wrapped to `width`, continuation lines indented.
fn wrapped(out: &mut String, text: &str, width: usize) {
    let options = textwrap::Options::new(width).subsequent_indent("    ");
    for line in textwrap::wrap(text, options) {
        push_line(out, &line);
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(chars(s))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::runs;

    #[test]
    fn matrix_has_a_row_per_scenario_a_column_per_profile_and_marks_disagreement() {
        let text = render(&runs(), 80);
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
    fn every_line_fits_the_width_and_long_names_get_their_own_line() {
        let mut runs = runs();
        runs[0].name =
            "a/very-long-scenario-name-that-leaves-no-room-for-the-cells-beside-it".into();
        let text = render(&runs, 80);
        let table_and_legend = text.split("\n\n").take(2).collect::<Vec<_>>().join("\n");
        for line in table_and_legend.lines() {
            assert!(
                line.chars().count() <= 80,
                "{} > 80: {line}",
                line.chars().count()
            );
        }
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], format!("≠ {}", runs[0].name));
        let cells: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(cells, ["U1", "D1*", "409*✗", "-"]);
        // Wider terminals keep one line per scenario.
        let wide = render(&runs, 300);
        assert!(
            wide.lines().nth(1).is_some_and(|l| l.ends_with('-')),
            "{wide}"
        );
    }

    #[test]
    fn one_error_on_many_scenarios_is_said_once() {
        let mut runs = runs();
        let error = Verdict::Error {
            message: "starting the live engine: no such binary".into(),
        };
        for s in &mut runs {
            s.results[1].verdict = error.clone();
            s.results[1].outcome = None;
        }
        let text = render(&runs, 80);
        assert_eq!(text.matches("no such binary").count(), 1, "{text}");
        assert!(
            text.contains(
                "ERROR cri-containerd@1.7 (model), 2 scenarios (untag/one-of-two-tags … untag/same)"
            ),
            "{text}"
        );
    }

    #[test]
    fn summary_counts_and_failure_details_follow() {
        let text = render(&runs(), 80);
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
                "DC     docker-classic@20.10 20.10.24 (model)\nCRI    cri-containerd@1.7 1.7.24 (model)"
            ),
            "{text}"
        );
    }
}
