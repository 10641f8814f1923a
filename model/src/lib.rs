//! rmispec-model: what container engines do when asked to remove an image.
//!
//! A pure reference model: no I/O, no clock, no randomness, no async. Given a [`Store`] and a
//! [`Request`], [`remove`] returns the [`Outcome`] the chosen engine [`Profile`] would report:
//! the ordered records, the error(s), the status, and the store after; [`remove_steps`] runs a
//! sequence of requests, [`remove_parallel`] requests sent at once.
//!
//! Every engine's rules live in one module under [`engines`]; what engines share (reference
//! grammar, ID-prefix lookup, Docker's conflict texts) lives in shared modules.
#![deny(missing_docs)]

pub mod digest;
pub mod engine;
pub mod engines;
pub mod outcome;
pub mod platform;
pub mod reference;
pub mod request;
pub mod steps;
pub mod store;
#[cfg(feature = "proptest")]
pub mod strategies;

pub use digest::Digest;
pub use engine::{
    classify, remove, remove_each, Engine, ImageIdKind, Profile, ProfileInfo, PROFILES,
};
pub use outcome::{ConflictReason, ErrorKind, Failure, Outcome, Record, Status};
pub use platform::{Platform, PlatformManifest};
pub use reference::{Reference, Repository};
pub use request::Request;
pub use steps::{remove_parallel, remove_steps, Interleaving};
pub use store::{Container, ContainerState, Image, ListedImage, Listing, ManifestList, Pod, Store};
