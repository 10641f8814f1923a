//! The exhaustive check: every law, on every store within small bounds (up to symmetry), for
//! every request form, on every profile.
//!
//! Where the property tests (`tests/laws.rs`) sample big stores, this visits *every* small
//! one, and it also checks the laws' exclusion lists from the other side: each profile a law
//! is said not to hold for must break it somewhere in the bounds, or the test fails (the
//! exclusion has gone stale, or the bounds are too small to show it).
//!
//! Bounds. The state space grows fast (3 images with up to 3 names and 2 containers are some
//! 10⁵ stores up to symmetry, each with ~150 request forms, on 12 profiles), so there are
//! two:
//! - by default (`cargo test`; the model crate is built optimized even there, see the
//!   workspace `Cargo.toml`): up to **2** images with up to 2 names each from a pool of 3
//!   (`docker.io/library/busybox:latest`, `127.0.0.1:5000/app:1`, and the image's own
//!   `127.0.0.1:5000/app@sha256:<manifest>`), parents, up to 1 container, ID prefixes of 1–3
//!   characters (IDs differ by the third): 745 stores, 976 644 cases ([`Bounds::SMALL`]);
//!   and up to **3** images of 1 name each: 10 333 stores, 1.73 × 10⁷ cases
//!   ([`Bounds::DEFAULT`]);
//! - the full bounds, `cargo test --release -p rmispec-model --test exhaustive -- --ignored
//!   full_bounds`:
//!   up to **3** images, up to **3** names each from the same pool, parents, up to **2**
//!   containers: 92 514 stores, 1.59 × 10⁸ cases ([`Bounds::FULL`]), what CI checks.
//!   Only there must every exclusion be shown within the bounds; by default an
//!   exclusion the small stores cannot show is reported, and `tests/laws.rs`
//!   (`exclusions_are_witnessed`) shows it on bigger generated stores;
//! - four images, `--release -- --ignored four_images`, which CI runs too: up to **4** images
//!   of 1 name each, parents, no containers: 43,000 stores, 8.9 × 10⁷ cases
//!   ([`Bounds::FOUR_IMAGES`]; with one container they would be 377,412 stores and
//!   7.8 × 10⁸ cases, five times the full bounds, about 11 minutes on two cores).
//!
//! Sequences of two requests ([`check::second_steps`]): every law again on every store that
//! one request leaves on a profile (a store an engine left can hold what no enumerated store
//! has: a container whose image a forced step took, a dangling record, a child whose parent
//! went), for every request typed against it or against the store before it. On the tiny
//! bounds (one name per image: 2,320 stores left, 259,628 cases) in every `cargo test`; on
//! the small bounds (9,676 stores left, 1,129,837 cases, 8 s in release) with
//! `--release -- --ignored second_steps`, which CI runs. More stores are left than before
//! `Image::pulled`: an image whose digest name a first step untagged is now told apart from
//! one loaded with the same tags. The three-image bounds gave 89,999 stores left and
//! 1.36 × 10⁷ cases before it (8 minutes on two loaded cores: not in CI).
//!
//! How long each takes is in the README (`cargo bench -p rmispec-model` measures it).
//!
//! Neither varies whether a child adds a layer of its own (only docker-classic's layer
//! records could tell; the property tests vary it), and `removal_is_deterministic` is left to
//! the property tests (see `check::SAMPLED_ONLY`).
//!
//! It prints how many stores, requests and cases it explored and how long it took, on the
//! terminal even without `--nocapture`.
//!
//! The checker is `support/check.rs`: `RMISPEC_CHECKER=baseline` runs the first
//! implementation instead (same counts, same tallies, slower), and
//! `the_checker_agrees_with_the_baseline` compares the two on every `cargo test`. What the
//! checker relies on to share work is tested here on every small store too: profiles that
//! answer as others (`followers_answer_as_their_leaders`), requests an engine answers alike
//! (`requests_answered_alike_answer_alike`), and `rmispec_model::remove_each`
//! (`remove_each_answers_as_remove`).
//! `cargo bench -p rmispec-model` measures both side by side; `scripts/bench-checker REV`
//! measures this checkout's check against an earlier revision's own, built apart (the
//! baseline shares the laws and the model, so it gets faster with them).

mod support;

/// See `model/Cargo.toml`: allocation is much of the check's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write as _;
use support::check::{self, Report};
use support::enumerate::Bounds;

/// Small enough for the two checkers to be compared in every `cargo test`.
const TINY: Bounds = Bounds {
    names_per_image: 1,
    ..Bounds::SMALL
};

/// Runs the checker `RMISPEC_CHECKER` names: `fast` (the default) or `baseline`, the first
/// implementation, kept runnable to compare with.
fn run(bounds: Bounds) -> Report {
    match std::env::var("RMISPEC_CHECKER").as_deref() {
        Ok("baseline") => check::baseline(bounds, check::threads()),
        Ok("fast") | Err(_) => check::fast(bounds, check::threads()),
        Ok(other) => panic!("RMISPEC_CHECKER={other}: expected `fast` or `baseline`"),
    }
}

/// Explores `bounds`. With `strict`, every exclusion must be shown within them; otherwise an
/// exclusion not shown is only reported (`tests/laws.rs` `exclusions_are_witnessed` shows it
/// on bigger generated stores).
fn explore(bounds: Bounds, strict: bool) {
    judge(run(bounds), strict);
}

/// Prints what `report` found and fails on any broken law (and, with `strict`, on any
/// exclusion the exploration did not show).
fn judge(report: Report, strict: bool) {
    let summary = report.summary();
    let (table, problems, unshown) = report.judge(strict);
    eprintln!("{summary}\nfailures/applicable cases per law and profile:\n{table}");
    if !unshown.is_empty() {
        eprintln!(
            "exclusions not shown within these bounds (tests/laws.rs shows them): {unshown:?}"
        );
    }
    // libtest captures `eprintln!`; a direct write to stderr shows in plain `cargo test` too.
    let _ = writeln!(std::io::stderr(), "{summary}");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn every_law_on_every_small_store() {
    explore(Bounds::SMALL, false);
}

/// Three images of one name each, in every `cargo test`: 10,333 stores, 1.7 × 10⁷ cases,
/// 38 s in a dev build on two idle cores (15 s in release).
#[test]
fn every_law_on_every_store_of_three_images() {
    explore(Bounds::DEFAULT, false);
}

#[test]
#[ignore = "the full bounds: run with --release -- --ignored full_bounds"]
fn every_law_on_every_store_within_the_full_bounds() {
    explore(Bounds::FULL, true);
}

/// Four images of one name each, no containers: 43,000 stores, 8.9 × 10⁷ cases, minutes in
/// release (twice that next to the full bounds on two cores), too long for every `cargo test`;
/// CI runs it by name.
#[test]
#[ignore = "four images: run with --release -- --ignored four_images"]
fn every_law_on_every_store_of_four_images() {
    explore(Bounds::FOUR_IMAGES, false);
}

/// Sequences of two requests: every law on every store one request leaves
/// ([`check::second_steps`]), with second requests typed against it or against the store
/// before. On the tiny bounds (one name per image) here; on the small ones (two names per
/// image, what `every_law_on_every_small_store` explores) with `--release -- --ignored
/// second_steps`, which CI runs.
#[test]
fn every_law_after_every_first_step_on_tiny_stores() {
    second_steps(TINY);
}

/// [`check::second_steps`] on `bounds`, judged.
fn second_steps(bounds: Bounds) {
    let report = check::second_steps(bounds, check::threads());
    let _ = writeln!(
        std::io::stderr(),
        "second steps: the {} stores below are those one request leaves, from the {} stores of the bounds",
        report.stores,
        report.enumerated
    );
    judge(report, false);
}

#[test]
#[ignore = "second steps on the small bounds: run with --release -- --ignored second_steps"]
fn every_law_after_every_first_step_on_small_stores_second_steps() {
    second_steps(Bounds::SMALL);
}

/// The checker and the baseline it replaced count the same stores, requests and cases, and
/// agree on every law and profile: as many applicable cases, as many failures, the same first
/// failure.
#[test]
fn the_checker_agrees_with_the_baseline() {
    let (fast, baseline) = (check::fast(TINY, 2), check::baseline(TINY, 2));
    assert_eq!(fast.counts(), baseline.counts());
    let firsts = |r: &Report| -> Vec<Option<String>> {
        r.tallies
            .iter()
            .flatten()
            .map(|t| t.first.as_ref().map(|(_, s)| s.clone()))
            .collect()
    };
    assert_eq!(firsts(&fast), firsts(&baseline));
    assert!(fast.cases > 0 && fast.tallies.iter().flatten().any(|t| t.failures > 0));
}

/// What `support/follow.rs` says of the model's code holds on every store of the small
/// bounds: wherever a profile is said to answer as another, it does.
#[test]
fn followers_answer_as_their_leaders() {
    let mut shared = 0;
    on_every_small_store(|store, requests| {
        for &(follower, _, _) in support::follow::FOLLOWERS {
            let leaders = support::follow::leaders(follower, requests);
            for (request, leader) in requests.iter().zip(leaders) {
                let Some(leader) = leader else { continue };
                let (mine, theirs) = (
                    rmispec_model::remove(follower, store, request),
                    rmispec_model::remove(leader, store, request),
                );
                assert!(
                    mine == theirs,
                    "{follower} answers otherwise than {leader} on {request:?}"
                );
                shared += 1;
            }
        }
    });
    assert!(shared > 0);
}

/// Calls `check` with every store of the small bounds and its requests.
fn on_every_small_store(mut check: impl FnMut(&rmispec_model::Store, &[rmispec_model::Request])) {
    let bounds = Bounds::SMALL;
    let (stores, _) = support::enumerate::stores(bounds);
    for spec in &stores {
        let store = spec.build();
        check(&store, &support::enumerate::requests(&store, bounds));
    }
}

/// What `support/follow.rs` says of the flags each engine's model reads holds on every store
/// of the small bounds: requests it calls answered alike are, on every profile.
#[test]
fn requests_answered_alike_answer_alike() {
    let mut shared = 0;
    on_every_small_store(|store, requests| {
        for &profile in support::laws::LANDED {
            let alike = support::follow::answered_alike(profile.engine(), requests);
            for (k, request) in requests.iter().enumerate() {
                if alike[k] == k {
                    continue;
                }
                assert!(
                    rmispec_model::remove(profile, store, request)
                        == rmispec_model::remove(profile, store, &requests[alike[k]]),
                    "{profile} answers {request:?} otherwise than {:?}",
                    requests[alike[k]]
                );
                shared += 1;
            }
        }
    });
    assert!(shared > 0);
}

/// `rmispec_model::remove_each`, which the checker calls, answers each request as `remove`
/// does, on every store of the small bounds and every profile.
#[test]
fn remove_each_answers_as_remove() {
    on_every_small_store(|store, requests| {
        for &profile in support::laws::LANDED {
            let each = rmispec_model::remove_each(profile, store, requests);
            for (request, outcome) in requests.iter().zip(each) {
                assert!(
                    rmispec_model::remove(profile, store, request) == outcome,
                    "{profile}: remove_each answers {request:?} otherwise than remove"
                );
            }
        }
    });
}
