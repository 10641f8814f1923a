//! The exhaustive checker: every law on every store within bounds, for every request form,
//! on every profile, tallied per law and profile. Two implementations that must agree:
//!
//! - [`baseline`]: the first one's loop, kept so that the benchmark measures against it
//!   and the tests can compare with it: per profile and store, each request's outcome is
//!   memoized under its `Debug` text, and every law derives what it needs from the outcomes
//!   itself. It calls the same laws and model as the checker, so whatever makes those
//!   cheaper speeds it up too (`laws::Gone` did): its ratio to the checker understates the
//!   gain over an earlier revision, which `scripts/bench-checker REV` measures;
//! - [`fast`]: each request's outcome goes into a [`Table`] indexed like the requests, with
//!   the forced and pruned variant of each request found once per store (not per profile);
//!   requests that differ only in flags the engine's model does not read (`support/follow.rs`
//!   [`follow::answered_alike`]: CRI reads no force or prune, legacy libpod no prune, Docker
//!   no ignore) share one model call, recomputed and compared on a sample of stores; what
//!   several laws derive from an outcome alone (what went, as a set of bits, whether the store
//!   changed, the listing verdict, the second run of the same request) is computed once per
//!   answer for all of them; a profile that answers as another
//!   on a request by the model's code (`support/follow.rs`) takes that profile's answer and
//!   verdicts, recomputed and compared on a sample of stores; stores are handed out one at a
//!   time to every core, so a slow part of the enumeration does not leave a core idle.
//!
//! Both count the same stores, requests and cases, and every law sees the same values, so
//! their tallies (applicable cases and failures per law and profile) are equal; the tests
//! (`tests/exhaustive.rs`) and the benchmark (`benches/exhaustive.rs`) check that they are.

use super::enumerate::{self, Bounds};
use super::follow;
use super::laws::{self, Case, Memo, Table, Variants, Verdict, LANDED};
use rmispec_model::remove;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Exclusions the exhaustive bounds cannot show, and why: strict judging reports them apart
/// instead of failing, and `tests/laws.rs` (`exclusions_are_witnessed`, with a known witness)
/// still shows each one broken.
pub const SHOWN_BY_SAMPLES_ONLY: &[(&str, rmispec_model::Profile, &str)] = &[
    (
        "a_second_identical_request_changes_nothing",
        rmispec_model::Profile::Libpod301,
        "needs digest names in two repositories; the bounds' name pool has one",
    ),
    (
        "a_second_identical_request_changes_nothing",
        rmispec_model::Profile::Libpod19,
        "needs digest names in two repositories; the bounds' name pool has one",
    ),
];

/// Laws left to the property tests: determinism needs a second run of every case, which
/// would double the cost here for a law that no bounded store makes likelier to break.
pub const SAMPLED_ONLY: &[&str] = &["removal_is_deterministic"];

/// Per law and profile: how often it applied, how often it failed, and the first failure
/// (by store, then request, in enumeration order).
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Cases the law applied to.
    pub applied: u64,
    /// Cases it failed on.
    pub failures: u64,
    /// The first failure: its store's and request's place in the enumeration, and the case.
    pub first: Option<((usize, usize), String)>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.applied += other.applied;
        self.failures += other.failures;
        if let Some(f) = other.first {
            if self.first.as_ref().is_none_or(|(at, _)| f.0 < *at) {
                self.first = Some(f);
            }
        }
    }

    /// Counts `law`'s `verdict` on `case`, the `at`-th (store, request) of the exploration.
    /// A first failure is kept with its reason: if `case` did not ask for one
    /// ([`Case::explain`]), `law` checks the case again, explained and computing everything
    /// itself.
    fn record(&mut self, verdict: Verdict, at: (usize, usize), case: &Case, law: &laws::Law) {
        match verdict {
            Verdict::NotApplicable => {}
            Verdict::Holds => self.applied += 1,
            Verdict::Fails(why) => {
                self.applied += 1;
                self.failures += 1;
                if self.first.as_ref().is_none_or(|(first, _)| at < *first) {
                    let why = if case.explain {
                        why
                    } else {
                        let explained = Case {
                            explain: true,
                            memo: None,
                            table: None,
                            ..*case
                        };
                        match (law.check)(&explained) {
                            Verdict::Fails(why) => why,
                            other => panic!(
                                "law `{}` fails unexplained but is {other:?} explained:\n{}",
                                law.name,
                                case.show()
                            ),
                        }
                    };
                    self.first = Some((at, format!("{why}\n{}", case.show())));
                }
            }
        }
    }
}

/// What one exploration found.
#[derive(Clone, Debug)]
pub struct Report {
    /// Stores explored (canonical ones).
    pub stores: usize,
    /// Stores enumerated before symmetry reduction.
    pub enumerated: usize,
    /// Requests, summed over the stores.
    pub requests: u64,
    /// (store, request, profile) cases.
    pub cases: u64,
    /// Per law (index into [`laws::ALL`]) and profile (index into [`LANDED`]).
    pub tallies: Vec<Vec<Tally>>,
    /// How long it took.
    pub elapsed: Duration,
}

impl Report {
    fn empty() -> Report {
        Report {
            stores: 0,
            enumerated: 0,
            requests: 0,
            cases: 0,
            tallies: vec![vec![Tally::default(); LANDED.len()]; laws::ALL.len()],
            elapsed: Duration::ZERO,
        }
    }

    fn add(&mut self, other: Report) {
        self.requests += other.requests;
        self.cases += other.cases;
        for (mine, theirs) in self.tallies.iter_mut().zip(other.tallies) {
            for (m, t) in mine.iter_mut().zip(theirs) {
                m.add(t);
            }
        }
    }

    /// Law checks made: every case, on every law but [`SAMPLED_ONLY`].
    pub fn law_checks(&self) -> u64 {
        self.cases * checked_laws().count() as u64
    }

    /// Everything two correct checkers must agree on: the counts, and per law and profile
    /// the applicable cases and failures.
    pub fn counts(&self) -> (usize, usize, u64, u64, Vec<(u64, u64)>) {
        let tallies = self
            .tallies
            .iter()
            .flatten()
            .map(|t| (t.applied, t.failures))
            .collect();
        (
            self.stores,
            self.enumerated,
            self.requests,
            self.cases,
            tallies,
        )
    }

    /// One line: what was explored, and how fast.
    pub fn summary(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        format!(
            "exhaustive: {} stores ({} enumerated before symmetry reduction), {} requests, {} \
             (store, request, profile) cases, {} law checks, {} profiles, in {:.1?} \
             ({:.0} stores/s, {:.0} cases/s)",
            self.stores,
            self.enumerated,
            self.requests,
            self.cases,
            self.law_checks(),
            LANDED.len(),
            self.elapsed,
            self.stores as f64 / secs,
            self.cases as f64 / secs,
        )
    }

    /// The table of failures/applicable cases per law and profile, and the problems: a law
    /// that fails where it should hold, and (with `strict`) an exclusion never shown. Without
    /// `strict`, exclusions not shown are returned apart.
    pub fn judge(&self, strict: bool) -> (String, Vec<String>, Vec<String>) {
        let mut problems = Vec::new();
        let mut unshown = Vec::new();
        let mut table = String::new();
        for (k, law) in checked_laws() {
            let _ = write!(table, "  {:<55}", law.name);
            for (p, &profile) in LANDED.iter().enumerate() {
                let t = &self.tallies[k][p];
                let _ = write!(table, " {}:{}/{}", profile, t.failures, t.applied);
                match (law.holds_for(profile), t.failures) {
                    (true, 0) | (false, 1..) => {}
                    (true, _) => problems.push(format!(
                        "law `{}` fails for {profile} ({} of {} cases); first:\n{}",
                        law.name,
                        t.failures,
                        t.applied,
                        t.first.as_ref().map_or("", |(_, s)| s.as_str())
                    )),
                    (false, 0)
                        if !strict
                            || SHOWN_BY_SAMPLES_ONLY
                                .iter()
                                .any(|(l, p, _)| *l == law.name && *p == profile) =>
                    {
                        unshown.push(format!("{} on {profile}", law.name))
                    }
                    (false, 0) => problems.push(format!(
                        "law `{}` is listed as not holding for {profile}, but holds on all {} cases in bounds: \
                         remove the exclusion (or widen the bounds)",
                        law.name, t.applied
                    )),
                }
            }
            table.push('\n');
        }
        (table, problems, unshown)
    }
}

/// The laws the exhaustive check runs, with their index in [`laws::ALL`].
fn checked_laws() -> impl Iterator<Item = (usize, &'static laws::Law)> {
    laws::ALL
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, law)| !SAMPLED_ONLY.contains(&law.name))
}

/// The cores to use: all of them (at most 8).
pub fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8)
}

/// The first checker, as it was: contiguous shares of the stores per thread; per store and
/// profile, outcomes memoized by the request's `Debug` text; each law computes what it needs.
pub fn baseline(bounds: Bounds, threads: usize) -> Report {
    let started = Instant::now();
    let (stores, enumerated) = enumerate::stores(bounds);
    let chunk = stores.len().div_ceil(threads).max(1);
    let parts: Vec<Report> = std::thread::scope(|scope| {
        let handles: Vec<_> = stores
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                scope.spawn(move || {
                    let mut report = Report::empty();
                    for (s, spec) in part.iter().enumerate() {
                        let store = spec.build();
                        let here = enumerate::requests(&store, bounds);
                        report.requests += here.len() as u64;
                        for (p, &profile) in LANDED.iter().enumerate() {
                            let memo = Memo::default();
                            for (r, request) in here.iter().enumerate() {
                                report.cases += 1;
                                let key = format!("{request:?}");
                                let cached = memo.borrow().get(&key).cloned();
                                let outcome = cached.unwrap_or_else(|| {
                                    let o = remove(profile, &store, request);
                                    memo.borrow_mut().insert(key, o.clone());
                                    o
                                });
                                let case = Case {
                                    profile,
                                    store: &store,
                                    request,
                                    outcome: &outcome,
                                    memo: Some(&memo),
                                    table: None,
                                    explain: true,
                                };
                                for (k, law) in checked_laws() {
                                    report.tallies[k][p].record(
                                        (law.check)(&case),
                                        (c * chunk + s, r),
                                        &case,
                                        law,
                                    );
                                }
                            }
                        }
                    }
                    report
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a worker panicked"))
            .collect()
    });
    finish(parts, stores.len(), enumerated, started)
}

/// The checker: see the module's documentation.
pub fn fast(bounds: Bounds, threads: usize) -> Report {
    let started = Instant::now();
    let (stores, enumerated) = enumerate::stores(bounds);
    let parts = on_every_core(&stores, threads, Report::empty, |report, s, spec| {
        check_store(&spec.build(), s, bounds, report)
    });
    finish(parts, stores.len(), enumerated, started)
}

/// Hands `items` out one at a time to `threads` workers (so a slow part of the list does not
/// leave a core idle), each folding what it takes into its own `A`; returns the workers' `A`s.
fn on_every_core<T: Sync, A: Send>(
    items: &[T],
    threads: usize,
    new: impl Fn() -> A + Sync,
    work: impl Fn(&mut A, usize, &T) + Sync,
) -> Vec<A> {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut acc = new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(k) else { break };
                        work(&mut acc, k, item);
                    }
                    acc
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a worker panicked"))
            .collect()
    })
}

/// Every law on every request of `store` (the `s`-th), on every profile. A profile that
/// follows another on a request ([`follow`]) takes its leader's verdicts for it, recorded
/// under its own name; on one store in [`follow::SPOT_CHECK_EVERY`] its answers are
/// recomputed and compared.
fn check_store(store: &rmispec_model::Store, s: usize, bounds: Bounds, report: &mut Report) {
    let requests = enumerate::requests(store, bounds);
    let variants = Variants::of(&requests);
    let laws: Vec<(usize, &laws::Law)> = checked_laws().collect();
    report.requests += requests.len() as u64;
    let spot = s.is_multiple_of(follow::SPOT_CHECK_EVERY);
    // Per engine: which requests it answers alike (the same for all its profiles).
    let alike: Vec<Vec<usize>> = rmispec_model::Engine::ALL
        .iter()
        .map(|&e| follow::answered_alike(e, &requests))
        .collect();
    // Per profile that leads another: its table and its verdicts, request by request.
    let mut led: Vec<Option<(Table, Vec<Verdict>)>> = (0..LANDED.len()).map(|_| None).collect();
    for (p, &profile) in LANDED.iter().enumerate() {
        let leaders = leaders(profile, &requests);
        if leaders.iter().all(Option::is_none) {
            let leads = follow::FOLLOWERS.iter().any(|(_, l, _)| *l == profile);
            let engine = rmispec_model::Engine::ALL
                .iter()
                .position(|&e| e == profile.engine())
                .expect("every engine is in Engine::ALL");
            let on = On {
                profile: (p, profile),
                store: (s, store),
                requests: &requests,
                alike: &alike[engine],
                variants: &variants,
                laws: &laws,
            };
            let (table, kept) = check_profile(&on, leads, report);
            if leads {
                led[p] = Some((table, kept));
            }
            continue;
        }
        for (r, request) in requests.iter().enumerate() {
            report.cases += 1;
            if let Some(l) = leaders[r] {
                let (table, kept) = led[l]
                    .as_ref()
                    .expect("a leader comes before its followers");
                let outcome = table.outcome(r);
                if spot {
                    assert!(
                        remove(profile, store, request) == *outcome,
                        "{profile} no longer answers as {} on {request:?} (store {s}): \
                         tests/support/follow.rs must say when it does",
                        LANDED[l]
                    );
                }
                let case = Case {
                    profile,
                    store,
                    request,
                    outcome,
                    memo: None,
                    table: None,
                    explain: false,
                };
                let verdicts = &kept[r * laws.len()..(r + 1) * laws.len()];
                for (&(k, law), verdict) in laws.iter().zip(verdicts) {
                    report.tallies[k][p].record(verdict.clone(), (s, r), &case, law);
                }
            } else {
                let outcome = remove(profile, store, request);
                let case = Case {
                    profile,
                    store,
                    request,
                    outcome: &outcome,
                    memo: None,
                    table: None,
                    explain: false,
                };
                for &(k, law) in &laws {
                    report.tallies[k][p].record((law.check)(&case), (s, r), &case, law);
                }
            }
        }
    }
}

/// One profile's check of one store: what [`check_profile`] needs.
struct On<'a> {
    /// The profile and its index in [`LANDED`].
    profile: (usize, rmispec_model::Profile),
    /// The store and its place in the exploration (for the first failure's order).
    store: (usize, &'a rmispec_model::Store),
    requests: &'a [rmispec_model::Request],
    /// For each request, the first answered alike on this profile's engine
    /// ([`follow::answered_alike`]).
    alike: &'a [usize],
    variants: &'a [Variants],
    laws: &'a [(usize, &'static laws::Law)],
}

/// Every law on every request of the store, on one profile that follows no other there,
/// recorded in `report`; with `keep`, the verdicts too, request by request (for followers).
fn check_profile<'a>(on: &On<'a>, keep: bool, report: &mut Report) -> (Table<'a>, Vec<Verdict>) {
    let (p, profile) = on.profile;
    let (s, store) = on.store;
    let alike = on.alike;
    let spot = s.is_multiple_of(follow::SPOT_CHECK_EVERY);
    let table = Table::new(store, on.requests, alike, on.variants, |owners| {
        rmispec_model::remove_each(profile, store, owners)
    });
    if spot {
        for (r, request) in on.requests.iter().enumerate() {
            assert!(
                remove(profile, store, request) == *table.outcome(r),
                "{profile} answers {request:?} otherwise than `remove_each` answered {:?} \
                 (store {s}): tests/support/follow.rs `reads` must say what it reads",
                on.requests[alike[r]]
            );
        }
    }
    let mut kept = Vec::with_capacity(if keep {
        on.requests.len() * on.laws.len()
    } else {
        0
    });
    for (r, request) in on.requests.iter().enumerate() {
        report.cases += 1;
        let case = Case {
            profile,
            store,
            request,
            outcome: table.outcome(r),
            memo: None,
            table: Some((&table, r)),
            explain: false,
        };
        for &(k, law) in on.laws {
            let verdict = (law.check)(&case);
            report.tallies[k][p].record(verdict.clone(), (s, r), &case, law);
            if keep {
                kept.push(verdict);
            }
        }
    }
    (table, kept)
}

/// Second steps: every law on every store that one request leaves, on the profile that left
/// it, for every request form typed against that store or against the store before it (so a
/// second request may name what the first one removed, as a user retyping an ID does).
///
/// The first steps are every request on every store within `bounds`, on every profile; a
/// step that changes nothing leads nowhere new. The stores left are told apart by their
/// `Debug` text per profile (an engine's store after a step can hold what no enumerated store
/// has: a dangling record, a child whose parent went), and each is checked once, with the
/// requests of the first store (in enumeration order) that led to it. `stores` counts them.
pub fn second_steps(bounds: Bounds, threads: usize) -> Report {
    let started = Instant::now();
    let (firsts, enumerated) = enumerate::stores(bounds);
    // Phase 1, on every core: every store a first step leaves, with where it came from.
    let found = on_every_core(&firsts, threads, Vec::new, |out, s, spec| {
        let store = spec.build();
        let requests = enumerate::requests(&store, bounds);
        for (p, &profile) in LANDED.iter().enumerate() {
            for request in &requests {
                let after = remove(profile, &store, request).after;
                if after != store {
                    out.push((p, s, format!("{after:?}"), after));
                }
            }
        }
    });
    let mut found: Vec<_> = found.into_iter().flatten().collect();
    found.sort_by_key(|a| (a.0, a.1));
    let mut seen = std::collections::HashSet::new();
    let seconds: Vec<(usize, usize, rmispec_model::Store)> = found
        .into_iter()
        .filter(|(p, _, key, _)| seen.insert((*p, key.clone())))
        .map(|(p, s, _, after)| (p, s, after))
        .collect();
    drop(seen);
    // Phase 2, on every core: every law on each of them.
    let laws: Vec<(usize, &laws::Law)> = checked_laws().collect();
    let parts = on_every_core(
        &seconds,
        threads,
        Report::empty,
        |report, t, (p, s, store)| {
            let mut requests = enumerate::requests(store, bounds);
            for r in enumerate::requests(&firsts[*s].build(), bounds) {
                if !requests.contains(&r) {
                    requests.push(r);
                }
            }
            let variants = Variants::of(&requests);
            let alike = follow::answered_alike(LANDED[*p].engine(), &requests);
            report.requests += requests.len() as u64;
            let on = On {
                profile: (*p, LANDED[*p]),
                store: (t, store),
                requests: &requests,
                alike: &alike,
                variants: &variants,
                laws: &laws,
            };
            check_profile(&on, false, report);
        },
    );
    finish(parts, seconds.len(), enumerated, started)
}

/// For each request, the index in [`LANDED`] of the profile `profile` follows on it.
fn leaders(
    profile: rmispec_model::Profile,
    requests: &[rmispec_model::Request],
) -> Vec<Option<usize>> {
    follow::leaders(profile, requests)
        .into_iter()
        .map(|l| LANDED.iter().position(|&p| Some(p) == l))
        .collect()
}

fn finish(parts: Vec<Report>, stores: usize, enumerated: usize, started: Instant) -> Report {
    let mut report = Report::empty();
    for part in parts {
        report.add(part);
    }
    report.stores = stores;
    report.enumerated = enumerated;
    report.elapsed = started.elapsed();
    report
}
