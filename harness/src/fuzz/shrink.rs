//! Shrinking a disagreement to the smallest case that still disagrees, with proptest's
//! value trees driven by hand: every candidate runs on the engine (through the judge's
//! cache), since only the engine can say whether it still disagrees.

use super::case;
use super::run::{Difference, Judge};
use proptest::strategy::ValueTree;
use rmispec_model::strategies::Case;

/// The smallest disagreeing case found, and how it was reached.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The case.
    pub case: Case,
    /// Its disagreement.
    pub difference: Difference,
    /// The accepted steps that changed the case's size, as [`case::describe`] says it: the
    /// first is the generated case.
    pub history: Vec<String>,
    /// Candidates tried (run or cached).
    pub tries: u32,
}

/// Shrinks the disagreeing `tree.current()` (whose disagreement is `first`), trying at most
/// `budget` candidates. A candidate counts when it disagrees in any field: a smaller case
/// that disagrees otherwise is a finding as real as the first.
///
/// The loop is proptest's own: simplify while the case still fails, step back
/// (`complicate`) when it passes, stop when neither moves.
pub fn shrink<T: ValueTree<Value = Case>>(
    tree: &mut T,
    first: Difference,
    judge: &mut Judge,
    budget: u32,
) -> Shrunk {
    let case = tree.current();
    let mut best = Shrunk {
        history: vec![case::describe(&case)],
        case,
        difference: first,
        tries: 0,
    };
    if !tree.simplify() {
        return best;
    }
    while best.tries < budget {
        let candidate = tree.current();
        best.tries += 1;
        let moved = match judge.judge(&candidate).difference() {
            Some(d) => {
                best.difference = d.clone();
                let step = case::describe(&candidate);
                if best.history.last() != Some(&step) {
                    best.history.push(step);
                }
                best.case = candidate;
                tree.simplify()
            }
            None => tree.complicate(),
        };
        if !moved {
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::write::{self, Origin};
    use crate::model_backend::ModelBackend;
    use rmispec_model::Profile;

    /// A planted disagreement: Podman 4.3's model held to Docker's. This tests the shrinker,
    /// not an engine.
    fn planted() -> Judge {
        Judge::against(
            Box::new(ModelBackend::new(Profile::Podman43)),
            Profile::DockerClassic,
        )
    }

    fn size(case: &Case) -> usize {
        let names: usize = case.store.names().iter().map(Vec::len).sum();
        case.store.images.len()
            + names
            + case.store.containers.len()
            + case.steps.iter().map(|s| s.names.len()).sum::<usize>()
    }

    #[test]
    fn shrinking_reduces_a_planted_disagreement_and_the_finding_loads() {
        let mut judge = planted();
        let mut shrunk_some = 0;
        let mut checked = 0;
        for index in 0..40 {
            let (case, mut tree) = crate::fuzz::case::generate(3, index, Profile::DockerClassic);
            let Some(first) = judge.judge(&case).difference().cloned() else {
                continue;
            };
            let found = shrink(&mut tree, first, &mut judge, 500);
            assert!(size(&found.case) <= size(&case), "case {index}");
            if size(&found.case) < size(&case) {
                shrunk_some += 1;
            }
            assert!(
                judge.judge(&found.case).difference().is_some(),
                "the shrunk case still disagrees"
            );
            assert!(found.history.len() as u32 <= found.tries + 1);
            let origin = Origin {
                profile: Profile::Podman43,
                backend: "model".into(),
                seed: 3,
                index,
            };
            let text = write::scenario_text(&found, &origin);
            let scenario = crate::scenario::load_bytes(write::file_name(&origin), text.clone())
                .unwrap_or_else(|e| panic!("the finding loads:\n{text}\n{e}"));
            let expect = scenario.expect.for_profile(Profile::Podman43);
            assert!(
                expect.skip.is_none() && expect.missing().is_empty(),
                "{text}"
            );
            assert!(scenario
                .expect
                .for_profile(Profile::Podman58)
                .skip
                .is_some());
            assert!(scenario.expect.for_profile(Profile::Cri16).skip.is_some());
            // What the file expects is what the engine did.
            let (_, symbols) = crate::model_backend::synthesized(&scenario)
                .to_store(&scenario.given, Profile::Podman43);
            let steps: Vec<_> = scenario
                .steps()
                .map(|(_, e)| e.for_profile(Profile::Podman43))
                .collect();
            assert_eq!(steps.len(), found.case.steps.len(), "{text}");
            let expected = crate::compare::expected_steps(&steps, &symbols).expect("canonical");
            assert_eq!(expected, found.difference.live, "{text}");
            // Replayed, it still disagrees.
            assert!(judge.judge_scenario(&scenario).difference().is_some());
            checked += 1;
        }
        assert!(
            checked >= 5,
            "the planted difference shows in {checked} of 40 cases"
        );
        assert!(shrunk_some >= 1, "shrinking made some case smaller");
    }

    #[test]
    fn shrinking_drops_the_steps_a_disagreement_does_not_need() {
        let mut judge = planted();
        let mut dropped = 0;
        for index in 0..300 {
            let (case, mut tree) = crate::fuzz::case::generate(4, index, Profile::DockerClassic);
            if case.steps.len() < 2 {
                continue;
            }
            let Some(first) = judge.judge(&case).difference().cloned() else {
                continue;
            };
            let found = shrink(&mut tree, first, &mut judge, 300);
            assert!(found.case.steps.len() <= case.steps.len());
            assert!(!found.case.steps.is_empty());
            if found.case.steps.len() < case.steps.len() {
                dropped += 1;
                // What was dropped is the tail: the steps kept are the first ones, shrunk.
                assert!(found.history[1].matches("; rmi").count() < case.steps.len());
            }
            if dropped >= 3 {
                break;
            }
        }
        assert!(
            dropped >= 3,
            "the shrinker dropped steps in {dropped} cases"
        );
    }

    #[test]
    fn agreeing_profiles_give_no_findings() {
        let mut judge = Judge::new(Box::new(ModelBackend::new(Profile::DockerClassic)));
        let opts = crate::fuzz::Options::new(5, crate::fuzz::Limit::Cases(30));
        let summary = crate::fuzz::campaign::run(&mut judge, &[], &opts).expect("runs");
        assert_eq!(summary.cases, 30);
        assert_eq!(summary.disagreements, 0, "{}", summary.text());
        assert!(summary.json().contains("\"cases_per_minute\""));
    }
}
