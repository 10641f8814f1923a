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

use proptest::test_runner::{Config, TestCaseError, TestRunner};
use support::laws::{self, Law, LANDED};
use support::strategies;

/// Runs `law` over generated cases on every landed profile it holds for.
fn holds(law: &Law) {
    let profiles: Vec<_> = LANDED
        .iter()
        .copied()
        .filter(|p| law.holds_for(*p))
        .collect();
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
            for &profile in &profiles {
                laws::check(law, profile, &store, &request).map_err(TestCaseError::fail)?;
            }
            Ok(())
        },
    );
    if let Err(e) = result {
        panic!("law `{}` is broken: {}\n\n{e}", law.name, law.statement);
    }
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
