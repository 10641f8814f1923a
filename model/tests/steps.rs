//! The laws of sequences and of requests sent at once, as property tests over generated
//! stores and pairs of requests, on every profile.
//!
//! Both requests are typed against the store *before* the first step, so the second may name
//! an image or a tag the first one removed (as a user retyping an ID does). `PROPTEST_CASES`
//! sets the number of cases per law (default 256).

mod support;

use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rmispec_model::{remove, remove_parallel, remove_steps, Profile, Request, Store};
use std::collections::BTreeSet;
use support::spec::{RequestSpec, Shown, StoreSpec};
use support::strategies;

/// Runs `law` on every profile over generated (store, first request, second request).
fn holds(name: &str, law: impl Fn(Profile, &Store, &[Request; 2]) -> Result<(), String>) {
    let mut failures = Vec::new();
    for profile in Profile::ALL {
        let mut runner = TestRunner::new(Config {
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(
            &(
                strategies::store(),
                strategies::request(),
                strategies::request(),
            ),
            |(store, first, second): (StoreSpec, RequestSpec, RequestSpec)| {
                let store = store.build();
                let requests = [first.build(&store), second.build(&store)];
                law(profile, &store, &requests).map_err(|e| {
                    TestCaseError::fail(format!(
                        "{e}\nstore and first request:\n{}\nsecond request: {:?}",
                        Shown(&store, Some(&requests[0]), &store),
                        requests[1]
                    ))
                })
            },
        );
        if let Err(e) = result {
            failures.push(format!("on {profile}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "law `{name}` is broken:\n\n{}",
        failures.join("\n\n")
    );
}

/// Image IDs (config digests) and container IDs of a store.
fn contents(store: &Store) -> (BTreeSet<String>, BTreeSet<String>) {
    (
        store.images.iter().map(|i| i.config.to_string()).collect(),
        store.containers.iter().map(|c| c.id.to_string()).collect(),
    )
}

/// The second step meets the store the first one left: `remove_steps` is the fold of
/// `remove`, which is what the harness's runner relies on.
#[test]
fn each_step_meets_the_store_the_step_before_left() {
    holds(
        "each step meets the store the step before left",
        |p, store, rs| {
            let steps = remove_steps(p, store, rs);
            let first = remove(p, store, &rs[0]);
            let second = remove(p, &first.after, &rs[1]);
            if steps != [first, second] {
                return Err("remove_steps differs from remove applied twice".to_owned());
            }
            Ok(())
        },
    );
}

/// Removal never brings anything back: after two steps, every image and container left was
/// there after the first, and every name an image keeps it had after the first step (a
/// deleted image stays deleted even when the second step names it by ID).
#[test]
fn a_later_step_never_brings_back_what_an_earlier_one_removed() {
    holds(
        "a later step never brings back what an earlier one removed",
        |p, store, rs| {
            let steps = remove_steps(p, store, rs);
            let (images1, containers1) = contents(&steps[0].after);
            let (images2, containers2) = contents(&steps[1].after);
            if !images2.is_subset(&images1) || !containers2.is_subset(&containers1) {
                return Err(format!(
                "after step 2: images {images2:?}, containers {containers2:?}; after step 1: images {images1:?}, \
                 containers {containers1:?}"
            ));
            }
            for image in &steps[1].after.images {
                let before = steps[0].after.image(&image.config).expect("a subset");
                if let Some(name) = image.refs.iter().find(|r| !before.refs.contains(r)) {
                    return Err(format!(
                        "{} gained the name {} in step 2",
                        image.config,
                        name.full()
                    ));
                }
            }
            Ok(())
        },
    );
}

/// Requests sent at once: both orders applied one after the other are among the allowed
/// outcomes (deduplicated, so at most two), and each outcome's store is the store its order
/// leaves.
#[test]
fn parallel_outcomes_are_the_sequential_orders() {
    holds(
        "parallel outcomes are the sequential orders",
        |p, store, rs| {
            let allowed = remove_parallel(p, store, rs);
            if allowed.is_empty() || allowed.len() > 2 {
                return Err(format!("{} outcomes for two requests", allowed.len()));
            }
            for order in [[0, 1], [1, 0]] {
                let applied = [rs[order[0]].clone(), rs[order[1]].clone()];
                let steps = remove_steps(p, store, &applied);
                let found = allowed.iter().any(|i| {
                    i.after == steps[1].after
                        && i.outcomes[order[0]].records == steps[0].records
                        && i.outcomes[order[0]].errors == steps[0].errors
                        && i.outcomes[order[1]].records == steps[1].records
                        && i.outcomes[order[1]].errors == steps[1].errors
                });
                if !found {
                    return Err(format!(
                        "the order {order:?} is not among the allowed outcomes"
                    ));
                }
            }
            Ok(())
        },
    );
}
