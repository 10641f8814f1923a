//! proptest strategies for [`StoreSpec`], [`RequestSpec`] and [`Case`]: they shrink towards
//! fewer steps, fewer images, fewer names, no parents, no containers, shared ID prefixes and
//! plain requests.
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
use proptest::strategy::ValueTree;

/// Up to 4 images, each with up to 3 names and maybe a parent, maybe pulled by its tag or
/// loaded on another's layers; up to 2 containers, in any [`ContainerState`].
pub fn store() -> impl Strategy<Value = StoreSpec> {
    store_with(&ContainerState::ALL)
}

/// [`store`], with containers only in `states` (an engine that cannot build a paused
/// container asks for the others). `states` must not be empty; its first state is the one a
/// container shrinks to.
pub fn store_with(states: &'static [ContainerState]) -> impl Strategy<Value = StoreSpec> {
    assert!(!states.is_empty(), "a container needs a state to be in");
    let image = (
        0..3u8,
        0..3u8,
        vec(0..NAME_POOL.len() as u8, 0..=3),
        proptest::option::of(0..4u8),
        any::<bool>(),
        proptest::bool::weighted(0.5),
        proptest::option::weighted(0.3, 0..4u8),
    )
        .prop_map(|(g1, g2, names, parent, own_layer, pull, on)| ImageSpec {
            id: (g1, g2),
            names,
            parent,
            own_layer,
            pull,
            on,
        });
    let pod = prop_oneof![
        3 => Just(PodRole::Alone),
        1 => Just(PodRole::Infra),
        1 => Just(PodRole::Member),
    ];
    let container = (0..4u8, 0..states.len(), pod).prop_map(move |(image, s, pod)| ContainerSpec {
        image,
        state: states[s],
        pod,
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
/// `steps` is a sequence of requests (the scenario language's `steps:` when there are more
/// than one), each typed against `store`, the store *before* the first step, so a later step
/// may name an image or a tag an earlier one removed (as `tests/steps.rs` types its pairs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Case {
    /// The store before the first step.
    pub store: StoreSpec,
    /// The requests, in order: one to three.
    pub steps: Vec<RequestSpec>,
    /// Whether the engine the case is for builds a child image by committing a container
    /// (Docker's containerd store, Podman): then a child's ID cannot be chosen (no `id:`
    /// prefix) and it holds no digest reference (it was never pushed), so a case leaves
    /// those out rather than ask for a store the engine cannot build. False from [`case`].
    pub children_committed: bool,
}

/// How often a case has one, two or three steps: most cases ask one thing (each step is a
/// store build's worth of engine time saved for another case), some a pair, few three.
pub const STEP_WEIGHTS: [u32; 3] = [6, 3, 1];

/// A [`Case`]: a [`store`] and one to three [`request`]s ([`STEP_WEIGHTS`]).
pub fn case() -> Cases {
    case_with(&ContainerState::ALL)
}

/// [`case`], with containers only in `states` ([`store_with`]).
pub fn case_with(states: &'static [ContainerState]) -> Cases {
    Cases {
        store: store_with(states).boxed(),
        request: request().boxed(),
        weights: STEP_WEIGHTS,
    }
}

/// The strategy of [`case`]: its tree shrinks a case by dropping steps first, the last
/// first and then each earlier one in turn (each kept when the case no longer fails without
/// it), then as a store and requests shrink: the store first, then each remaining step in
/// order.
///
/// The last step goes first because it is the one whose removal changes nothing else: later
/// steps are typed against the store before the first, so an earlier step's removal changes
/// what the ones after it meet. Such a candidate is still a case of its own, and a smaller
/// one; it is only tried after the tail.
#[derive(Debug)]
pub struct Cases {
    store: BoxedStrategy<StoreSpec>,
    request: BoxedStrategy<RequestSpec>,
    weights: [u32; 3],
}

impl Strategy for Cases {
    type Tree = CaseTree;
    type Value = Case;

    fn new_tree(
        &self,
        runner: &mut proptest::test_runner::TestRunner,
    ) -> proptest::strategy::NewTree<Self> {
        let store = self.store.new_tree(runner)?;
        let total: u32 = self.weights.iter().sum();
        let mut pick = runner.rng().next_u32() % total.max(1);
        let mut count = 1;
        for (i, &w) in self.weights.iter().enumerate() {
            if pick < w {
                count = i + 1;
                break;
            }
            pick -= w;
        }
        let requests = (0..count)
            .map(|_| self.request.new_tree(runner))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CaseTree {
            store,
            active: (0..requests.len()).collect(),
            drop_next: requests.len().checked_sub(1),
            requests,
            shrinking: 0,
            prev: None,
        })
    }
}

/// What a [`CaseTree`] changed last, for `complicate` to undo.
#[derive(Clone, Copy, Debug)]
enum Last {
    /// The step at this position of `active` was dropped; it was request `.1`.
    Dropped(usize, usize),
    Store,
    Request(usize),
}

/// The value tree of [`Cases`].
pub struct CaseTree {
    store: Box<dyn ValueTree<Value = StoreSpec>>,
    requests: Vec<Box<dyn ValueTree<Value = RequestSpec>>>,
    /// The requests the case has now, in order (dropping removes from it).
    active: Vec<usize>,
    /// The position in `active` whose drop is tried next, counting down; `None`: done.
    drop_next: Option<usize>,
    /// What is shrunk after dropping: 0 the store, `k` the `k`-th active request.
    shrinking: usize,
    prev: Option<Last>,
}

impl std::fmt::Debug for CaseTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseTree")
            .field("current", &self.current())
            .finish()
    }
}

impl ValueTree for CaseTree {
    type Value = Case;

    fn current(&self) -> Case {
        Case {
            store: self.store.current(),
            steps: self
                .active
                .iter()
                .map(|&r| self.requests[r].current())
                .collect(),
            children_committed: false,
        }
    }

    fn simplify(&mut self) -> bool {
        if let Some(pos) = self.drop_next {
            if self.active.len() > 1 {
                let request = self.active.remove(pos);
                self.drop_next = pos.checked_sub(1);
                self.prev = Some(Last::Dropped(pos, request));
                return true;
            }
            self.drop_next = None;
        }
        if self.shrinking == 0 {
            if self.store.simplify() {
                self.prev = Some(Last::Store);
                return true;
            }
            self.shrinking = 1;
        }
        while self.shrinking <= self.active.len() {
            let r = self.active[self.shrinking - 1];
            if self.requests[r].simplify() {
                self.prev = Some(Last::Request(r));
                return true;
            }
            self.shrinking += 1;
        }
        self.prev = None;
        false
    }

    fn complicate(&mut self) -> bool {
        match self.prev.take() {
            None => false,
            Some(Last::Dropped(pos, request)) => {
                // The case needs this step: it stays, and the drop of the one before it is
                // tried next (`drop_next` already points there).
                self.active.insert(pos, request);
                true
            }
            Some(Last::Store) => {
                let moved = self.store.complicate();
                if moved {
                    self.prev = Some(Last::Store);
                }
                moved
            }
            Some(Last::Request(r)) => {
                let moved = self.requests[r].complicate();
                if moved {
                    self.prev = Some(Last::Request(r));
                }
                moved
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

    fn runner(seed: u8) -> TestRunner {
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]);
        TestRunner::new_with_rng(Default::default(), rng)
    }

    /// A tree of three steps: some seed gives one.
    fn three_steps() -> CaseTree {
        (0..=255u8)
            .map(|seed| case().new_tree(&mut runner(seed)).expect("never rejects"))
            .find(|t| t.current().steps.len() == 3)
            .expect("some seed gives three steps")
    }

    #[test]
    fn a_failing_case_drops_its_last_steps_before_anything_else_shrinks() {
        let mut tree = three_steps();
        let first = tree.current();
        assert!(tree.simplify());
        assert_eq!(tree.current().steps, first.steps[..2]);
        assert_eq!(tree.current().store, first.store);
        assert!(tree.simplify());
        assert_eq!(tree.current().steps, first.steps[..1]);
        // Then the store shrinks, the step stays.
        while tree.simplify() {}
        let last = tree.current();
        assert_eq!(last.steps.len(), 1);
        assert!(last.store.images.is_empty() && last.store.containers.is_empty());
    }

    #[test]
    fn a_case_keeps_the_steps_it_needs_and_drops_earlier_ones_after_the_last() {
        let mut tree = three_steps();
        let first = tree.current();
        let [a, b, c] = [0, 1, 2].map(|k| first.steps[k].clone());
        assert!(tree.simplify());
        assert_eq!(tree.current().steps, [a.clone(), b.clone()]);
        assert!(tree.complicate(), "the dropped step comes back");
        assert_eq!(tree.current(), first);
        assert!(tree.simplify());
        assert_eq!(tree.current().steps, [a.clone(), c.clone()]);
        assert!(tree.complicate());
        assert!(tree.simplify());
        assert_eq!(tree.current().steps, [b, c]);
        assert!(tree.complicate());
        assert_eq!(tree.current(), first);
        // Every step was needed: never dropped again, every later candidate has three.
        while tree.simplify() {
            assert_eq!(tree.current().steps.len(), 3);
        }
    }

    #[test]
    fn containers_stay_in_the_states_asked_for() {
        let states = [ContainerState::Stopped, ContainerState::Created];
        const ASKED: &[ContainerState] = &[ContainerState::Stopped, ContainerState::Created];
        for seed in 0..64 {
            let case = case_with(ASKED)
                .new_tree(&mut runner(seed))
                .expect("never rejects")
                .current();
            assert!(case
                .store
                .containers
                .iter()
                .all(|c| states.contains(&c.state)));
        }
    }
}
