//! proptest strategies for [`StoreSpec`] and [`RequestSpec`]: they shrink towards fewer images,
//! fewer names, no parents, no containers, shared ID prefixes and plain requests.
//!
//! One place for every generator: the model's laws (`tests/laws.rs`) check the model against
//! itself on them, and the harness's fuzzer (`rmispec fuzz`) turns the same cases into
//! scenarios and runs them on live engines. Behind the crate's `proptest` feature, so the
//! model's ordinary build does not pull proptest in.

pub mod spec;

pub use spec::*;

use crate::ContainerState;
use proptest::collection::vec;
use proptest::prelude::*;

/// Up to 4 images, each with up to 3 names and maybe a parent; up to 2 containers.
pub fn store() -> impl Strategy<Value = StoreSpec> {
    let image = (
        0..3u8,
        0..3u8,
        vec(0..NAME_POOL.len() as u8, 0..=3),
        proptest::option::of(0..4u8),
        any::<bool>(),
    )
        .prop_map(|(g1, g2, names, parent, own_layer)| ImageSpec {
            id: (g1, g2),
            names,
            parent,
            own_layer,
        });
    let container = (0..4u8, 0..ContainerState::ALL.len()).prop_map(|(image, s)| ContainerSpec {
        image,
        state: ContainerState::ALL[s],
    });
    (vec(image, 0..=4), vec(container, 0..=2))
        .prop_map(|(images, containers)| StoreSpec { images, containers })
}

fn id_form() -> impl Strategy<Value = IdForm> {
    prop_oneof![
        Just(IdForm::Prefixed),
        (1..=12u8).prop_map(IdForm::Prefix),
        Just(IdForm::Bare),
        (1..=12u8).prop_map(IdForm::PrefixedPrefix),
    ]
}

/// One name of a request: mostly stored names and IDs of images in the store.
pub fn name() -> impl Strategy<Value = NameSpec> {
    let spelling = prop_oneof![
        Just(Spelling::Full),
        Just(Spelling::Familiar),
        Just(Spelling::Short)
    ];
    let of = prop_oneof![Just(IdOf::Config), Just(IdOf::Manifest)];
    prop_oneof![
        4 => (0..4u8, 0..3u8, spelling).prop_map(|(image, name, spelling)| NameSpec::Stored { image, name, spelling }),
        4 => (0..4u8, of, id_form()).prop_map(|(image, of, form)| NameSpec::Id { image, of, form }),
        1 => (0..4u8, 0..3u8).prop_map(|(image, repo)| NameSpec::DigestIn { image, repo }),
        1 => (0..4u8).prop_map(|image| NameSpec::TaggedDigest { image }),
        1 => (0..UNKNOWN.len() as u8).prop_map(NameSpec::Unknown),
        1 => (0..INVALID.len() as u8).prop_map(NameSpec::Invalid),
    ]
}

/// A request: one to three names (sometimes the same name twice), flags, rarely `--all`.
pub fn request() -> impl Strategy<Value = RequestSpec> {
    let names = prop_oneof![4 => vec(name(), 1..=3), 1 => name().prop_map(|n| vec![n, n])];
    (
        names,
        any::<bool>(),
        proptest::bool::weighted(0.25),
        proptest::bool::weighted(0.2),
        proptest::bool::weighted(0.1),
        any::<bool>(),
    )
        .prop_map(
            |(names, force, noprune, ignore, all, keep_names)| RequestSpec {
                names: if all && !keep_names {
                    Vec::new()
                } else {
                    names
                },
                force,
                prune: !noprune,
                ignore,
                all,
            },
        )
}

/// One generated case of the fuzzer: a store and what is asked of it.
///
/// `steps` is a list so that sequences of requests (the scenario language's `steps:`) fit
/// without a new type; the generator makes one step today, which renders as `when`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Case {
    /// The store before the first step.
    pub store: StoreSpec,
    /// The requests, in order (one today).
    pub steps: Vec<RequestSpec>,
    /// Whether the engine the case is for builds a child image by committing a container
    /// (Docker's containerd store, Podman): then a child's ID cannot be chosen (no `id:`
    /// prefix) and it holds no digest reference (it was never pushed), so a case leaves
    /// those out rather than ask for a store the engine cannot build. False from [`case`].
    pub children_committed: bool,
}

/// A [`Case`]: a [`store`] and one [`request`]. Shrinks as they do.
pub fn case() -> impl Strategy<Value = Case> {
    (store(), request()).prop_map(|(store, request)| Case {
        store,
        steps: vec![request],
        children_committed: false,
    })
}
