//! Committed snapshots of what live engines did: `snapshots/<profile-id>/<name>.snap`.
//!
//! The live trials write them with insta (`cargo insta review` accepts them); everything else
//! only reads them, to compare the model (and a live run outside the tests) with what the
//! engine was last seen doing.

use crate::observation::Normalized;
use anyhow::Context;
use rmispec_model::Profile;
use std::path::{Path, PathBuf};

/// The snapshot's name for a scenario: its name with `/` spelled `__`, so every engine's
/// snapshots sit flat in one folder (`untag__one-of-two-tags`).
pub fn name(scenario: &str) -> String {
    scenario.replace('/', "__")
}

/// Where the snapshot of `scenario` on `profile` lives below `root` (the `snapshots` folder).
pub fn path(root: &Path, profile: Profile, scenario: &str) -> PathBuf {
    root.join(profile.id())
        .join(format!("{}.snap", name(scenario)))
}

/// Reads the snapshot of `scenario` on `profile`, if one was recorded.
pub fn load(root: &Path, profile: Profile, scenario: &str) -> anyhow::Result<Option<Normalized>> {
    let path = path(root, profile, scenario);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading snapshot {}", path.display())),
    };
    parse(&text)
        .with_context(|| format!("snapshot {}", path.display()))
        .map(Some)
}

/// Parses insta's format: an optional `---`-fenced YAML header (`source`, `expression`),
/// then the YAML body.
pub fn parse(text: &str) -> anyhow::Result<Normalized> {
    let body = match text.strip_prefix("---\n") {
        Some(rest) => match rest.find("\n---\n") {
            Some(end) => &rest[end + "\n---\n".len()..],
            None => anyhow::bail!("unterminated snapshot header (no closing `---`)"),
        },
        None => text,
    };
    serde_norway::from_str(body).context("snapshot body is not a normalized outcome")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine build changes the package version, never where a profile's snapshots live
    /// (nor, through the same id, a trial's or a JUnit case's name): CI history survives an
    /// upgrade of the Debian package.
    #[test]
    fn paths_name_the_profile_id_never_the_build() {
        for p in Profile::ALL {
            let path = path(Path::new("snapshots"), p, "untag/last-tag");
            let dir = path.parent().and_then(|d| d.file_name()).unwrap();
            assert_eq!(dir.to_str(), Some(p.id()), "{p}");
            assert!(
                !path.to_string_lossy().contains(p.version()),
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn names_are_flat() {
        assert_eq!(name("untag/one-of-two-tags"), "untag__one-of-two-tags");
        let p = path(Path::new("snapshots"), Profile::Cri16, "a/b/c");
        assert_eq!(p, Path::new("snapshots/cri-containerd@1.6/a__b__c.snap"));
    }

    #[test]
    fn parses_insta_files_with_header() {
        let text = "---\nsource: harness/tests/scenarios.rs\nexpression: outcome\n---\nrecords:\n  - \"Untagged: localhost/app:1\"\nstatus: http 200\nafter:\n  images:\n    A:\n      - \"localhost/app:2\"\n    \"<?1>\": []\n";
        let n = parse(text).expect("valid snapshot");
        assert_eq!(n.records, ["Untagged: localhost/app:1"]);
        assert_eq!(n.status, "http 200");
        assert_eq!(
            n.after.images.get("A").map(Vec::as_slice),
            Some(&["localhost/app:2".to_owned()][..])
        );
        assert!(n.after.images.contains_key("<?1>"));
        assert!(n.errors.is_empty());
    }

    #[test]
    fn rejects_what_is_not_an_outcome() {
        assert!(parse("---\nsource: x\n").is_err());
        assert!(parse("records: []\nstatus: http 200\nafter: {}\nsurprise: 1\n").is_err());
    }

    #[test]
    fn missing_snapshot_is_none() {
        let root = Path::new("definitely/not/here");
        assert!(load(root, Profile::DockerClassic, "x/y")
            .expect("no error")
            .is_none());
    }
}
