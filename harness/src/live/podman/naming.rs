//! In which order to give an image its names, so that its stored names list comes out in the
//! scenario's order.
//!
//! The order of an image's stored names is observable: a forced removal by ID reports one
//! `Untagged:` per name in stored order, and libimage's "more than one tag" error lists them.
//! Each way of adding a name puts it at one end of the list, and which end depends on the
//! version:
//!
//! | operation | 3.0.1 | 4.3.1 | 5.4.2 |
//! |---|---|---|---|
//! | load or pull naming the image | front | front | front |
//! | `POST /images/{id}/tag` | back | back | front |
//!
//! A load or pull ends in containers/image's storage destination, which puts the new name
//! first: `SetNames(append([name], old…))` in `containers/image@v5.10.2:storage/storage_image.go#L807-L816`,
//! `AddNames` in `containers/image@v5.23.1:storage/storage_dest.go#L868-L872`, and
//! containers/storage's `AddNames` prepends (`containers/storage@v1.43.0:utils.go#L66-L69`).
//! A tag appends in 3.0.1 (`podman@v3.0.1:libpod/image/image.go#L760-L775`) and 4.3.1
//! (`containers/common@v0.50.1:libimage/image.go#L539-L540`, `SetNames(append(names, new))`),
//! and prepends in 5.4.2 (`containers/common@v0.62.3:libimage/image.go#L585`, `AddNames`).
//!
//! A digest name can only come from a pull, so it always goes to the front. The plan: create
//! the image with the name after which only tags follow (3.0/4.3) — or with the last name
//! (5.4) —, add the names before it front-first in reverse, and the tags after it by tagging.

use super::config::Flavor;

/// One way to add a name to an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Load an archive that names the image with this tag (puts it first).
    Load(usize),
    /// Pull this digest name from the registry (puts it first).
    Pull(usize),
    /// Tag the image with this name through the API.
    Tag(usize),
}

/// The operations that give an image the names `is_tag` describes (`true` for a tag, `false`
/// for a digest name), in the given order; each op carries the name's index. The first op
/// creates the image (a load or a pull). An image with no names gets an empty plan: the
/// caller loads it under a temporary tag and removes that tag once its children exist.
pub fn plan(flavor: Flavor, is_tag: &[bool]) -> Vec<Op> {
    let n = is_tag.len();
    if n == 0 {
        return Vec::new();
    }
    let front = |i: usize| if is_tag[i] { Op::Load(i) } else { Op::Pull(i) };
    let tag_prepends = flavor.is_podman5();
    // The creating name: after it, only names a tag can add at the back.
    let first = if tag_prepends {
        n - 1
    } else {
        is_tag.iter().rposition(|t| !t).unwrap_or(0)
    };
    let mut ops = vec![front(first)];
    for i in (0..first).rev() {
        // Each goes to the front, so the last added is first.
        ops.push(if tag_prepends && is_tag[i] {
            Op::Tag(i)
        } else {
            front(i)
        });
    }
    ops.extend((first + 1..n).map(Op::Tag));
    ops
}

/// The stored names list the plan produces on `flavor` (what the tests check the plan by).
pub fn simulate(flavor: Flavor, ops: &[Op]) -> Vec<usize> {
    let mut names: Vec<usize> = Vec::new();
    for op in ops {
        let (i, front) = match *op {
            Op::Load(i) | Op::Pull(i) => (i, true),
            Op::Tag(i) => (i, flavor.is_podman5()),
        };
        names.retain(|&x| x != i);
        if front {
            names.insert(0, i);
        } else {
            names.push(i);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_order_of_tags_and_digests_comes_out_as_given() {
        for flavor in [Flavor::Podman43, Flavor::Podman54, Flavor::Libpod301] {
            for n in 1..=5usize {
                for mask in 0..(1u32 << n) {
                    let is_tag: Vec<bool> = (0..n).map(|i| mask & (1 << i) != 0).collect();
                    let ops = plan(flavor, &is_tag);
                    assert!(
                        matches!(ops[0], Op::Load(_) | Op::Pull(_)),
                        "{flavor:?} {is_tag:?}: {ops:?}"
                    );
                    assert_eq!(
                        simulate(flavor, &ops),
                        (0..n).collect::<Vec<_>>(),
                        "{flavor:?} {is_tag:?}: {ops:?}"
                    );
                    for op in &ops {
                        match *op {
                            Op::Load(i) | Op::Tag(i) => {
                                assert!(is_tag[i], "{op:?} on a digest name")
                            }
                            Op::Pull(i) => assert!(!is_tag[i], "{op:?} on a tag"),
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn tags_only_cost_one_load_and_tags_on_4_3() {
        assert_eq!(
            plan(Flavor::Podman43, &[true, true, true]),
            [Op::Load(0), Op::Tag(1), Op::Tag(2)]
        );
        assert_eq!(
            plan(Flavor::Podman54, &[true, true, true]),
            [Op::Load(2), Op::Tag(1), Op::Tag(0)]
        );
        assert!(plan(Flavor::Podman43, &[]).is_empty());
    }
}
