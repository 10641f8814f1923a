//! The laws of image removal, as property tests: one test per law, over generated stores and
//! requests, on every profile the law holds for.
//!
//! A failure shrinks to a small store and prints it as a scenario (`given`/`when`) with the
//! model's outcome, ready to become a file under `scenarios/`. The profiles a law does not
//! hold for are listed, with the reason, in `support/laws.rs`; `tests/exhaustive.rs` checks
//! that each of them really breaks the law somewhere, so the list cannot go stale.
//!
//! `PROPTEST_CASES` sets the number of generated cases per law (default 256).

mod support;

use proptest::prop_assert_eq;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use rmispec_model::Profile;
use support::laws::{self, Law, LANDED};
use support::spec::{IdForm, IdOf, ImageSpec, NameSpec, RequestSpec, StoreSpec};
use support::strategies;

/// Runs `law` over generated cases on every profile it holds for, each profile shrinking to
/// its own smallest failure.
fn holds(law: &Law) {
    let mut failures = Vec::new();
    for profile in LANDED.iter().copied().filter(|p| law.holds_for(*p)) {
        let config = Config {
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        let result = runner.run(
            &(strategies::store(), strategies::request()),
            |(store, request)| {
                let store = store.build();
                let request = request.build(&store);
                laws::check(law, profile, &store, &request)
                    .map(drop)
                    .map_err(TestCaseError::fail)
            },
        );
        if let Err(e) = result {
            failures.push(format!("on {profile}: {e}"));
        }
    }
    if !failures.is_empty() {
        panic!(
            "law `{}` is broken: {}\n\n{}",
            law.name,
            law.statement,
            failures.join("\n\n")
        );
    }
}

/// Witnesses for exclusions too rare for the generated search: (law, profile, store, request).
fn known_witnesses() -> Vec<(&'static str, Profile, StoreSpec, RequestSpec)> {
    let image = |names: Vec<u8>, parent: Option<u8>| ImageSpec {
        id: (0, 0),
        names,
        parent,
        own_layer: false,
        pull: false,
        on: None,
    };
    // A with `busybox@<A.manifest>`, `<reg>/app:1` and `<reg>/app@<A.manifest>`: the first
    // `<reg>/app@<A.manifest>` untags the digest name; the second finds A again by the digest
    // the busybox digest name still records, through the `<reg>/app` tag, and takes that tag.
    let libpod = [Profile::Libpod301, Profile::Libpod19]
        .into_iter()
        .map(|profile| {
            (
                laws::A_SECOND_IDENTICAL_REQUEST_CHANGES_NOTHING.name,
                profile,
                StoreSpec {
                    images: vec![image(vec![5, 1, 2], None)],
                    containers: vec![],
                },
                RequestSpec {
                    names: vec![NameSpec::DigestIn { image: 0, repo: 0 }],
                    force: false,
                    prune: true,
                    ignore: false,
                    all: false,
                },
            )
        });
    [Profile::DockerContainerd, Profile::DockerContainerd28]
        .into_iter()
        .map(|profile| {
            (
                // A (two names) ← B ← C, all sharing A's layers: without force, `sha256:<A>` is refused
                // (two names) and C's digest deletes C and prunes B; with force A goes first, so C's
                // parent walk fails and B stays.
                laws::FORCE_DOES_AT_LEAST_WHAT_NO_FORCE_DOES.name,
                profile,
                StoreSpec {
                    images: vec![
                        image(vec![3, 4], None),
                        image(vec![], Some(0)),
                        image(vec![], Some(1)),
                    ],
                    containers: vec![],
                },
                RequestSpec {
                    names: vec![
                        NameSpec::Id {
                            image: 0,
                            of: IdOf::Manifest,
                            form: IdForm::Prefixed,
                        },
                        NameSpec::DigestIn { image: 2, repo: 0 },
                    ],
                    force: false,
                    prune: true,
                    ignore: false,
                    all: false,
                },
            )
        })
        .chain(libpod)
        .collect()
}

/// How many generated cases the witness search may try per exclusion.
const WITNESS_BUDGET: u32 = 20_000;

/// Every profile a law is said not to hold for breaks it on some generated case: an exclusion
/// that has gone stale (the engine now keeps the law) fails here. The search is deterministic
/// (a fixed seed) and stops at the first witness, which it prints.
#[test]
fn exclusions_are_witnessed() {
    let mut stale = Vec::new();
    for law in laws::ALL {
        for &(profile, reason) in law.excluded {
            let known = known_witnesses()
                .into_iter()
                .find(|(name, p, _, _)| *name == law.name && *p == profile);
            if let Some((_, _, store, request)) = known {
                let store = store.build();
                let request = request.build(&store);
                if let Err(witness) = laws::check(law, profile, &store, &request) {
                    eprintln!(
                        "`{}` does not hold for {profile}: {reason}\n{witness}\n",
                        law.name
                    );
                    continue;
                }
            }
            let config = Config {
                cases: WITNESS_BUDGET,
                failure_persistence: None,
                max_shrink_iters: 0,
                ..Config::default()
            };
            let mut runner =
                TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
            let found = runner.run(
                &(strategies::store(), strategies::request()),
                |(store, request)| {
                    let store = store.build();
                    let request = request.build(&store);
                    match laws::check(law, profile, &store, &request) {
                        Err(witness) => Err(TestCaseError::fail(witness)),
                        Ok(_) => Ok(()),
                    }
                },
            );
            match found {
                Err(e) => eprintln!("`{}` does not hold for {profile}: {reason}\n{e}\n", law.name),
                Ok(()) => stale.push(format!(
                    "`{}` is listed as not holding for {profile} ({reason}), yet holds on {WITNESS_BUDGET} cases",
                    law.name
                )),
            }
        }
    }
    assert!(stale.is_empty(), "stale exclusions:\n{}", stale.join("\n"));
}

macro_rules! law_tests {
    ($($test:ident => $law:ident),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                assert_eq!(laws::$law.name, stringify!($test));
                holds(&laws::$law);
            }
        )*

        #[test]
        fn every_law_has_a_test() {
            let tested = [$(stringify!($test)),*];
            let all: Vec<_> = laws::ALL.iter().map(|l| l.name).collect();
            assert_eq!(tested.as_slice(), all.as_slice());
        }
    };
}

law_tests! {
    untagged_records_name_names_that_went => UNTAGGED_RECORDS_NAME_NAMES_THAT_WENT,
    deleted_records_name_images_that_went => DELETED_RECORDS_NAME_IMAGES_THAT_WENT,
    every_change_is_reported => EVERY_CHANGE_IS_REPORTED,
    a_failed_one_name_request_changes_nothing => A_FAILED_ONE_NAME_REQUEST_CHANGES_NOTHING,
    no_running_container_is_left_without_its_image => NO_RUNNING_CONTAINER_IS_LEFT_WITHOUT_ITS_IMAGE,
    without_force_no_container_is_left_without_its_image => WITHOUT_FORCE_NO_CONTAINER_IS_LEFT_WITHOUT_ITS_IMAGE,
    containers_are_never_added_or_changed => CONTAINERS_ARE_NEVER_ADDED_OR_CHANGED,
    a_pod_goes_whole_or_not_at_all => A_POD_GOES_WHOLE_OR_NOT_AT_ALL,
    only_forced_podman_removes_containers => ONLY_FORCED_PODMAN_REMOVES_CONTAINERS,
    force_does_at_least_what_no_force_does => FORCE_DOES_AT_LEAST_WHAT_NO_FORCE_DOES,
    noprune_does_at_most_what_prune_does => NOPRUNE_DOES_AT_MOST_WHAT_PRUNE_DOES,
    untagging_one_of_several_tags_keeps_the_image => UNTAGGING_ONE_OF_SEVERAL_TAGS_KEEPS_THE_IMAGE,
    an_unknown_name_changes_nothing => AN_UNKNOWN_NAME_CHANGES_NOTHING,
    a_second_identical_request_changes_nothing => A_SECOND_IDENTICAL_REQUEST_CHANGES_NOTHING,
    a_full_id_always_finds_its_image => A_FULL_ID_ALWAYS_FINDS_ITS_IMAGE,
    removal_is_deterministic => REMOVAL_IS_DETERMINISTIC,
    one_name_untags_at_most_one_image => ONE_NAME_UNTAGS_AT_MOST_ONE_IMAGE,
    the_listing_shows_every_image_left => THE_LISTING_SHOWS_EVERY_IMAGE_LEFT,
}

/// What a live adapter reads back from an engine's answer is what the model meant: on every
/// profile, every failure the model makes classifies, from its status and message alone, as
/// its own kind (`rmispec_model::classify`, each engine's reading in its module). A live
/// engine's failure is judged by that reading, so a message the reading gets wrong would show
/// as a divergence that is not the engine's.
#[test]
fn every_failure_classifies_back_to_its_kind() {
    let mut broken = Vec::new();
    for profile in Profile::ALL {
        let mut runner = TestRunner::new(Config {
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(
            &(strategies::store(), strategies::request()),
            |(store, request)| {
                let store = store.build();
                let request = request.build(&store);
                let outcome = rmispec_model::remove(profile, &store, &request);
                for f in &outcome.errors {
                    let read = rmispec_model::classify(profile, f.status, &f.message);
                    if read != f.kind {
                        return Err(TestCaseError::fail(format!(
                            "{:?} reads as {read:?}, the model made {:?}",
                            f.message, f.kind
                        )));
                    }
                }
                Ok(())
            },
        );
        if let Err(e) = result {
            broken.push(format!("on {profile}: {e}"));
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n\n"));
}

/// The laws compare record spellings in place (`laws::is_untagged_spelling`,
/// `laws::is_deleted_spelling`) instead of building them, for speed: on generated stores, on
/// every profile, both answer as comparing with the built spelling does.
#[test]
fn spellings_compared_in_place_are_the_built_ones() {
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategies::store(), |spec| {
        let store = spec.build();
        let mut typed: Vec<String> = vec![String::new()];
        for i in &store.images {
            for r in &i.refs {
                typed.extend([r.full(), r.familiar(), format!("{}x", r.familiar())]);
                typed.push(r.familiar()[1..].to_owned());
            }
            typed.extend([i.config.prefixed(), i.manifest.prefixed()]);
            typed.push(i.config.hex().to_owned());
        }
        for &profile in LANDED {
            for i in &store.images {
                for s in &typed {
                    let built = laws::deleted_spelling(profile, i);
                    prop_assert_eq!(
                        laws::is_deleted_spelling(profile, i, s),
                        built.as_deref() == Some(s.as_str()),
                        "{} {:?}",
                        profile,
                        s
                    );
                    for r in &i.refs {
                        prop_assert_eq!(
                            laws::is_untagged_spelling(profile, r, s),
                            laws::untagged_spelling(profile, r) == *s,
                            "{} {:?} {:?}",
                            profile,
                            r,
                            s
                        );
                    }
                }
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
