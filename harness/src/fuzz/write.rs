//! A shrunk disagreement, written as a scenario file that loads as it is: its `given` and
//! `when` (or `steps`), the engine's observation of each step as that profile's expectation,
//! and a comment with the seed, the case and the shrink history. A person then decides: fix the model, or record a
//! cited known divergence.

use super::case;
use super::shrink::Shrunk;
use crate::observation::{NormalizedStep, NormalizedStore};
use rmispec_model::Profile;
use std::fmt::Write as _;

/// Where a finding came from.
#[derive(Clone, Debug)]
pub struct Origin {
    /// The profile whose engine was fuzzed.
    pub profile: Profile,
    /// The backend's label: `live docker 28.5.2`.
    pub backend: String,
    /// The campaign's seed.
    pub seed: u64,
    /// The case's index in the campaign.
    pub index: u64,
}

fn q(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// One step of `observed` as an entry of `expect`, indented under it.
fn outcome(observed: &NormalizedStep) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "    records: {}", list(&observed.records));
    if !observed.errors.is_empty() {
        s.push_str("    errors:\n");
        for e in &observed.errors {
            let _ = write!(s, "      - {{kind: {}", e.kind);
            if let Some(r) = &e.reason {
                let _ = write!(s, ", reason: {r}");
            }
            if let Some(f) = e.forceable {
                let _ = write!(s, ", forceable: {f}");
            }
            let _ = writeln!(
                s,
                ", message: {}, status: {}}}",
                q(&e.message),
                q(&e.status)
            );
        }
    }
    let _ = writeln!(s, "    status: {}", q(&observed.status));
    s.push_str("    after:\n");
    s.push_str(&store(&observed.after, "      "));
    s
}

fn store(store: &NormalizedStore, indent: &str) -> String {
    let mut s = String::new();
    if store.images.is_empty() {
        let _ = writeln!(s, "{indent}images: {{}}");
    } else {
        let _ = writeln!(s, "{indent}images:");
        for (handle, names) in &store.images {
            let _ = writeln!(s, "{indent}  {}: {}", q(handle), list(names));
        }
    }
    if !store.containers.is_empty() {
        let _ = writeln!(s, "{indent}containers:");
        for (handle, state) in &store.containers {
            let _ = writeln!(s, "{indent}  {handle}: {state}");
        }
    }
    s
}

/// Lines of `text`, each behind `# `.
fn comment(text: &str) -> String {
    text.lines().map(|l| format!("# {l}\n")).collect()
}

/// The scenario file for a finding.
pub fn scenario_text(found: &Shrunk, origin: &Origin) -> String {
    let profile = origin.profile;
    let d = &found.difference;
    let mut head = format!(
        "Found by `rmispec fuzz --live --engine {profile} --seed {}` ({}): case {}, shrunk in {} \
         tries.\nReplay: rmispec fuzz --live --engine {profile} --replay <this file>\n\
         The engine differs from the model in: {}.\nShrink history:\n",
        origin.seed,
        origin.backend,
        origin.index,
        found.tries,
        d.fields.join(", ")
    );
    for (i, step) in found.history.iter().enumerate() {
        let _ = writeln!(head, "  {}. {step}", i + 1);
    }
    head.push_str("What the model says (the expectation below is what the engine did):\n");
    for line in serde_norway::to_string(&d.model)
        .unwrap_or_default()
        .lines()
    {
        let _ = writeln!(head, "  {line}");
    }
    if let Some(built) = &d.live.built {
        head.push_str(
            "The engine listed the built store otherwise than the model (not expressible in \
             `expect`):\n",
        );
        head.push_str(&store(built, "  "));
    }
    let mut s = comment(&head);
    let _ = writeln!(
        s,
        "summary: {}",
        q(&format!(
            "A case found by fuzzing {profile}: the engine differs from the model in {}.",
            d.fields.join(", ")
        ))
    );
    // The engine's observation of each step is its default; every other engine and every
    // other profile of this engine is a skip (in the first step: a skip in any step skips the
    // sequence), to be filled in by whoever takes the finding in.
    let observed = d.live.steps();
    let skip = q(&format!(
        "observed on {profile} only: give this engine's outcome (rmispec explain shows the model's)"
    ));
    s.push_str(&case::text(&found.case, |k| {
        let mut e = String::from("  default:\n");
        if let Some(step) = observed.get(k) {
            e.push_str(&outcome(step));
        }
        if k == 0 {
            for engine in rmispec_model::Engine::ALL {
                if engine != profile.engine() {
                    let _ = writeln!(e, "  {}: {{skip: {skip}}}", engine.id());
                }
            }
            for other in Profile::ALL {
                if other.engine() == profile.engine() && other != profile {
                    let _ = writeln!(e, "  {}: {{skip: {skip}}}", other.id());
                }
            }
        }
        e
    }));
    s
}

/// The file name of a finding: profile, seed and case, so reruns overwrite rather than pile up.
pub fn file_name(origin: &Origin) -> String {
    format!(
        "{}-seed{}-case{}.yaml",
        origin.profile.id().replace('@', "-"),
        origin.seed,
        origin.index
    )
}
