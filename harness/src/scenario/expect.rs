//! What a scenario expects, per engine and profile, and the small parsers its fields need.

use crate::handles::{parse_str, ContainerHandle};
use indexmap::IndexMap;
use rmispec_model::{ConflictReason, ContainerState, Engine, ErrorKind, Profile, Status};
use serde::de::{Error as _, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

/// Who an `expect` or `divergence` entry is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// An engine id: every profile of the engine (`cri-containerd`). In a scenario a bare
    /// engine id keeps this meaning (unlike the command line, where it names the newest
    /// profile).
    Engine(Engine),
    /// A profile id (`cri-containerd@1.6`): it overrides its engine's entry.
    Profile(Profile),
}

impl Target {
    /// Parses an engine id, or a profile id (`engine@version`).
    pub fn from_id(id: &str) -> Option<Target> {
        if let Some(e) = Engine::ALL.into_iter().find(|e| e.id() == id) {
            return Some(Target::Engine(e));
        }
        Profile::from_exact_id(id).map(Target::Profile)
    }

    /// The id as written.
    pub fn id(self) -> &'static str {
        match self {
            Target::Engine(e) => e.id(),
            Target::Profile(p) => p.id(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

fn target_ids() -> String {
    let mut ids: Vec<&str> = Engine::ALL.iter().map(|e| e.id()).collect();
    ids.extend(
        Profile::ALL
            .iter()
            .map(|p| p.id())
            .filter(|id| id.contains('@')),
    );
    ids.join(", ")
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, "an engine or profile id", |s| {
            Target::from_id(s).ok_or_else(|| {
                format!(
                    "unknown engine or profile id `{s}`, expected one of: {}",
                    target_ids()
                )
            })
        })
    }
}

/// The `expect` block: a default and overrides, merged field by field by
/// [`Expect::for_profile`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expect {
    /// What every engine does unless overridden.
    pub default: ExpectedOutcome,
    /// Engine entries, then profile entries, in file order.
    pub overrides: IndexMap<Target, ExpectedOutcome>,
}

impl Expect {
    /// The expectation for `profile`: `default`, overridden field by field by the engine's
    /// entry, then by the profile's own entry.
    ///
    /// `source` is the exception: a citation is inherited only by the profiles whose code it
    /// is (see [`Source::cites`]). `default` usually cites the engine the behaviour was first
    /// written for; a CRI or Podman cell citing moby, or Podman 5.4 citing the 4.3 library,
    /// would send the reader to code that does not run there. The most specific entry whose
    /// source cites this profile wins; none: no citation.
    pub fn for_profile(&self, profile: Profile) -> ExpectedOutcome {
        let engine = self.overrides.get(&Target::Engine(profile.engine()));
        let own = self.overrides.get(&Target::Profile(profile));
        let mut out = self.default.clone();
        if let Some(e) = engine {
            out = out.overridden_by(e);
        }
        if let Some(p) = own {
            out = out.overridden_by(p);
        }
        out.source = [own, engine, Some(&self.default)]
            .into_iter()
            .flatten()
            .filter_map(|o| o.source.as_ref())
            .find(|s| s.cites(profile))
            .cloned();
        out
    }
}

impl<'de> Deserialize<'de> for Expect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Expect;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map from `default`, engine ids and profile ids to expected outcomes")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Expect, A::Error> {
                let mut expect = Expect::default();
                let mut seen_default = false;
                while let Some(key) = map.next_key::<ExpectKey>()? {
                    match key {
                        ExpectKey::Default => {
                            if seen_default {
                                return Err(A::Error::custom("duplicate `default`"));
                            }
                            seen_default = true;
                            expect.default = map.next_value()?;
                        }
                        ExpectKey::Target(t) => {
                            let v = map.next_value()?;
                            if expect.overrides.insert(t, v).is_some() {
                                return Err(A::Error::custom(format!("duplicate entry `{t}`")));
                            }
                        }
                    }
                }
                Ok(expect)
            }
        }
        d.deserialize_map(V)
    }
}

/// A key of `expect`.
enum ExpectKey {
    Default,
    Target(Target),
}

impl<'de> Deserialize<'de> for ExpectKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, "`default`, an engine id or a profile id", |s| {
            if s == "default" {
                return Ok(ExpectKey::Default);
            }
            Target::from_id(s).map(ExpectKey::Target).ok_or_else(|| {
                format!(
                    "unknown engine or profile id `{s}`, expected `default` or one of: {}",
                    target_ids()
                )
            })
        })
    }
}

/// An expected outcome, or part of one: every field is optional so that entries can
/// override each other field by field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedOutcome {
    /// `"Untagged: <name>"` / `"Deleted: <id>"`, in order, in symbols.
    #[serde(default, deserialize_with = "de_records")]
    pub records: Option<Vec<String>>,
    /// The errors, in order. Absent or empty: none.
    #[serde(default)]
    pub errors: Option<Vec<ExpectedError>>,
    /// The status of the request as a whole.
    #[serde(default, deserialize_with = "de_status_opt")]
    pub status: Option<Status>,
    /// The store as the engine lists it afterwards.
    #[serde(default)]
    pub after: Option<ExpectedStore>,
    /// The upstream code that explains this expectation.
    #[serde(default)]
    pub source: Option<Source>,
    /// Why the engine cannot express this request: the trial reports skip.
    #[serde(default)]
    pub skip: Option<String>,
    /// Of requests sent at once (`parallel:`): every outcome the engine may give, in any
    /// order, instead of `records`, `errors`, `status` and `after`. The model must allow
    /// exactly these; a live run must show one of them.
    #[serde(default)]
    pub one_of: Option<Vec<ExpectedRace>>,
}

/// One way requests sent at once may turn out: each request's answer, and the store after
/// all of them.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedRace {
    /// Each request's answer, in the order the requests are given in `parallel:`.
    pub answers: Vec<ExpectedAnswer>,
    /// The store as the engine lists it after all of them.
    pub after: ExpectedStore,
}

/// What one of the requests sent at once answered.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedAnswer {
    /// `"Untagged: <name>"` / `"Deleted: <id>"`, in order, in symbols.
    #[serde(deserialize_with = "de_records")]
    pub records: Option<Vec<String>>,
    /// The errors, in order. Absent: none.
    #[serde(default)]
    pub errors: Vec<ExpectedError>,
    /// The status of the request as a whole.
    #[serde(deserialize_with = "de_status")]
    pub status: Status,
}

impl ExpectedRace {
    /// Answer `i` with the store after all of them, as a one-request expectation (so that one
    /// canonicalization serves both forms).
    pub fn answer(&self, i: usize) -> ExpectedOutcome {
        let a = &self.answers[i];
        ExpectedOutcome {
            records: a.records.clone(),
            errors: Some(a.errors.clone()),
            status: Some(a.status),
            after: Some(self.after.clone()),
            ..ExpectedOutcome::default()
        }
    }
}

impl ExpectedOutcome {
    /// `self` with every field `over` sets replaced (whole fields: an `after` replaces the
    /// whole `after`).
    pub fn overridden_by(&self, over: &ExpectedOutcome) -> ExpectedOutcome {
        ExpectedOutcome {
            records: over.records.clone().or_else(|| self.records.clone()),
            errors: over.errors.clone().or_else(|| self.errors.clone()),
            status: over.status.or(self.status),
            after: over.after.clone().or_else(|| self.after.clone()),
            source: over.source.clone().or_else(|| self.source.clone()),
            skip: over.skip.clone().or_else(|| self.skip.clone()),
            one_of: over.one_of.clone().or_else(|| self.one_of.clone()),
        }
    }

    /// The fields a complete expectation of requests sent at once needs that this one lacks:
    /// `one_of` (none when skipped).
    pub fn missing_of_parallel(&self) -> Vec<&'static str> {
        if self.skip.is_some() || self.one_of.is_some() {
            return Vec::new();
        }
        vec!["one_of"]
    }

    /// The fields a complete expectation needs that this one lacks (none when skipped).
    pub fn missing(&self) -> Vec<&'static str> {
        if self.skip.is_some() {
            return Vec::new();
        }
        let mut m = Vec::new();
        if self.records.is_none() {
            m.push("records");
        }
        if self.status.is_none() {
            m.push("status");
        }
        if self.after.is_none() {
            m.push("after");
        }
        m
    }
}

/// One expected error.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawError")]
pub struct ExpectedError {
    /// The kind (with the conflict's reason and forceability).
    pub kind: ErrorKind,
    /// The engine's exact message, in symbols.
    pub message: String,
    /// The status of the failed call.
    pub status: Status,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawError {
    kind: RawKind,
    #[serde(default)]
    reason: Option<RawReason>,
    #[serde(default)]
    forceable: Option<bool>,
    message: String,
    #[serde(deserialize_with = "de_status")]
    status: Status,
}

#[derive(Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum RawKind {
    NotFound,
    Ambiguous,
    InvalidReference,
    InvalidArgument,
    Conflict,
    Other,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum RawReason {
    RunningContainer,
    StoppedContainer,
    ContainerInUse,
    MultipleReferences,
    DependentChildren,
}

impl TryFrom<RawError> for ExpectedError {
    type Error = String;
    fn try_from(r: RawError) -> Result<Self, String> {
        let kind = match (r.kind, r.reason, r.forceable) {
            (RawKind::Conflict, Some(reason), Some(forceable)) => ErrorKind::Conflict {
                reason: match reason {
                    RawReason::RunningContainer => ConflictReason::RunningContainer,
                    RawReason::StoppedContainer => ConflictReason::StoppedContainer,
                    RawReason::ContainerInUse => ConflictReason::ContainerInUse,
                    RawReason::MultipleReferences => ConflictReason::MultipleReferences,
                    RawReason::DependentChildren => ConflictReason::DependentChildren,
                },
                forceable,
            },
            (RawKind::Conflict, _, _) => {
                return Err("a `conflict` error needs both `reason` and `forceable`".to_owned())
            }
            (_, Some(_), _) | (_, _, Some(_)) => {
                return Err("`reason` and `forceable` belong to `kind: conflict` only".to_owned())
            }
            (RawKind::NotFound, ..) => ErrorKind::NotFound,
            (RawKind::Ambiguous, ..) => ErrorKind::Ambiguous,
            (RawKind::InvalidReference, ..) => ErrorKind::InvalidReference,
            (RawKind::InvalidArgument, ..) => ErrorKind::InvalidArgument,
            (RawKind::Other, ..) => ErrorKind::Other,
        };
        Ok(ExpectedError {
            kind,
            message: r.message,
            status: r.status,
        })
    }
}

/// The store as listed afterwards.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedStore {
    /// Every image left: its handle (or `<?N>` for one the scenario does not name) → the
    /// names listed for it, fully qualified, in symbols.
    pub images: IndexMap<String, Vec<String>>,
    /// Every container left. Absent: none.
    #[serde(default)]
    pub containers: IndexMap<ContainerHandle, ListedState>,
}

/// A container's state as listed: `running`, `stopped`, `created` or `paused`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ListedState(#[serde(deserialize_with = "de_state")] pub ContainerState);

/// A known divergence between the model and a live engine.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Divergence {
    /// Why the live engine differs from the model.
    pub reason: String,
    /// The upstream code that shows it.
    pub source: Source,
    /// Of requests sent at once (`parallel:`): the outcomes the live engine shows beyond the
    /// model's whole-request orders (a finer race, inside one removal), as `one_of` items.
    /// Required there, and nowhere else: a race divergence names exactly what it accepts.
    #[serde(default)]
    pub also: Vec<ExpectedRace>,
}

/// An upstream citation: `repo@tag:path#Lstart-Lend` (`#L…` optional).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Source(String);

impl Source {
    /// Checks the shape `owner/repo@tag:path[#Ln[-Lm]]`.
    pub fn new(s: impl Into<String>) -> Result<Source, String> {
        let s = s.into();
        let bad = || format!("invalid source {s:?}: expected `owner/repo@tag:path#Lstart-Lend`");
        let (repo, rest) = s.split_once('@').ok_or_else(bad)?;
        let (tag, rest) = rest.split_once(':').ok_or_else(bad)?;
        let (path, lines) = match rest.split_once('#') {
            Some((p, l)) => (p, Some(l)),
            None => (rest, None),
        };
        let lines_ok = lines.is_none_or(|l| {
            let n = |x: &str| {
                x.strip_prefix('L')
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            };
            match l.split_once('-') {
                Some((a, b)) => n(a) && n(b),
                None => n(l),
            }
        });
        let word = |x: &str| !x.is_empty() && !x.contains(char::is_whitespace);
        if repo.split('/').count() == 2
            && repo.split('/').all(word)
            && word(tag)
            && word(path)
            && lines_ok
        {
            Ok(Source(s))
        } else {
            Err(bad())
        }
    }

    /// The citation.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `owner/repo@tag`.
    fn repo_at_tag(&self) -> &str {
        self.0.split_once(':').map_or(self.0.as_str(), |(r, _)| r)
    }

    /// Whether this is `profile`'s own code at its own version: any repository at the tag
    /// `v<version>` (moby, containerd, podman and the Docker CLI tag their releases with the
    /// engine's version), or the library release that version vendors (libimage lives in
    /// containers/common, versioned apart from Podman).
    pub fn cites(&self, profile: Profile) -> bool {
        let Some((_, tag)) = self.repo_at_tag().split_once('@') else {
            return false;
        };
        tag == format!("v{}", profile.version())
            || vendored_libraries(profile).contains(&self.repo_at_tag())
    }
}

/// The libraries a profile's engine vendors, as `owner/repo@tag`, where the code a scenario
/// cites lives outside the engine's own repository: Podman 4.3.1 vendors
/// containers/common v0.50.1 and Podman 5.4.2 v0.62.3 (their `go.mod`).
fn vendored_libraries(profile: Profile) -> &'static [&'static str] {
    match profile {
        Profile::Podman43 => &["containers/common@v0.50.1"],
        Profile::Podman54 => &["containers/common@v0.62.3"],
        _ => &[],
    }
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, "an upstream citation", |s| Source::new(s))
    }
}

pub(super) fn de_status<'de, D: Deserializer<'de>>(d: D) -> Result<Status, D::Error> {
    parse_str(d, "a status", str::parse)
}

fn de_status_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Status>, D::Error> {
    de_status(d).map(Some)
}

pub(super) fn de_state<'de, D: Deserializer<'de>>(d: D) -> Result<ContainerState, D::Error> {
    const STATES: &str = "`running`, `stopped`, `created` or `paused`";
    parse_str(d, STATES, |s| {
        ContainerState::from_name(s)
            .ok_or_else(|| format!("invalid state `{s}`, expected {STATES}"))
    })
}

pub(super) fn de_platforms<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<rmispec_model::Platform>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|p| p.parse().map_err(D::Error::custom))
        .collect()
}

pub(super) fn de_platforms_opt<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<rmispec_model::Platform>>, D::Error> {
    de_platforms(d).map(Some)
}

fn de_records<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let records = Vec::<String>::deserialize(d)?;
    if let Some(bad) = records
        .iter()
        .find(|r| !(r.starts_with("Untagged: ") || r.starts_with("Deleted: ")))
    {
        return Err(D::Error::custom(format!(
            "invalid record {bad:?}, expected \"Untagged: <name>\" or \"Deleted: <id>\""
        )));
    }
    Ok(Some(records))
}

/// The largest `id` prefix the synthesizer grinds for: each hex character multiplies the
/// work by 16, and 5 (about a million hashes per digest) is the most a test run affords.
pub const MAX_ID_PREFIX: usize = 5;

pub(super) fn de_id_prefix<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    parse_str(d, "a hex prefix", |s| {
        if (1..=MAX_ID_PREFIX).contains(&s.len()) && rmispec_model::digest::is_hex(s) {
            Ok(Some(s.to_owned()))
        } else {
            Err(format!(
                "invalid id prefix {s:?}: expected 1 to {MAX_ID_PREFIX} lower-case hex characters (quote it: id: \"7f\")"
            ))
        }
    })
}

pub(super) fn de_one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a name or a list of names")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(vec![v.to_owned()])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut v = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                v.push(s);
            }
            Ok(v)
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cited(s: &str) -> ExpectedOutcome {
        ExpectedOutcome {
            source: Some(Source::new(s).expect("a valid source")),
            ..ExpectedOutcome::default()
        }
    }

    fn source_of(expect: &Expect, profile: Profile) -> Option<String> {
        expect
            .for_profile(profile)
            .source
            .map(|s| s.as_str().to_owned())
    }

    #[test]
    fn a_citation_is_inherited_only_by_the_code_it_cites() {
        let moby = "moby/moby@v20.10.24:daemon/images/image_delete.go#L1-L2";
        let common = "containers/common@v0.50.1:libimage/image.go#L3-L4";
        let mut expect = Expect {
            default: cited(moby),
            overrides: IndexMap::new(),
        };
        expect.overrides.insert(
            Target::Engine(rmispec_model::Engine::PodmanLibimage),
            cited(common),
        );
        assert_eq!(
            source_of(&expect, Profile::DockerClassic).as_deref(),
            Some(moby)
        );
        // Other engines' code is not theirs, nor another version's.
        assert_eq!(source_of(&expect, Profile::DockerContainerd), None);
        assert_eq!(source_of(&expect, Profile::Cri17), None);
        assert_eq!(
            source_of(&expect, Profile::Podman43).as_deref(),
            Some(common)
        );
        assert_eq!(source_of(&expect, Profile::Podman54), None);
        // A profile's own entry wins.
        let five = "containers/common@v0.62.3:libimage/image.go#L5-L6";
        expect
            .overrides
            .insert(Target::Profile(Profile::Podman54), cited(five));
        assert_eq!(source_of(&expect, Profile::Podman54).as_deref(), Some(five));
    }
}
