//! Every store within bounds, up to symmetry, and every request form for a store.
//!
//! Stores are enumerated as [`StoreSpec`]s in canonical form, so that no two describe the
//! same store:
//! - ID prefix structure: which images share their first ID character, and which of those
//!   also share the second, as nested restricted-growth strings (the first image is always in
//!   group `a1`, a later one opens a new group only after all lower ones);
//! - names: a tag is taken by at most one image, so later images choose among the tags left;
//! - containers: a multiset, sorted;
//! - `own_layer` only varies for images with a parent (a parentless image always has one);
//! - relabelling: two stores that differ only by the creation order of images (keeping every
//!   parent older than its children) are one. Every law speaks of sets of names, images and
//!   containers, so it cannot tell them apart; see [`canonical_key`].

use super::spec::{spell, Spelling};
use super::spec::{
    ContainerSpec, ImageSpec, NameShape, PodRole, StoreSpec, INVALID, NAME_POOL, UNKNOWN,
};
use rmispec_model::{ContainerState, Request, Store};
use std::collections::HashSet;

/// How big the stores get.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// At most this many images.
    pub images: usize,
    /// At most this many names per image.
    pub names_per_image: usize,
    /// Names are taken from the first `pool` entries of [`NAME_POOL`].
    pub pool: usize,
    /// At most this many containers.
    pub containers: usize,
    /// Whether images may have parents.
    pub parents: bool,
    /// Whether a child may also share all its parent's layers (adds no layer of its own);
    /// otherwise every image adds one. Only docker-classic's layer records can tell.
    pub layer_variants: bool,
    /// ID prefix lengths tried as requests (plus the full ID).
    pub prefixes: &'static [u8],
    /// Every request form (bare 64-hex IDs, digest references with a tag, every unknown and
    /// invalid name, `--ignore` with every name) rather than the core ones.
    pub rich_requests: bool,
}

impl Bounds {
    /// Two images of two names, one container, parents: the model benchmark's corpus, and
    /// small enough for the checker and the baseline to be compared on every `cargo test`.
    pub const SMALL: Bounds = Bounds {
        images: 2,
        names_per_image: 2,
        pool: 3,
        containers: 1,
        parents: true,
        layer_variants: false,
        prefixes: &[1, 2, 3],
        rich_requests: false,
    };

    /// Three images of one name each, one container, parents: the smallest bounds with three
    /// images.
    pub const DEFAULT: Bounds = Bounds {
        images: 3,
        names_per_image: 1,
        ..Bounds::SMALL
    };

    /// Four images of one name each, parents, no containers: more images than the full
    /// bounds have (43,000 stores, 8.9 × 10⁷ cases), which CI checks too. With one container
    /// they are 377,412 stores and 7.8 × 10⁸ cases, five times the full bounds.
    pub const FOUR_IMAGES: Bounds = Bounds {
        images: 4,
        names_per_image: 1,
        containers: 0,
        ..Bounds::SMALL
    };

    /// The full bounds: three images of three names, two containers, parents.
    pub const FULL: Bounds = Bounds {
        images: 3,
        names_per_image: 3,
        containers: 2,
        ..Bounds::SMALL
    };
}

/// Nested restricted-growth strings of length `n`: `(first group, second group)` per image.
fn id_structures(n: usize) -> Vec<Vec<(u8, u8)>> {
    let mut out = vec![Vec::new()];
    for _ in 0..n {
        let mut next = Vec::new();
        for prefix in &out {
            let firsts = prefix.iter().map(|&(g, _)| g + 1).max().unwrap_or(0);
            for g1 in 0..=firsts {
                let seconds = prefix
                    .iter()
                    .filter(|&&(g, _)| g == g1)
                    .map(|&(_, s)| s + 1)
                    .max()
                    .unwrap_or(0);
                for g2 in 0..=seconds {
                    let mut v = prefix.clone();
                    v.push((g1, g2));
                    next.push(v);
                }
            }
        }
        out = next;
    }
    out
}

/// Subsets of `0..pool` of size at most `max`, avoiding tags in `taken`.
fn name_sets(pool: usize, max: usize, taken: &[u8]) -> Vec<Vec<u8>> {
    let allowed: Vec<u8> = (0..pool as u8)
        .filter(|i| matches!(NAME_POOL[*i as usize], NameShape::Digest(..)) || !taken.contains(i))
        .collect();
    let mut out = vec![Vec::new()];
    for &name in &allowed {
        let more: Vec<Vec<u8>> = out
            .iter()
            .filter(|s| s.len() < max)
            .map(|s| {
                let mut s = s.clone();
                s.push(name);
                s
            })
            .collect();
        out.extend(more);
    }
    out
}

/// Every canonical store within `bounds`, with how many were enumerated before symmetry
/// reduction.
pub fn stores(bounds: Bounds) -> (Vec<StoreSpec>, usize) {
    let mut all = Vec::new();
    for n in 0..=bounds.images {
        for ids in id_structures(n) {
            let mut partial: Vec<Vec<ImageSpec>> = vec![Vec::new()];
            for (k, &id) in ids.iter().enumerate() {
                let mut next = Vec::new();
                for images in &partial {
                    let taken: Vec<u8> = images
                        .iter()
                        .flat_map(|i| i.names.iter().copied())
                        .collect();
                    let mut parents = vec![(None, true)];
                    if bounds.parents {
                        for p in 0..k as u8 {
                            parents.push((Some(p), true));
                            if bounds.layer_variants {
                                parents.push((Some(p), false));
                            }
                        }
                    }
                    for names in name_sets(bounds.pool, bounds.names_per_image, &taken) {
                        for &(parent, own_layer) in &parents {
                            let mut v = images.clone();
                            v.push(ImageSpec {
                                id,
                                names: names.clone(),
                                parent,
                                own_layer,
                                pull: false,
                                on: None,
                            });
                            next.push(v);
                        }
                    }
                }
                partial = next;
            }
            for images in partial {
                for containers in container_sets(n, bounds.containers) {
                    all.push(StoreSpec {
                        images: images.clone(),
                        containers,
                    });
                }
            }
        }
    }
    let total = all.len();
    let mut seen = HashSet::new();
    all.retain(|spec| seen.insert(canonical_key(spec)));
    (all, total)
}

/// Sets of at most `max` containers on `n` images, each set sorted. A second container of the
/// same image in the same state adds nothing a law can see (engines name only the first in a
/// message), so containers differ in image or state.
fn container_sets(n: usize, max: usize) -> Vec<Vec<ContainerSpec>> {
    // Two states, not all four: every engine's rules read a state only through
    // `ContainerState::runs` (Docker) or not at all, so `created` acts as `stopped` and
    // `paused` as `running`; four would make the full bounds four times as long. The property
    // tests (`strategies.rs`) sample all four.
    let kinds: Vec<(u8, ContainerState)> = (0..n as u8)
        .flat_map(|i| [(i, ContainerState::Stopped), (i, ContainerState::Running)])
        .collect();
    let mut out: Vec<Vec<usize>> = vec![Vec::new()];
    let mut frontier = out.clone();
    for _ in 0..max {
        let mut next = Vec::new();
        for set in &frontier {
            let from = set.last().map_or(0, |k| k + 1);
            for k in from..kinds.len() {
                let mut s = set.clone();
                s.push(k);
                next.push(s);
            }
        }
        out.extend(next.iter().cloned());
        frontier = next;
    }
    out.into_iter()
        .map(|s| {
            s.into_iter()
                .map(|k| ContainerSpec {
                    image: kinds[k].0,
                    state: kinds[k].1,
                    pod: PodRole::Alone,
                })
                .collect()
        })
        .collect()
}

/// A key equal for two specs exactly when one is the other with its images relabelled
/// (creation order changed, parents kept older than children): the smallest description over
/// all such relabellings, with the ID groups renumbered in the new order.
pub fn canonical_key(spec: &StoreSpec) -> Vec<u16> {
    let n = spec.images.len();
    let mut best: Option<Vec<u16>> = None;
    for order in permutations(n) {
        // order[new] = old
        let mut new_of = vec![0usize; n];
        for (new, &old) in order.iter().enumerate() {
            new_of[old] = new;
        }
        let parent_ok = order.iter().enumerate().all(|(new, &old)| {
            spec.images[old]
                .parent
                .is_none_or(|p| new_of[p as usize % old.max(1)] < new)
        });
        if !parent_ok {
            continue;
        }
        let mut key = Vec::new();
        let (mut g1_map, mut g2_map) = (Vec::<u8>::new(), Vec::<(u8, u8)>::new());
        for &old in &order {
            let image = &spec.images[old];
            let g1 = g1_map
                .iter()
                .position(|&g| g == image.id.0)
                .unwrap_or_else(|| {
                    g1_map.push(image.id.0);
                    g1_map.len() - 1
                });
            let g2 = g2_map
                .iter()
                .filter(|(g, _)| *g == image.id.0)
                .position(|&(_, s)| s == image.id.1);
            let g2 = g2.unwrap_or_else(|| {
                g2_map.push(image.id);
                g2_map.iter().filter(|(g, _)| *g == image.id.0).count() - 1
            });
            let mut names = image.names.clone();
            names.sort_unstable();
            let names = names.iter().fold(0u16, |m, &i| m | 1 << i);
            let parent = image
                .parent
                .map_or(0, |p| 1 + new_of[p as usize % old.max(1)] as u16);
            key.extend([
                g1 as u16,
                g2 as u16,
                names,
                parent,
                u16::from(image.own_layer || image.parent.is_none()),
            ]);
        }
        let mut containers: Vec<u16> = spec
            .containers
            .iter()
            .map(|c| (new_of[c.image as usize % n.max(1)] as u16) << 2 | c.state as u16)
            .collect();
        containers.sort_unstable();
        key.push(u16::MAX);
        key.extend(containers);
        if best.as_ref().is_none_or(|b| key < *b) {
            best = Some(key);
        }
    }
    best.unwrap_or_default()
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for at in 0..=p.len() {
            let mut q = p.clone();
            q.insert(at, n - 1);
            out.push(q);
        }
    }
    out
}

/// Every request form for `store`: each stored name in every spelling (full, familiar,
/// short), each image's config ID in full and cut to the prefixes in `bounds` and to
/// `sha256:` + 2, its manifest digest, its digest in the local registry's and in Docker Hub's
/// `busybox` repository, unknown and invalid names; each image's first name twice; every
/// image's first name in one request, forwards and backwards. Each with and without force and
/// prune; `--ignore` with the unknown names and the many-name requests; `--all` alone.
/// `rich_requests` adds bare 64-hex IDs, `name:tag@digest`, the other unknown and invalid
/// names, and `--ignore` with everything.
pub fn requests(store: &Store, bounds: Bounds) -> Vec<Request> {
    let rich = bounds.rich_requests;
    let mut singles: Vec<String> = Vec::new();
    let mut firsts: Vec<String> = Vec::new();
    let push = |v: &mut Vec<String>, s: String| {
        if !v.contains(&s) {
            v.push(s);
        }
    };
    for image in &store.images {
        for r in &image.refs {
            for spelling in [Spelling::Full, Spelling::Familiar, Spelling::Short] {
                push(&mut singles, spell(r, spelling));
            }
        }
        push(&mut singles, image.config.prefixed());
        for &n in bounds.prefixes {
            push(&mut singles, image.config.short(n as usize).to_owned());
        }
        push(&mut singles, format!("sha256:{}", image.config.short(2)));
        push(&mut singles, image.manifest.prefixed());
        for repo in [
            format!("{}/app", super::spec::REGISTRY),
            "docker.io/library/busybox".into(),
        ] {
            push(&mut singles, format!("{repo}@{}", image.manifest));
        }
        if rich {
            push(&mut singles, image.config.hex().to_owned());
            push(
                &mut singles,
                format!("{}/app:9@{}", super::spec::REGISTRY, image.manifest),
            );
        }
        firsts.push(
            image
                .refs
                .first()
                .map_or_else(|| image.config.prefixed(), |r| r.full()),
        );
    }
    let odd: Vec<&str> = if rich {
        UNKNOWN
            .iter()
            .chain(&INVALID)
            .chain(&[""])
            .copied()
            .collect()
    } else {
        vec![UNKNOWN[0], UNKNOWN[3], INVALID[0], ""]
    };
    let mut lists: Vec<(Vec<String>, bool)> =
        singles.into_iter().map(|s| (vec![s], rich)).collect();
    lists.extend(odd.into_iter().map(|s| (vec![s.to_owned()], true)));
    for first in &firsts {
        lists.push((vec![first.clone(), first.clone()], true));
    }
    if firsts.len() > 1 {
        lists.push((firsts.clone(), true));
        lists.push((firsts.iter().rev().cloned().collect(), true));
    }
    let mut out = Vec::new();
    for (names, ignore) in lists {
        for (force, prune) in [(false, true), (true, true), (false, false), (true, false)] {
            out.push(Request {
                names: names.clone(),
                force,
                prune,
                ignore: false,
                all: false,
                platforms: Vec::new(),
            });
        }
        if ignore {
            out.push(Request {
                names,
                force: false,
                prune: true,
                ignore: true,
                all: false,
                platforms: Vec::new(),
            });
        }
    }
    out.push(Request {
        names: Vec::new(),
        force: false,
        prune: true,
        ignore: false,
        all: true,
        platforms: Vec::new(),
    });
    out.push(Request {
        names: Vec::new(),
        force: true,
        prune: true,
        ignore: false,
        all: true,
        platforms: Vec::new(),
    });
    out
}
