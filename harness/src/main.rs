//! `rmispec`: run the scenarios on the model (or live engines), explain one, write the docs,
//! merge saved reports.
//!
//! Exit codes: 0 everything held; 1 some result failed (a live engine that would not start
//! fails its own results); 2 the run could not be made (a bad scenario file, a bad option, a
//! `--filter` that matches nothing, an unreadable report).

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use rmispec::live::LiveOptions;
use rmispec::report;
use rmispec::runner::{self, Backends, Partition, Plan, Selection};
use rmispec_model::{Engine, Profile};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// An executable specification of container image deletion ("rmi"): scenarios run on a
/// reference model of each engine and on the real engines.
#[derive(Parser, Debug)]
#[command(name = "rmispec", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the scenarios and print a matrix of outcomes (rows scenarios, columns engines).
    Run(RunArgs),
    /// Show one scenario and every engine's outcome side by side.
    Explain(ExplainArgs),
    /// Write the Markdown semantics matrix (every behaviour across engines) and the upgrades
    /// report (`upgrades.md` beside it) from the model.
    Docs(DocsArgs),
    /// Start a reference engine sandboxed and leave it running (`up`), or stop it (`down`).
    #[command(subcommand)]
    Engine(EngineCommand),
    /// Merge JSON reports (`run --format json`, e.g. one per `--partition` or per machine)
    /// into one report, in any format.
    Merge(MergeArgs),
    /// Every scenario whose model outcome differs between two profiles, side by side.
    Diff(DiffArgs),
    /// How fast the scenarios run: on the model, and with `--live` per engine (scenarios per
    /// second, the harness's share of the wall time) and the whole catalogue per `--jobs`.
    Bench(BenchArgs),
    /// Generate stores and requests, run each on a live engine and on the model, shrink every
    /// disagreement and write it out as a scenario (`docs/fuzzing.md`).
    Fuzz(FuzzArgs),
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// Also run the live engines (the model alone otherwise).
    #[arg(long)]
    live: bool,
    /// Profile ids, comma-separated, or `all` (default: every profile that has a live engine).
    #[arg(long = "engine", value_name = "IDS", value_delimiter = ',', value_parser = parse_engines)]
    engines: Vec<Vec<Named>>,
    /// Only scenarios whose name matches this glob (as `run --filter`). Repeatable.
    #[arg(long, value_name = "GLOB")]
    filter: Vec<String>,
    /// The `--jobs` values to run the live catalogue with, side by side (default: 1 and the
    /// number of cores).
    #[arg(long, value_name = "N,...", value_delimiter = ',', requires = "live")]
    jobs: Vec<std::num::NonZeroUsize>,
    /// How many runs per `--jobs` value (the report shows medians).
    #[arg(long, value_name = "R", default_value_t = 1)]
    runs: usize,
    #[command(flatten)]
    place: Where,
}

#[derive(Args, Debug)]
struct FuzzArgs {
    /// The one profile to fuzz (`docker-classic@28.5`; a bare engine id is its newest).
    #[arg(long = "engine", value_name = "ID", value_parser = parse_profile)]
    engine: Profile,
    /// The seed (default: from the clock; printed either way). The same seed, the same cases.
    #[arg(long)]
    seed: Option<u64>,
    /// How many generated cases (default 100).
    #[arg(long, conflicts_with = "time")]
    cases: Option<u64>,
    /// Run for this long instead (`60s`, `5m`).
    #[arg(long, value_name = "DURATION", value_parser = rmispec::live::options::parse_timeout)]
    time: Option<std::time::Duration>,
    /// Where to write findings as scenario files (default `fuzz-findings`).
    #[arg(long, value_name = "DIR", default_value = "fuzz-findings")]
    out: PathBuf,
    /// Re-run one written finding (a scenario file) on the engine and the model, and say
    /// whether they still differ.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["cases", "time", "seed"])]
    replay: Option<PathBuf>,
    /// Shrink candidates tried per finding at most.
    #[arg(long, value_name = "N", default_value_t = 200)]
    shrink_budget: u32,
    /// `text` (default) or `json`: one object with `cases`, `disagreements`,
    /// `cases_per_minute`, the findings…
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    format: SummaryFormat,
    #[command(flatten)]
    live: LiveArgs,
    #[command(flatten)]
    place: Where,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SummaryFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum EngineCommand {
    /// Start ID (a live profile, or `podman-compat@4.3`) under DIR and leave it running; the
    /// first line printed is its socket.
    Up {
        /// The engine: a live profile id, or an implementation under test (`podman-compat@4.3`).
        id: String,
        /// Where the engine keeps everything.
        #[arg(long, value_name = "DIR")]
        state_dir: PathBuf,
    },
    /// Stop the engine `engine up` started under DIR, and leave nothing behind.
    Down {
        /// The state directory given to `engine up`.
        state_dir: PathBuf,
    },
    /// The keeper process `engine up` starts (not for direct use).
    #[command(hide = true)]
    Serve {
        id: String,
        #[arg(long, value_name = "DIR")]
        state_dir: PathBuf,
    },
}

#[derive(Args, Debug)]
struct MergeArgs {
    /// The JSON reports to merge.
    #[arg(required = true, value_name = "FILE")]
    reports: Vec<PathBuf>,
    /// How to print the merged results.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Args, Debug)]
struct DiffArgs {
    /// The profile upgraded (or migrated) from.
    #[arg(value_parser = parse_profile)]
    from: Profile,
    /// The profile upgraded to.
    #[arg(value_parser = parse_profile)]
    to: Profile,
    /// Markdown instead of text.
    #[arg(long)]
    markdown: bool,
    /// Exit 1 when something changes.
    #[arg(long)]
    fail_on_change: bool,
    #[command(flatten)]
    place: Where,
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    Profile::from_id(s).ok_or_else(|| format!("unknown profile {s:?}"))
}

#[derive(Args, Debug)]
struct Where {
    /// The scenarios folder (default: `scenarios` in this directory or the nearest parent).
    #[arg(long, value_name = "DIR")]
    scenarios: Option<PathBuf>,
    /// The snapshots folder (default: `snapshots` beside the scenarios folder).
    #[arg(long, value_name = "DIR")]
    snapshots: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Profile ids, comma-separated (`docker-classic,cri-containerd@1.6`), or `all`: every
    /// profile (with `--live`, every profile that has a live engine; model-only ones are
    /// left out). Default: each engine's default profile, the id without `@version`.
    #[arg(long = "engine", value_name = "IDS", value_delimiter = ',', value_parser = parse_engines)]
    engines: Vec<Vec<Named>>,
    /// Only scenarios whose name matches this glob (`untag/*`, `*digest*`; no wildcard:
    /// contains it). Repeatable: any of them. One that matches nothing is an error.
    #[arg(long, value_name = "GLOB")]
    filter: Vec<String>,
    /// Leave out scenarios whose name matches this glob (as `--filter`). Repeatable.
    #[arg(long, value_name = "GLOB")]
    skip: Vec<String>,
    /// Run share K of N of the selected scenarios, as nextest: `count:K/N` (dealt in turn),
    /// `hash:K/N` (by name), or `K/N` (count). Merge the JSON reports with `rmispec merge`.
    #[arg(long, value_name = "K/N")]
    partition: Option<Partition>,
    /// Print the selected scenarios' names, one a line, and run nothing.
    #[arg(long)]
    list: bool,
    /// How to print the results.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    live: LiveArgs,
    #[command(flatten)]
    place: Where,
    /// An implementation's expectations file (the divergences it accepts, strict): judge the
    /// one live `--engine` against the model and it, and print a conformance report.
    #[arg(long, value_name = "FILE", requires = "live")]
    expect: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct LiveArgs {
    /// Run on the live engines instead of the model (each compared with the model and its
    /// snapshot). The harness starts sandboxed daemons unless `--socket` names one.
    #[arg(long)]
    live: bool,
    /// A running engine's API socket to use instead of a sandboxed daemon (with `--live`
    /// and one `--engine`). Its images and containers are deleted.
    #[arg(long, value_name = "PATH", requires = "live")]
    socket: Option<PathBuf>,
    /// Where sandboxed daemons keep their state (default: a fresh temporary folder).
    #[arg(long, value_name = "PATH", requires = "live")]
    state_dir: Option<PathBuf>,
    /// Allow a host's default socket, or a daemon that already holds images: the harness
    /// deletes every image in it.
    #[arg(long = "i-know-this-deletes-images", requires = "live")]
    allow_default_socket: bool,
    /// An adapter program speaking the process protocol (`docs/protocol.md`), judged as the
    /// one `--engine`: `--command adapters/podman-cli/rmispec-podman-cli`. Takes the rest of
    /// the command line as the program's arguments, so it comes last.
    #[arg(
        long,
        value_name = "PROG",
        num_args = 1..,
        allow_hyphen_values = true,
        requires = "live",
        conflicts_with_all = ["socket", "state_dir"]
    )]
    command: Option<Vec<String>>,
    /// How long one engine API call may take (`30`, `2.5`, `500ms`, `2m`; default 30 s, or
    /// `RMISPEC_TIMEOUT`): a call that waits longer fails, naming the engine, the call and
    /// how long it waited.
    #[arg(long, value_name = "DURATION", requires = "live", value_parser = rmispec::live::options::parse_timeout)]
    timeout: Option<std::time::Duration>,
    /// How many live engines run at once, each in its own sandbox (default: the number of
    /// cores). The report is the same, in the same order, whatever it is.
    #[arg(long, value_name = "N", requires = "live")]
    jobs: Option<std::num::NonZeroUsize>,
}

#[derive(Args, Debug)]
struct ExplainArgs {
    /// The scenario's name: its path below the scenarios folder, without `.yaml`.
    name: String,
    /// Profile ids, comma-separated, or `all` (default: every profile; with `--live`, every
    /// profile that has a live engine).
    #[arg(long = "engine", value_name = "IDS", value_delimiter = ',', value_parser = parse_engines)]
    engines: Vec<Vec<Named>>,
    #[command(flatten)]
    live: LiveArgs,
    #[command(flatten)]
    place: Where,
}

#[derive(Args, Debug)]
struct DocsArgs {
    /// Where to write the semantics matrix (default: `docs/semantics.md` beside the scenarios
    /// folder); the upgrades report goes beside it as `upgrades.md`.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write nothing; fail if the file is not up to date.
    #[arg(long)]
    check: bool,
    #[command(flatten)]
    place: Where,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// A matrix, a summary per engine, and every failure.
    Text,
    /// `{"schema_version", "counts", "results":[{scenario, engine, backend, verdict,
    /// expected, outcome, time}…]}`.
    Json,
    /// JUnit XML: one `<testsuite>` per profile.
    Junit,
    /// With `--expect`: the conformance report in Markdown.
    Markdown,
}

/// What `--engine` names: every profile (`all`, resolved once we know whether the run is
/// live), or one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Named {
    All,
    One(Profile),
}

/// `all`, or one profile id.
fn parse_engines(s: &str) -> Result<Vec<Named>, String> {
    if s == "all" {
        return Ok(vec![Named::All]);
    }
    Profile::from_id(s)
        .map(|p| vec![Named::One(p)])
        .ok_or_else(|| {
            let ids: Vec<_> = Profile::ALL.iter().map(|p| p.id()).collect();
            format!(
                "unknown engine {s:?}; expected `all` or one of: {}",
                ids.join(", ")
            )
        })
}

/// The chosen profiles, deduplicated in [`Profile::ALL`] order: `all` is `everyone`;
/// `default` if none were named.
fn profiles(named: &[Vec<Named>], default: &[Profile], everyone: &[Profile]) -> Vec<Profile> {
    let mut chosen: Vec<Profile> = Vec::new();
    for n in named.iter().flatten() {
        match n {
            Named::All => chosen.extend_from_slice(everyone),
            Named::One(p) => chosen.push(*p),
        }
    }
    let chosen = if named.is_empty() { default } else { &chosen };
    Profile::ALL
        .into_iter()
        .filter(|p| chosen.contains(p))
        .collect()
}

/// What `all` means: every profile on the model, every live one on live runs.
fn everyone(live: bool) -> Vec<Profile> {
    if live {
        runner::live_profiles()
    } else {
        Profile::ALL.to_vec()
    }
}

/// Prints a report in `format`.
fn print_report(runs: &[runner::ScenarioRuns], format: Format) {
    print!(
        "{}",
        match format {
            Format::Text | Format::Markdown => {
                report::matrix::render(runs, report::matrix::terminal_width())
            }
            Format::Json => report::json::render(runs),
            Format::Junit => report::junit::render(runs),
        }
    );
}

fn all_held(runs: &[runner::ScenarioRuns]) -> bool {
    !runs
        .iter()
        .flat_map(|s| &s.results)
        .any(|r| r.verdict.is_failure())
}

/// Why the run stopped early: exit 2, after printing the message.
struct Unrunnable(anyhow::Error);

impl<E: Into<anyhow::Error>> From<E> for Unrunnable {
    fn from(e: E) -> Self {
        Unrunnable(e.into())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = dispatch(cli);
    // Ctrl-C (or SIGTERM, SIGHUP) during a live run: the handler stopped the daemons and
    // cleaned up, the report of what finished was printed; exit as the signal says.
    if let Some(signal) = rmispec::live::interrupted() {
        if let Err(Unrunnable(e)) = &outcome {
            eprintln!("error: {e:#}");
        }
        eprintln!("rmispec: interrupted (signal {signal}); the report above holds what finished");
        return ExitCode::from(u8::try_from(128 + signal).unwrap_or(130));
    }
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(Unrunnable(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the command; `Ok(false)` when some result failed.
fn dispatch(cli: Cli) -> Result<bool, Unrunnable> {
    runner::quiet_panics();
    match cli.command {
        Command::Run(args) => {
            let defaults: Vec<Profile> = Engine::ALL.iter().map(|e| e.default_profile()).collect();
            let chosen = profiles(&args.engines, &defaults, &everyone(args.live.live));
            args.live.check(&chosen)?;
            let (scenarios_dir, snapshots) = args.place.resolve()?;
            let selection = Selection {
                filters: args.filter.clone(),
                skips: args.skip.clone(),
                partition: args.partition,
            };
            let scenarios = runner::select(runner::load(&scenarios_dir)?, &selection)?;
            if args.list {
                for s in &scenarios {
                    println!("{}", s.name);
                }
                return Ok(true);
            }
            let plan = args.live.plan(chosen, snapshots);
            let mut runs = runner::run(&scenarios, &plan, &args.live.backends())?;
            if let Some(path) = &args.expect {
                return conformance(path, &plan.profiles, &scenarios, &mut runs, args.format);
            }
            print_report(&runs, args.format);
            Ok(all_held(&runs))
        }
        Command::Merge(args) => {
            let mut texts = Vec::new();
            for path in &args.reports {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                texts.push((path.display().to_string(), text));
            }
            let runs = report::json::merge(&texts)?;
            print_report(&runs, args.format);
            Ok(all_held(&runs))
        }
        Command::Explain(args) => {
            let all = everyone(args.live.live);
            let chosen = profiles(&args.engines, &all, &all);
            args.live.check(&chosen)?;
            let (scenarios_dir, snapshots) = args.place.resolve()?;
            let scenarios = runner::load(&scenarios_dir)?;
            let Some(scenario) = scenarios.iter().find(|s| s.name == args.name) else {
                let near: Vec<_> = scenarios
                    .iter()
                    .map(|s| s.name.as_str())
                    .filter(|n| n.contains(args.name.as_str()))
                    .collect();
                let hint = if near.is_empty() {
                    String::new()
                } else {
                    format!("; did you mean: {}", near.join(", "))
                };
                return Err(anyhow::anyhow!(
                    "no scenario named {:?} in {}{hint}",
                    args.name,
                    scenarios_dir.display()
                )
                .into());
            };
            let plan = args.live.plan(chosen, snapshots);
            let runs = runner::run(std::slice::from_ref(scenario), &plan, &args.live.backends())?;
            let run = runs.first().context("the runner returned no result")?;
            print!("{}", report::explain::render(run, &report::about(scenario)));
            Ok(!run.results.iter().any(|r| r.verdict.is_failure()))
        }
        Command::Engine(cmd) => engine(cmd),
        Command::Fuzz(args) => fuzz(args),
        Command::Diff(args) => {
            let (scenarios_dir, _) = args.place.resolve()?;
            let scenarios = runner::load(&scenarios_dir)?;
            let changes = rmispec::diff::changes(&scenarios, args.from, args.to);
            let render = if args.markdown {
                rmispec::diff::markdown
            } else {
                rmispec::diff::text
            };
            print!("{}", render(args.from, args.to, &changes));
            Ok(!args.fail_on_change || changes.is_empty())
        }
        Command::Bench(args) => bench(args),
        Command::Docs(args) => {
            let (scenarios_dir, snapshots) = args.place.resolve()?;
            let scenarios = runner::load(&scenarios_dir)?;
            let plan = Plan::new(Profile::ALL.to_vec(), snapshots);
            let runs = runner::run(&scenarios, &plan, &Backends::Model)?;
            let abouts: Vec<_> = scenarios.iter().map(report::about).collect();
            let text = report::markdown::render(&runs, &abouts);
            let out = args
                .out
                .unwrap_or_else(|| beside(&scenarios_dir, "docs").join("semantics.md"));
            // docs/upgrades.md beside it: what changes along each version line.
            let upgrades_out = out.with_file_name("upgrades.md");
            let docs = [
                (out, text),
                (upgrades_out, rmispec::diff::upgrades(&scenarios)),
            ];
            if args.check {
                let mut fresh = true;
                for (out, text) in &docs {
                    let current = std::fs::read_to_string(out).unwrap_or_default();
                    if &current != text {
                        eprintln!("{} is out of date: run `rmispec docs`", out.display());
                        fresh = false;
                    }
                }
                return Ok(fresh);
            }
            for (out, text) in &docs {
                if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))?;
                eprintln!("wrote {}", out.display());
            }
            let failed: Vec<_> = runs
                .iter()
                .flat_map(|s| s.results.iter().map(move |r| (s, r)))
                .filter(|(_, r)| r.verdict.is_failure())
                .map(|(s, r)| format!("{}/{}", r.profile.id(), s.name))
                .collect();
            if !failed.is_empty() {
                eprintln!(
                    "the model fails {} result(s), shown as such in the docs: {}",
                    failed.len(),
                    failed.join(", ")
                );
            }
            Ok(failed.is_empty())
        }
    }
}

/// `rmispec bench`: the model's pass, then the live samples (a line each as they are taken),
/// then the report.
fn bench(args: BenchArgs) -> Result<bool, Unrunnable> {
    use rmispec::bench;
    let live = everyone(true);
    let chosen = profiles(&args.engines, &live, &live);
    let (scenarios_dir, snapshots) = args.place.resolve()?;
    let selection = Selection {
        filters: args.filter.clone(),
        ..Selection::default()
    };
    let scenarios = runner::select(runner::load(&scenarios_dir)?, &selection)?;
    let before = bench::load_average();
    let model = bench::model(
        &scenarios,
        &Plan::new(Profile::ALL.to_vec(), snapshots.clone()),
        args.runs,
    )?;
    let mut samples = Vec::new();
    if args.live {
        let live_args = LiveArgs {
            live: true,
            socket: None,
            state_dir: None,
            allow_default_socket: false,
            command: None,
            timeout: None,
            jobs: None,
        };
        live_args.check(&chosen)?;
        let Backends::Live(options) = live_args.backends() else {
            unreachable!("a live run")
        };
        let jobs = if args.jobs.is_empty() {
            let mut j = vec![std::num::NonZeroUsize::MIN, runner::default_jobs()];
            j.dedup();
            j
        } else {
            args.jobs.clone()
        };
        let plan = Plan {
            progress: std::io::stderr().is_terminal(),
            ..Plan::new(chosen, snapshots)
        };
        samples = bench::live(&scenarios, &plan, &options, &jobs, args.runs, |s| {
            eprintln!("rmispec bench: {}", bench::sample_line(s));
        });
    }
    let load = format!(
        "load average {before} before, {} after, {} cores",
        bench::load_average(),
        runner::default_jobs()
    );
    print!("{}", bench::render(Some(&model), &samples, &load));
    Ok(samples.iter().all(|s| s.failures == 0))
}

/// `rmispec fuzz`: a campaign (or one `--replay`) on one live engine. Fails when a finding is
/// not a known divergence of the catalogue, or a case could not run.
fn fuzz(args: FuzzArgs) -> Result<bool, Unrunnable> {
    use rmispec::fuzz::{self, campaign, Judge, Judgement, Limit};
    if !args.live.live {
        return Err(anyhow::anyhow!(
            "rmispec fuzz compares a live engine with the model: add --live (with --socket or --command for your own engine)"
        )
        .into());
    }
    args.live.check(&[args.engine])?;
    let Backends::Live(opts) = args.live.backends() else {
        unreachable!("--live was given")
    };
    let mut judge = Judge::new(rmispec::live::connect(args.engine, &opts)?);
    if let Some(file) = &args.replay {
        let scenario = rmispec::scenario::load(file)?;
        return Ok(match judge.judge_scenario(&scenario) {
            Judgement::Agrees => {
                println!(
                    "{}: {} agrees with the model now",
                    file.display(),
                    judge.label()
                );
                true
            }
            Judgement::Differs(d) => {
                println!(
                    "{}: {} still differs from the model in {}\n--- model\n{}--- engine\n{}",
                    file.display(),
                    judge.label(),
                    d.fields.join(", "),
                    serde_norway::to_string(&d.model).unwrap_or_default(),
                    serde_norway::to_string(&d.live).unwrap_or_default()
                );
                false
            }
            Judgement::Unsupported(r) => {
                println!("{}: the engine cannot express it: {r}", file.display());
                true
            }
            Judgement::Error(e) => return Err(anyhow::anyhow!("{}: {e}", file.display()).into()),
        });
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    eprintln!("rmispec fuzz: {} with seed {seed}", args.engine);
    // Findings the catalogue records as known divergences do not fail the campaign.
    let catalogue = match args.place.resolve() {
        Ok((dir, _)) if dir.is_dir() => runner::load(&dir)?,
        _ => Vec::new(),
    };
    let limit = match (args.cases, args.time) {
        (_, Some(t)) => Limit::Time(t),
        (n, None) => Limit::Cases(n.unwrap_or(100)),
    };
    let mut options = campaign::Options::new(seed, limit);
    options.out = Some(args.out.clone());
    options.shrink_budget = args.shrink_budget;
    options.progress = std::io::stderr().is_terminal();
    let summary: fuzz::Summary = campaign::run(&mut judge, &catalogue, &options)?;
    print!(
        "{}",
        match args.format {
            SummaryFormat::Text => summary.text(),
            SummaryFormat::Json => summary.json(),
        }
    );
    Ok(summary.unexplained() == 0 && summary.errors == 0)
}

impl LiveArgs {
    /// A socket is one engine's: it cannot serve several profiles in one run.
    fn check(&self, profiles: &[Profile]) -> anyhow::Result<()> {
        if let (Some(command), true) = (&self.command, profiles.len() != 1) {
            anyhow::bail!(
                "--command {} is one implementation: name the semantics it claims with one --engine (got {})",
                command.join(" "),
                profiles.len()
            );
        }
        if let (Some(socket), true) = (&self.socket, profiles.len() != 1) {
            anyhow::bail!(
                "--socket {} names one engine's API: choose that engine with one --engine (got {})",
                socket.display(),
                profiles.len()
            );
        }
        // `--socket` with `--state-dir` is an error; the per-call timeout applies to every client.
        if let Backends::Live(opts) = self.backends() {
            opts.apply()?;
            // A signal stops and cleans every daemon, then lets the report of what finished
            // be printed (see `main`).
            rmispec::live::defer_exit_on_signal();
        }
        Ok(())
    }

    /// The plan for `profiles`: a progress bar per live engine on a terminal, `--jobs`
    /// engines at once.
    fn plan(&self, profiles: Vec<Profile>, snapshots: PathBuf) -> Plan {
        Plan {
            progress: std::io::stderr().is_terminal(),
            jobs: self.jobs.unwrap_or_else(runner::default_jobs),
            ..Plan::new(profiles, snapshots)
        }
    }

    fn backends(&self) -> Backends {
        if !self.live {
            return Backends::Model;
        }
        Backends::Live(LiveOptions {
            socket: self.socket.clone(),
            allow_default_socket: self.allow_default_socket,
            state_dir: self.state_dir.clone(),
            command: self.command.clone(),
            timeout: self.timeout.unwrap_or(LiveOptions::default().timeout),
        })
    }
}

impl Where {
    /// The scenarios and snapshots folders.
    fn resolve(&self) -> anyhow::Result<(PathBuf, PathBuf)> {
        let scenarios = match &self.scenarios {
            Some(dir) => dir.clone(),
            None => {
                let cwd = std::env::current_dir().context("reading the current directory")?;
                cwd.ancestors()
                    .map(|d| d.join("scenarios"))
                    .find(|d| d.is_dir())
                    .with_context(|| {
                        format!(
                            "no `scenarios` folder in {} or its parents: pass --scenarios DIR",
                            cwd.display()
                        )
                    })?
            }
        };
        let snapshots = self
            .snapshots
            .clone()
            .unwrap_or_else(|| beside(&scenarios, "snapshots"));
        Ok((scenarios, snapshots))
    }
}

/// `name` in the folder that holds `dir`.
fn beside(dir: &Path, name: &str) -> PathBuf {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parent.join(name)
}

/// `rmispec engine up | down | serve`.
#[cfg(feature = "live")]
fn engine(cmd: EngineCommand) -> Result<bool, Unrunnable> {
    use rmispec::live::up;
    use std::time::Duration;
    match cmd {
        EngineCommand::Up { id, state_dir } => {
            let r = up::up(
                up::Target::parse(&id)?,
                &state_dir,
                Duration::from_secs(120),
            )?;
            // Only the socket goes to stdout, so `socket=$(rmispec engine up … | head -1)` works:
            // the hints go to stderr, and a reader that has gone away is no error (the engine
            // is up either way; `engine down` stops it).
            {
                use std::io::Write;
                let _ = writeln!(std::io::stdout(), "{}", r.socket.display());
            }
            eprintln!(
                "{} is up (keeper pid {}), speaking the {}.",
                r.id, r.pid, r.api
            );
            eprintln!(
                "Check it:  rmispec run --live --engine {} --socket {}",
                r.semantics,
                r.socket.display()
            );
            eprintln!("Stop it:   rmispec engine down {}", state_dir.display());
            Ok(true)
        }
        EngineCommand::Down { state_dir } => {
            let r = up::down(&state_dir, Duration::from_secs(60))?;
            println!(
                "{} stopped (keeper pid {}); {} is clean",
                r.id,
                r.pid,
                state_dir.display()
            );
            Ok(true)
        }
        EngineCommand::Serve { id, state_dir } => {
            match up::serve(up::Target::parse(&id)?, &state_dir)? {}
        }
    }
}

/// Without a live adapter there is nothing to start.
#[cfg(not(feature = "live"))]
fn engine(_cmd: EngineCommand) -> Result<bool, Unrunnable> {
    Err(anyhow::anyhow!(
        "this build has no live adapters: rebuild with --features live-docker,live-cri,live-podman"
    )
    .into())
}

/// `run --expect FILE`: the one engine's live results judged against the model and the
/// implementation's expectations; the conformance report in the chosen format. Passes when
/// nothing diverges unexpectedly, nothing errs, and no expectation is stale.
fn conformance(
    path: &Path,
    profiles: &[Profile],
    scenarios: &[rmispec::scenario::Scenario],
    runs: &mut [runner::ScenarioRuns],
    format: Format,
) -> Result<bool, Unrunnable> {
    use rmispec::conformance::{self, Expectations};
    let expect = Expectations::load(path)?;
    let [profile] = profiles else {
        return Err(
            anyhow::anyhow!("--expect checks one implementation: name one --engine").into(),
        );
    };
    if rmispec_model::Profile::from_id(&expect.semantics) != Some(*profile) {
        return Err(anyhow::anyhow!(
            "{} is for semantics {}, but the run checks {profile}",
            path.display(),
            expect.semantics
        )
        .into());
    }
    let report = conformance::judge(scenarios, runs, &expect)?;
    let abouts = scenarios
        .iter()
        .map(|s| (s.name.clone(), report::about(s)))
        .collect();
    print!(
        "{}",
        match format {
            Format::Text => conformance::text(&report, &abouts),
            Format::Markdown => conformance::markdown(&report, &abouts),
            Format::Json => conformance::json(&report),
            Format::Junit => report::junit::render(runs),
        }
    );
    Ok(report.conforms())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn engines_parse_ids_all_and_dedupe_in_profile_order() {
        let cli = Cli::try_parse_from([
            "rmispec",
            "run",
            "--engine",
            "podman-libimage,cri-containerd@1.6",
            "--engine",
            "cri-containerd@1.6",
        ])
        .expect("valid");
        let Command::Run(args) = cli.command else {
            panic!("run")
        };
        // A bare engine id is the engine's newest live profile.
        assert_eq!(
            profiles(&args.engines, &[], &[]),
            [Profile::Cri16, Profile::Podman58]
        );
        let cli = Cli::try_parse_from(["rmispec", "run", "--engine", "all"]).expect("valid");
        let Command::Run(args) = cli.command else {
            panic!("run")
        };
        assert_eq!(
            profiles(&args.engines, &[], &everyone(false)),
            Profile::ALL.to_vec()
        );
        let live = profiles(&args.engines, &[], &everyone(true));
        assert_eq!(live, runner::live_profiles());
        assert!(
            live.len() < Profile::ALL.len(),
            "model-only profiles are left out"
        );
        assert!(Cli::try_parse_from(["rmispec", "run", "--engine", "dockre"]).is_err());
    }

    #[test]
    fn live_only_options_need_live() {
        assert!(Cli::try_parse_from(["rmispec", "run", "--socket", "/x.sock"]).is_err());
        let cli = Cli::try_parse_from([
            "rmispec",
            "run",
            "--live",
            "--socket",
            "/x.sock",
            "--i-know-this-deletes-images",
        ])
        .expect("valid");
        let Command::Run(args) = cli.command else {
            panic!("run")
        };
        let Backends::Live(opts) = args.live.backends() else {
            panic!("live")
        };
        assert_eq!(opts.socket.as_deref(), Some(Path::new("/x.sock")));
        assert!(opts.allow_default_socket);
    }

    #[test]
    fn folders_default_beside_the_scenarios() {
        assert_eq!(
            beside(Path::new("a/scenarios"), "snapshots"),
            Path::new("a/snapshots")
        );
        assert_eq!(beside(Path::new("scenarios"), "docs"), Path::new("./docs"));
    }
}
