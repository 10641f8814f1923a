//! Requests sent at once (`parallel:`), as the loader reads them: a good file loads with its
//! requests, runs and `one_of` sets; a bad one fails at the key that is bad.

use rmispec::scenario::{self, LoadError, Parallel};
use rmispec_model::Profile;

const GIVEN: &str =
    "summary: s\ngiven:\n  images:\n    A:\n      tags: [localhost/app:1, localhost/app:2]\n";

const REQUESTS: &str = "parallel:\n  - rmi: localhost/app:1\n  - rmi: localhost/app:2\n";

/// One outcome of two requests, for every engine.
const ONE_OF: &str = "expect:\n  default:\n    one_of:\n      - answers:\n          - {records: [], status: http 200}\n          - {records: [\"Deleted: sha256:<A>\"], status: http 200}\n        after: {images: {}}\n";

fn load(text: &str) -> Result<scenario::Scenario, LoadError> {
    scenario::load_bytes("parallel/test.yaml", text.as_bytes().to_vec())
}

fn problems(text: &str) -> Vec<String> {
    load(text)
        .expect_err("the file is bad")
        .to_string()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn has(problems: &[String], at: &str, text: &str) -> bool {
    problems
        .iter()
        .any(|l| l.starts_with(&format!("parallel/test.yaml:{at}:")) && l.contains(text))
}

#[test]
fn requests_sent_at_once_load_with_their_runs_and_outcomes() {
    let s = load(&format!("{GIVEN}{REQUESTS}runs: 3\n{ONE_OF}")).expect("loads");
    let p = s.parallel.as_ref().expect("a parallel scenario");
    assert_eq!(p.runs, 3);
    let names: Vec<_> = p.requests.iter().map(|w| w.rmi.clone()).collect();
    assert_eq!(names, [vec!["localhost/app:1"], vec!["localhost/app:2"]]);
    assert!(!s.is_sequence());
    let races = s.expect.for_profile(Profile::Cri17).one_of.expect("one_of");
    assert_eq!(races.len(), 1);
    assert_eq!(races[0].answers.len(), 2);
    let default = load(&format!("{GIVEN}{REQUESTS}{ONE_OF}")).expect("loads");
    assert_eq!(
        default.parallel.map(|p| p.runs),
        Some(Parallel::DEFAULT_RUNS)
    );
}

#[test]
fn an_engine_without_one_of_is_named() {
    let skipped = format!("{GIVEN}{REQUESTS}expect:\n  default:\n    skip: \"not raced\"\n");
    assert!(load(&skipped).is_ok(), "a skip needs no one_of");
    let none = format!("{GIVEN}{REQUESTS}expect:\n  cri-containerd:\n    skip: \"no\"\n");
    let p = problems(&none);
    assert!(
        p.iter().any(|l| l.contains("no `one_of`")
            && l.contains("`docker-classic@20.10`, ")
            && !l.contains("`cri-containerd@1.6`")),
        "{p:?}"
    );
}

#[test]
fn answers_must_match_the_requests_and_name_what_exists() {
    let text = format!(
        "{GIVEN}{REQUESTS}expect:\n  default:\n    one_of:\n      - answers:\n          - {{records: [\"Deleted: sha256:<Z>\"], status: http 200}}\n        after: {{images: {{B: []}}}}\n"
    );
    let p = problems(&text);
    assert!(has(&p, "12", "1 answers for 2 requests"), "{p:?}");
    assert!(has(&p, "13", "`<Z>` names no image"), "{p:?}");
    assert!(has(&p, "14", "`B` is not an image of `given`"), "{p:?}");
}

#[test]
fn forms_do_not_mix_and_one_of_stays_with_parallel() {
    let with_when = format!("{GIVEN}when:\n  rmi: localhost/app:1\n{REQUESTS}{ONE_OF}");
    assert!(problems(&with_when)
        .iter()
        .any(|l| l.contains("not several")));
    let flat = format!("{GIVEN}{REQUESTS}expect:\n  default:\n    records: []\n    status: http 200\n    after: {{images: {{}}}}\n");
    let p = problems(&flat);
    assert!(has(&p, "11", "belongs in each `one_of` item"), "{p:?}");
    let one_request = format!("{GIVEN}parallel:\n  - rmi: localhost/app:1\n{ONE_OF}");
    assert!(problems(&one_request)
        .iter()
        .any(|l| l.contains("2 to 4 requests at once")));
    let runs = format!("{GIVEN}{REQUESTS}runs: 0\n{ONE_OF}");
    assert!(problems(&runs)
        .iter()
        .any(|l| l.contains("`runs` is 1 to 50")));
    let stray_runs = format!(
        "{GIVEN}runs: 2\nwhen:\n  rmi: localhost/app:1\nexpect:\n  default:\n    records: []\n    status: http 200\n    after: {{images: {{}}}}\n"
    );
    assert!(problems(&stray_runs)
        .iter()
        .any(|l| l.contains("`runs` belongs beside `parallel`")));
    let stray_one_of = format!(
        "{GIVEN}when:\n  rmi: localhost/app:1\nexpect:\n  default:\n    records: []\n    status: http 200\n    after: {{images: {{}}}}\n    one_of: []\n"
    );
    assert!(problems(&stray_one_of)
        .iter()
        .any(|l| l.contains("it belongs to a `parallel` scenario")));
}

#[test]
fn a_race_divergence_lists_what_it_accepts() {
    let without = format!(
        "{GIVEN}{REQUESTS}{ONE_OF}divergence:\n  docker-classic:\n    reason: r\n    source: moby/moby@v20.10.24:x.go\n"
    );
    assert!(problems(&without).iter().any(|l| l.contains("give `also`")));
    let with = format!(
        "{GIVEN}{REQUESTS}{ONE_OF}divergence:\n  docker-classic:\n    reason: r\n    source: moby/moby@v20.10.24:x.go\n    also:\n      - answers:\n          - {{records: [], status: http 404}}\n          - {{records: [], status: http 200}}\n        after: {{images: {{}}}}\n"
    );
    let s = load(&with).expect("loads");
    assert_eq!(
        s.divergence_for(Profile::DockerClassic)
            .map(|d| d.also.len()),
        Some(1)
    );
}
