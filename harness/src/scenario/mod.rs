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
mod load;
mod names;
mod spans;
mod validate;

pub use expect::{
    Divergence, Expect, ExpectedError, ExpectedOutcome, ExpectedStore, Source, Target,
};
pub use load::{
    load, load_bytes, load_dir, LoadError, LoadErrors, Problem, MAX_DEPTH, MAX_FILE_BYTES,
    MAX_PROBLEMS,
};
pub use names::{ContainerHandle, Domain, ImageHandle, LayerName, StoredName};

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
    /// The request.
    pub when: When,
    /// The outcome per engine.
    pub expect: Expect,
    /// Known divergences between the model and a live engine, by engine or profile.
    pub divergence: IndexMap<Target, Divergence>,
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

impl Scenario {
    /// The model's request, with the symbols in the names expanded for this backend's table.
    /// ID prefixes the names use (`<A:4>`) are recorded in `symbols`, so that the same hex
    /// in an engine's answer (`No such image: 7f3c`) maps back to `<A:4>`.
    pub fn request(&self, symbols: &mut Symbols) -> Result<Request, SymbolError> {
        let names = self
            .when
            .rmi
            .iter()
            .map(|n| symbols.expand_request(n))
            .collect::<Result<_, _>>()?;
        Ok(Request {
            names,
            force: self.when.force,
            prune: !self.when.noprune,
            ignore: self.when.ignore,
            all: self.when.all,
            platforms: self.when.platforms.clone(),
        })
    }

    /// The known divergence for `profile`: its own entry, else its engine's.
    pub fn divergence_for(&self, profile: rmispec_model::Profile) -> Option<&Divergence> {
        self.divergence
            .get(&Target::Profile(profile))
            .or_else(|| self.divergence.get(&Target::Engine(profile.engine())))
    }
}
