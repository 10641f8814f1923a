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
//! - exhaustive: the checker and the baseline, alternately, on the small bounds (2 images;
//!   `RMISPEC_BENCH_BOUNDS=default` for the default test bounds, 3 images, `full` for the full
//!   ones): stores and cases per second, their counts (which must be equal) and the ratio,
//!   of wall time and of the process's CPU time (on a shared machine the CPU time is the
//!   steadier figure: it does not count the time other processes had the cores).

#[path = "../tests/support/mod.rs"]
mod support;

/// See `model/Cargo.toml`: allocation is much of the check's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use rmispec_model::remove;
use std::time::{Duration, Instant};
use support::check::{self, Report};
use support::enumerate::{self, Bounds};
use support::laws::LANDED;

/// The default test bounds: the corpus of the model benchmark.
const SMALL: Bounds = Bounds::SMALL;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The CPU time (user and system) this process has used so far: `/proc/self/stat` fields 14
/// and 15, in clock ticks of 1/100 s (Linux's `USER_HZ`); zero where there is no `/proc`.
fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // The command name (field 2) is in parentheses and may hold spaces.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let (utime, stime) = (fields.get(11)?, fields.get(12)?);
            Some(utime.parse::<u64>().ok()? + stime.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Runs `check`, returning its report and the CPU time it took.
fn timed(check: impl FnOnce() -> Report) -> (Report, Duration) {
    let before = cpu_time();
    let report = check();
    (report, cpu_time().saturating_sub(before))
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
        Ok("default") => Bounds::DEFAULT,
        Ok("full") => Bounds::FULL,
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
    let mut fast: Vec<(Report, Duration)> = Vec::new();
    let mut baseline: Vec<(Report, Duration)> = Vec::new();
    for _ in 0..runs {
        fast.push(timed(|| check::fast(bounds, threads)));
        baseline.push(timed(|| check::baseline(bounds, threads)));
    }
    let show = |name: &str, runs: &[(Report, Duration)]| -> (Duration, Duration) {
        let wall = median(runs.iter().map(|(r, _)| r.elapsed).collect());
        let cpu = median(runs.iter().map(|&(_, c)| c).collect());
        let r = &runs[0].0;
        let secs = wall.as_secs_f64();
        println!(
            "exhaustive {name}: {} stores, {} requests, {} cases, {} law checks; median {wall:.2?} \
             wall = {:.0} stores/s, {:.0} cases/s; median {cpu:.2?} CPU  (wall: {:.2?}; CPU: {:.2?})",
            r.stores,
            r.requests,
            r.cases,
            r.law_checks(),
            r.stores as f64 / secs,
            r.cases as f64 / secs,
            runs.iter().map(|(r, _)| r.elapsed).collect::<Vec<_>>(),
            runs.iter().map(|&(_, c)| c).collect::<Vec<_>>(),
        );
        (wall, cpu)
    };
    println!("exhaustive bounds: {bounds:?}");
    let new = show("checker ", &fast);
    let old = show("baseline", &baseline);
    let same = fast
        .iter()
        .chain(&baseline)
        .all(|(r, _)| r.counts() == fast[0].0.counts());
    let ratio = |old: Duration, new: Duration| old.as_secs_f64() / new.as_secs_f64().max(1e-9);
    println!(
        "exhaustive: checker / baseline speed = {:.1}x wall, {:.1}x CPU; counts and tallies {}",
        ratio(old.0, new.0),
        ratio(old.1, new.1),
        if same { "equal" } else { "DIFFER" }
    );
    assert!(
        same,
        "the checker and the baseline disagree: see tests/exhaustive.rs"
    );
}
