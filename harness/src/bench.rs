//! `rmispec bench`: how fast the scenarios run, on the model and on the live engines, and
//! how much of a live run is the harness's own work.
//!
//! The live part runs the selected catalogue on every chosen engine several times for each
//! `--jobs` value (interleaved, so that the machine's load falls on all of them alike) and
//! prints medians: per engine, the scenarios it ran per second of its wall time (its daemon's
//! start and stop included) and the harness's share of that wall time (the CPU time of the
//! harness's thread for the engine, see [`crate::cpu`]); for the whole catalogue, the wall
//! time of each `--jobs` value side by side. The machine's load average is printed with the
//! figures: on a shared machine they mean little without it.

use crate::live::LiveOptions;
use crate::runner::{self, Backends, EngineRun, Plan};
use crate::scenario::Scenario;
use rmispec_model::Profile;
use std::fmt::Write as _;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

/// What one live run of the whole selection took.
#[derive(Clone, Debug)]
pub struct Sample {
    /// `--jobs`.
    pub jobs: usize,
    /// The whole run, first engine's start to last engine's stop.
    pub wall: Duration,
    /// The process's CPU time over the run, every thread.
    pub cpu: Option<Duration>,
    /// Per engine, in the plan's order.
    pub engines: Vec<EngineSample>,
    /// Results that failed or erred (a benchmark of a broken run says so).
    pub failures: usize,
}

/// One engine's part of a [`Sample`].
#[derive(Clone, Debug)]
pub struct EngineSample {
    /// The profile.
    pub profile: Profile,
    /// Scenarios it ran (skips left out).
    pub ran: usize,
    /// Its wall time.
    pub wall: Duration,
    /// Its thread's CPU time.
    pub cpu: Option<Duration>,
}

impl EngineSample {
    fn of(run: &EngineRun) -> EngineSample {
        EngineSample {
            profile: run.profile,
            ran: run
                .results
                .iter()
                .filter(|r| !matches!(r.verdict, crate::compare::Verdict::Skip { .. }))
                .count(),
            wall: run.wall,
            cpu: run.cpu,
        }
    }
}

/// The model's throughput: trials (scenario × profile) per second.
#[derive(Clone, Debug)]
pub struct ModelSample {
    /// Trials run (skips left out).
    pub trials: usize,
    /// Median wall time of one pass over every trial.
    pub wall: Duration,
}

/// Every scenario on the model of every profile, `runs` times; the median pass. The first
/// pass also synthesizes (and grinds prefixes, unless the cache has them): it is not counted
/// when there are more.
pub fn model(scenarios: &[Scenario], plan: &Plan, runs: usize) -> anyhow::Result<ModelSample> {
    let mut walls = Vec::new();
    let mut trials = 0;
    for pass in 0..runs.max(1) + usize::from(runs > 1) {
        let t0 = Instant::now();
        let done = runner::run(scenarios, plan, &Backends::Model)?;
        let wall = t0.elapsed();
        trials = done
            .iter()
            .flat_map(|s| &s.results)
            .filter(|r| !matches!(r.verdict, crate::compare::Verdict::Skip { .. }))
            .count();
        if pass > 0 || runs <= 1 {
            walls.push(wall);
        }
    }
    Ok(ModelSample {
        trials,
        wall: median(walls),
    })
}

/// The live catalogue `runs` times for each of `jobs`, interleaved; `each` is told of every
/// sample as it is taken (a benchmark takes minutes).
pub fn live(
    scenarios: &[Scenario],
    plan: &Plan,
    options: &LiveOptions,
    jobs: &[NonZeroUsize],
    runs: usize,
    mut each: impl FnMut(&Sample),
) -> Vec<Sample> {
    let mut samples = Vec::new();
    for _ in 0..runs.max(1) {
        for &j in jobs {
            if crate::live::interrupted().is_some() {
                return samples;
            }
            let plan = Plan {
                jobs: j,
                ..plan.clone()
            };
            let cpu0 = crate::cpu::process_time();
            let t0 = Instant::now();
            let engines = runner::run_engines(scenarios, &plan, options);
            let wall = t0.elapsed();
            let cpu = crate::cpu::process_time()
                .zip(cpu0)
                .map(|(end, start)| end.saturating_sub(start));
            let sample = Sample {
                jobs: j.get(),
                wall,
                cpu,
                failures: engines
                    .iter()
                    .flat_map(|e| &e.results)
                    .filter(|r| r.verdict.is_failure())
                    .count(),
                engines: engines.iter().map(EngineSample::of).collect(),
            };
            each(&sample);
            samples.push(sample);
        }
    }
    samples
}

/// The machine's load average (1, 5, 15 minutes) from `/proc/loadavg` (Linux); `unknown`
/// elsewhere.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// One line for a sample, as it is taken.
pub fn sample_line(s: &Sample) -> String {
    format!(
        "--jobs {}: {} in {:.1} s{}",
        s.jobs,
        plural(s.engines.iter().map(|e| e.ran).sum(), "scenario"),
        s.wall.as_secs_f64(),
        failures(s.failures)
    )
}

/// The report: the model's line, then per engine and for the whole catalogue the medians of
/// each `--jobs` value side by side.
pub fn render(model: Option<&ModelSample>, samples: &[Sample], load: &str) -> String {
    let mut out = String::new();
    if let Some(m) = model {
        let _ = writeln!(
            out,
            "model: {} in {:.3} s (median pass): {:.0} trials/s",
            plural(m.trials, "trial"),
            m.wall.as_secs_f64(),
            per_second(m.trials, m.wall)
        );
    }
    let mut jobs: Vec<usize> = samples.iter().map(|s| s.jobs).collect();
    jobs.sort_unstable();
    jobs.dedup();
    let Some(first) = samples.first() else {
        let _ = writeln!(out, "{load}");
        return out;
    };
    let runs = samples.iter().filter(|s| s.jobs == first.jobs).count();
    let _ = writeln!(
        out,
        "live: {}, {}, medians of {} per --jobs value; {load}",
        plural(first.engines.len(), "engine"),
        plural(first.engines.iter().map(|e| e.ran).sum(), "scenario run"),
        plural(runs, "run"),
    );
    let mut header = format!("{:<24} {:>5}", "engine", "ran");
    for j in &jobs {
        let _ = write!(
            header,
            " | {:>15} {:>7} {:>8}",
            format!("--jobs {j}: wall"),
            "scen/s",
            "harness"
        );
    }
    let _ = writeln!(out, "{header}");
    for (i, e) in first.engines.iter().enumerate() {
        let mut line = format!("{:<24} {:>5}", e.profile.id(), e.ran);
        for &j in &jobs {
            let of: Vec<&EngineSample> = samples
                .iter()
                .filter(|s| s.jobs == j)
                .filter_map(|s| s.engines.get(i))
                .collect();
            let wall = median(of.iter().map(|e| e.wall).collect());
            let share = median_share(of.iter().map(|e| (e.cpu, e.wall)));
            let _ = write!(
                line,
                " | {:>13.1} s {:>7.1} {:>8}",
                wall.as_secs_f64(),
                per_second(e.ran, wall),
                share
            );
        }
        let _ = writeln!(out, "{line}");
    }
    let ran: usize = first.engines.iter().map(|e| e.ran).sum();
    let mut line = format!("{:<24} {:>5}", "whole catalogue", ran);
    let mut walls = Vec::new();
    for &j in &jobs {
        let of: Vec<&Sample> = samples.iter().filter(|s| s.jobs == j).collect();
        let wall = median(of.iter().map(|s| s.wall).collect());
        walls.push((j, wall));
        // The engines' threads' CPU over their wall time, all engines together.
        let share = median_share(of.iter().map(|s| {
            let cpu: Option<Duration> = s.engines.iter().map(|e| e.cpu).sum();
            (cpu, s.engines.iter().map(|e| e.wall).sum())
        }));
        let _ = write!(
            line,
            " | {:>13.1} s {:>7.1} {:>8}",
            wall.as_secs_f64(),
            per_second(ran, wall),
            share
        );
    }
    let _ = writeln!(out, "{line}");
    for &j in &jobs {
        let of: Vec<&Sample> = samples.iter().filter(|s| s.jobs == j).collect();
        let cpu = median(of.iter().filter_map(|s| s.cpu).collect());
        let all: Vec<String> = of
            .iter()
            .map(|s| format!("{:.1}", s.wall.as_secs_f64()))
            .collect();
        let _ = writeln!(
            out,
            "--jobs {j}: wall {} s; the process's CPU time {:.2} s (median){}",
            all.join(", "),
            cpu.as_secs_f64(),
            failures(of.iter().map(|s| s.failures).max().unwrap_or(0))
        );
    }
    if let (Some(&(j0, w0)), Some(&(j1, w1))) = (walls.first(), walls.last()) {
        if j0 != j1 && !w1.is_zero() {
            let _ = writeln!(
                out,
                "--jobs {j1} takes {:.2}× less wall time than --jobs {j0}",
                w0.as_secs_f64() / w1.as_secs_f64()
            );
        }
    }
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// The median of CPU / wall, as a percentage; `n/a` when CPU time is not measured.
fn median_share(pairs: impl Iterator<Item = (Option<Duration>, Duration)>) -> String {
    let mut shares: Vec<f64> = pairs
        .filter_map(|(cpu, wall)| {
            cpu.filter(|_| !wall.is_zero())
                .map(|c| c.as_secs_f64() / wall.as_secs_f64())
        })
        .collect();
    if shares.is_empty() {
        return "n/a".to_owned();
    }
    shares.sort_by(f64::total_cmp);
    format!("{:.1} %", 100.0 * shares[shares.len() / 2])
}

fn per_second(n: usize, wall: Duration) -> f64 {
    if wall.is_zero() {
        0.0
    } else {
        n as f64 / wall.as_secs_f64()
    }
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn failures(n: usize) -> String {
    match n {
        0 => String::new(),
        n => format!(
            " ({} failed or erred: `rmispec run` shows why)",
            plural(n, "result")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(jobs: usize, wall: u64, engines: &[(Profile, usize, u64, u64)]) -> Sample {
        Sample {
            jobs,
            wall: Duration::from_secs(wall),
            cpu: Some(Duration::from_millis(500)),
            failures: 0,
            engines: engines
                .iter()
                .map(|&(profile, ran, wall, cpu_ms)| EngineSample {
                    profile,
                    ran,
                    wall: Duration::from_secs(wall),
                    cpu: Some(Duration::from_millis(cpu_ms)),
                })
                .collect(),
        }
    }

    #[test]
    fn the_report_puts_jobs_side_by_side_with_medians() {
        let (a, b) = (Profile::ALL[0], Profile::ALL[1]);
        let samples = [
            sample(1, 40, &[(a, 100, 20, 200), (b, 100, 20, 400)]),
            sample(2, 20, &[(a, 100, 20, 200), (b, 100, 20, 400)]),
            sample(1, 50, &[(a, 100, 25, 250), (b, 100, 25, 500)]),
            sample(2, 30, &[(a, 100, 30, 300), (b, 100, 30, 600)]),
            sample(1, 44, &[(a, 100, 22, 220), (b, 100, 22, 440)]),
            sample(2, 22, &[(a, 100, 22, 220), (b, 100, 22, 440)]),
        ];
        let text = render(None, &samples, "load average 1 1 1 on 2 cores");
        assert!(
            text.contains("2 engines, 200 scenario runs, medians of 3 runs"),
            "{text}"
        );
        let row = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("{name}: {text}"))
                .to_owned()
        };
        // engine a: median wall 22 s on both; 100 / 22 = 4.5 scenarios/s; 1.0 % harness
        let first = row(a.id());
        assert_eq!(first.matches("22.0 s").count(), 2, "{first}");
        assert!(first.contains("4.5") && first.contains("1.0 %"), "{first}");
        assert!(row(b.id()).contains("2.0 %"));
        let whole = row("whole catalogue");
        assert!(
            whole.contains("44.0 s") && whole.contains("22.0 s"),
            "{whole}"
        );
        assert!(text.contains("--jobs 1: wall 40.0, 50.0, 44.0 s"), "{text}");
        assert!(
            text.contains("--jobs 2 takes 2.00× less wall time than --jobs 1"),
            "{text}"
        );
    }

    #[test]
    fn shares_without_a_clock_say_so() {
        assert_eq!(
            median_share([(None, Duration::from_secs(1))].into_iter()),
            "n/a"
        );
        assert_eq!(
            median_share([(Some(Duration::from_millis(30)), Duration::from_secs(1))].into_iter()),
            "3.0 %"
        );
    }
}
