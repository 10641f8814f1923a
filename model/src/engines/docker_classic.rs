//! Docker Engine 20.10.24 with the classic (graphdriver) image store: `ImageService.ImageDelete`
//! in `moby@v20.10.24:daemon/images/image_delete.go`, resolving names with `GetImage`
//! (`daemon/images/image.go`), the tag/digest store (`reference/store.go`) and the image store
//! (`image/store.go`, layers released through `layer/layer_store.go`).
//!
//! The same code runs in Docker 26.1.5 when the containerd image store is off: `git diff
//! v20.10.24 v26.1.5 -- daemon/images/image_delete.go` is type renames, context plumbing and
//! the removal of the OS-support check. What does differ is the vendored reference grammar
//! (see [`crate::reference::grammar`]: IPv6 hosts, `Foo/bar` as a registry, the uppercase
//! error text), which this module takes per profile ([`dialect`]).
//!
//! # 28.5.2 ([`Profile::DockerClassic28`])
//!
//! R-DC-25: Docker 28.5.2's classic store runs the same removal code (`git diff v26.1.5
//! v28.5.2 -- daemon/images/image_delete.go`: the `platforms` option, image mounts counted as
//! use by name, renames; neither option is in the request model yet), and parses names with
//! distribution/reference v0.6.0 (`moby/moby@v28.5.2:vendor.mod`), the containerd store's
//! grammar: the uppercase error names the repository (`invalid reference format: repository
//! name (library/Busybox) must be lowercase`,
//! `@v28.5.2:vendor/github.com/distribution/reference/normalize.go#L68-L70`), a bracketed IPv6
//! host or an uppercase first component is a domain, and the 255-character limit applies to
//! the path alone ([`Dialect::Reference0_6`]). Everything else is 20.10's.
//!
//! Image IDs are config digests. The store keeps three things apart: the image store (configs
//! with their parent link and top layer), the reference store (tags and digest references,
//! each pointing at an image ID), and the layer store (chain IDs with reference counts).
//! [`Store`] holds the first two directly; the layer store is derived from the images' layer
//! lists and the containers (see `released_layers`).

use super::docker::{self, Call, Conflict, Options};
use crate::digest::{find_prefix, Digest, PrefixMatch};
use crate::outcome::{ConflictReason, ErrorKind, Failure, Outcome, Record};
use crate::platform::Platform;
use crate::reference::grammar::{self, AnyReference, Dialect, GrammarError};
use crate::reference::{Reference, Repository};
use crate::request::Request;
use crate::store::{Image, ListedImage, Listing, Store};
use crate::Profile;

/// The reference grammar `profile` vendors: docker/distribution v2.8.1 in moby v20.10.24
/// (`moby/moby@v20.10.24:vendor.conf`), distribution/reference v0.6.0 in v28.5.2 (R-DC-25).
pub fn dialect(profile: Profile) -> Dialect {
    match profile {
        Profile::DockerClassic28 => Dialect::Reference0_6,
        _ => Dialect::Distribution2_8,
    }
}

/// What `docker rmi` does on `profile` (classic store): one API call per name
/// ([`docker::drive`]).
pub fn remove(profile: Profile, store: &Store, request: &Request) -> Outcome {
    debug_assert_eq!(profile.engine(), crate::Engine::DockerClassic);
    docker::drive(store, request, |s, name, o| delete(profile, s, name, o))
}

/// One `DELETE /images/{name}` call.
///
/// R-DC-26 (28.2+, `moby/moby@v28.5.2:daemon/images/image_delete.go#L70-L83`): the
/// `platforms` option ([`docker::platforms_read`]) takes at most one platform (more is
/// `multiple platforms are not supported`, HTTP 400, before the name is looked up), and that
/// one only narrows the lookup ([`check_platform`]): the delete itself is the plain one.
pub fn delete(profile: Profile, store: Store, name: &str, options: Options) -> Call {
    let mut work = store;
    let mut records = Vec::new();
    let platforms = docker::platforms_read(profile, options);
    if platforms.len() > 1 {
        return Call::failed(docker::multiple_platforms(), work);
    }
    let platform = platforms.first();
    match image_delete(
        dialect(profile),
        &mut work,
        name,
        platform,
        options,
        &mut records,
    ) {
        Ok(()) => Call::ok(records, work),
        Err(failure) => Call::failed(failure, work),
    }
}

/// A pull by tag stores the tag and, beside it, the digest reference `repo@<manifest>`
/// (`addDigestReference`, `moby/moby@v20.10.24:distribution/pull.go#L190-L206`, called for a
/// tagged pull in `distribution/pull_v2.go`; the same at v28.5.2). The image record itself
/// keeps nothing of the pull that removal reads.
pub fn pulled_names(tag: &Reference, manifest: &Digest) -> Vec<Reference> {
    vec![tag.clone(), tag.with_digest(manifest)]
}

/// What `GET /images/json?all=1` and `GET /containers/json?all=1` show: every image, dangling
/// and intermediate ones included (`all` lists `imageStore.Map()`, not `Heads()`:
/// `daemon/images/images.go#L62-L68`), ID = config digest, names = its tags (`RepoTags`) and
/// stored digest references (`RepoDigests`, `images.go#L146-L169`), fully qualified and
/// sorted; no digest reference is invented for an image that has none.
pub fn listing(store: &Store) -> Listing {
    Listing {
        images: store
            .images
            .iter()
            .map(|image| {
                let mut names: Vec<String> = image.refs.iter().map(Reference::full).collect();
                names.sort();
                names.dedup();
                ListedImage {
                    id: image.config.clone(),
                    names,
                }
            })
            .collect(),
        containers: store.container_states(),
    }
}

/// `ImageDelete` (`image_delete.go#L62-L186`).
///
/// R-DC-9: the name is "an ID" when it is a prefix of the resolved image's ID
/// ([`docker::is_image_id_prefix`]), whatever way it was resolved; otherwise it is a
/// reference, and that reference is removed first (R-DC-10…14). By ID, the image's names are
/// removed only when they are a single reference (R-DC-15); otherwise the delete itself
/// decides (R-DC-16/17).
fn image_delete(
    dialect: Dialect,
    s: &mut Store,
    name: &str,
    platform: Option<&Platform>,
    o: Options,
    records: &mut Vec<Record>,
) -> Result<(), Failure> {
    let id = get_image(dialect, s, name)?;
    if let Some(p) = platform {
        check_platform(dialect, s, &id, name, p)?;
    }
    let mut removed_repository_ref = false;
    if !docker::is_image_id_prefix(&id, name) {
        untag_reference(dialect, s, &id, name, o, records)?;
        if !refs_of(s, &id).is_empty() {
            // R-DC-13 (L146-L149): other names remain: the untag was the whole delete.
            return Ok(());
        }
        removed_repository_ref = true;
    } else {
        let refs = refs_of(s, &id);
        if is_single_reference(&refs) {
            // R-DC-15 (L153-L176): hard conflicts, and without force a stopped container;
            // the names themselves are no conflict here.
            let mask = Mask {
                active_reference: false,
                stopped: !o.force,
                ..Mask::HARD
            };
            if let Some(c) = check_conflict(s, &id, mask) {
                return Err(c.failure(docker::truncate_id(&id)));
            }
            for r in &refs {
                untag(s, r);
                records.push(docker::untagged(r));
            }
        }
    }
    delete_helper(s, &id, o.force, o.prune, removed_repository_ref, records)
}

/// `GetImage` (`image.go#L151-L219`).
///
/// - R-DC-1: `ParseAnyReference`; a parse error is HTTP 400 with the grammar's text.
/// - R-DC-2: 64 hex or `sha256:<64 hex>` is an image ID, looked up in the image store only.
/// - R-DC-3: otherwise the normalized name is looked up in the reference store first (tag,
///   `latest` by default; with a digest, the digest reference only: `reference/store.go`
///   `Get`, L226-L259): **tags win over ID prefixes**.
/// - R-DC-4/5: then the typed string is searched as an ID prefix ([`search`]), with no
///   minimum length; an ambiguous prefix is swallowed into not-found.
/// - R-DC-6: not found is `No such image: <FamiliarString(TagNameOnly(ref))>`, so a short
///   hex that finds nothing reads `No such image: abc:latest`.
fn get_image(dialect: Dialect, s: &Store, name: &str) -> Result<Digest, Failure> {
    match grammar::parse_any_in(dialect, name) {
        Err(GrammarError::ForeignDigest { .. }) => Err(docker::no_such_foreign(dialect, name)),
        Err(e) => Err(docker::invalid(&e)),
        Ok(AnyReference::Digest(d)) => match s.image(&d) {
            Some(image) => Ok(image.config.clone()),
            None => Err(docker::no_such_image(&d.prefixed())),
        },
        Ok(AnyReference::Named { repo, tag, digest }) => {
            let wanted = stored_form(&repo, tag.as_deref(), digest.as_ref());
            if let Some(image) = s.images.iter().find(|i| i.refs.contains(&wanted)) {
                return Ok(image.config.clone());
            }
            match search(s, name) {
                PrefixMatch::One(d) => Ok(d.clone()),
                PrefixMatch::None | PrefixMatch::Many => {
                    Err(docker::no_such_named(&repo, tag, digest.as_ref()))
                }
            }
        }
    }
}

/// R-DC-27: `GetImage` with a platform (`moby/moby@v28.5.2:daemon/images/image.go#L161-L199`):
/// an image whose config names another platform is not found, `image with reference <name>
/// was found but its platform (<its platform>) does not match the specified platform
/// (<wanted>)`, HTTP 404. `<name>` is the familiar form of the name when it parses as a
/// canonical name (`reference.ParseNamed`), else the name as typed (an ID). The manifest-list
/// fallback (`manifestMatchesPlatform`) needs a distribution manifest list of a pulled image,
/// which no store here has.
fn check_platform(
    dialect: Dialect,
    s: &Store,
    id: &Digest,
    name: &str,
    wanted: &Platform,
) -> Result<(), Failure> {
    let Some(own) = s.image(id).and_then(|i| i.platforms.first()) else {
        return Ok(());
    };
    if wanted.matches(own) {
        return Ok(());
    }
    let shown = match grammar::parse_normalized_in(dialect, name) {
        Ok((repo, tag, digest)) => {
            let full = docker::full_string(&repo, tag.as_deref(), digest.as_ref());
            if full == name {
                docker::familiar_string(&repo, tag.as_deref(), digest.as_ref())
            } else {
                name.to_owned()
            }
        }
        Err(_) => name.to_owned(),
    };
    Err(docker::failure(
        ErrorKind::NotFound,
        format!(
            "image with reference {shown} was found but its platform ({own}) does not match the specified platform ({wanted})"
        ),
        404,
    ))
}

/// The reference the reference store keys a parsed name by: the digest when there is one
/// (`favorDigest`, `reference/store.go#L109-L127`), else the tag, `latest` by default.
fn stored_form(repo: &Repository, tag: Option<&str>, digest: Option<&Digest>) -> Reference {
    match digest {
        Some(d) => Reference::Digested {
            repo: repo.clone(),
            digest: d.clone(),
        },
        None => Reference::Tagged {
            repo: repo.clone(),
            tag: tag.unwrap_or(grammar::DEFAULT_TAG).into(),
        },
    }
}

/// `imageStore.Search` → `digestset.Lookup` (`image/store.go#L191-L200`,
/// `vendor/github.com/docker/distribution/digestset/set.go`): if go-digest calls the string
/// malformed (no `:`), the whole string is a hex prefix; otherwise (a `sha256:abc` is only
/// "too short") the part after `:` is, and the algorithm must match. No minimum length.
fn search<'a>(s: &'a Store, term: &'a str) -> PrefixMatch<'a> {
    let (algorithm, hex) = match grammar::parse_digest(term) {
        Err(GrammarError::DigestFormat) => (None, term),
        _ => term
            .split_once(':')
            .map_or((None, term), |(a, h)| (Some(a), h)),
    };
    if algorithm.is_some_and(|a| a != "sha256") {
        return PrefixMatch::None;
    }
    find_prefix(s.images.iter().map(|i| &i.config), hex)
}

/// The by-reference branch of `ImageDelete` (`image_delete.go#L82-L151`).
///
/// - R-DC-10: without force, when the image's names are a single reference
///   ([`is_single_reference`]) and any container (running or stopped) uses it:
///   `conflict: unable to remove repository reference "<name as typed>" (must force) -
///   container <cid12> is using its referenced image <id12>`, HTTP 409.
/// - R-DC-11: the reference is removed (`removeImageRef`: `TagNameOnly`, then the store
///   deletes the digest reference if the name has one) and reported as
///   `Untagged: <FamiliarString>` of the name as parsed, tag and digest both if both given.
/// - R-DC-12: if a tag went and no tag of that repository is left, the repository's digest
///   references go too, each reported.
fn untag_reference(
    dialect: Dialect,
    s: &mut Store,
    id: &Digest,
    name: &str,
    o: Options,
    records: &mut Vec<Record>,
) -> Result<(), Failure> {
    if !o.force && is_single_reference(&refs_of(s, id)) {
        // R-DC-28 (28.0+, `@v28.5.2:daemon/images/image_delete.go#L87-L120`): a container
        // that mounts the image (`HostConfig.Mounts` type `image`) uses it here, and only
        // here: the by-ID conflicts (`checkImageDeleteConflict`) look at `c.ImageID` alone.
        // Stores of older versions have no image mounts.
        if let Some(c) = s
            .containers
            .iter()
            .find(|c| &c.image == id || c.mounts.contains(id))
        {
            return Err(docker::failure(
                ErrorKind::Conflict { reason: ConflictReason::ContainerInUse, forceable: true },
                format!(
                    "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                    docker::truncate_id(&c.id),
                    docker::truncate_id(id)
                ),
                409,
            ));
        }
    }
    // The name parsed as a name in `GetImage` (an ID-shaped one is always an ID prefix of
    // what it found), so this parse cannot fail; upstream returns its error unwrapped (500).
    let (repo, tag, digest) = grammar::parse_normalized_in(dialect, name)
        .map_err(|e| docker::failure(ErrorKind::Other, e.to_string(), 500))?;
    let tag = grammar::tag_name_only(tag, digest.as_ref());
    let stored = stored_form(&repo, tag.as_deref(), digest.as_ref());
    if !untag(s, &stored) {
        // `reference.ErrDoesNotExist`: unreachable when the name resolved through the
        // reference store, and a name resolved as an ID prefix takes the other branch.
        return Err(docker::failure(
            ErrorKind::NotFound,
            "reference does not exist",
            404,
        ));
    }
    records.push(Record::Untagged(docker::familiar_string(
        &repo,
        tag.as_deref(),
        digest.as_ref(),
    )));
    if digest.is_none() {
        let refs = refs_of(s, id);
        if !refs.iter().any(|r| r.is_tag() && r.repo() == &repo) {
            for r in refs.iter().filter(|r| !r.is_tag() && r.repo() == &repo) {
                untag(s, r);
                records.push(docker::untagged(r));
            }
        }
    }
    Ok(())
}

/// `imageDeleteHelper` (`image_delete.go#L299-L350`).
///
/// - Conflicts ([`check_conflict`]): hard ones always, soft ones unless `force`.
///   R-DC-14: when `quiet` (the caller untagged the last name, or this is a parent being
///   pruned), a conflict ends the delete silently unless the image is dangling and unused,
///   a case no conflict can arise in: the call succeeds with what it has.
/// - R-DC-19: every remaining name is untagged (`Untagged:`, lexical order), the image is
///   deleted (`Deleted: sha256:<config>`), then each layer whose last reference went
///   (`Deleted: sha256:<chain ID>`, top first: [`released_layers`]).
/// - R-DC-20: with `prune`, the parent goes the same way, not forced and quiet.
///
/// Force never removes a container (R-DC-18): with force, an image used only by stopped
/// containers is deleted and they keep pointing at its ID.
///
/// A parent link to an image the store does not hold (possible only in a hand-built store:
/// the child would have blocked the parent's delete) is treated as no parent; upstream would
/// fail the call with `unrecognized image ID`.
fn delete_helper(
    s: &mut Store,
    id: &Digest,
    force: bool,
    prune: bool,
    quiet: bool,
    records: &mut Vec<Record>,
) -> Result<(), Failure> {
    let mask = Mask {
        active_reference: !force,
        stopped: !force,
        ..Mask::HARD
    };
    if let Some(c) = check_conflict(s, id, mask) {
        if quiet && (!is_dangling(s, id) || c.used()) {
            return Ok(());
        }
        return Err(c.failure(docker::truncate_id(id)));
    }
    let Some(at) = s.images.iter().position(|i| &i.config == id) else {
        return Ok(());
    };
    let parent = s.images[at].parent.clone().filter(|p| s.image(p).is_some());
    for r in refs_of(s, id) {
        untag(s, &r);
        records.push(docker::untagged(&r));
    }
    let gone = s.images.remove(at);
    records.push(docker::deleted(&gone.config));
    records.extend(released_layers(s, &gone).iter().map(docker::deleted));
    match parent {
        Some(parent) if prune => delete_helper(s, &parent, false, true, true, records),
        _ => Ok(()),
    }
}

/// The layers `imageStore.Delete` → `layerStore.Release` frees (`image/store.go#L224-L256`,
/// `layer/layer_store.go` `releaseLayer`): the image's top layer loses a reference; a layer
/// whose count drops to 0 is deleted and its parent loses one in turn, so the walk goes top
/// down and stops at the first layer something else still holds. A layer is held by every
/// image whose chain contains it (an image holds its top layer; a layer holds its parent) and
/// by a container's read-write layer, which holds the top layer of the container's image.
///
/// R-DC-29 (28.0+): an image mount holds the mounted image's top layer the same way, through
/// a read-write layer of its own (`CreateLayerFromImage`,
/// `moby/moby@v28.5.2:daemon/images/service.go#L142-L160`): deleting a mounted image by ID
/// deletes the image and releases none of its layers (observed on 28.5.2).
///
/// R-DC-30: a container whose image was already deleted (forced, R-DC-18) still holds that
/// image's chain through its read-write layer ([`Container::layers`](crate::Container),
/// `CreateRWLayer`, `moby/moby@v28.5.2:layer/layer_store.go#L466-L500`), so a later delete
/// of another image stops releasing at the first layer of that chain (`releaseLayer`,
/// L413-L448). Found by the fuzzer on 28.5.2 (seed 2, case 163: a stopped container's image
/// force-deleted, then an image sharing its base deleted: the base stays).
fn released_layers(after: &Store, gone: &Image) -> Vec<Digest> {
    if after
        .containers
        .iter()
        .any(|c| c.image == gone.config || c.mounts.contains(&gone.config))
    {
        return Vec::new();
    }
    let held = |l: &Digest| {
        after.images.iter().any(|i| i.layers.contains(l))
            || after.containers.iter().any(|c| c.layers.contains(l))
    };
    gone.layers
        .iter()
        .rev()
        .take_while(|l| !held(l))
        .cloned()
        .collect()
}

/// Which conflicts a caller asks about (`conflictType` bits, `image_delete.go#L22-L30`).
#[derive(Clone, Copy)]
struct Mask {
    children: bool,
    running: bool,
    active_reference: bool,
    stopped: bool,
}

impl Mask {
    /// `conflictHard`: dependent children and running containers.
    const HARD: Mask = Mask {
        children: true,
        running: true,
        active_reference: false,
        stopped: false,
    };
}

/// `checkImageDeleteConflict` (`image_delete.go#L358-L406`), in upstream's order: dependent
/// child images (hard), a running container (hard), any name left (soft: "referenced in
/// multiple repositories", even for two tags of one repository), a stopped container (soft).
///
/// "A container" is the first one found; upstream walks a map, so with several containers
/// which one is named is not determined there; the model names the oldest.
fn check_conflict<'a>(s: &'a Store, id: &Digest, mask: Mask) -> Option<Conflict<'a>> {
    // Upstream splits containers by `IsRunning`: a paused one is running, a created one
    // stopped ([`ContainerState::runs`]).
    let using = |runs: bool| {
        s.containers
            .iter()
            .find(move |c| &c.image == id && c.state.runs() == runs)
    };
    if mask.children && s.children(id).next().is_some() {
        return Some(Conflict::Children);
    }
    if mask.running {
        if let Some(c) = using(true) {
            return Some(Conflict::Running(&c.id));
        }
    }
    if mask.active_reference && s.image(id).is_some_and(|i| !i.refs.is_empty()) {
        return Some(Conflict::MultipleReferences);
    }
    if mask.stopped {
        if let Some(c) = using(false) {
            return Some(Conflict::Stopped(&c.id));
        }
    }
    None
}

/// `isSingleReference` (`image_delete.go#L188-L211`): at most one tag, and every digest
/// reference in one repository, that of the tag (or of the first reference when there is no
/// tag). False for no names.
fn is_single_reference(refs: &[Reference]) -> bool {
    if refs.len() <= 1 {
        return refs.len() == 1;
    }
    let mut tags = refs.iter().filter(|r| r.is_tag());
    let single = match (tags.next(), tags.next()) {
        (_, Some(_)) => return false,
        (Some(tag), None) => tag,
        (None, None) => &refs[0],
    };
    let mut digest_repos: Vec<&Repository> = refs
        .iter()
        .filter(|r| !r.is_tag())
        .map(Reference::repo)
        .collect();
    digest_repos.sort();
    digest_repos.dedup();
    digest_repos == [single.repo()]
}

/// `imageIsDangling` (`image_delete.go#L411-L413`): no names and no children.
fn is_dangling(s: &Store, id: &Digest) -> bool {
    s.image(id).is_none_or(|i| i.refs.is_empty()) && s.children(id).next().is_none()
}

/// `referenceStore.References`: an image's names, sorted by their full string
/// (`lexicalRefs`, `reference/store.go#L55-L61`).
fn refs_of(s: &Store, id: &Digest) -> Vec<Reference> {
    let mut refs = s.image(id).map(|i| i.refs.clone()).unwrap_or_default();
    refs.sort_by_key(Reference::full);
    refs
}

/// `referenceStore.Delete`: removes the name from whichever image holds it.
fn untag(s: &mut Store, r: &Reference) -> bool {
    let mut found = false;
    for image in &mut s.images {
        let before = image.refs.len();
        image.refs.retain(|x| x != r);
        found |= image.refs.len() != before;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::docker::testing::*;
    use crate::outcome::Status;
    use crate::store::ContainerState;
    use rstest::rstest;

    /// `A` (tags from `refs`) with layers base+a, `B` built on `A` (layers base+a+b), and the
    /// containers given.
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

    fn run(store: &Store, names: &[&str], force: bool, prune: bool) -> Outcome {
        remove(Profile::DockerClassic, store, &request(names, force, prune))
    }

    fn one(store: &Store, name: &str) -> Outcome {
        run(store, &[name], false, true)
    }

    /// R-DC-1: names the grammar refuses are 400, with the grammar's (20.10) text.
    #[rstest]
    #[case(
        "Busybox",
        "invalid reference format: repository name must be lowercase"
    )]
    #[case("busybox:", "invalid reference format")]
    #[case("a//b", "invalid reference format")]
    #[case("[::1]:5000/app", "invalid reference format")]
    #[case(&hx("e"), &format!("invalid repository name ({}), cannot specify 64-byte hexadecimal strings", hx("e")))]
    fn r_dc_1_invalid_names_are_400(#[case] name: &str, #[case] message: &str) {
        // A 64-hex name is an ID to `ParseAnyReference`, never a bad name: only the pure
        // `ParseNormalizedNamed` refuses it. The last case checks exactly that.
        let out = one(&single("docker.io/library/busybox:latest"), name);
        if name.len() == 64 {
            assert_eq!(
                out.errors[0].message,
                format!("No such image: sha256:{name}")
            );
            return;
        }
        assert_eq!(out.errors[0].message, message);
        assert_eq!(out.errors[0].kind, ErrorKind::InvalidReference);
        assert_eq!(out.status, Status::Http(400));
    }

    /// R-DC-2: a full ID (bare or `sha256:`) is looked up in the image store only; the
    /// manifest digest is no ID on the classic store.
    #[rstest]
    #[case(hx("a"), true)]
    #[case(format!("sha256:{}", hx("a")), true)]
    #[case(format!("sha256:{}", manifest_of(A).hex()), false)]
    fn r_dc_2_full_ids(#[case] name: String, #[case] found: bool) {
        let out = one(&single("docker.io/library/busybox:latest"), &name);
        if found {
            assert_eq!(
                symbolic(&out.records),
                [
                    "Untagged: busybox:latest",
                    "Deleted: A",
                    "Deleted: LA",
                    "Deleted: BASE"
                ]
            );
        } else {
            assert_eq!(out.errors[0].message, format!("No such image: {name}"));
            assert_eq!(out.status, Status::Http(404));
        }
    }

    /// R-DC-3: a tag wins over an ID prefix it also is.
    #[test]
    fn r_dc_3_tags_win_over_id_prefixes() {
        // The tag `bbbb` names A; B's ID starts with `bbbb`.
        let s = Store {
            images: vec![
                image(
                    A,
                    &[BASE, LA],
                    None,
                    &["docker.io/library/bbbb:latest", "docker.io/library/x:1"],
                ),
                image(B, &[BASE, LB], None, &["docker.io/library/y:1"]),
            ],
            containers: vec![],
            manifest_lists: Vec::new(),
            pods: Vec::new(),
        };
        let out = one(&s, "bbbb");
        assert_eq!(out.records, vec![Record::Untagged("bbbb:latest".into())]);
        assert!(out.after.image(&d(B)).is_some());
    }

    /// R-DC-4: any unique prefix, one character or `sha256:` plus a few, is an ID.
    #[rstest]
    #[case("b")]
    #[case("b0")]
    #[case("sha256:b")]
    fn r_dc_4_short_prefixes(#[case] name: &str) {
        let out = one(&family(&["docker.io/library/a:1"], &[]), name);
        assert!(out.is_ok(), "{out:?}");
        assert!(out.after.image(&d(B)).is_none());
    }

    /// R-DC-5: an ambiguous prefix is "No such image", never "ambiguous".
    #[test]
    fn r_dc_5_ambiguous_prefix_is_not_found() {
        let s = Store {
            images: vec![
                image("ab", &[BASE], None, &["docker.io/library/x:1"]),
                image("ac", &[BASE], None, &["docker.io/library/y:1"]),
            ],
            containers: vec![],
            manifest_lists: Vec::new(),
            pods: Vec::new(),
        };
        let out = one(&s, "a");
        assert_eq!(out.errors[0].message, "No such image: a:latest");
        assert_eq!(out.errors[0].kind, ErrorKind::NotFound);
        assert_eq!(out.status, Status::Http(404));
        assert_eq!(out.after, s);
    }

    /// R-DC-6: not-found texts are the familiar name with `latest` added to a bare name.
    #[rstest]
    #[case("nosuch", "No such image: nosuch:latest")]
    #[case("nosuch:2", "No such image: nosuch:2")]
    #[case("docker.io/library/nosuch", "No such image: nosuch:latest")]
    #[case("localhost:5000/app", "No such image: localhost:5000/app:latest")]
    #[case("sha256:abc", "No such image: sha256:abc")]
    #[case("fff", "No such image: fff:latest")]
    #[case(&format!("busybox@sha256:{}", hx("e")), &format!("No such image: busybox@sha256:{}", hx("e")))]
    #[case(&format!("busybox@sha512:{}", "e".repeat(128)), &format!("No such image: busybox@sha512:{}", "e".repeat(128)))]
    fn r_dc_6_not_found_texts(#[case] name: &str, #[case] message: &str) {
        let out = one(&single("docker.io/library/busybox:latest"), name);
        assert_eq!(out.errors[0].message, message);
        assert_eq!(out.errors[0].status, Status::Http(404));
    }

    /// R-DC-7: a blank name is refused by the router.
    #[test]
    fn r_dc_7_blank() {
        let out = one(&single("docker.io/library/busybox:latest"), " ");
        assert_eq!(
            (out.errors[0].message.as_str(), out.status),
            (docker::BLANK_NAME, Status::Http(400))
        );
    }

    /// R-DC-8: `name:tag@digest` is the digest reference; the record spells both.
    #[test]
    fn r_dc_8_tag_and_digest_means_the_digest() {
        let m = manifest_of(A);
        let s = single_refs(&[
            "docker.io/library/busybox:1",
            &format!("docker.io/library/busybox@{}", m.prefixed()),
        ]);
        let out = one(&s, &format!("busybox:1@{}", m.prefixed()));
        assert_eq!(
            out.records,
            vec![Record::Untagged(format!("busybox:1@{}", m.prefixed()))]
        );
        assert_eq!(
            out.after.images[0].refs,
            vec![reference("docker.io/library/busybox:1")]
        );
    }

    /// R-DC-9: a tag that is a prefix of its own image's ID makes the call a by-ID delete:
    /// `sha` is a prefix of every `sha256:…`.
    #[test]
    fn r_dc_9_a_tag_can_be_an_id() {
        let s = single_refs(&["docker.io/library/sha:latest", "docker.io/library/x:1"]);
        let out = one(&s, "sha");
        assert_eq!(
            out.errors[0].message,
            format!("conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories", &hx("a")[..12])
        );
    }

    /// R-DC-10: by a single reference, any container blocks the untag without force.
    #[rstest]
    #[case(&["docker.io/library/busybox:latest"], ContainerState::Stopped, true)]
    #[case(&["docker.io/library/busybox:latest"], ContainerState::Running, true)]
    #[case(&["docker.io/library/busybox:latest", "docker.io/library/busybox@sha256:MANIFEST"], ContainerState::Stopped, true)]
    #[case(&["docker.io/library/busybox:latest", "docker.io/library/other@sha256:MANIFEST"], ContainerState::Stopped, false)]
    #[case(&["docker.io/library/busybox:latest", "docker.io/library/busybox:2"], ContainerState::Running, false)]
    fn r_dc_10_single_reference_in_use(
        #[case] refs: &[&str],
        #[case] state: ContainerState,
        #[case] blocked: bool,
    ) {
        let mut s = single_refs(refs);
        s.containers.push(container("c1", A, state));
        let out = one(&s, "busybox");
        if blocked {
            assert_eq!(
                out.errors[0].message,
                format!(
                    "conflict: unable to remove repository reference \"busybox\" (must force) - container {} is using its referenced image {}",
                    &hx("c1")[..12],
                    &hx("a")[..12]
                )
            );
            assert_eq!(out.status, Status::Http(409));
            assert_eq!(out.after, s);
        } else {
            assert_eq!(out.records[0], Record::Untagged("busybox:latest".into()));
            assert!(out.after.image(&d(A)).is_some(), "the image stays");
        }
    }

    /// R-DC-11/13: one of two tags: untag only, even with a running container.
    #[test]
    fn r_dc_11_untag_one_of_two() {
        let mut s = single_refs(&["docker.io/library/busybox:1", "localhost/app:2"]);
        s.containers
            .push(container("c1", A, ContainerState::Running));
        let out = one(&s, "localhost/app:2");
        assert_eq!(
            out.records,
            vec![Record::Untagged("localhost/app:2".into())]
        );
        assert_eq!(
            out.after.images[0].refs,
            vec![reference("docker.io/library/busybox:1")]
        );
    }

    /// R-DC-12: the last tag of a repository takes the repository's digest references along,
    /// not other repositories'; removing a digest reference takes nothing along.
    #[rstest]
    #[case("busybox:1", &["Untagged: busybox:1", "Untagged: busybox@sha256:M"], &["docker.io/library/other:1"])]
    #[case("busybox@sha256:M", &["Untagged: busybox@sha256:M"], &["docker.io/library/busybox:1", "docker.io/library/other:1"])]
    #[case("other:1", &["Untagged: other:1"], &["docker.io/library/busybox:1", "docker.io/library/busybox@sha256:MANIFEST"])]
    fn r_dc_12_digest_cleanup(#[case] name: &str, #[case] want: &[&str], #[case] left: &[&str]) {
        let s = single_refs(&[
            "docker.io/library/busybox:1",
            "docker.io/library/busybox@sha256:MANIFEST",
            "docker.io/library/other:1",
        ]);
        let m = manifest_of(A).prefixed();
        let out = one(&s, &name.replace("sha256:M", &m));
        let got: Vec<String> = out.records.iter().map(ToString::to_string).collect();
        let want: Vec<String> = want.iter().map(|w| w.replace("sha256:M", &m)).collect();
        assert_eq!(got, want);
        let mut left: Vec<Reference> = left
            .iter()
            .map(|l| reference(&l.replace("sha256:MANIFEST", &m)))
            .collect();
        left.sort();
        let mut after = out.after.images[0].refs.clone();
        after.sort();
        assert_eq!(after, left);
    }

    /// R-DC-14: `rmi -f` of the only tag with a running container untags, keeps the image
    /// dangling, and succeeds.
    #[test]
    fn r_dc_14_force_untag_under_running_container() {
        let mut s = single("docker.io/library/busybox:latest");
        s.containers
            .push(container("c1", A, ContainerState::Running));
        let out = run(&s, &["busybox"], true, true);
        assert_eq!(out.records, vec![Record::Untagged("busybox:latest".into())]);
        assert_eq!(out.status, Status::Http(200));
        assert_eq!(out.after.images[0].refs, vec![]);
        assert_eq!(out.after.containers, s.containers);
    }

    /// R-DC-15/16/17 and the conflict order of §1.4, by ID.
    #[rstest]
    // single reference, stopped container: soft, forceable
    #[case(&["docker.io/library/busybox:1"], None, Some(ContainerState::Stopped), false, Err("(must be forced) - image is being used by stopped container C1"))]
    #[case(&["docker.io/library/busybox:1"], None, Some(ContainerState::Stopped), true, Ok(&["Untagged: busybox:1", "Deleted: A"][..]))]
    // running container: hard, even with force
    #[case(&["docker.io/library/busybox:1"], None, Some(ContainerState::Running), true, Err("(cannot be forced) - image is being used by running container C1"))]
    // two tags in one repository: "multiple repositories", before a stopped container
    #[case(&["docker.io/library/busybox:1", "docker.io/library/busybox:2"], None, Some(ContainerState::Stopped), false, Err("(must be forced) - image is referenced in multiple repositories"))]
    #[case(&["docker.io/library/busybox:2", "docker.io/library/busybox:1"], None, None, true, Ok(&["Untagged: busybox:1", "Untagged: busybox:2", "Deleted: A", "Deleted: LA", "Deleted: BASE"][..]))]
    // children come first, and force does not help
    #[case(&["docker.io/library/busybox:1"], Some(()), Some(ContainerState::Running), true, Err("(cannot be forced) - image has dependent child images"))]
    // tag and digest reference of one repository are a single reference
    #[case(&["docker.io/library/busybox:1", "docker.io/library/busybox@sha256:MANIFEST"], None, None, false, Ok(&["Untagged: busybox:1", "Untagged: busybox@sha256:M", "Deleted: A", "Deleted: LA", "Deleted: BASE"][..]))]
    fn r_dc_15_to_17_by_id(
        #[case] refs: &[&str],
        #[case] child: Option<()>,
        #[case] state: Option<ContainerState>,
        #[case] force: bool,
        #[case] want: Result<&[&str], &str>,
    ) {
        let mut s = single_refs(refs);
        if child.is_some() {
            s.images.push(image(
                B,
                &[BASE, LA, LB],
                Some(A),
                &["docker.io/library/child:1"],
            ));
        }
        if let Some(state) = state {
            s.containers.push(container("c1", A, state));
        }
        let out = run(&s, &[&hx("a")[..12]], force, true);
        match want {
            Ok(records) => {
                assert_eq!(symbolic(&out.records), records);
                assert!(out.after.image(&d(A)).is_none());
                assert_eq!(
                    out.after.containers, s.containers,
                    "R-DC-18: force never removes containers"
                );
            }
            Err(tail) => {
                let message = format!(
                    "conflict: unable to delete {} {}",
                    &hx("a")[..12],
                    tail.replace("C1", &hx("c1")[..12])
                );
                assert_eq!(out.errors[0].message, message);
                assert_eq!(out.errors[0].kind, docker::classify(409, &message));
                assert_eq!(out.after, s, "a conflict changes nothing");
            }
        }
    }

    /// R-DC-18: force by tag deletes an image used only by stopped containers; they stay.
    #[test]
    fn r_dc_18_force_deletes_under_stopped_container() {
        let mut s = single("docker.io/library/busybox:latest");
        s.containers
            .push(container("c1", A, ContainerState::Stopped));
        let out = run(&s, &["busybox"], true, true);
        // The container's RW layer still holds the image's top layer: no layer is freed.
        assert_eq!(
            symbolic(&out.records),
            ["Untagged: busybox:latest", "Deleted: A"]
        );
        assert!(out.after.images.is_empty());
        assert_eq!(out.after.containers, s.containers);
    }

    /// R-DC-19: layers are released top down and only while nothing else holds them.
    #[rstest]
    // B alone on A's layers: only its own top layer goes
    #[case(family(&["docker.io/library/a:1"], &["docker.io/library/b:1"]), "b:1", &["Untagged: b:1", "Deleted: B", "Deleted: LB"][..])]
    // an unrelated image sharing the base: the base stays
    #[case(Store { images: vec![image(A, &[BASE, LA], None, &["docker.io/library/a:1"]), image(B, &[BASE, LB], None, &["docker.io/library/b:1"])], containers: vec![], manifest_lists: Vec::new(), pods: Vec::new() }, "a:1", &["Untagged: a:1", "Deleted: A", "Deleted: LA"][..])]
    // last image: every layer, top first
    #[case(Store { images: vec![image(A, &[BASE, LA], None, &["docker.io/library/a:1"])], containers: vec![], manifest_lists: Vec::new(), pods: Vec::new() }, "a:1", &["Untagged: a:1", "Deleted: A", "Deleted: LA", "Deleted: BASE"][..])]
    fn r_dc_19_layer_records(#[case] s: Store, #[case] name: &str, #[case] want: &[&str]) {
        assert_eq!(symbolic(&one(&s, name).records), want);
    }

    /// R-DC-20: deleting a child prunes its dangling parent, unless `noprune`, or the parent
    /// has a name, another child, or a container.
    #[rstest]
    #[case(&[], true, None, &["Untagged: b:1", "Deleted: B", "Deleted: LB", "Deleted: A", "Deleted: LA", "Deleted: BASE"][..])]
    #[case(&[], false, None, &["Untagged: b:1", "Deleted: B", "Deleted: LB"][..])]
    #[case(&["docker.io/library/a:1"], true, None, &["Untagged: b:1", "Deleted: B", "Deleted: LB"][..])]
    #[case(&[], true, Some(ContainerState::Stopped), &["Untagged: b:1", "Deleted: B", "Deleted: LB"][..])]
    fn r_dc_20_parent_pruning(
        #[case] a_refs: &[&str],
        #[case] prune: bool,
        #[case] on_parent: Option<ContainerState>,
        #[case] want: &[&str],
    ) {
        let mut s = family(a_refs, &["docker.io/library/b:1"]);
        if let Some(state) = on_parent {
            s.containers.push(container("c1", A, state));
        }
        let out = run(&s, &["b:1"], false, prune);
        assert_eq!(symbolic(&out.records), want);
        assert_eq!(out.status, Status::Http(200));
    }

    #[test]
    fn r_dc_20_parent_with_another_child_stays() {
        let mut s = family(&[], &["docker.io/library/b:1"]);
        s.images.push(image(
            "c",
            &[BASE, LA, "c0"],
            Some(A),
            &["docker.io/library/c:1"],
        ));
        let out = one(&s, "b:1");
        assert_eq!(
            symbolic(&out.records),
            ["Untagged: b:1", "Deleted: B", "Deleted: LB"]
        );
        assert!(out.after.image(&d(A)).is_some());
    }

    /// R-DC-21: a parent by ID with children is a hard conflict even when dangling.
    #[test]
    fn r_dc_21_parent_by_id() {
        let out = run(
            &family(&[], &["docker.io/library/b:1"]),
            &[&hx("a")[..4]],
            true,
            true,
        );
        assert_eq!(
            out.errors[0].kind,
            ErrorKind::Conflict {
                reason: ConflictReason::DependentChildren,
                forceable: false
            }
        );
    }

    /// R-DC-23: several names: one call each, in order, against the store the previous one
    /// left; the same name twice fails the second time.
    #[test]
    fn r_dc_23_names_in_order() {
        let s = single_refs(&["docker.io/library/busybox:1", "docker.io/library/busybox:2"]);
        let out = run(&s, &["busybox:1", "busybox:1", "busybox:2"], false, true);
        assert_eq!(
            symbolic(&out.records),
            [
                "Untagged: busybox:1",
                "Untagged: busybox:2",
                "Deleted: A",
                "Deleted: LA",
                "Deleted: BASE"
            ]
        );
        assert_eq!(out.errors.len(), 1);
        assert_eq!(out.errors[0].message, "No such image: busybox:1");
        assert_eq!(out.status, Status::Exit(1));
        assert_eq!(
            run(&s, &["busybox:1", "busybox:1"], true, true).status,
            Status::Exit(0)
        );
    }

    #[test]
    fn listing_shows_every_image_with_its_stored_names() {
        let m = manifest_of(A).prefixed();
        let mut s = family(
            &[],
            &[
                "localhost/b:1",
                "docker.io/library/b:2",
                &format!("docker.io/library/b@{m}"),
            ],
        );
        s.containers
            .push(container("c1", B, ContainerState::Running));
        let l = listing(&s);
        assert_eq!(
            l.images[0],
            ListedImage {
                id: d(A),
                names: vec![]
            }
        );
        assert_eq!(
            l.images[1].names,
            vec![
                "docker.io/library/b:2".to_owned(),
                format!("docker.io/library/b@{m}"),
                "localhost/b:1".to_owned()
            ]
        );
        assert_eq!(l.containers, vec![(d("c1"), ContainerState::Running)]);
    }

    mod laws {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// A failed call changes nothing; a successful one reports exactly what went.
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
                    let reported = out.records.contains(&Record::Deleted(image.config.prefixed()));
                    prop_assert_eq!(reported, out.after.image(&image.config).is_none());
                }
                prop_assert_eq!(&out.after.containers, &s.containers);
            }

            /// A running or paused container's image is never deleted.
            #[test]
            fn running_images_stay(s in arbitrary_store(), name in arbitrary_name(), force: bool) {
                let out = run(&s, &[&name], force, true);
                for c in s.containers.iter().filter(|c| c.state.runs()) {
                    prop_assert!(out.after.image(&c.image).is_some());
                }
            }

            /// Force never does less: what succeeds without it succeeds with it, deleting at
            /// least the same images.
            #[test]
            fn force_never_does_less(s in arbitrary_store(), name in arbitrary_name()) {
                let plain = run(&s, &[&name], false, true);
                let forced = run(&s, &[&name], true, true);
                if plain.is_ok() {
                    prop_assert!(forced.is_ok());
                    for image in &s.images {
                        if plain.after.image(&image.config).is_none() {
                            prop_assert!(forced.after.image(&image.config).is_none());
                        }
                    }
                }
            }

            /// Untagging one of several tags never deletes an image.
            #[test]
            fn untag_one_of_several_never_deletes(s in arbitrary_store(), force: bool) {
                for image in s.images.iter().filter(|i| i.refs.iter().filter(|r| r.is_tag()).count() >= 2) {
                    let Some(Reference::Tagged { repo, tag }) = image.refs.iter().find(|r| r.is_tag()) else { continue };
                    let out = run(&s, &[&format!("{}:{tag}", repo.full())], force, true);
                    prop_assert_eq!(out.after.images.len(), s.images.len());
                }
            }
        }
    }

    /// R-DC-26, R-DC-27 on 28.5; 20.10 never reads the option (R-D-P).
    #[test]
    fn one_platform_narrows_the_lookup_two_are_refused() {
        let store = family(&["docker.io/library/a:1"], &[]);
        let mut req = request(&["a:1"], false, true);
        req.platforms = vec!["linux/arm64".parse().unwrap()];
        let other = remove(Profile::DockerClassic28, &store, &req);
        assert_eq!(other.status, Status::Http(404));
        assert_eq!(
            other.errors[0].message,
            "image with reference a:1 was found but its platform (linux/amd64) does not match the specified platform (linux/arm64)"
        );
        let by_id = remove(
            Profile::DockerClassic28,
            &store,
            &Request {
                names: vec![hx(A)[..12].to_owned()],
                ..req.clone()
            },
        );
        assert!(by_id.errors[0]
            .message
            .starts_with(&format!("image with reference {} was found", &hx(A)[..12])));
        req.platforms.push("linux/amd64".parse().unwrap());
        let two = remove(Profile::DockerClassic28, &store, &req);
        assert_eq!(two.errors[0].message, docker::MULTIPLE_PLATFORMS);
        assert_eq!(two.errors[0].kind, ErrorKind::InvalidArgument);
        req.platforms = vec!["linux/amd64".parse().unwrap()];
        let own = remove(Profile::DockerClassic28, &store, &req);
        assert_eq!(
            own,
            remove(
                Profile::DockerClassic,
                &store,
                &request(&["a:1"], false, true)
            )
        );
        assert_eq!(
            remove(Profile::DockerClassic, &store, &two_platforms(&req)).status,
            Status::Http(200)
        );
    }

    fn two_platforms(req: &Request) -> Request {
        let mut r = req.clone();
        r.platforms = vec![
            "linux/amd64".parse().unwrap(),
            "linux/arm64".parse().unwrap(),
        ];
        r
    }

    /// R-DC-30: a container still holds the chain of an image a forced delete took, so a later
    /// delete of an image that shares its base keeps the base (live on 28.5.2: the fuzzer's
    /// seed 2, case 163).
    #[test]
    fn a_container_holds_the_layers_of_its_deleted_image() {
        let mut store = Store {
            images: vec![
                image(A, &[BASE, LA], None, &[]),
                image(B, &[BASE, LB], None, &[]),
            ],
            containers: vec![container("c1", B, ContainerState::Stopped)],
            manifest_lists: Vec::new(),
            pods: Vec::new(),
        };
        store.containers[0].layers = vec![d(BASE), d(LB)];
        for profile in [Profile::DockerClassic, Profile::DockerClassic28] {
            let first = remove(profile, &store, &request(&[&d(B).prefixed()], true, true));
            assert_eq!(first.records, vec![Record::Deleted(d(B).prefixed())]);
            let second = remove(
                profile,
                &first.after,
                &request(&[&d(A).prefixed()], false, true),
            );
            assert_eq!(
                second.records,
                vec![
                    Record::Deleted(d(A).prefixed()),
                    Record::Deleted(d(LA).prefixed())
                ],
                "{profile}: the base stays, held by c1"
            );
        }
    }

    /// R-DC-28, R-DC-29: an image mount is use by name only, and holds the image's layer.
    #[test]
    fn an_image_mount_is_use_by_name_and_holds_the_layer() {
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
            Profile::DockerClassic28,
            &store,
            &request(&["b:1"], false, true),
        );
        assert_eq!(by_name.status, Status::Http(409), "{by_name:?}");
        let by_id = remove(
            Profile::DockerClassic28,
            &store,
            &request(&[&hx(B)[..12]], false, true),
        );
        assert_eq!(
            by_id.records,
            vec![
                Record::Untagged("b:1".to_owned()),
                Record::Deleted(d(B).prefixed())
            ]
        );
    }
}
