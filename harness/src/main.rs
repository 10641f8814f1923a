//! `rmispec`: run the scenarios on the model (or live engines), explain one, write the docs.
//!
//! Exit codes: 0 everything held; 1 some result failed; 2 the run could not be made (a bad
//! scenario file, a bad option, a live engine that would not start).

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use rmispec::live::LiveOptions;
use rmispec::report;
use rmispec::runner::{self, Backends, Plan};
use rmispec_model::{Engine, Profile};
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
    /// Write the Markdown semantics matrix (every behaviour across engines) from the model.
    Docs(DocsArgs),
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
    /// Profile ids, comma-separated (`docker-classic,cri-containerd@1.6`), or `all`.
    /// Default: every engine at the version that runs live here.
    #[arg(long = "engine", value_name = "IDS", value_delimiter = ',', value_parser = parse_profiles)]
    engines: Vec<Vec<Profile>>,
    /// Only scenarios whose name contains this.
    #[arg(long, value_name = "SUBSTR")]
    filter: Option<String>,
    /// How to print the results.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    live: LiveArgs,
    #[command(flatten)]
    place: Where,
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
}

#[derive(Args, Debug)]
struct ExplainArgs {
    /// The scenario's name: its path below the scenarios folder, without `.yaml`.
    name: String,
    /// Profile ids, comma-separated, or `all` (default: all).
    #[arg(long = "engine", value_name = "IDS", value_delimiter = ',', value_parser = parse_profiles)]
    engines: Vec<Vec<Profile>>,
    #[command(flatten)]
    live: LiveArgs,
    #[command(flatten)]
    place: Where,
}

#[derive(Args, Debug)]
struct DocsArgs {
    /// Where to write (default: `docs/semantics.md` beside the scenarios folder).
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
    /// `{"results":[{scenario, engine, backend, verdict, outcome}…]}`.
    Json,
    /// JUnit XML.
    Junit,
}

/// `all`, or one profile id.
fn parse_profiles(s: &str) -> Result<Vec<Profile>, String> {
    if s == "all" {
        return Ok(Profile::ALL.to_vec());
    }
    Profile::from_id(s).map(|p| vec![p]).ok_or_else(|| {
        let ids: Vec<_> = Profile::ALL.iter().map(|p| p.id()).collect();
        format!(
            "unknown engine {s:?}; expected `all` or one of: {}",
            ids.join(", ")
        )
    })
}

/// The chosen profiles, deduplicated in [`Profile::ALL`] order; `default` if none were named.
fn profiles(named: &[Vec<Profile>], default: &[Profile]) -> Vec<Profile> {
    let named: Vec<Profile> = named.iter().flatten().copied().collect();
    let chosen = if named.is_empty() { default } else { &named };
    Profile::ALL
        .into_iter()
        .filter(|p| chosen.contains(p))
        .collect()
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
    match dispatch(cli) {
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
            let chosen = profiles(&args.engines, &defaults);
            args.live.check(&chosen)?;
            let (scenarios_dir, snapshots) = args.place.resolve()?;
            let mut scenarios = runner::load(&scenarios_dir)?;
            if let Some(f) = &args.filter {
                scenarios.retain(|s| s.name.contains(f.as_str()));
            }
            let plan = Plan {
                profiles: chosen,
                snapshots,
            };
            let runs = runner::run(&scenarios, &plan, &args.live.backends())?;
            print!(
                "{}",
                match args.format {
                    Format::Text => report::matrix::render(&runs),
                    Format::Json => report::json::render(&runs),
                    Format::Junit => report::junit::render(&runs),
                }
            );
            Ok(!runs
                .iter()
                .flat_map(|s| &s.results)
                .any(|r| r.verdict.is_failure()))
        }
        Command::Explain(args) => {
            let chosen = profiles(&args.engines, &Profile::ALL);
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
            let plan = Plan {
                profiles: chosen,
                snapshots,
            };
            let runs = runner::run(std::slice::from_ref(scenario), &plan, &args.live.backends())?;
            let run = runs.first().context("the runner returned no result")?;
            print!("{}", report::explain::render(run, &runner::about(scenario)));
            Ok(!run.results.iter().any(|r| r.verdict.is_failure()))
        }
        Command::Docs(args) => {
            let (scenarios_dir, snapshots) = args.place.resolve()?;
            let scenarios = runner::load(&scenarios_dir)?;
            let plan = Plan {
                profiles: Profile::ALL.to_vec(),
                snapshots,
            };
            let runs = runner::run(&scenarios, &plan, &Backends::Model)?;
            let abouts: Vec<_> = scenarios.iter().map(runner::about).collect();
            let text = report::markdown::render(&runs, &abouts);
            let out = args
                .out
                .unwrap_or_else(|| beside(&scenarios_dir, "docs").join("semantics.md"));
            if args.check {
                let current = std::fs::read_to_string(&out).unwrap_or_default();
                if current != text {
                    eprintln!("{} is out of date: run `rmispec docs`", out.display());
                    return Ok(false);
                }
                return Ok(true);
            }
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
            eprintln!("wrote {}", out.display());
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

impl LiveArgs {
    /// A socket is one engine's: it cannot serve several profiles in one run.
    fn check(&self, profiles: &[Profile]) -> anyhow::Result<()> {
        if let (Some(socket), true) = (&self.socket, profiles.len() != 1) {
            anyhow::bail!(
                "--socket {} names one engine's API: choose that engine with one --engine (got {})",
                socket.display(),
                profiles.len()
            );
        }
        Ok(())
    }

    fn backends(&self) -> Backends {
        if !self.live {
            return Backends::Model;
        }
        Backends::Live(LiveOptions {
            socket: self.socket.clone(),
            allow_default_socket: self.allow_default_socket,
            state_dir: self.state_dir.clone(),
            command: None,
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
        assert_eq!(
            profiles(&args.engines, &[]),
            [Profile::Cri16, Profile::Podman43]
        );
        let cli = Cli::try_parse_from(["rmispec", "run", "--engine", "all"]).expect("valid");
        let Command::Run(args) = cli.command else {
            panic!("run")
        };
        assert_eq!(profiles(&args.engines, &[]), Profile::ALL.to_vec());
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
