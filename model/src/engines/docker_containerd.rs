//! Docker Engine 26.1.5 with the containerd image store: `ImageService.ImageDelete` in
//! `moby@v26.1.5:daemon/containerd/image_delete.go`, resolving with `resolveAllReferences`
//! (`image.go#L425-L548`), keeping untagged images as `moby-dangling@` records
//! (`soft_delete.go`), and knowing parents only by the classic builder's label
//! (`image_children.go`).
//!
//! Here an image *is* its names: containerd keeps one image record per name
//! (`docker.io/library/busybox:latest`, `…/busybox@sha256:…`), each pointing at a target, the
//! manifest (or index) digest, which is the image ID (R-DK-1, R-DK-2). An image with no name
//! left survives only as the record `moby-dangling@sha256:<target>` (R-DK-3). In the
//! [`Store`], an image with names has exactly those records, and an image with none has the
//! dangling one: tagging an image deletes its dangling record (`image_tag.go#L70-L73`), and
//! every path below that removes the last name either creates one or lets the image go.
//!
//! # 28.5.2 ([`Profile::DockerContainerd28`])
//!
//! R-DK-14: Docker 28.5.2's containerd store has **26.1.5's rules** for every request the
//! model can express (`git diff v26.1.5 v28.5.2 -- daemon/containerd/image_delete.go`: the
//! `platforms` option, L68-L70 and L190-L269; image mounts counted as use by name, L146-L170;
//! the `untagReferences` refactor, L481-L496; `checkTruncatedID`, `image.go#L401-L416`,
//! replacing an equivalent regexp; none changes a request without platforms or mounts), with
//! one exception, its grammar: distribution/reference v0.6.0 limits the path, not the domain
//! and path, to 255 characters ([`dialect`]).
//!
//! Containers point at an image ID, the target digest; a [`Container`](crate::Container)
//! names its image by config, so it is matched through the store's image with that config
//! (a container whose image was deleted under it, by ID with force, matches nothing).

use super::docker::{self, Call, Conflict, Options};
use crate::digest::Digest;
use crate::outcome::{ErrorKind, Failure, Outcome, Record};
use crate::platform::Platform;
use crate::reference::grammar::{self, AnyReference, Dialect, GrammarError};
use crate::reference::{Reference, Repository};
use crate::request::Request;
use crate::store::{ListedImage, Listing, Store};
use crate::Profile;

/// The reference grammar `profile` vendors: distribution/reference v0.5.0 in moby v26.1.5,
/// v0.6.0 in v28.5.2 (`moby/moby@v28.5.2:vendor.mod`; the path-only length limit,
/// [`Dialect::Reference0_6`]).
pub fn dialect(profile: Profile) -> Dialect {
    match profile {
        Profile::DockerContainerd28 => Dialect::Reference0_6,
        _ => Dialect::Reference0_5,
    }
}

/// `imageNameDanglingPrefix` (`soft_delete.go#L15`).
pub const DANGLING_PREFIX: &str = "moby-dangling@";

/// What `docker rmi` does on `profile` with the containerd image store: one API call per
/// name ([`docker::drive`]).
pub fn remove(profile: Profile, store: &Store, request: &Request) -> Outcome {
    debug_assert_eq!(profile.engine(), crate::Engine::DockerContainerd);
    docker::drive(store, request, |s, name, o| delete(profile, s, name, o))
}

/// One `DELETE /images/{name}` call.
///
/// R-DK-15 (28.2+, `moby/moby@v28.5.2:daemon/containerd/image_delete.go#L68-L70`): the
/// `platforms` option ([`docker::platforms_read`]) without force is refused before the
/// name is looked up ([`docker::PLATFORMS_NEED_FORCE`], HTTP 400); with force, the name is
/// resolved as always and every path then deletes platform content instead
/// ([`delete_platforms`]).
pub fn delete(profile: Profile, store: Store, name: &str, options: Options) -> Call {
    let mut work = Work::new(store, dialect(profile));
    let mut records = Vec::new();
    let platforms = docker::platforms_read(profile, options);
    if !platforms.is_empty() && !options.force {
        return Call::failed(
            docker::failure(
                ErrorKind::InvalidArgument,
                docker::PLATFORMS_NEED_FORCE,
                400,
            ),
            work.store,
        );
    }
    match image_delete(&mut work, name, platforms, options, &mut records) {
        Ok(()) => Call::ok(records, work.store),
        Err(failure) => Call::failed(failure, work.store),
    }
}

/// What `GET /images/json?all=1` shows on 26.1.5 (`daemon/containerd/image_list.go`
/// `Images`, `singlePlatformImage`), and every container with its state.
///
/// Per image (one per target digest; ID = that digest):
/// - `RepoTags`: the familiar name of **every** non-dangling record, digest-named records
///   included (L137-L146: each record's name goes through `ParseNormalizedNamed` and
///   `FamiliarString`, with no check for a tag);
/// - `RepoDigests`: **one** computed name, `<repo>@<target>`, where `<repo>` is the repository
///   of the record that came last for that target (`uniqueImages[dgst] = img` is overwritten
///   in list order, and containerd lists by name), L135 and L376-L394; none for a dangling
///   image (its name does not parse as a canonical name).
///
/// Returned fully qualified, deduplicated (a digest record equal to the computed name shows
/// once) and sorted.
pub fn listing(store: &Store) -> Listing {
    let images = store
        .images
        .iter()
        .map(|image| {
            let mut names: Vec<String> = image.refs.iter().map(Reference::full).collect();
            if image.platforms.is_empty() {
                // R-DK-18 (28.5.2, `image_list.go#L377-L400`): no platform content is left
                // (R-DK-16), so there is no best manifest: `RepoDigests` is the bare target
                // digest.
                names.push(image.manifest.prefixed());
            } else if let Some(last) = image.refs.iter().max_by_key(|r| r.full()) {
                let computed = Reference::Digested {
                    repo: last.repo().clone(),
                    digest: image.manifest.clone(),
                };
                names.push(computed.full());
            }
            names.sort();
            names.dedup();
            ListedImage {
                id: image.manifest.clone(),
                names,
            }
        })
        .collect();
    Listing {
        images,
        containers: store.container_states(),
    }
}

/// One containerd image record.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rec {
    /// The record's name: a full reference, or `moby-dangling@sha256:<target>`.
    name: String,
    /// The target: the image ID.
    target: Digest,
    /// The name as a reference; `None` for the dangling record.
    reference: Option<Reference>,
}

impl Rec {
    /// `isDanglingImage` (`soft_delete.go#L74-L77`).
    fn is_dangling(&self) -> bool {
        self.reference.is_none()
    }

    /// `FamiliarString(ParseNormalizedNamed(name))`: what `Untagged:` says.
    /// `imageFamiliarName` (`moby/moby@v28.5.2:daemon/containerd/image.go#L218-L227`): the
    /// target digest for the dangling record, else the familiar name.
    fn familiar_name(&self) -> String {
        match &self.reference {
            Some(r) => r.familiar(),
            None => self.target.prefixed(),
        }
    }

    fn familiar(&self) -> String {
        self.reference
            .as_ref()
            .map_or_else(|| self.name.clone(), Reference::familiar)
    }
}

/// The store seen as containerd image records, while a call changes it.
struct Work {
    store: Store,
    dialect: Dialect,
}

impl Work {
    fn new(store: Store, dialect: Dialect) -> Work {
        Work { store, dialect }
    }

    /// Every record, in containerd's list order: by name (bolt keys).
    fn records(&self) -> Vec<Rec> {
        let mut all: Vec<Rec> = self
            .store
            .images
            .iter()
            .flat_map(|image| {
                let target = image.manifest.clone();
                let named: Vec<Rec> = image
                    .refs
                    .iter()
                    .map(|r| Rec {
                        name: r.full(),
                        target: target.clone(),
                        reference: Some(r.clone()),
                    })
                    .collect();
                if named.is_empty() {
                    vec![Rec {
                        name: dangling_name(&target),
                        target,
                        reference: None,
                    }]
                } else {
                    named
                }
            })
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// `images.Get(name)`.
    fn get(&self, name: &str) -> Option<Rec> {
        self.records().into_iter().find(|r| r.name == name)
    }

    /// `images.List("target.digest==<d>")`.
    fn with_target(&self, target: &Digest) -> Vec<Rec> {
        self.records()
            .into_iter()
            .filter(|r| &r.target == target)
            .collect()
    }

    /// `images.Delete(name)`. Deleting the last name without a dangling record deletes the
    /// image; `keep` says a dangling record was just created for it.
    fn delete(&mut self, rec: &Rec, keep: bool) {
        let Some(at) = self
            .store
            .images
            .iter()
            .position(|i| i.manifest == rec.target)
        else {
            return;
        };
        match &rec.reference {
            Some(r) => {
                self.store.images[at].refs.retain(|x| x != r);
                if self.store.images[at].refs.is_empty() && !keep {
                    self.store.images.remove(at);
                }
            }
            None => {
                self.store.images.remove(at);
            }
        }
    }

    /// The config digest of the image whose manifest (its ID on this store) is `target`.
    fn config_of(&self, target: &Digest) -> Option<&Digest> {
        self.store
            .images
            .iter()
            .find(|i| &i.manifest == target)
            .map(|i| &i.config)
    }

    /// The first container (oldest; upstream walks a map) using the image `target`, whose
    /// process exists (`Some(true)`: running or paused, upstream's `IsRunning`) or not
    /// (`Some(false)`: stopped or created), or either (`None`).
    fn container_using(&self, target: &Digest, runs: Option<bool>) -> Option<&Digest> {
        let config = self.config_of(target)?;
        self.store
            .containers
            .iter()
            .find(|c| &c.image == config && runs.is_none_or(|r| c.state.runs() == r))
            .map(|c| &c.id)
    }

    /// The first container using the image `target` as the by-name path of `ImageDelete`
    /// asks (`using`): created from it, or, from 28.0 on, mounting it
    /// (`moby/moby@v28.5.2:daemon/containerd/image_delete.go#L146-L170`; R-DK-17: the by-ID
    /// conflicts, `checkImageDeleteConflict` L503-L530, still look at `c.ImageID` only).
    /// Stores of older versions have no image mounts.
    fn container_using_by_name(&self, target: &Digest) -> Option<&Digest> {
        let config = self.config_of(target)?;
        self.store
            .containers
            .iter()
            .find(|c| &c.image == config || c.mounts.contains(config))
            .map(|c| &c.id)
    }

    /// `Children` (`image_children.go#L29-L32`): images whose classic-builder parent label
    /// names `target`.
    fn has_children(&self, target: &Digest) -> bool {
        self.store
            .images
            .iter()
            .find(|i| &i.manifest == target)
            .is_some_and(|image| self.store.children(&image.config).next().is_some())
    }

    /// `parents` (`image_children.go#L34-L63`): the parent chain by label, each resolved by
    /// ID to its first record. Any link that does not resolve fails the whole lookup, and
    /// `deleteAll` then prunes nothing (it only logs, `image_delete.go#L226-L232`).
    fn parents(&self, target: &Digest) -> Vec<Rec> {
        let mut chain = Vec::new();
        let mut current = self.store.images.iter().find(|i| &i.manifest == target);
        while let Some(parent) = current.and_then(|i| i.parent.as_ref()) {
            let Some(image) = self.store.image(parent) else {
                return Vec::new();
            };
            if chain.len() > self.store.images.len() {
                break; // a cycle, possible only in a hand-built store
            }
            match self.with_target(&image.manifest).into_iter().next() {
                Some(first) => chain.push(first),
                None => return Vec::new(),
            }
            current = Some(image);
        }
        chain
    }
}

/// `danglingImageName` (`soft_delete.go#L70-L72`).
fn dangling_name(target: &Digest) -> String {
    format!("{DANGLING_PREFIX}{}", target.prefixed())
}

/// A name as `ParseNormalizedNamed` gives it: repository, tag, digest.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Named {
    repo: Repository,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Named {
    fn of(reference: &Reference) -> Named {
        match reference {
            Reference::Tagged { repo, tag } => Named {
                repo: repo.clone(),
                tag: Some(tag.to_string()),
                digest: None,
            },
            Reference::Digested { repo, digest } => Named {
                repo: repo.clone(),
                tag: None,
                digest: Some(digest.clone()),
            },
        }
    }

    /// `TagNameOnly(named).String()`: the record name a lookup by this name asks for.
    fn record_name(&self) -> String {
        let tag = grammar::tag_name_only(self.tag.clone(), self.digest.as_ref());
        let mut s = self.repo.full();
        if let Some(tag) = tag {
            s.push(':');
            s.push_str(&tag);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.prefixed());
        }
        s
    }

    /// `ErrImageDoesNotExist{named}`.
    fn not_found(&self) -> Failure {
        docker::no_such_named(&self.repo, self.tag.clone(), self.digest.as_ref())
    }
}

/// `truncatedID` (`image.go#L29`): `^(sha256:)?([a-f0-9]{4,64})$`. R-DK-4: an ID-like name
/// needs at least 4 hex characters; `abc` is only ever a name.
fn is_truncated_id(name: &str) -> bool {
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    (4..=64).contains(&hex.len()) && crate::digest::is_hex(hex)
}

/// What `resolveAllReferences` found: the record the name matched, if any, and every record
/// with that target (or, for a digest, with the digest as target).
struct Resolved {
    image: Option<Rec>,
    all: Vec<Rec>,
}

/// `resolveAllReferences` (`image.go#L425-L548`).
///
/// - Parse errors are HTTP 400 (R-DC-1 holds here too, with the 26.1 grammar).
/// - R-DK-6: a full ID (64 hex, `sha256:` or not) is every record with that target.
/// - R-DK-5: an ID-like short name is looked up as the name `docker.io/library/<it>:latest`
///   **or** as a target prefix, in one query; matches with different targets are
///   `ambiguous reference` (HTTP 404, `errdefs.NotFound`), even when one of them is the name
///   (R-DK-5, D15: DC, CRI and libimage let the tag win).
/// - R-DK-7: any other name is looked up as the record `TagNameOnly(name)`; if absent and the
///   name carries a digest, every record whose target is that digest (any repository:
///   [`image_delete`] narrows it). Not found: `No such image: <familiar>:latest`.
fn resolve(w: &Work, name: &str) -> Result<Resolved, Failure> {
    let parsed = match grammar::parse_any_in(w.dialect, name) {
        // A valid sha384/sha512 digest: as a bare digest it is no name (`invalid name
        // reference`, L484-L487); as a name's digest it matches no target.
        Err(GrammarError::ForeignDigest { name: n, .. }) if n.is_empty() => {
            return Err(docker::failure(
                ErrorKind::InvalidReference,
                "invalid name reference",
                400,
            ))
        }
        Err(GrammarError::ForeignDigest { .. }) => {
            return Err(docker::no_such_foreign(w.dialect, name))
        }
        Err(e) => return Err(docker::invalid(&e)),
        Ok(parsed) => parsed,
    };
    let (image, target) = match parsed {
        AnyReference::Digest(d) => (None, d),
        AnyReference::Named { repo, tag, digest } => {
            let named = Named { repo, tag, digest };
            let record_name = named.record_name();
            if is_truncated_id(name) {
                // L448-L481: by name or by target prefix, all in one list.
                let hex = name.strip_prefix("sha256:").unwrap_or(name);
                let found: Vec<Rec> = w
                    .records()
                    .into_iter()
                    .filter(|r| r.name == record_name || r.target.hex().starts_with(hex))
                    .collect();
                let Some(first) = found.first() else {
                    return Err(named.not_found());
                };
                if found.iter().any(|r| r.target != first.target) {
                    return Err(docker::failure(
                        ErrorKind::Ambiguous,
                        "ambiguous reference",
                        404,
                    ));
                }
                let image = found.iter().find(|r| r.name == record_name).cloned();
                if image.is_none() || found.len() > 1 {
                    return Ok(Resolved { image, all: found });
                }
                let target = first.target.clone();
                (image, target)
            } else {
                match (w.get(&record_name), named.digest.clone()) {
                    (Some(rec), _) => {
                        let target = rec.target.clone();
                        (Some(rec), target)
                    }
                    (None, Some(d)) => (None, d),
                    (None, None) => return Err(named.not_found()),
                }
            }
        }
    };
    let all = w.with_target(&target);
    if all.is_empty() {
        return Err(match grammar::parse_any_in(w.dialect, name) {
            Ok(AnyReference::Named { repo, tag, digest }) => {
                Named { repo, tag, digest }.not_found()
            }
            _ => docker::no_such_image(&target.prefixed()),
        });
    }
    Ok(Resolved { image, all })
}

/// `ImageDelete` (`image_delete.go#L58-L189`).
///
/// When the name matched no record itself (an ID, a short ID, or `repo@digest` with no record
/// of that exact name), L77-L116:
/// - a by-name digest (`repo@sha256:…`) keeps only the records that are "the same reference"
///   ([`same_references`]: for a digest, every name of that repository); none: `No such
///   image: <repo>@sha256:…` (R-DK-9a); some but not all: those are untagged, nothing else
///   (R-DK-9);
/// - if the same-reference group is every name, "referenced in multiple repositories" is no
///   conflict;
/// - then [`delete_all`].
///
/// When the name matched a record, L117-L186:
/// - a name that is an ID prefix of the image, or an explicit `moby-dangling@` name, goes
///   straight to [`delete_all`] with every soft conflict;
/// - R-DK-10: otherwise the same-reference group of that record is untagged if it is not
///   every name, **before** any container is considered; if it is every name: a container
///   using the image (running or stopped) is a conflict without force (`conflict: unable to
///   delete <familiar name> (must be forced) - container <cid12> is using its referenced
///   image <id12>`, HTTP 409), and with force a soft delete: that one record goes, a
///   `moby-dangling@` record keeps the image if it was the last, and the only record is
///   `Untagged: <name>` (for a running container too);
/// - no container: [`delete_all`].
fn image_delete(
    w: &mut Work,
    name: &str,
    platforms: &[Platform],
    o: Options,
    records: &mut Vec<Record>,
) -> Result<(), Failure> {
    let soft = !o.force;
    let Resolved { image, all } = resolve(w, name)?;
    let Some(image) = image else {
        let id = all[0].target.clone();
        let named = if docker::is_image_id_prefix(&id, name) {
            None
        } else {
            grammar::parse_normalized_in(w.dialect, name)
                .ok()
                .map(|(repo, tag, digest)| Named { repo, tag, digest })
        };
        let same = same_references(named.clone(), &all);
        if let (true, Some(named)) = (same.is_empty(), &named) {
            return Err(named.not_found());
        }
        if !platforms.is_empty() {
            return delete_platforms(w, None, &id, &all, platforms, records);
        }
        let mask = Mask {
            running: true,
            stopped: soft,
            active_reference: soft && same.len() != all.len(),
        };
        if named.is_some() && !same.is_empty() && same.len() != all.len() {
            untag_all(w, &same, records);
            return Ok(());
        }
        return delete_all(w, &id, &all, mask, o.prune, records);
    };
    let id = image.target.clone();
    if !platforms.is_empty() {
        return delete_platforms(w, Some(&image), &id, &all, platforms, records);
    }
    let explicit_dangling = name.starts_with(DANGLING_PREFIX) && image.is_dangling();
    if docker::is_image_id_prefix(&id, name) || explicit_dangling {
        let mask = Mask {
            running: true,
            stopped: soft,
            active_reference: soft,
        };
        return delete_all(w, &id, &all, mask, o.prune, records);
    }
    let named = image.reference.as_ref().map(Named::of);
    let same = same_references(named, &all);
    if same.len() != all.len() {
        untag_all(w, &same, records);
        return Ok(());
    }
    let mask = Mask {
        running: true,
        stopped: soft,
        active_reference: soft && all.len() <= 1,
    };
    if let Some(container) = w.container_using_by_name(&id) {
        if !o.force {
            return Err(Conflict::InUse {
                container,
                image: &id,
            }
            .failure(&image.familiar()));
        }
        // softImageDelete (soft_delete.go#L17-L45) of the matched record only.
        w.delete(&image, all.len() == 1);
        records.push(Record::Untagged(image.familiar()));
        return Ok(());
    }
    delete_all(w, &id, &all, mask, o.prune, records)
}

/// `deleteImagePlatforms` (`moby/moby@v28.5.2:daemon/containerd/image_delete.go#L212-L269`),
/// R-DK-16: each platform in turn, the image's best present manifest for it
/// (`getBestPresentImageManifest`, strict match) loses its content (manifest, config,
/// layer blobs), reported as `Deleted: <manifest digest>`; the image records stay, and
/// nothing is untagged. A platform the image does not provide fails the call with
/// `failed to delete platform <p> for image <id>: image with reference <name> was found but
/// does not provide any platform` (HTTP 404; `errPlatformNotFound`, `image.go#L27-L41`, with
/// the familiar name of the resolved record, `imageFamiliarName` L218-L227); a platform
/// asked for after its content went finds no manifest to read (`NotFound: content digest
/// <manifest>: not found`, 404). A failure discards the records of the platforms before it,
/// but not their deletions: a partial deletion.
///
/// The image records stay; the image keeps no platform with content
/// ([`Image::platforms`](crate::Image::platforms) empty), which is how [`listing`] then shows
/// it.
fn delete_platforms(
    w: &mut Work,
    image: Option<&Rec>,
    id: &Digest,
    all: &[Rec],
    platforms: &[Platform],
    records: &mut Vec<Record>,
) -> Result<(), Failure> {
    let shown = image
        .or(all.first())
        .map_or_else(|| id.prefixed(), Rec::familiar_name);
    let mut deleted = Vec::new();
    for p in platforms {
        let Some(image) = w.store.images.iter_mut().find(|i| &i.manifest == id) else {
            break;
        };
        let fail = |why: String| {
            docker::failure(
                ErrorKind::NotFound,
                format!(
                    "failed to delete platform {p} for image {}: {why}",
                    id.prefixed()
                ),
                404,
            )
        };
        if !image.index.is_empty() {
            // A multi-platform image: its target is the index, which this never deletes.
            // `walkImageManifests` walks the index's present children only
            // (`image_manifest.go#L28-L50`, `handlers.go#L12-L45`), so a platform whose
            // manifest was never fetched or is already deleted is one the image "does not
            // provide", as is one the index does not list. The best present match goes:
            // its manifest, config and layer blobs, reported by the manifest digest
            // (`deleteImagePlatformByImageID`, L225-L269).
            let present = &image.platforms;
            let Some(entry) = image
                .index
                .iter()
                .find(|e| present.contains(&e.platform) && p.matches(&e.platform))
            else {
                return Err(fail(format!(
                    "image with reference {shown} was found but does not provide any platform"
                )));
            };
            let (gone, manifest) = (entry.platform.clone(), entry.manifest.clone());
            image.platforms.retain(|own| own != &gone);
            deleted.push(docker::deleted(&manifest));
            continue;
        }
        if image.platforms.is_empty() {
            return Err(fail(format!(
                "NotFound: content digest {}: not found",
                id.prefixed()
            )));
        }
        if !image.platforms.iter().any(|own| p.matches(own)) {
            return Err(fail(format!(
                "image with reference {shown} was found but does not provide any platform"
            )));
        }
        // A single-platform image's target is the platform manifest itself: its content
        // goes, and with it every platform the image had.
        image.platforms.clear();
        deleted.push(docker::deleted(id));
    }
    records.extend(deleted);
    Ok(())
}

/// Untags a same-reference group (`image_delete.go#L101-L116`, L132-L146): each record
/// deleted, each reported by its familiar name.
fn untag_all(w: &mut Work, same: &[Rec], records: &mut Vec<Record>) {
    for rec in same {
        w.delete(rec, false);
        records.push(Record::Untagged(rec.familiar()));
    }
}

/// `getSameReferences` (`image_delete.go#L271-L336`): the records that are "the same
/// reference" as `named`, or, with no name (an ID), as the first named record. Records of
/// another repository never are; the dangling record always is. For a tag, the records with
/// that tag are; a digest record of the repository joins at the end only if no other tag of
/// the repository exists. For a digest name, every record of the repository is.
fn same_references(named: Option<Named>, all: &[Rec]) -> Vec<Rec> {
    let all_tags = named
        .as_ref()
        .is_some_and(|n| n.tag.is_none() && n.digest.is_some());
    let mut tag = named.as_ref().and_then(|n| n.tag.clone());
    let mut named = named;
    let mut same = Vec::new();
    let mut digest_refs = Some(Vec::new());
    for rec in all {
        if let Some(reference) = &rec.reference {
            let this = Named::of(reference);
            match &named {
                None => {
                    tag = this.tag.clone();
                    named = Some(this);
                }
                Some(n) if n.repo != this.repo => continue,
                Some(_) if all_tags => {}
                Some(_) => match this.tag {
                    Some(t) if tag.is_none() => tag = Some(t),
                    Some(t) if tag.as_ref() != Some(&t) => {
                        digest_refs = None;
                        continue;
                    }
                    Some(_) => {}
                    None => {
                        if let Some(d) = &mut digest_refs {
                            d.push(rec.clone());
                        }
                        continue;
                    }
                },
            }
        }
        same.push(rec.clone());
    }
    same.extend(digest_refs.unwrap_or_default());
    same
}

/// Which conflicts a caller asks about (`conflictType`, `image_delete.go#L338-L346`); there
/// is no "dependent children" conflict on this store (R-DK-12).
#[derive(Clone, Copy)]
struct Mask {
    running: bool,
    stopped: bool,
    active_reference: bool,
}

/// `checkImageDeleteConflict` (`image_delete.go#L434-L473`), in this store's order: running
/// container (hard), stopped container (soft), more than one record for the target (soft:
/// "referenced in multiple repositories"). R-DK-14: the order differs from the classic
/// store's, where names come before stopped containers.
fn check_conflict<'a>(
    w: &'a Work,
    id: &'a Digest,
    all: &[Rec],
    mask: Mask,
) -> Option<Conflict<'a>> {
    if mask.running {
        if let Some(c) = w.container_using(id, Some(true)) {
            return Some(Conflict::Running(c));
        }
    }
    if mask.stopped {
        if let Some(c) = w.container_using(id, Some(false)) {
            return Some(Conflict::Stopped(c));
        }
    }
    if mask.active_reference && all.len() > 1 {
        return Some(Conflict::MultipleReferences);
    }
    None
}

/// `deleteAll` (`image_delete.go#L191-L257`) with `imageDeleteHelper` (L348-L403).
///
/// - R-DK-11: every record of the image is deleted, in list order, each after the same
///   conflict check ([`check_conflict`]; a conflict fails the call); a named one is reported
///   `Untagged: <familiar>`; then `Deleted: sha256:<target>` and nothing per layer
///   (containerd collects content and snapshots itself).
/// - R-DK-13: deleting the only name of an image with children, with "multiple references"
///   still a conflict (no force), first creates a `moby-dangling@` record: the image stays,
///   though the answer says `Deleted:`.
/// - Pruning (with `prune`): the label-parent chain, computed before the delete; each parent
///   whose first record is dangling is deleted (`Deleted: sha256:<parent>`), stopping at the
///   first that is not dangling or conflicts. Its conflict check asks about running and
///   stopped containers on the parent and, because it is handed the child's record list,
///   about the *child* having had more than one name. Other children of the parent do not
///   stop it.
fn delete_all(
    w: &mut Work,
    id: &Digest,
    all: &[Rec],
    mask: Mask,
    prune: bool,
    records: &mut Vec<Record>,
) -> Result<(), Failure> {
    let parents = if prune { w.parents(id) } else { Vec::new() };
    for rec in all {
        if let Some(c) = check_conflict(w, id, all, mask) {
            return Err(c.failure(docker::truncate_id(id)));
        }
        let keep =
            !rec.is_dangling() && all.len() == 1 && mask.active_reference && w.has_children(id);
        w.delete(rec, keep);
        if !rec.is_dangling() {
            records.push(Record::Untagged(rec.familiar()));
        }
    }
    records.push(docker::deleted(id));
    let soft = Mask {
        running: true,
        stopped: true,
        active_reference: true,
    };
    for parent in parents {
        if !parent.is_dangling() || check_conflict(w, &parent.target, all, soft).is_some() {
            break;
        }
        w.delete(&parent, false);
        records.push(docker::deleted(&parent.target));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::docker::testing::*;
    use crate::outcome::{ConflictReason, Status};
    use crate::store::ContainerState;
    use rstest::rstest;

    fn run(store: &Store, names: &[&str], force: bool, prune: bool) -> Outcome {
        remove(
            Profile::DockerContainerd,
            store,
            &request(names, force, prune),
        )
    }

    fn one(store: &Store, name: &str) -> Outcome {
        run(store, &[name], false, true)
    }

    /// A's ID on this store: its manifest digest.
    fn id_a() -> Digest {
        manifest_of(A)
    }

    /// `A` with these names, `B` built on it (label parent) with these.
    fn family(a_refs: &[&str], b_refs: &[&str]) -> Store {
        Store {
            images: vec![
                image(A, &[BASE, LA], None, a_refs),
                image(B, &[BASE, LA, LB], Some(A), b_refs),
            ],
            containers: vec![],
            manifest_lists: Vec::new(),
            pods: Vec::new(),
        }
    }

    /// R-DK-1: by ID means the manifest digest; records say `Deleted: sha256:<manifest>` and
    /// nothing per layer; the config digest is no ID.
    #[rstest]
    #[case(id_a().hex().to_owned(), true)]
    #[case(id_a().prefixed(), true)]
    #[case(id_a().hex()[..4].to_owned(), true)]
    #[case(d(A).prefixed(), false)]
    fn r_dk_1_ids_are_manifest_digests(#[case] name: String, #[case] found: bool) {
        let out = one(&single("docker.io/library/busybox:latest"), &name);
        if found {
            assert_eq!(
                symbolic(&out.records),
                ["Untagged: busybox:latest", "Deleted: sha256:M"]
            );
            assert!(out.after.images.is_empty());
        } else {
            assert_eq!(out.errors[0].message, format!("No such image: {name}"));
        }
    }

    /// R-DK-4: fewer than 4 hex characters is a name only.
    #[rstest]
    #[case("afff", true)]
    #[case("aff", false)]
    #[case("sha256:afff", true)]
    #[case("sha256:aff", false)]
    fn r_dk_4_min_prefix(#[case] name: &str, #[case] found: bool) {
        let out = one(&single("docker.io/library/busybox:latest"), name);
        assert_eq!(out.is_ok(), found, "{out:?}");
        if !found {
            let want = if name.starts_with("sha256:") {
                name.to_owned()
            } else {
                format!("{name}:latest")
            };
            assert_eq!(out.errors[0].message, format!("No such image: {want}"));
        }
    }

    /// R-DK-5: a short ID matching two targets, or a tag and another image's ID prefix, is
    /// `ambiguous reference`, HTTP 404.
    #[rstest]
    #[case("abcd", &["docker.io/library/x:1"], &["docker.io/library/y:1"])]
    #[case("bfff", &["docker.io/library/bfff:latest"], &["docker.io/library/y:1"])]
    fn r_dk_5_ambiguous(#[case] name: &str, #[case] a: &[&str], #[case] b: &[&str]) {
        // Manifests `abcd…f` and `abcdef…f` share `abcd`; B's manifest starts `bfff`.
        let s = Store {
            images: vec![
                image("abcd", &[BASE], None, a),
                image(if name == "abcd" { "abcde" } else { B }, &[BASE], None, b),
            ],
            containers: vec![],
            manifest_lists: Vec::new(),
            pods: Vec::new(),
        };
        let out = one(&s, name);
        assert_eq!(out.errors[0].message, "ambiguous reference");
        assert_eq!(out.errors[0].kind, ErrorKind::Ambiguous);
        assert_eq!(out.status, Status::Http(404));
        assert_eq!(
            run(&s, &[name, "nosuch"], true, true).status,
            Status::Exit(0),
            "the CLI counts it as not found"
        );
    }

    /// R-DK-5: a short ID that is also a tag of the same image is no ambiguity.
    #[test]
    fn r_dk_5_tag_and_prefix_of_the_same_image() {
        let s = single_refs(&["docker.io/library/afff:latest", "docker.io/library/x:1"]);
        let out = one(&s, "afff");
        // Named and an ID prefix of what it names: a by-ID delete of an image with two names.
        assert_eq!(
            out.errors[0].kind,
            ErrorKind::Conflict {
                reason: ConflictReason::MultipleReferences,
                forceable: true
            }
        );
    }

    /// R-DK-7/9/9a: a digest name reaches every tag of its repository with that target.
    #[rstest]
    #[case(&["docker.io/library/busybox:1", "docker.io/library/busybox:2", "localhost/app:1"], "busybox@sha256:M", Ok(&["Untagged: busybox:1", "Untagged: busybox:2"][..]))]
    // the exact digest record exists: it is matched, and its group is the whole repository
    #[case(&["docker.io/library/busybox:1", "docker.io/library/busybox@sha256:MANIFEST", "localhost/app:1"], "busybox@sha256:M", Ok(&["Untagged: busybox:1", "Untagged: busybox@sha256:M"][..]))]
    #[case(&["docker.io/library/busybox:1", "docker.io/library/busybox:2"], "busybox@sha256:M", Ok(&["Untagged: busybox:1", "Untagged: busybox:2", "Deleted: sha256:M"][..]))]
    #[case(&["localhost/app:1"], "busybox@sha256:M", Err("No such image: busybox@sha256:M"))]
    #[case(&["docker.io/library/busybox:1"], "busybox@sha256:MB", Err("No such image: busybox@sha256:MB"))]
    fn r_dk_9_digest_names(
        #[case] refs: &[&str],
        #[case] name: &str,
        #[case] want: Result<&[&str], &str>,
    ) {
        let m = manifest_of(A).prefixed();
        let name = name
            .replace("sha256:MB", &manifest_of(B).prefixed())
            .replace("sha256:M", &m);
        let out = one(&single_refs(refs), &name);
        match want {
            Ok(records) => assert_eq!(symbolic(&out.records), records),
            Err(message) => assert_eq!(symbolic_text(&out.errors[0].message), message),
        }
    }

    fn symbolic_text(s: &str) -> String {
        s.replace(&manifest_of(B).prefixed(), "sha256:MB")
            .replace(&manifest_of(A).prefixed(), "sha256:M")
    }

    /// R-DK-10: by tag: the same-reference group is untagged before containers count; when it
    /// is every name, a container is a conflict without force and a soft delete with it.
    #[rstest]
    // one of two tags: untag, container or not
    #[case(&["docker.io/library/busybox:1", "docker.io/library/busybox:2"], Some(ContainerState::Running), false, Ok(&["Untagged: busybox:1"][..]), true)]
    // only tag, stopped container: conflict naming the tag
    #[case(&["docker.io/library/busybox:1"], Some(ContainerState::Stopped), false, Err("conflict: unable to delete busybox:1 (must be forced) - container C1 is using its referenced image M12"), true)]
    // the same, forced: untag only, image kept dangling
    #[case(&["docker.io/library/busybox:1"], Some(ContainerState::Running), true, Ok(&["Untagged: busybox:1"][..]), true)]
    // tag + digest of one repository is one group; forced soft delete takes only the tag
    #[case(&["docker.io/library/busybox:1", "docker.io/library/busybox@sha256:MANIFEST"], Some(ContainerState::Stopped), true, Ok(&["Untagged: busybox:1"][..]), true)]
    // no container: everything goes
    #[case(&["docker.io/library/busybox:1", "docker.io/library/busybox@sha256:MANIFEST"], None, false, Ok(&["Untagged: busybox:1", "Untagged: busybox@sha256:M", "Deleted: sha256:M"][..]), false)]
    fn r_dk_10_by_tag(
        #[case] refs: &[&str],
        #[case] state: Option<ContainerState>,
        #[case] force: bool,
        #[case] want: Result<&[&str], &str>,
        #[case] stays: bool,
    ) {
        let mut s = single_refs(refs);
        if let Some(state) = state {
            s.containers.push(container("c1", A, state));
        }
        let out = run(&s, &["busybox:1"], force, true);
        match want {
            Ok(records) => assert_eq!(symbolic(&out.records), records),
            Err(message) => {
                let message = message
                    .replace("C1", &hx("c1")[..12])
                    .replace("M12", &id_a().hex()[..12]);
                assert_eq!(out.errors[0].message, message);
                assert_eq!(out.errors[0].kind, docker::classify(409, &message));
                assert_eq!(out.after, s);
            }
        }
        assert_eq!(out.after.images.len() == 1, stays);
        assert_eq!(out.after.containers, s.containers);
    }

    /// R-DK-10 (force, the last name): the image is kept with no names and lists as such.
    #[test]
    fn r_dk_3_soft_delete_keeps_a_dangling_image() {
        let mut s = single("docker.io/library/busybox:1");
        s.containers
            .push(container("c1", A, ContainerState::Stopped));
        let out = run(&s, &["busybox:1"], true, true);
        assert_eq!(
            listing(&out.after).images,
            vec![ListedImage {
                id: id_a(),
                names: vec![]
            }]
        );
        // …and it can then be deleted by its dangling name, or by ID with force.
        let again = run(&out.after, &[&dangling_name(&id_a())], true, true);
        assert_eq!(symbolic(&again.records), ["Deleted: sha256:M"]);
    }

    /// R-DK-12/14: conflicts by ID, in this store's order, and no child conflict.
    #[rstest]
    #[case(&["docker.io/library/a:1", "docker.io/library/b:1"], Some(ContainerState::Stopped), false, Some("(must be forced) - image is being used by stopped container C1"))]
    #[case(&["docker.io/library/a:1", "docker.io/library/b:1"], None, false, Some("(must be forced) - image is referenced in multiple repositories"))]
    #[case(&["docker.io/library/a:1", "docker.io/library/a@sha256:MANIFEST"], None, false, None)]
    #[case(&["docker.io/library/a:1"], Some(ContainerState::Running), true, Some("(cannot be forced) - image is being used by running container C1"))]
    #[case(&["docker.io/library/a:1", "docker.io/library/b:1"], Some(ContainerState::Stopped), true, None)]
    fn r_dk_12_by_id(
        #[case] refs: &[&str],
        #[case] state: Option<ContainerState>,
        #[case] force: bool,
        #[case] conflict: Option<&str>,
    ) {
        let mut s = single_refs(refs);
        if let Some(state) = state {
            s.containers.push(container("c1", A, state));
        }
        let out = run(&s, &[&id_a().hex()[..12]], force, true);
        match conflict {
            Some(tail) => {
                let message = format!(
                    "conflict: unable to delete {} {}",
                    &id_a().hex()[..12],
                    tail.replace("C1", &hx("c1")[..12])
                );
                assert_eq!(out.errors[0].message, message);
                assert_eq!(out.after, s);
            }
            None => {
                assert!(out.is_ok(), "{out:?}");
                assert!(out.after.images.is_empty());
                assert_eq!(
                    out.after.containers, s.containers,
                    "containers are never removed"
                );
            }
        }
    }

    /// R-DK-12: a parent with children is deleted by ID: no child conflict. Unlike by tag
    /// (R-DK-13) no dangling record keeps it, force or not: the "multiple references" bit
    /// that guards that step is cleared when the names are one group (L98-L100).
    #[rstest]
    #[case(false, &["Untagged: a:1", "Deleted: sha256:M"][..], 1)]
    #[case(true, &["Untagged: a:1", "Deleted: sha256:M"][..], 1)]
    fn r_dk_12_13_parent_by_id(#[case] force: bool, #[case] want: &[&str], #[case] left: usize) {
        let s = family(&["docker.io/library/a:1"], &["docker.io/library/b:1"]);
        let out = run(&s, &[&id_a().hex()[..6]], force, true);
        assert_eq!(symbolic(&out.records), want);
        assert_eq!(out.after.images.len(), left);
    }

    /// R-DK-13 by tag: the last name of a parent goes, a dangling record keeps it, and the
    /// answer still says `Deleted:`.
    #[test]
    fn r_dk_13_parent_by_tag() {
        let s = family(&["docker.io/library/a:1"], &["docker.io/library/b:1"]);
        let out = one(&s, "a:1");
        assert_eq!(
            symbolic(&out.records),
            ["Untagged: a:1", "Deleted: sha256:M"]
        );
        assert_eq!(out.after.images[0].refs, vec![]);
        assert_eq!(out.after.images.len(), 2);
    }

    /// R-DK-11: parent pruning by label: a dangling parent goes after its child, unless
    /// `noprune`, a container, or the child had more than one name.
    #[rstest]
    #[case(&["docker.io/library/b:1"], true, None, &["Untagged: b:1", "Deleted: sha256:MB", "Deleted: sha256:M"][..])]
    #[case(&["docker.io/library/b:1"], false, None, &["Untagged: b:1", "Deleted: sha256:MB"][..])]
    #[case(&["docker.io/library/b:1"], true, Some(ContainerState::Stopped), &["Untagged: b:1", "Deleted: sha256:MB"][..])]
    #[case(&["docker.io/library/b:1", "docker.io/library/b@sha256:MANIFEST"], true, None, &["Untagged: b:1", "Untagged: b@sha256:MB", "Deleted: sha256:MB"][..])]
    fn r_dk_11_parent_pruning(
        #[case] b_refs: &[&str],
        #[case] prune: bool,
        #[case] on_parent: Option<ContainerState>,
        #[case] want: &[&str],
    ) {
        let mut s = family(&[], b_refs);
        if let Some(state) = on_parent {
            s.containers.push(container("c1", A, state));
        }
        let out = run(&s, &["b:1"], false, prune);
        assert_eq!(symbolic(&out.records), want);
    }

    /// A dangling parent is pruned even when another child still names it.
    #[test]
    fn r_dk_11_other_children_do_not_stop_pruning() {
        let mut s = family(&[], &["docker.io/library/b:1"]);
        s.images.push(image(
            "c",
            &[BASE, LA, "0c"],
            Some(A),
            &["docker.io/library/c:1"],
        ));
        let out = one(&s, "b:1");
        assert_eq!(
            symbolic(&out.records),
            ["Untagged: b:1", "Deleted: sha256:MB", "Deleted: sha256:M"]
        );
        assert!(out.after.image(&d(A)).is_none());
    }

    /// R-DK-8: the dangling name is accepted.
    #[test]
    fn r_dk_8_dangling_name() {
        let s = family(&[], &["docker.io/library/b:1"]);
        let out = one(&s, &dangling_name(&id_a()));
        assert_eq!(symbolic(&out.records), ["Deleted: sha256:M"]);
        // An image with names has no dangling record.
        let named = single("docker.io/library/busybox:1");
        assert_eq!(
            one(&named, &dangling_name(&id_a())).errors[0].kind,
            ErrorKind::NotFound
        );
    }

    /// 26.1's grammar: `Foo/bar` is a registry name, so it is not found rather than invalid.
    #[rstest]
    #[case("Foo/bar", "No such image: Foo/bar:latest")]
    #[case(
        "Busybox",
        "invalid reference format: repository name (library/Busybox) must be lowercase"
    )]
    #[case(&format!("sha512:{}", "e".repeat(128)), "invalid name reference")]
    fn grammar_of_26(#[case] name: &str, #[case] message: &str) {
        assert_eq!(
            one(&single("docker.io/library/busybox:1"), name).errors[0].message,
            message
        );
    }

    #[test]
    fn listing_computes_one_repo_digest() {
        let s = single_refs(&[
            "docker.io/library/busybox:1",
            "localhost/app:1",
            "localhost/app:2",
        ]);
        let m = id_a().prefixed();
        assert_eq!(
            listing(&s).images[0].names,
            vec![
                "docker.io/library/busybox:1".to_owned(),
                "localhost/app:1".to_owned(),
                "localhost/app:2".to_owned(),
                format!("localhost/app@{m}"),
            ]
        );
        let with_digest = single_refs(&[
            "docker.io/library/busybox:1",
            "docker.io/library/busybox@sha256:MANIFEST",
        ]);
        assert_eq!(
            listing(&with_digest).images[0].names,
            vec![
                "docker.io/library/busybox:1".to_owned(),
                format!("docker.io/library/busybox@{m}")
            ]
        );
    }

    mod laws {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// A failed call changes nothing; a successful one reports each name it removed
            /// (the `moby-dangling@` record is never reported).
            #[test]
            fn records_match_the_store_diff(s in arbitrary_store(), name in arbitrary_name(), force: bool, prune: bool) {
                let out = run(&s, &[&name], force, prune);
                if !out.is_ok() {
                    prop_assert_eq!(&out.after, &s);
                }
                let untagged = out.records.iter().filter(|r| matches!(r, Record::Untagged(_))).count();
                let names = |s: &Store| s.images.iter().map(|i| i.refs.len()).sum::<usize>();
                prop_assert_eq!(untagged, names(&s) - names(&out.after));
                for image in &s.images {
                    if out.after.image(&image.config).is_none() {
                        prop_assert!(out.records.contains(&Record::Deleted(image.manifest.prefixed())));
                    }
                }
                prop_assert_eq!(&out.after.containers, &s.containers);
            }

            /// A running container's image is never deleted (though it can lose every name).
            #[test]
            fn running_images_stay(s in arbitrary_store(), name in arbitrary_name(), force: bool) {
                let out = run(&s, &[&name], force, true);
                for c in s.containers.iter().filter(|c| c.state.runs()) {
                    prop_assert!(out.after.image(&c.image).is_some());
                }
            }

            /// Force never does less.
            #[test]
            fn force_never_does_less(s in arbitrary_store(), name in arbitrary_name()) {
                let plain = run(&s, &[&name], false, true);
                let forced = run(&s, &[&name], true, true);
                if plain.is_ok() {
                    prop_assert!(forced.is_ok());
                    let names = |s: &Store| s.images.iter().map(|i| i.refs.len()).sum::<usize>();
                    prop_assert!(names(&forced.after) <= names(&plain.after));
                }
            }
        }
    }

    /// R-DK-15, R-DK-16, R-DK-18 on 28.5; 26.1 never reads the option (R-D-P).
    #[test]
    fn platforms_need_force_then_delete_content_partially() {
        let store = Store {
            images: vec![image(A, &[BASE, LA], None, &["docker.io/library/a:1"])],
            containers: vec![],
            manifest_lists: Vec::new(),
            pods: Vec::new(),
        };
        let mut req = request(&["a:1"], true, true);
        req.platforms = vec![
            "linux/amd64".parse().unwrap(),
            "linux/arm64".parse().unwrap(),
        ];
        let out = remove(Profile::DockerContainerd28, &store, &req);
        assert!(out.records.is_empty(), "{out:?}");
        assert_eq!(out.status, Status::Http(404));
        assert_eq!(
            out.errors[0].message,
            format!(
                "failed to delete platform linux/arm64 for image {0}: NotFound: content digest {0}: not found",
                id_a().prefixed()
            )
        );
        assert_eq!(out.after.images[0].refs, store.images[0].refs);
        assert!(out.after.images[0].platforms.is_empty());
        let listed = listing(&out.after);
        assert!(
            listed.images[0].names.contains(&id_a().prefixed()),
            "{listed:?}"
        );

        req.platforms.truncate(1);
        let one = remove(Profile::DockerContainerd28, &store, &req);
        assert_eq!(one.records, vec![Record::Deleted(id_a().prefixed())]);

        req.platforms = vec!["linux/arm64".parse().unwrap()];
        let other = remove(Profile::DockerContainerd28, &store, &req);
        assert!(other.errors[0]
            .message
            .ends_with("image with reference a:1 was found but does not provide any platform"));
        assert_eq!(other.after, store);

        req.force = false;
        let refused = remove(Profile::DockerContainerd28, &store, &req);
        assert_eq!(refused.errors[0].kind, ErrorKind::InvalidArgument);
        assert_eq!(refused.errors[0].message, docker::PLATFORMS_NEED_FORCE);
        let old = remove(Profile::DockerContainerd, &store, &req);
        assert!(old.is_ok(), "{old:?}");
        assert!(old.after.images.is_empty());
    }

    /// R-DK-16 on a multi-platform image (28.5): the target is the index, which stays; each
    /// platform's present manifest goes in turn, reported by its digest; an absent platform
    /// (in the index or not) is one the image does not provide, after the earlier ones went.
    #[test]
    fn an_index_loses_its_platforms_content_one_by_one() {
        let (amd64, arm64): (Platform, Platform) = (
            "linux/amd64".parse().unwrap(),
            "linux/arm64".parse().unwrap(),
        );
        let mut a = image(A, &[BASE, LA], None, &["docker.io/library/a:1"]);
        let (m_amd64, m_arm64) = (d("aaa1"), d("aaa2"));
        a.index = vec![
            crate::PlatformManifest {
                platform: amd64.clone(),
                manifest: m_amd64.clone(),
            },
            crate::PlatformManifest {
                platform: arm64.clone(),
                manifest: m_arm64.clone(),
            },
        ];
        a.platforms = vec![amd64.clone(), arm64.clone()];
        let store = Store {
            images: vec![a],
            containers: vec![],
            manifest_lists: Vec::new(),
            pods: Vec::new(),
        };
        let mut req = request(&["a:1"], true, true);
        req.platforms = vec![arm64.clone(), amd64.clone()];
        let both = remove(Profile::DockerContainerd28, &store, &req);
        assert_eq!(
            both.records,
            vec![
                Record::Deleted(m_arm64.prefixed()),
                Record::Deleted(m_amd64.prefixed())
            ]
        );
        assert!(both.after.images[0].platforms.is_empty());
        assert_eq!(both.after.images[0].refs, store.images[0].refs);
        assert!(listing(&both.after).images[0]
            .names
            .contains(&id_a().prefixed()));

        req.platforms = vec![amd64.clone()];
        let one = remove(Profile::DockerContainerd28, &store, &req);
        assert_eq!(one.records, vec![Record::Deleted(m_amd64.prefixed())]);
        assert_eq!(one.after.images[0].platforms, vec![arm64.clone()]);
        // arm64's content is left: the listing still has a best manifest.
        assert!(!listing(&one.after).images[0]
            .names
            .contains(&id_a().prefixed()));

        // Again on what is left: amd64 is gone, the index stays.
        let again = remove(Profile::DockerContainerd28, &one.after, &req);
        assert!(again.errors[0]
            .message
            .ends_with("image with reference a:1 was found but does not provide any platform"));
        assert_eq!(again.after, one.after);

        req.platforms = vec![amd64, "linux/s390x".parse().unwrap()];
        let partial = remove(Profile::DockerContainerd28, &store, &req);
        assert!(partial.records.is_empty());
        assert_eq!(partial.status, Status::Http(404));
        assert_eq!(partial.after, one.after, "the amd64 deletion stays");
    }

    /// R-DK-17: an image mount is use by name (409), not by ID.
    #[test]
    fn an_image_mount_is_use_by_name_only() {
        let mut store = Store {
            images: vec![
                image(A, &[BASE, LA], None, &["docker.io/library/a:1"]),
                image(B, &[BASE, LB], None, &["docker.io/library/b:1"]),
            ],
            containers: vec![container("c1", A, ContainerState::Running)],
            manifest_lists: Vec::new(),
            pods: Vec::new(),
        };
        store.containers[0].mounts.push(d(B));
        let by_name = remove(
            Profile::DockerContainerd28,
            &store,
            &request(&["b:1"], false, true),
        );
        assert_eq!(by_name.status, Status::Http(409), "{by_name:?}");
        let by_id = remove(
            Profile::DockerContainerd28,
            &store,
            &request(&[manifest_of(B).short(12)], false, true),
        );
        assert!(by_id.is_ok(), "{by_id:?}");
        assert_eq!(by_id.after.images.len(), 1);
    }
}
