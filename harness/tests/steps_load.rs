//! Sequences (`steps:`) and symbols in stored names, as the loader reads them: good files load
//! step by step, bad ones fail at the step, line and column that are bad.

use rmispec::scenario::{self, LoadError};
use rmispec_model::Profile;

const GIVEN: &str =
    "summary: s\ngiven:\n  images:\n    A:\n      tags: [localhost/app:1, localhost/app:2]\n";

const OUTCOME: &str = "      default:\n        records: []\n        status: http 200\n        after:\n          images: {}\n";

fn load(text: &str) -> Result<scenario::Scenario, LoadError> {
    scenario::load_bytes("steps/test.yaml", text.as_bytes().to_vec())
}

fn problems(text: &str) -> Vec<String> {
    load(text)
        .expect_err("the file is bad")
        .to_string()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn steps_load_in_order_and_the_first_is_when() {
    let text = format!(
        "{GIVEN}steps:\n  - when:\n      rmi: localhost/app:1\n    expect:\n{OUTCOME}  - when:\n      rmi: \"<A:12>\"\n      force: true\n    expect:\n{OUTCOME}"
    );
    let s = load(&text).expect("a two-step scenario loads");
    assert!(s.is_sequence());
    assert_eq!(s.when.rmi, ["localhost/app:1"]);
    assert_eq!(s.then.len(), 1);
    assert_eq!(s.then[0].when.rmi, ["<A:12>"]);
    assert!(s.then[0].when.force && !s.when.force);
    let steps: Vec<_> = s.steps().map(|(w, _)| w.rmi.clone()).collect();
    assert_eq!(
        steps,
        [
            vec!["localhost/app:1".to_owned()],
            vec!["<A:12>".to_owned()]
        ]
    );
    assert!(s.skip_for(Profile::Cri16).is_none());
}

#[test]
fn one_when_is_a_one_step_sequence() {
    let text = format!(
        "{GIVEN}when:\n  rmi: localhost/app:1\nexpect:\n{}",
        OUTCOME.replace("      ", "  ")
    );
    let s = load(&text).expect("loads");
    assert!(!s.is_sequence());
    assert_eq!(s.steps().count(), 1);
}

#[test]
fn a_skip_in_any_step_skips_the_sequence() {
    let text = format!(
        "{GIVEN}steps:\n  - when:\n      rmi: localhost/app:1\n    expect:\n{OUTCOME}  - when:\n      rmi: localhost/app:2\n    expect:\n{OUTCOME}      cri-containerd:\n        skip: \"no such thing\"\n"
    );
    let s = load(&text).expect("loads");
    assert_eq!(s.skip_for(Profile::Cri17).as_deref(), Some("no such thing"));
    assert!(s.skip_for(Profile::DockerClassic).is_none());
}

#[test]
fn both_forms_or_neither_are_refused() {
    let both = format!(
        "{GIVEN}when:\n  rmi: a\nsteps:\n  - when:\n      rmi: localhost/app:1\n    expect:\n{OUTCOME}"
    );
    let p = problems(&both);
    assert!(
        p.iter()
            .any(|l| l.starts_with("steps/test.yaml:6:1:") && l.contains("not both")),
        "{p:?}"
    );
    let neither = GIVEN.to_owned();
    assert!(problems(&neither).iter().any(|l| l.contains("`steps`")));
    let empty = format!("{GIVEN}steps: []\n");
    assert!(problems(&empty)
        .iter()
        .any(|l| l.contains("`steps` is empty")));
}

#[test]
fn a_bad_symbol_in_a_later_step_is_placed_there() {
    let text = format!(
        "{GIVEN}steps:\n  - when:\n      rmi: localhost/app:1\n    expect:\n{OUTCOME}  - when:\n      rmi: \"<Z:12>\"\n    expect:\n{OUTCOME}"
    );
    let p = problems(&text);
    // Line 16 is the second step's `rmi`; the symbol starts after the quote.
    assert!(
        p.iter()
            .any(|l| l.starts_with("steps/test.yaml:16:") && l.contains("`<Z:12>` names no image")),
        "{p:?}"
    );
}

#[test]
fn a_stored_name_may_hold_another_images_id_and_must_name_one() {
    let ok = "summary: s\ngiven:\n  images:\n    A:\n      tags: [\"localhost/<B:12>:latest\"]\n    B:\n      tags: [localhost/b:1]\nwhen:\n  rmi: \"<B:12>\"\nexpect:\n  default:\n    records: []\n    status: http 200\n    after:\n      images: {}\n";
    let s = load(ok).expect("a tag with a symbol loads");
    assert!(s.given.has_symbol_names());
    let bad = ok.replace("<B:12>:latest", "<Q:12>:latest");
    let p = problems(&bad);
    assert!(
        p.iter()
            .any(|l| l.starts_with("steps/test.yaml:5:") && l.contains("`<Q…>`")),
        "{p:?}"
    );
    let container = ok.replace("<B:12>:latest", "<c1:12>:latest");
    assert!(problems(&container)
        .iter()
        .any(|l| l.contains("image ID symbols only")));
}
