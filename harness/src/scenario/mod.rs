//! Scenarios: one behaviour of image removal each, as YAML (the format is `scenarios/README.md`).
//!
//! [`load`] and [`load_dir`] read and check them: size, encoding, syntax and unknown keys first
//! (with the line and column serde-saphyr reports), then what a schema cannot say (a parent
//! that does not exist, a digest reference to another image's manifest, a symbol that names
//! nothing…), each reported with the file, line and column of the offending key, item or
//! symbol (found in a second, untyped parse that keeps positions: `spans`).
//!
//! The loader is built for hostile input as much as for typos: files have a size limit
//! ([`MAX_FILE_BYTES`]) and a nesting limit ([`MAX_DEPTH`]), loading is linear in the size,
//! repeated problems are folded, and a folder walk reads every directory once.

mod expect;
mod file;
mod load;
mod names;
mod problem;
mod spans;
mod validate;

pub use crate::handles::{ContainerHandle, ImageHandle, LayerName, PodHandle};
pub use expect::{
    Divergence, Expect, ExpectedAnswer, ExpectedError, ExpectedOutcome, ExpectedRace,
    ExpectedStore, Source, Target,
};
pub use load::{load, load_bytes, load_dir, MAX_DEPTH, MAX_FILE_BYTES};
pub use names::{Domain, StoredName};
pub use problem::{LoadError, LoadErrors, Problem, MAX_PROBLEMS};

use crate::symbols::{SymbolError, Symbols};
use indexmap::IndexMap;
use rmispec_model::{ContainerState, Platform, Request};
use serde::Deserialize;
use std::path::PathBuf;

/// One scenario file, loaded and checked.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The path below `scenarios/` without `.yaml`, with `/` separators: `untag/one-of-two-tags`.
    pub name: String,
    /// The file it was loaded from.
    pub path: PathBuf,
    /// One line: what the behaviour is.
    pub summary: String,
    /// Free text for the reader.
    pub notes: Option<String>,
    /// The store before the request.
    pub given: Given,
    /// The request: the only one (`when:`), or the first of `steps:`.
    pub when: When,
    /// The outcome per engine of `when`.
    pub expect: Expect,
    /// The requests after the first, in order (`steps:` from the second on), each meeting the
    /// store the one before it left. Empty for a one-request scenario.
    pub then: Vec<Step>,
    /// Known divergences between the model and a live engine, by engine or profile.
    pub divergence: IndexMap<Target, Divergence>,
    /// Requests sent at once (`parallel:`) instead of `when` or `steps`. Then `when` is empty,
    /// `then` is empty, and `expect` gives each engine the set of outcomes it may show
    /// ([`ExpectedOutcome::one_of`]).
    pub parallel: Option<Parallel>,
}

/// Requests sent at the same time, and how often a live engine is made to race them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parallel {
    /// The requests, in the order given: answers are reported in this order, whichever the
    /// engine served first.
    pub requests: Vec<When>,
    /// How many times a live engine builds the store and sends the requests (`runs:`). Each
    /// run's outcome must be one of the expectation's; a race that shows once in many runs is
    /// still a finding, so a scenario that races a rare interleaving asks for more.
    pub runs: u32,
}

impl Parallel {
    /// The runs of a live engine when the scenario gives no `runs:`.
    pub const DEFAULT_RUNS: u32 = 5;
    /// The most runs a scenario may ask for (each is a reset and a build).
    pub const MAX_RUNS: u32 = 50;
    /// The most requests one `parallel:` may send: the model checks every order (n!).
    pub const MAX_REQUESTS: usize = 4;
}

/// One request of a sequence and its outcome per engine (an item of `steps:`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The request.
    pub when: When,
    /// The outcome per engine.
    pub expect: Expect,
}

/// The store before the request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Given {
    /// Images in creation order.
    #[serde(default)]
    pub images: IndexMap<ImageHandle, ImageSpec>,
    /// Containers in creation order.
    #[serde(default)]
    pub containers: IndexMap<ContainerHandle, ContainerSpec>,
    /// Manifest lists (Podman's `podman manifest create` + `manifest add`), made after the
    /// images and containers, in this order. Their handles share the images' namespace: a
    /// list shows in a Podman image listing as `L: [its names]`, and `<L>` is its ID.
    #[serde(default)]
    pub manifests: IndexMap<ImageHandle, ManifestSpec>,
    /// Podman pods, each made when its infra container's turn comes in `containers`.
    #[serde(default)]
    pub pods: IndexMap<PodHandle, PodSpec>,
}

/// One pod of `given` (`podman pod create --infra-image`): its infra container is one of
/// `given.containers`, which gives the infra image and state; the pod's other containers
/// name the pod in their `pod:`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodSpec {
    /// The handle of its infra container in `given.containers`.
    pub infra: ContainerHandle,
}

/// One manifest list of `given`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestSpec {
    /// Its names, fully qualified tags (`localhost/ml:1`); at least one.
    pub tags: Vec<StoredName>,
    /// The images it lists (their manifests, each `linux/amd64`), in order; at least one.
    pub images: Vec<ImageHandle>,
}

/// One image of `given`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// Stored names, fully qualified. Empty: a dangling image.
    #[serde(default)]
    pub tags: Vec<StoredName>,
    /// The image this one is built from; it comes earlier in `given.images`.
    #[serde(default)]
    pub parent: Option<ImageHandle>,
    /// Extra layers on top of the parent's (or of `base`), bottom first. A child adds at most
    /// one (one build step), so that Docker's `load` links it to its parent.
    #[serde(default)]
    pub layers: Vec<LayerName>,
    /// A hex prefix both digests of the image start with (1 to 5 characters).
    #[serde(default, deserialize_with = "expect::de_id_prefix")]
    pub id: Option<String>,
    /// A multi-platform image (an OCI index of one manifest per platform, in this order):
    /// `[linux/amd64, linux/arm64]`. Empty: a single-platform `linux/amd64` image, the
    /// common case. It must hold `linux/amd64`, the platform of the machines the engines run on.
    #[serde(default, deserialize_with = "expect::de_platforms")]
    pub platforms: Vec<Platform>,
    /// Of a multi-platform image, the platforms whose content (manifest, config, layers) the
    /// store has; absent: all of them. It must hold `linux/amd64`.
    #[serde(default, deserialize_with = "expect::de_platforms_opt")]
    pub content: Option<Vec<Platform>>,
    /// How the store came to have it, where that changes what an engine records: `load` (an
    /// archive; the default without a parent), `commit` (the default with one), or `pull`
    /// (pushed to the local registry and pulled by its first `<reg>` tag, so the engine
    /// keeps what a pull keeps: a digest reference on Docker's classic store and CRI, the
    /// manifest digest in Podman's image record, the registry's name on the containerd store).
    #[serde(default)]
    pub made_by: Option<MadeBy>,
}

/// How an image of `given` is made ([`ImageSpec::made_by`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MadeBy {
    /// Loaded from an archive (`docker load`, `podman load`, containerd's import).
    Load,
    /// Pulled from the local registry by a tag.
    Pull,
    /// Committed from a container of its parent (the classic builder's link).
    Commit,
}

impl ImageSpec {
    /// Whether the image is pulled by a tag ([`MadeBy::Pull`]).
    pub fn is_pulled_by_tag(&self) -> bool {
        self.made_by == Some(MadeBy::Pull)
    }

    /// The image's stored names on `engine`, as references: its tags and digest references
    /// as written, and for a pulled image what that engine's pull records beside the tag it
    /// pulls by ([`rmispec_model::engine::pulled_names`]), each once, in that order.
    pub fn references(
        &self,
        engine: rmispec_model::Engine,
        registry: &str,
        manifest: &rmispec_model::Digest,
    ) -> Vec<rmispec_model::Reference> {
        let pull = self.pulled_by();
        let mut out: Vec<rmispec_model::Reference> = Vec::new();
        for t in &self.tags {
            let r = t.to_reference(registry, manifest);
            let names = if Some(t) == pull {
                rmispec_model::engine::pulled_names(engine, &r, manifest)
            } else {
                vec![r]
            };
            for n in names {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    }

    /// The tag the image is pulled by, if it is pulled ([`MadeBy::Pull`]).
    pub fn pulled_by(&self) -> Option<&StoredName> {
        self.pull_tag().filter(|_| self.is_pulled_by_tag())
    }

    /// The tag a pulled image is pulled by: its first `<reg>` tag.
    pub fn pull_tag(&self) -> Option<&StoredName> {
        self.tags.iter().find(|t| {
            matches!(
                t,
                StoredName::Tagged {
                    domain: Domain::Registry,
                    ..
                }
            )
        })
    }

    /// Whether the image is an OCI index of several platforms.
    pub fn is_multi_platform(&self) -> bool {
        !self.platforms.is_empty()
    }

    /// The platforms whose content the store has (only `linux/amd64` for a single-platform
    /// image).
    pub fn content(&self) -> Vec<Platform> {
        match (&self.content, self.platforms.is_empty()) {
            (_, true) => vec![Platform::linux_amd64()],
            (Some(c), false) => c.clone(),
            (None, false) => self.platforms.clone(),
        }
    }
}

/// One container of `given`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    /// The image it is created from.
    pub image: ImageHandle,
    /// `running`, `stopped` (exited), `created` (never started) or `paused`.
    #[serde(deserialize_with = "expect::de_state")]
    pub state: ContainerState,
    /// Images it mounts (Docker 28+: `HostConfig.Mounts` of type `image`, one per handle).
    #[serde(default)]
    pub mounts: Vec<ImageHandle>,
    /// The pod it is created in (Podman); it comes after the pod's infra container.
    #[serde(default)]
    pub pod: Option<PodHandle>,
}

/// The request, with symbols unexpanded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// The names, exactly as a user types them (symbols unexpanded).
    #[serde(default, deserialize_with = "expect::de_one_or_many")]
    pub rmi: Vec<String>,
    /// `--force`.
    #[serde(default)]
    pub force: bool,
    /// `--no-prune`.
    #[serde(default)]
    pub noprune: bool,
    /// libimage `--ignore`.
    #[serde(default)]
    pub ignore: bool,
    /// libimage `--all`.
    #[serde(default)]
    pub all: bool,
    /// Docker 28.2+'s `platforms` option of image delete (`linux/arm64`…), in order.
    #[serde(default, deserialize_with = "expect::de_platforms")]
    pub platforms: Vec<Platform>,
}

impl Given {
    /// The pod whose infra container is `container`.
    pub fn pod_of_infra(&self, container: &ContainerHandle) -> Option<&PodHandle> {
        self.pods
            .iter()
            .find(|(_, p)| &p.infra == container)
            .map(|(h, _)| h)
    }

    /// The pod `container` is in: as its infra container, or as a member.
    pub fn pod_of(&self, container: &ContainerHandle) -> Option<&PodHandle> {
        self.pod_of_infra(container)
            .or_else(|| self.containers.get(container).and_then(|c| c.pod.as_ref()))
    }

    /// Whether a stored name holds image ID symbols (`localhost/<B:12>:latest`).
    pub fn has_symbol_names(&self) -> bool {
        self.images
            .values()
            .any(|i| i.tags.iter().any(StoredName::has_symbols))
    }

    /// This store with the image ID symbols of its stored names expanded with `symbols` (a
    /// backend's table: `<B:12>` is B's ID as that engine spells it). IDs do not depend on
    /// names (a config or manifest digest holds no tag), so the table of the synthesized
    /// images is complete before any name is made.
    pub fn resolved(&self, symbols: &Symbols) -> Result<Given, SymbolError> {
        if !self.has_symbol_names() {
            return Ok(self.clone());
        }
        let mut out = self.clone();
        for image in out.images.values_mut() {
            image.tags = image
                .tags
                .iter()
                .map(|t| t.resolved(|s| symbols.expand(s)))
                .collect::<Result<_, _>>()?;
        }
        Ok(out)
    }
}

impl When {
    /// The model's request, with the symbols in the names expanded for this backend's table
    /// (see [`Scenario::request`]).
    pub fn request(&self, symbols: &mut Symbols) -> Result<Request, SymbolError> {
        let names = self
            .rmi
            .iter()
            .map(|n| symbols.expand_request(n))
            .collect::<Result<_, _>>()?;
        Ok(Request {
            names,
            force: self.force,
            prune: !self.noprune,
            ignore: self.ignore,
            all: self.all,
            platforms: self.platforms.clone(),
        })
    }
}

impl Scenario {
    /// The model's request, with the symbols in the names expanded for this backend's table.
    /// ID prefixes the names use (`<A:4>`) are recorded in `symbols`, so that the same hex
    /// in an engine's answer (`No such image: 7f3c`) maps back to `<A:4>`.
    pub fn request(&self, symbols: &mut Symbols) -> Result<Request, SymbolError> {
        self.when.request(symbols)
    }

    /// Every step's request, in order (one for a one-request scenario; the requests sent at
    /// once, in the order given, for `parallel:`), expanded as [`request`](Self::request)
    /// does. Symbols stay bound across steps: a later step may name an image an earlier one
    /// deleted.
    pub fn requests(&self, symbols: &mut Symbols) -> Result<Vec<Request>, SymbolError> {
        match &self.parallel {
            Some(p) => p.requests.iter().map(|w| w.request(symbols)).collect(),
            None => self
                .steps()
                .map(|(when, _)| when.request(symbols))
                .collect(),
        }
    }

    /// Every request the scenario sends, whatever its form: `when`, each step's, or each of
    /// `parallel:`.
    pub fn whens(&self) -> Vec<&When> {
        match &self.parallel {
            Some(p) => p.requests.iter().collect(),
            None => self.steps().map(|(w, _)| w).collect(),
        }
    }

    /// Every step, in order: `when` and `expect`, then `then`. A one-request scenario has one.
    pub fn steps(&self) -> impl Iterator<Item = (&When, &Expect)> + '_ {
        std::iter::once((&self.when, &self.expect))
            .chain(self.then.iter().map(|s| (&s.when, &s.expect)))
    }

    /// Whether this scenario is a sequence of more than one request.
    pub fn is_sequence(&self) -> bool {
        !self.then.is_empty()
    }

    /// Why `profile` skips this scenario: the first step whose expectation for it says `skip`
    /// (a sequence cannot run without one of its steps).
    pub fn skip_for(&self, profile: rmispec_model::Profile) -> Option<String> {
        self.steps()
            .find_map(|(_, expect)| expect.for_profile(profile).skip)
    }

    /// The known divergence for `profile`: its own entry, else its engine's.
    pub fn divergence_for(&self, profile: rmispec_model::Profile) -> Option<&Divergence> {
        self.divergence
            .get(&Target::Profile(profile))
            .or_else(|| self.divergence.get(&Target::Engine(profile.engine())))
    }
}
