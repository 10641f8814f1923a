//! JUnit XML, for CI systems that show test reports: one `testcase` per (scenario, engine),
//! `classname` the profile id, so reports group by engine.

use crate::compare::Verdict;
use crate::runner::ScenarioRuns;
use std::fmt::Write;

/// Renders every result as a JUnit `testsuites` document.
pub fn render(runs: &[ScenarioRuns]) -> String {
    let all: Vec<_> = runs
        .iter()
        .flat_map(|s| s.results.iter().map(move |r| (s, r)))
        .collect();
    let count = |id: &str| all.iter().filter(|(_, r)| r.verdict.id() == id).count();
    let (failures, errors, skipped) = (count("fail"), count("error"), count("skip"));
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"rmispec\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">",
        all.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"rmispec\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">",
        all.len()
    );
    for (s, r) in all {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\"",
            escape(r.profile.id()),
            escape(&format!("{} ({})", s.name, r.backend))
        );
        let detail = escape(&r.verdict.detail());
        match &r.verdict {
            Verdict::Pass => out.push_str("/>\n"),
            Verdict::Fail(_) => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\">{detail}</failure>\n    </testcase>",
                    first_line(&detail)
                );
            }
            Verdict::Error { .. } => {
                let _ = writeln!(
                    out,
                    ">\n      <error message=\"{}\">{detail}</error>\n    </testcase>",
                    first_line(&detail)
                );
            }
            Verdict::Skip { reason } => {
                let _ = writeln!(
                    out,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    escape(reason)
                );
            }
            Verdict::KnownDivergence { .. } => {
                let _ = writeln!(
                    out,
                    ">\n      <system-out>{detail}</system-out>\n    </testcase>"
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Escapes text for XML content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::runs;

    #[test]
    fn counts_and_one_testcase_per_result() {
        let xml = render(&runs());
        assert!(xml.contains("<testsuites name=\"rmispec\" tests=\"8\" failures=\"1\" errors=\"1\" skipped=\"1\">"), "{xml}");
        assert_eq!(xml.matches("<testcase ").count(), 8);
        assert_eq!(xml.matches("<failure ").count(), 1);
        assert_eq!(xml.matches("<error ").count(), 1);
        assert_eq!(xml.matches("<skipped ").count(), 1);
        assert!(
            xml.contains(
                "classname=\"podman-libimage@4.3\" name=\"untag/one-of-two-tags (model)\""
            ),
            "{xml}"
        );
    }

    #[test]
    fn symbols_in_details_are_escaped() {
        let xml = render(&runs());
        // The diff shows `<A:12>` from the conflict message: it must not open an element.
        assert!(xml.contains("&lt;A:12&gt;"), "{xml}");
        assert!(!xml.contains("<A:12>"), "{xml}");
        assert_eq!(escape("a&b\"c'<d>"), "a&amp;b&quot;c&apos;&lt;d&gt;");
    }
}
