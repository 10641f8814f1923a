//! JUnit XML, for CI systems that show test reports (written with quick-junit, which nextest
//! uses too).
//!
//! - one `<testsuite>` per profile, named by its id, with the engine version and the
//!   backend as properties: an engine upgrade changes a property, not every test's name, so
//!   CI keeps each test's history;
//! - one `<testcase>` per scenario, named by the scenario, `classname` the profile id, with
//!   the time the trial took;
//! - a failure's message is its diff; an error's is what went wrong; a skip is `<skipped>`
//!   with the scenario's reason; a known divergence passes, its reason in `<system-out>`.

use crate::compare::Verdict;
use crate::report::profiles_in;
use crate::runner::ScenarioRuns;
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

/// Renders every result as a JUnit `testsuites` document.
pub fn render(runs: &[ScenarioRuns]) -> String {
    let mut report = Report::new("rmispec");
    let mut total = std::time::Duration::ZERO;
    for profile in profiles_in(runs) {
        let mut suite = TestSuite::new(profile.id());
        suite.add_property(Property::new("version", profile.version()));
        let mut backend: Option<&str> = None;
        let mut time = std::time::Duration::ZERO;
        for s in runs {
            for r in s.results.iter().filter(|r| r.profile == profile) {
                backend.get_or_insert(&r.backend);
                let detail = r.verdict.detail();
                let status = match &r.verdict {
                    Verdict::Pass | Verdict::KnownDivergence { .. } => TestCaseStatus::success(),
                    Verdict::Fail(_) => {
                        let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        st.set_message(detail.trim_end()).set_type(r.verdict.id());
                        st.set_description(detail.clone());
                        st
                    }
                    Verdict::Error { message } => {
                        let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
                        st.set_message(message.as_str()).set_type("error");
                        st.set_description(detail.clone());
                        st
                    }
                    Verdict::Skip { reason } => {
                        let mut st = TestCaseStatus::skipped();
                        st.set_message(reason.as_str());
                        st
                    }
                };
                let mut case = TestCase::new(s.name.as_str(), status);
                case.set_classname(profile.id()).set_time(r.duration);
                if let Verdict::KnownDivergence { .. } = r.verdict {
                    case.set_system_out(detail.as_str());
                }
                if let Some(source) = &r.source {
                    case.add_property(Property::new("source", source.as_str()));
                }
                time += r.duration;
                suite.add_test_case(case);
            }
        }
        suite.add_property(Property::new("backend", backend.unwrap_or("model")));
        suite.set_time(time);
        total += time;
        report.add_test_suite(suite);
    }
    report.set_time(total);
    let mut text = report.to_string().expect("quick-junit writes any report");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::runs;

    #[test]
    fn one_suite_per_profile_stable_names_times_and_counts() {
        let xml = render(&runs());
        assert_eq!(xml.matches("<testsuite ").count(), 4, "{xml}");
        assert_eq!(xml.matches("<testcase ").count(), 8);
        assert_eq!(xml.matches("<failure ").count(), 1);
        assert_eq!(xml.matches("<error ").count(), 1);
        assert_eq!(xml.matches("<skipped ").count(), 1);
        assert!(
            xml.contains(r#"<testcase name="untag/one-of-two-tags" classname="podman-libimage@4.3" time="0.015">"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<property name="version" value="4.3.1"/>"#),
            "{xml}"
        );
        assert!(!xml.contains("4.3.1)"), "no version in names: {xml}");
        assert!(xml.contains(r#"<skipped message="no API"/>"#), "{xml}");
    }

    #[test]
    fn the_failure_message_is_the_diff_and_symbols_are_escaped() {
        let xml = render(&runs());
        let failure = xml
            .split("<failure ")
            .nth(1)
            .and_then(|f| f.split("</failure>").next())
            .expect("a failure");
        assert!(
            failure.contains("differs from the expectation"),
            "{failure}"
        );
        assert!(failure.contains("- Untagged: localhost/app:1"), "{failure}");
        // The diff shows `<A:12>` from the conflict message: it must not open an element.
        assert!(xml.contains("&lt;A:12&gt;"), "{xml}");
        assert!(!xml.contains("<A:12>"), "{xml}");
    }
}
