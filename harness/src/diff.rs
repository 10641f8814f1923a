//! `rmispec diff FROM TO`: every scenario whose model outcome differs between two profiles
//! (an upgrade along one engine's version line, or a migration across engines, such as
//! `docker-classic@28.5` → `docker-containerd@28.5`), side by side, in text or Markdown.

use crate::observation::Normalized;
use crate::runner;
use crate::scenario::Scenario;
use rmispec_model::Profile;

/// One scenario whose outcome differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The scenario's name.
    pub scenario: String,
    /// Its summary.
    pub summary: String,
    /// The outcome on `from` (`None`: skipped there, or it could not run).
    pub from: Option<Normalized>,
    /// The outcome on `to`.
    pub to: Option<Normalized>,
}

/// The scenarios whose model outcome on `from` differs from the one on `to`, in order.
pub fn changes(scenarios: &[Scenario], from: Profile, to: Profile) -> Vec<Change> {
    scenarios
        .iter()
        .filter_map(|s| {
            let a = runner::model_result(s, from, None).outcome;
            let b = runner::model_result(s, to, None).outcome;
            (a != b).then(|| Change {
                scenario: s.name.clone(),
                summary: s.summary.clone(),
                from: a,
                to: b,
            })
        })
        .collect()
}

fn yaml(o: &Option<Normalized>) -> String {
    match o {
        Some(o) => serde_norway::to_string(o).unwrap_or_default(),
        None => "(skipped)\n".to_owned(),
    }
}

/// Plain text: a heading per change, then each side's outcome.
pub fn text(from: Profile, to: Profile, changes: &[Change]) -> String {
    let mut s = format!(
        "{from} ({}) -> {to} ({}): {} scenario(s) change\n",
        from.version(),
        to.version(),
        changes.len()
    );
    for c in changes {
        s.push_str(&format!("\n== {}\n  {}\n", c.scenario, c.summary));
        for (p, o) in [(from, &c.from), (to, &c.to)] {
            s.push_str(&format!("-- {p}\n"));
            for line in yaml(o).lines() {
                s.push_str(&format!("  {line}\n"));
            }
        }
    }
    s
}

/// Markdown: a section per change with a two-column table of the outcomes.
pub fn markdown(from: Profile, to: Profile, changes: &[Change]) -> String {
    let mut s = format!(
        "## `{from}` → `{to}`\n\n{} scenario(s) change ({} → {}).\n",
        changes.len(),
        from.version(),
        to.version()
    );
    let cell = |o: &Option<Normalized>| {
        format!(
            "<pre>{}</pre>",
            yaml(o)
                .trim_end()
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('|', "&#124;")
                .replace('\n', "<br>")
        )
    };
    for c in changes {
        s.push_str(&format!(
            "\n### {}\n\n{}\n\n| `{from}` | `{to}` |\n| --- | --- |\n| {} | {} |\n",
            c.scenario,
            c.summary,
            cell(&c.from),
            cell(&c.to)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classic_28_5_upgrade_changes_the_uppercase_message() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let scenarios = runner::load(&dir).unwrap();
        let c = changes(&scenarios, Profile::DockerClassic, Profile::DockerClassic28);
        assert!(c.iter().any(|c| c.scenario == "invalid/uppercase"), "{c:?}");
        assert!(
            c.iter().all(|c| c.scenario.starts_with("invalid/")),
            "{c:?}"
        );
        let t = text(Profile::DockerClassic, Profile::DockerClassic28, &c);
        assert!(t.contains("repository name (App) must be lowercase"), "{t}");
        assert!(changes(&scenarios, Profile::Podman54, Profile::Podman58).is_empty());
        let m = markdown(Profile::DockerClassic28, Profile::DockerContainerd28, &c);
        assert!(m.starts_with("## `docker-classic@28.5` → `docker-containerd@28.5`"));
    }
}
