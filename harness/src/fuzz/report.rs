//! What a campaign shows: a progress bar while it runs, a summary at the end (text, or one
//! JSON object).

use rmispec_model::Profile;
use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;

/// A campaign's figures.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The profile fuzzed.
    pub profile: String,
    /// The backend's label: `live docker 28.5.2`.
    pub backend: String,
    /// The seed (the same seed gives the same cases).
    pub seed: u64,
    /// Generated cases run.
    pub cases: u64,
    /// Cases where the engine and the model agreed.
    pub agreed: u64,
    /// Cases where they did not (before shrinking; several may shrink to one finding).
    pub disagreements: u64,
    /// Cases the engine's API cannot express (skips).
    pub unsupported: u64,
    /// Cases that could not be run (engine or harness faults).
    pub errors: u64,
    /// Distinct shrunk findings.
    pub findings: Vec<FindingSummary>,
    /// Cases sent to the engine, shrinking included.
    pub live_runs: u64,
    /// Shrink candidates answered from the cache.
    pub cached: u64,
    /// Wall time of the campaign, seconds.
    pub seconds: f64,
    /// Generated cases per minute (shrinking counts in the time, not in the cases).
    pub cases_per_minute: f64,
    /// The first few errors, for the reader.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error_samples: Vec<String>,
    /// Why cases were unsupported, each reason once (the first few).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unsupported_reasons: Vec<String>,
}

/// One finding in the summary.
#[derive(Clone, Debug, Serialize)]
pub struct FindingSummary {
    /// The first case that shrank to it.
    pub case: u64,
    /// How many generated cases shrank to it.
    pub hits: u64,
    /// The fields that differ.
    pub fields: Vec<&'static str>,
    /// Where it was written, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The catalogue scenario that records it as a known divergence of this profile, if one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known: Option<String>,
    /// The engine answered the shrunk case differently when it was run again: its answer is
    /// not a function of the case (e.g. which of two running containers a conflict names),
    /// so no model can match it every time. Reported, not counted as unexplained.
    pub nondeterministic: bool,
}

impl Summary {
    /// Findings no catalogue scenario records as a known divergence: what fails a campaign.
    pub fn unexplained(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.known.is_none() && !f.nondeterministic)
            .count()
    }

    /// As text, for the terminal.
    pub fn text(&self) -> String {
        let mut s = format!(
            "fuzz {} ({}), seed {}: {} cases in {:.1} s ({:.0} cases/min): {} agreed, {} disagreed, \
             {} unsupported, {} errors; {} live runs ({} cached shrink candidates)\n",
            self.profile,
            self.backend,
            self.seed,
            self.cases,
            self.seconds,
            self.cases_per_minute,
            self.agreed,
            self.disagreements,
            self.unsupported,
            self.errors,
            self.live_runs,
            self.cached
        );
        for f in &self.findings {
            let _ = write!(
                s,
                "  finding from case {} ({} case{}): differs in {}",
                f.case,
                f.hits,
                if f.hits == 1 { "" } else { "s" },
                f.fields.join(", ")
            );
            if f.nondeterministic {
                s.push_str("; the engine's answer varies from run to run");
            }
            match (&f.known, &f.file) {
                (Some(k), _) => {
                    let _ = writeln!(s, "; a known divergence ({k})");
                }
                (None, Some(file)) => {
                    let _ = writeln!(s, "; written to {file}");
                }
                (None, None) => s.push('\n'),
            }
        }
        for r in &self.unsupported_reasons {
            let _ = writeln!(s, "  unsupported: {r}");
        }
        for e in &self.error_samples {
            let _ = writeln!(s, "  error: {e}");
        }
        s
    }

    /// As one JSON object.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a summary serializes") + "\n"
    }
}

/// Cases per minute over `elapsed`.
pub fn per_minute(cases: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        cases as f64 * 60.0 / secs
    } else {
        0.0
    }
}

/// A bar for a campaign: cases, cases per second, findings. Hidden unless `shown` (the CLI
/// shows it on a terminal). `len` is the case count, or `None` for a timed campaign.
pub fn progress_bar(shown: bool, profile: Profile, len: Option<u64>) -> indicatif::ProgressBar {
    if !shown {
        return indicatif::ProgressBar::hidden();
    }
    let bar =
        indicatif::ProgressBar::with_draw_target(len, indicatif::ProgressDrawTarget::stderr());
    let template = if len.is_some() {
        "{prefix:<19} {bar:20} {pos}/{len} cases {per_sec} {elapsed} {wide_msg}"
    } else {
        "{prefix:<19} {pos} cases {per_sec} {elapsed} {wide_msg}"
    };
    let style = indicatif::ProgressStyle::with_template(template)
        .expect("a valid template")
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(profile.id());
    bar.set_message("0 findings");
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}
