//! Sequences of requests, and requests sent at the same time.
//!
//! A user removes images in sequences (untag, then remove by ID; the child, then its parent);
//! each request meets the store the one before it left. [`remove_steps`] is that fold over
//! [`remove`], shared by the harness's runner and the laws, so both mean the same by "the next
//! step".
//!
//! Requests sent at once are modeled by [`remove_parallel`] as the set of outcomes of every
//! order in which they could have been applied one after the other, each request whole. None
//! of these engines holds a lock around one whole removal; each serializes only its storage
//! calls:
//!
//! - Docker's classic store: the reference store takes its mutex per call
//!   (moby/moby@v20.10.24:reference/store.go#L189-L223); `ImageDelete` takes no lock of its
//!   own (moby/moby@v20.10.24:daemon/images/image_delete.go#L62-L186).
//! - containerd (CRI, and Docker's containerd store): one bolt transaction per image record
//!   (containerd/containerd@v1.7.24:metadata/images.go#L254-L277).
//! - libimage: untags, then deletes through c/storage, which locks its stores per call
//!   (containers/common@v0.50.1:libimage/image.go#L472-L472).
//!
//! So two requests can in principle interleave inside one removal (between one's untag and
//! its delete). The whole-request orders are still the right reference: they are what the
//! rules allow when requests do not overlap, every live outcome is checked to be one of them,
//! and one that is not is a finer-grained race of that engine, reported as a finding (a cited
//! divergence in the scenario), not folded into the model.

use crate::engine::{remove, Profile};
use crate::outcome::Outcome;
use crate::request::Request;
use crate::store::Store;

/// The outcome of each request of `requests`, applied in order: each one meets the store the
/// one before it left (the first meets `store`). Empty `requests`: no outcomes.
pub fn remove_steps(profile: Profile, store: &Store, requests: &[Request]) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(requests.len());
    for request in requests {
        let before = outcomes.last().map_or(store, |o| &o.after);
        let outcome = remove(profile, before, request);
        outcomes.push(outcome);
    }
    outcomes
}

/// One way requests sent at once could have turned out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interleaving {
    /// The order the requests were applied in, as indices into the requests given.
    pub order: Vec<usize>,
    /// Each request's outcome, in the order the requests were *given* (not applied); each
    /// `after` is the store right after that request.
    pub outcomes: Vec<Outcome>,
    /// The store after all of them.
    pub after: Store,
}

/// Every outcome the rules allow for `requests` sent at once: one [`Interleaving`] per order of
/// applying them, in lexicographic order of the orders, without the orders whose answers (the
/// records, errors and status of every request) and final store repeat an earlier order's.
///
/// The number of orders grows as n!; scenarios send two or three requests.
pub fn remove_parallel(profile: Profile, store: &Store, requests: &[Request]) -> Vec<Interleaving> {
    let mut found: Vec<Interleaving> = Vec::new();
    for order in permutations(requests.len()) {
        let applied: Vec<Request> = order.iter().map(|&i| requests[i].clone()).collect();
        let sequential = remove_steps(profile, store, &applied);
        let after = sequential
            .last()
            .map_or_else(|| store.clone(), |o| o.after.clone());
        let mut outcomes: Vec<Option<Outcome>> = vec![None; requests.len()];
        for (&i, outcome) in order.iter().zip(sequential) {
            outcomes[i] = Some(outcome);
        }
        let outcomes: Vec<Outcome> = outcomes.into_iter().flatten().collect();
        let same = |other: &Interleaving| {
            other.after == after
                && other.outcomes.iter().zip(&outcomes).all(|(a, b)| {
                    a.records == b.records && a.errors == b.errors && a.status == b.status
                })
        };
        if !found.iter().any(same) {
            found.push(Interleaving {
                order,
                outcomes,
                after,
            });
        }
    }
    found
}

/// Every permutation of `0..n`, in lexicographic order.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for first in 0..n {
        for rest in permutations(n - 1) {
            let mut order = vec![first];
            order.extend(rest.into_iter().map(|i| if i >= first { i + 1 } else { i }));
            out.push(order);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutations_are_all_orders_once() {
        assert_eq!(permutations(0), vec![Vec::<usize>::new()]);
        assert_eq!(
            permutations(3),
            vec![
                vec![0, 1, 2],
                vec![0, 2, 1],
                vec![1, 0, 2],
                vec![1, 2, 0],
                vec![2, 0, 1],
                vec![2, 1, 0]
            ]
        );
    }

    #[test]
    fn no_steps_no_outcomes() {
        assert!(remove_steps(Profile::DockerClassic, &Store::default(), &[]).is_empty());
        let one = remove_parallel(Profile::DockerClassic, &Store::default(), &[]);
        assert_eq!(one.len(), 1);
        assert!(one[0].outcomes.is_empty());
    }
}
