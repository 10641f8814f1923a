//! `cargo bench -p rmispec-model`: how fast the model answers and the exhaustive check runs,
//! against the first checker (the baseline, kept in `tests/support/check.rs`), in one run.
//!
//! A plain `harness = false` binary rather than criterion or divan: what it must print are
//! throughputs of runs that take seconds (stores and cases per second) and the ratio of two
//! implementations measured side by side, interleaved so that the load of a shared machine
//! falls on both alike; a statistics harness built for nanosecond closures would sample each
//! for minutes and still print neither the ratio nor the counts that show both did the same
//! work. It prints the median of `RMISPEC_BENCH_RUNS` runs (default 3) and every run.
//!
//! - model: `rmispec_model::remove` over a fixed corpus (every request form on every store of
//!   the default bounds, on every profile), single-threaded: model cases per second;
//! - exhaustive: the checker and the baseline, alternately, on the default test bounds
//!   (`RMISPEC_BENCH_BOUNDS=middle`: 3 images, 2 names, 1 container): stores and cases per
//!   second, their counts (which must be equal) and the ratio.

#[path = "../tests/support/mod.rs"]
mod support;

use rmispec_model::remove;
use std::time::{Duration, Instant};
use support::check::{self, Report};
use support::enumerate::{self, Bounds};
use support::laws::LANDED;

/// The default test bounds: the corpus of the model benchmark.
const SMALL: Bounds = Bounds::SMALL;

/// Between the default and the full bounds: three images, as the full bounds, in seconds.
const MIDDLE: Bounds = Bounds {
    images: 3,
    names_per_image: 2,
    containers: 1,
    ..SMALL
};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, with no `--bench`:
    // then one quick pass shows it works.
    let benching = std::env::args().any(|a| a == "--bench");
    let runs: usize = std::env::var("RMISPEC_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if benching { 3 } else { 1 });
    let bounds = match std::env::var("RMISPEC_BENCH_BOUNDS").as_deref() {
        Ok("middle") => MIDDLE,
        _ if !benching => Bounds {
            images: 2,
            names_per_image: 1,
            ..SMALL
        },
        _ => SMALL,
    };
    let threads = check::threads();
    println!(
        "rmispec-model bench: {runs} run(s) each, {threads} thread(s) for the exhaustive check"
    );

    // The model alone.
    let (specs, _) = enumerate::stores(SMALL);
    let corpus: Vec<_> = specs
        .iter()
        .map(|s| {
            let store = s.build();
            let requests = enumerate::requests(&store, SMALL);
            (store, requests)
        })
        .collect();
    let per_pass: usize = corpus.iter().map(|(_, r)| r.len()).sum::<usize>() * LANDED.len();
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let mut records = 0usize;
        for (store, requests) in &corpus {
            for &profile in LANDED {
                for request in requests {
                    records += std::hint::black_box(remove(profile, store, request))
                        .records
                        .len();
                }
            }
        }
        times.push(started.elapsed());
        std::hint::black_box(records);
    }
    let m = median(times.clone());
    println!(
        "model: {per_pass} cases ({} stores x their requests x {} profiles), median {m:.2?} \
         = {:.0} cases/s  (runs: {times:.2?})",
        corpus.len(),
        LANDED.len(),
        per_pass as f64 / m.as_secs_f64()
    );

    // The exhaustive check, the checker and the baseline alternately.
    let (mut fast, mut baseline): (Vec<Report>, Vec<Report>) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        fast.push(check::fast(bounds, threads));
        baseline.push(check::baseline(bounds, threads));
    }
    let show = |name: &str, reports: &[Report]| -> Duration {
        let m = median(reports.iter().map(|r| r.elapsed).collect());
        let r = &reports[0];
        let secs = m.as_secs_f64();
        println!(
            "exhaustive {name}: {} stores, {} requests, {} cases, {} law checks; median {m:.2?} \
             = {:.0} stores/s, {:.0} cases/s  (runs: {:.2?})",
            r.stores,
            r.requests,
            r.cases,
            r.law_checks(),
            r.stores as f64 / secs,
            r.cases as f64 / secs,
            reports.iter().map(|r| r.elapsed).collect::<Vec<_>>()
        );
        m
    };
    println!("exhaustive bounds: {bounds:?}");
    let new = show("checker ", &fast);
    let old = show("baseline", &baseline);
    let same = fast
        .iter()
        .chain(&baseline)
        .all(|r| r.counts() == fast[0].counts());
    println!(
        "exhaustive: checker / baseline speed = {:.1}x; counts and tallies {}",
        old.as_secs_f64() / new.as_secs_f64(),
        if same { "equal" } else { "DIFFER" }
    );
    assert!(
        same,
        "the checker and the baseline disagree: see tests/exhaustive.rs"
    );
}
