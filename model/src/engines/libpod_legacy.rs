//! Podman before libimage: 3.0.1 ([`Profile::Libpod301`]: `libpod/image`, containers/storage
//! v1.24.6, containers/image v5.10.2) and libpod 1.9.3 ([`Profile::Libpod19`]: containers/storage
//! v1.18.2, containers/image v5.4.3).
//!
//! Both remove one name at a time through `Runtime.RemoveImage`
//! (`containers/podman@v3.0.1:libpod/runtime_img.go#L32-L107`,
//! `@v1.9.3:libpod/runtime_img.go#L29-L102`), after looking the name up with
//! `getLocalImage`; there is no batching and no grouping of names by image.
//!
//! # The surfaces
//!
//! - **3.0.1: the libpod REST batch endpoint** `DELETE /libpod/images/remove?images=…&force=&all=`
//!   (`containers/podman@v3.0.1:pkg/api/handlers/libpod/images.go#L677-L698`), which runs
//!   beside a live engine. It answers HTTP 200 with `Untagged`, `Deleted`, `Errors` and
//!   `ExitCode` (`pkg/domain/infra/abi/images.go#L526-L650`). It knows no `ignore` and no
//!   `noprune` (parents are always pruned), so those request fields change nothing. The
//!   report's `Deleted` holds an empty string for every name that was only untagged (the CLI
//!   skips those, `cmd/podman/images/rm.go#L60-L66`); the model leaves them out. Pruned
//!   parents are printed by the server process with a bare `fmt.Println`
//!   (`libpod/image/image.go#L622-L654`), so the report never mentions them: they just
//!   disappear from the store.
//! - **1.9.3: the CLI** `podman rmi` (`containers/podman@v1.9.3:cmd/podman/rmi.go#L46-L156`),
//!   since this version is model only. Its records are printed per image, in order
//!   (`Untagged:` lines, then `Deleted:`), and its exit code follows the CLI's own rule
//!   (`ExitState`). Pruned parent IDs appear on stdout as bare lines, which are no
//!   records of ours; they are left out. No `--ignore`, no `--no-prune`.
//!
//! Checked on podman 3.0.1 through the endpoint: `""` in `Deleted` for an untag, no
//! `ignore`, `force` not hiding an unknown name, `all=true` ignoring the names and giving up
//! with its error, no names doing nothing; and through the CLI the messages below, the
//! `sha256:` and `…:latest` quirks, and the pruned parent's ID printed as a bare line.
//!
//! The argument checks (no names without `--all`, names with `--all`) are the CLI's in both
//! (`@v3.0.1:cmd/podman/images/rm.go#L45-L51`, `@v1.9.3:cmd/podman/rmi.go#L60-L66`); the
//! 3.0.1 endpoint itself would do nothing for no names, and ignore the names with `all`.
//!
//! # 3.0.1 and 1.9.3
//!
//! - Lookup order (`get_local_image`): 3.0.1 tries the raw input as ID / exact name / ID
//!   prefix first, then `localhost/`, then docker.io; 1.9.3 first tries docker.io
//!   normalization (through the storage transport, where an ID prefix of at least 3
//!   characters wins over the name), then the raw input, then `localhost/`. 1.9.3's last
//!   resort matches repository suffixes without a `/` boundary and calls every failure "no
//!   such image"; 3.0.1's wants the `/` and reports several matches as its own error.
//! - Containers: 1.9.3 checks (and with force removes) them only when the image has at most
//!   one name; 3.0.1 also when force is given by ID (`remove_image`).
//! - Messages: 3.0.1 appends `: image is being used` (`define.ErrImageInUse`) to its
//!   conflicts; 1.9.3 does not.
//! - Output and exit code: see the surfaces above.
//!
//! # Manifest lists
//!
//! 3.0.1 keeps a manifest list as an image record with its own ID and names, and looks it up
//! like any image: its name or ID finds the list itself (no instance lookup), and removing it
//! untags and deletes it. Parents are pruned whatever lists name them (`Remove` looks only
//! at names and children, `containers/podman@v3.0.1:libpod/image/image.go#L622-L654`).
//! Checked live on 3.0.1 (`scenarios/manifests/`). 1.9.3 is not measured with lists.
//!
//! # Configuration modelled
//!
//! The same as for libimage: no unqualified-search registries, the system's short-name
//! aliases (`podman::resolve_locally`); 3.0.1 reads its
//! `registries.conf` from `REGISTRIES_CONFIG_PATH` (docs/engines.md#registry) and the same drop-in
//! directory. 1.9.3 does not use short-name resolution at all.

use super::podman::{
    batch_status, classify_class_125, fail, is_registry, records, resolve_locally, Class,
    DeleteError, Ref, Storage,
};
use crate::digest::{is_full_hex, Digest};
use crate::outcome::{ConflictReason, ErrorKind, Failure, Outcome, Record, Status};
use crate::store::{Listing, Store};
use crate::{Profile, Request};

/// The legacy version a profile models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    /// Podman 3.0.1.
    V3_0,
    /// libpod 1.9.3.
    V1_9,
}

/// What `profile` reports for `request`: the 3.0.1 batch endpoint, or the 1.9.3 CLI (see the
/// module docs).
pub fn remove(profile: Profile, store: &Store, request: &Request) -> Outcome {
    debug_assert!(matches!(profile, Profile::Libpod301 | Profile::Libpod19));
    if let Some(failure) = check_arguments(request) {
        return Outcome {
            records: Vec::new(),
            status: failure.status,
            errors: vec![failure],
            after: store.clone(),
        };
    }
    let mut storage = Storage(store.clone());
    match profile {
        Profile::Libpod19 => cli_1_9(&mut storage, request),
        _ => rest_3_0(&mut storage, request),
    }
}

/// How Podman lists a store: 3.0.1's `GET /libpod/images/json?all=true` shows the same
/// `Names` as later versions (`podman::listing`).
pub fn listing(store: &Store) -> Listing {
    super::podman::listing(store)
}

/// The CLI's argument checks: plain errors, exit 125.
fn check_arguments(request: &Request) -> Option<Failure> {
    let message = match (request.names.is_empty(), request.all) {
        (true, false) => "image name or ID must be specified",
        (false, true) => "when using the --all switch, you may not pass any images names or IDs",
        _ => return None,
    };
    Some(fail(ErrorKind::InvalidArgument, Class::Other, message))
}

/// What one `RemoveImage` call reports (`image.ImageDeleteResponse`).
#[derive(Debug, Default)]
struct Response {
    untagged: Vec<String>,
    deleted: Option<Digest>,
}

/// 3.0.1's `ImageEngine.Remove` behind the batch endpoint
/// (`containers/podman@v3.0.1:pkg/domain/infra/abi/images.go#L568-L650`): names one by one,
/// each looked up and removed before the next; `--all` removes the images without children
/// ("leaves") pass after pass until none is left, giving up with an error when a pass removes
/// nothing. The report lists every untagged name, then every deleted ID.
fn rest_3_0(storage: &mut Storage, request: &Request) -> Outcome {
    let v = Version::V3_0;
    let mut untagged = Vec::new();
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    let mut collect = |result: Result<Response, Failure>, errors: &mut Vec<Failure>| match result {
        Ok(response) => {
            untagged.extend(response.untagged);
            deleted.extend(response.deleted);
        }
        Err(failure) => errors.push(failure),
    };
    if request.all {
        let mut previous = 0;
        loop {
            let ids = storage.ids();
            if ids.is_empty() {
                break;
            }
            if previous == ids.len() {
                errors.push(fail(
                    ErrorKind::Other,
                    Class::Other,
                    "unable to delete all images, check errors and re-run image removal if needed",
                ));
                break;
            }
            previous = ids.len();
            for id in ids {
                if storage.image(&id).is_none() || storage.has_children(&id) {
                    continue;
                }
                let input = id.hex().to_owned();
                let result = remove_image(v, storage, &input, &id, request.force);
                collect(result, &mut errors);
            }
        }
    } else {
        for name in &request.names {
            let result = get_local_image(v, storage, name)
                .and_then(|(input, id)| remove_image(v, storage, &input, &id, request.force));
            collect(result, &mut errors);
        }
    }
    Outcome {
        records: records(untagged, deleted),
        status: batch_status(&errors),
        errors,
        // The storage is the caller's to drop: the store it holds is the answer's.
        after: std::mem::take(&mut storage.0),
    }
}

/// 1.9.3's `podman rmi` (`containers/podman@v1.9.3:cmd/podman/rmi.go#L46-L156`): names one by
/// one; each image's `Untagged:` lines and `Deleted:` line are printed as it is removed.
/// `--all` removes the leaves pass after pass, and stops with an error when a pass makes no
/// progress (that error then replaces the last one, which is never printed).
fn cli_1_9(storage: &mut Storage, request: &Request) -> Outcome {
    let v = Version::V1_9;
    let mut records = Vec::new();
    let mut exit = ExitState::default();
    let mut remove_one =
        |storage: &mut Storage, input: &str, id: &Digest, exit: &mut ExitState| match remove_image(
            v,
            storage,
            input,
            id,
            request.force,
        ) {
            Ok(response) => {
                records.extend(response.untagged.into_iter().map(Record::Untagged));
                records.extend(
                    response
                        .deleted
                        .map(|d| Record::Deleted(d.hex().to_owned())),
                );
            }
            Err(failure) => exit.removal_failed(failure),
        };
    if request.all {
        let mut images = storage.ids();
        let mut last = 0;
        while !images.is_empty() {
            if last == images.len() {
                exit.give_up(fail(
                    ErrorKind::Other,
                    Class::Other,
                    "unable to delete all images; re-run the rmi command again.",
                ));
                break;
            }
            for id in &images {
                if storage.image(id).is_none() || storage.has_children(id) {
                    continue;
                }
                remove_one(storage, id.hex(), id, &mut exit);
            }
            last = images.len();
            images = storage.ids();
            if images.is_empty() || (last == 1 && exit.last.is_some()) {
                break;
            }
        }
    } else {
        for name in &request.names {
            match get_local_image(v, storage, name) {
                Ok((input, id)) => remove_one(storage, &input, &id, &mut exit),
                Err(failure) => exit.lookup_failed(failure),
            }
        }
    }
    let (errors, status) = exit.finish();
    Outcome {
        records,
        errors,
        status,
        // The storage is the caller's to drop: the store it holds is the answer's.
        after: std::mem::take(&mut storage.0),
    }
}

/// How 1.9.3's `rmi` arrives at its exit code (`cmd/podman/rmi.go#L46-L156`,
/// `cmd/podman/main.go#L25,L169-L183`): the code starts at 125; a removal that fails for any
/// reason but "no such image" sets it to 2 and counts a failure; a lookup failure counts the
/// *previous* error as a failure unless that one was "no such image"; at the end, if the last
/// error is "no such image" and nothing was counted, the code is 1; without any error the
/// command succeeds (0).
#[derive(Debug, Default)]
struct ExitState {
    printed: Vec<Failure>,
    last: Option<Failure>,
    code: Option<u8>,
    failures: usize,
    replaced: Option<Failure>,
}

impl ExitState {
    fn push(&mut self, failure: Failure) {
        if let Some(previous) = self.last.replace(failure) {
            self.printed.push(previous);
        }
    }

    /// A failed removal's own status is the code it sets: 2 for anything but "no such image".
    fn removal_failed(&mut self, mut failure: Failure) {
        if failure.kind != ErrorKind::NotFound {
            self.code = Some(2);
            self.failures += 1;
            failure.status = Status::Exit(2);
        }
        self.push(failure);
    }

    fn lookup_failed(&mut self, failure: Failure) {
        if self
            .last
            .as_ref()
            .is_some_and(|last| last.kind != ErrorKind::NotFound)
        {
            self.failures += 1;
        }
        self.push(failure);
    }

    /// `--all` gave up: this error is returned instead of the last one.
    fn give_up(&mut self, failure: Failure) {
        self.replaced = Some(failure);
    }

    fn finish(self) -> (Vec<Failure>, Status) {
        let mut errors = self.printed;
        let code = self.code.unwrap_or(125);
        let status = match (self.replaced, self.last) {
            (Some(replaced), _) => {
                errors.push(replaced);
                Status::Exit(code)
            }
            (None, Some(last)) => {
                let not_found = last.kind == ErrorKind::NotFound;
                errors.push(last);
                Status::Exit(if not_found && self.failures == 0 {
                    1
                } else {
                    code
                })
            }
            (None, None) => Status::Exit(0),
        };
        (errors, status)
    }
}

/// A conflict of `reason`; in 3.0.1 wrapped around `define.ErrImageInUse` (`: image is being
/// used`, exit 2), in 1.9.3 a plain error (the CLI's exit 2 for any failed removal).
fn conflict(v: Version, reason: ConflictReason, forceable: bool, message: String) -> Failure {
    let message = match v {
        Version::V3_0 => format!("{message}: image is being used"),
        Version::V1_9 => message,
    };
    fail(
        ErrorKind::Conflict { reason, forceable },
        Class::InUse,
        message,
    )
}

/// A failure outside the three classes (exit 125 in 3.0.1; in 1.9.3 exit 2 when a removal
/// fails with it, 125 when a lookup does).
fn other(message: String) -> Failure {
    fail(ErrorKind::Other, Class::Other, message)
}

/// The forced removal of the image's containers in `Runtime.RemoveImage`
/// (`containers/podman@v3.0.1:libpod/runtime_img.go#L52-L59`, `@v1.9.3:…#L51-L57`): one
/// `removeContainer` each, in the state's order (BoltDB's `AllContainers` walks its bucket
/// in key order: container ID order, `@v3.0.1:libpod/boltdb_state.go#L934`). An **infra**
/// container is not removed alone: `container <c> is the infra container of pod <p> and
/// cannot be removed without removing the pod` (`@v3.0.1:libpod/runtime_ctr.go#L579-L582`,
/// `@v1.9.3:libpod/runtime_ctr.go#L416-L419`), wrapped as `error removing image <id>:
/// container <c> using image could not be removed`, and the removal stops there: the
/// containers before it are gone, the image stays (an error of no class of its own).
fn remove_containers(storage: &mut Storage, id: &Digest) -> Result<(), Failure> {
    let mut users = storage.users(id);
    users.sort_by(|a, b| a.hex().cmp(b.hex()));
    for container in users {
        if let Some(pod) = storage.infra_of(&container) {
            return Err(other(format!(
                "error removing image {id}: container {c} using image could not be removed: container {c} is the infra container of pod {pod} and cannot be removed without removing the pod",
                id = id.hex(),
                c = container.hex(),
                pod = pod.hex(),
            )));
        }
        storage.remove_container(&container);
    }
    Ok(())
}

/// `Runtime.RemoveImage` (`containers/podman@v3.0.1:libpod/runtime_img.go#L32-L107`,
/// `@v1.9.3:libpod/runtime_img.go#L29-L102`) for the image `id` that `input` (the "input
/// name" the lookup settled on) found. "By ID" means the input is a prefix of the ID
/// (`InputIsID`, `libpod/image/image.go#L1549-L1551`): a `sha256:` input never is.
///
/// 1. Containers count only when the image has at most one name (3.0.1: or when force is
///    given by ID): with force they are removed (running ones stopped), without force
///    `could not remove image <id> as it is being used by <n> containers` (exit 2). With
///    several names, by name, containers do not matter.
/// 2. With several names not by ID, or with **children**, only the name the input matches
///    ([`match_repo_tag`]) is untagged. Children and no matching name (by ID):
///    `unable to delete "<id>" (cannot be forced) - image has dependent child images`
///    (exit 2, force or not). So a parent named by its only tag loses the tag and stays,
///    and since step 1 comes first, force removes the parent's containers even when this
///    step then fails.
/// 3. Several names, by ID, without force:
///    `unable to delete <id> (must force) - image is referred to in multiple tags` (exit 2).
/// 4. Else the image is deleted with all its names; its parents are then deleted while they
///    have no names and no other children ([`prune_parents`]).
fn remove_image(
    v: Version,
    storage: &mut Storage,
    input: &str,
    id: &Digest,
    force: bool,
) -> Result<Response, Failure> {
    let names = storage.names(id);
    let users = storage.users(id);
    let by_id = id.hex().starts_with(input);
    let several = names.len() > 1;
    let check_containers = names.len() <= 1 || (v == Version::V3_0 && force && by_id);
    if !users.is_empty() && check_containers {
        if force {
            remove_containers(storage, id)?;
        } else {
            return Err(conflict(
                v,
                ConflictReason::ContainerInUse,
                true,
                format!(
                    "could not remove image {} as it is being used by {} containers",
                    id.hex(),
                    users.len()
                ),
            ));
        }
    }
    let has_children = storage.has_children(id);
    if (several && !by_id) || has_children {
        let name = match match_repo_tag(input, &names) {
            Ok(name) => name,
            Err(RepoTagError::NotFound) if has_children => {
                return Err(conflict(
                    v,
                    ConflictReason::DependentChildren,
                    false,
                    format!(
                    "unable to delete \"{}\" (cannot be forced) - image has dependent child images",
                    id.hex()
                ),
                ))
            }
            Err(e) => return Err(other(e.to_string())),
        };
        storage.remove_name(id, &name);
        return Ok(Response {
            untagged: vec![name],
            deleted: None,
        });
    }
    if several && by_id && !force {
        return Err(conflict(
            v,
            ConflictReason::MultipleReferences,
            true,
            format!(
                "unable to delete {} (must force) - image is referred to in multiple tags",
                id.hex()
            ),
        ));
    }
    let parent = storage.parent(id);
    match storage.delete_image(id) {
        Ok(()) => {}
        Err(DeleteError::UsedBy(_)) => {
            // Containers only containers/storage knows are left: `rmStorageContainers`
            // (`runtime_img.go#L109-L127`) refuses without force (a bare
            // `storage.ErrImageUsedByContainer`) and deletes their storage with force, then
            // the image is deleted again. In the model this happens when 1.9.3 removes an
            // image with several names by ID with force while libpod containers use it: their
            // storage goes, their libpod records stay (and stay listed).
            if !force {
                return Err(fail(
                    ErrorKind::Conflict {
                        reason: ConflictReason::ContainerInUse,
                        forceable: true,
                    },
                    Class::InUse,
                    "image is in use by a container",
                ));
            }
            storage.delete_image_under_containers(id);
        }
        Err(DeleteError::NotAnImage) => {
            return Err(other("identifier is not an image".to_owned()));
        }
    }
    prune_parents(storage, parent);
    Ok(Response {
        untagged: names,
        deleted: Some(id.clone()),
    })
}

/// `Image.Remove`'s walk up the parents (`containers/podman@v3.0.1:libpod/image/image.go#L622-L654`,
/// the same at v1.9.3 L410-L443): each parent with no names and no children left is
/// deleted; the first one with a name or another child stops the walk. A parent a container
/// uses cannot be deleted: that is only logged, and the walk moves on to its parent, which
/// still has it as a child and so stops it.
fn prune_parents(storage: &mut Storage, mut parent: Option<Digest>) {
    while let Some(id) = parent {
        let next = storage.parent(&id);
        if storage.has_children(&id) || !storage.names(&id).is_empty() {
            return;
        }
        let _ = storage.delete_image(&id);
        parent = next;
    }
}

/// Why [`match_repo_tag`] found no name.
#[derive(Debug, PartialEq, Eq)]
enum RepoTagError {
    /// `ErrRepoTagNotFound`.
    NotFound,
    /// Several names score the same.
    Several,
    /// The input does not parse.
    Parse(String),
}

impl std::fmt::Display for RepoTagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // `libpod/image/image.go#L87-L88` at v3.0.1.
            RepoTagError::NotFound => {
                f.write_str("unable to match user input to any specific repotag")
            }
            RepoTagError::Several => {
                f.write_str("user input matched multiple repotags for the image")
            }
            RepoTagError::Parse(e) => f.write_str(e),
        }
    }
}

/// `MatchRepoTag` (`containers/podman@v3.0.1:libpod/image/image.go#L1370-L1414`, the same at
/// v1.9.3 L1078-L1122): the input itself if it is one of the names; else each name scores a
/// point for the same registry, for the same repository path (or the same last path
/// component), and for the same tag ([`search_values`]); the best score wins, a tie is an
/// error, and no point at all is "not found".
///
/// A consequence: an ID typed for an image with children is matched as a name too, and the
/// tag `latest` scores, so a parent whose only name is `…:latest` loses that name instead of
/// failing with "dependent child images".
fn match_repo_tag(input: &str, names: &[String]) -> Result<String, RepoTagError> {
    if names.iter().any(|n| n == input) {
        return Ok(input.to_owned());
    }
    let parse = |s: &str| Ref::parse(s).map_err(|e| RepoTagError::Parse(e.to_string()));
    let (registry, path, tag) = search_values(&parse(input)?);
    let last = |p: &str| p.rsplit('/').next().unwrap_or_default().to_owned();
    let mut best: (usize, Vec<&String>) = (0, Vec::new());
    for name in names {
        let (r, p, t) = search_values(&parse(name)?);
        let score = usize::from(r == registry && !registry.is_empty())
            + usize::from((p == path && !path.is_empty()) || last(&p) == last(&path))
            + usize::from(t == tag);
        if score > best.0 {
            best = (score, vec![name]);
        } else if score == best.0 {
            best.1.push(name);
        }
    }
    match best {
        (0, _) => Err(RepoTagError::NotFound),
        (_, names) if names.len() > 1 => Err(RepoTagError::Several),
        (_, names) => Ok(names[0].clone()),
    }
}

/// `suspiciousRefNameTagValuesForSearch` (`containers/podman@v3.0.1:libpod/image/parts.go#L53-L74`,
/// the same at v1.9.3): registry, repository path and tag of a name as typed; a first
/// component that is no registry belongs to the path; the tag is `none` for a digest
/// reference and `latest` when neither is given.
fn search_values(r: &Ref) -> (String, String, String) {
    let (registry, path) = match r.domain.as_deref() {
        Some(domain) if is_registry(domain) => (domain.to_owned(), r.path.clone()),
        Some(domain) => (String::new(), format!("{domain}/{}", r.path)),
        None => (String::new(), r.path.clone()),
    };
    let tag = match (&r.tag, &r.digest) {
        (Some(tag), _) => tag.clone(),
        (None, Some(_)) => "none".to_owned(),
        (None, None) => "latest".to_owned(),
    };
    (registry, path, tag)
}

/// `stripSha256` (`libpod/image/image.go#L396-L403` at v3.0.1): `sha256:` is dropped when
/// something follows it.
fn strip_sha256(input: &str) -> &str {
    match input.strip_prefix("sha256:") {
        Some(rest) if !rest.is_empty() => rest,
        _ => input,
    }
}

/// `getLocalImage`: the image an input means, and the "input name" `RemoveImage` will judge
/// it by (`containers/podman@v3.0.1:libpod/image/image.go#L406-L500`,
/// `@v1.9.3:libpod/image/image.go#L235-L296`).
///
/// 3.0.1:
/// 1. the input (without `sha256:`) as an ID, an exact stored name, or an ID prefix of any
///    length (`store.Image`): so an ID prefix beats a short name that is also a tag;
/// 2. an input that does not parse is an error (exit 125); one with a registry is looked up
///    through the storage transport (docker.io normalization, `latest`, a digest matching
///    an image of the same repository), else
///    `unable to find '<input>' in local storage: no such image` (exit 1);
/// 3. a short name: its alias, then `localhost/<name>` (and the search registries), as
///    stored names; the input name becomes that candidate;
/// 4. the storage transport (docker.io normalization);
/// 5. the last resort [`find_in_repotags`].
///
/// 1.9.3:
/// 1. the storage transport first (docker.io normalization; an input of 3 or more
///    characters without `@`/`:` that is an ID prefix is taken as the ID), then the raw
///    input as ID / exact name / ID prefix;
/// 2. as 3.0.1 step 2, without the second try;
/// 3. `localhost/<name>` through the same two tries, keeping the input as typed;
/// 4. the last resort [`find_in_repotags`].
fn get_local_image(
    v: Version,
    storage: &Storage,
    input: &str,
) -> Result<(String, Digest), Failure> {
    if input.is_empty() {
        return Err(fail(
            ErrorKind::InvalidReference,
            Class::Other,
            "input name is blank",
        ));
    }
    let stripped = strip_sha256(input);
    let first = match v {
        Version::V3_0 => storage.lookup(stripped),
        Version::V1_9 => get_image(storage, stripped),
    };
    if let Some(id) = first {
        return Ok((input.to_owned(), id));
    }
    let parts = Ref::parse(input)
        .map_err(|e| fail(ErrorKind::InvalidReference, Class::Other, e.to_string()))?;
    if !parts.is_short() {
        if v == Version::V3_0 {
            if let Some(id) = store_image(storage, input) {
                return Ok((input.to_owned(), id));
            }
        }
        return Err(fail(
            ErrorKind::NotFound,
            Class::NotFound,
            format!("unable to find '{input}' in local storage: no such image"),
        ));
    }
    match v {
        Version::V3_0 => {
            let candidates = resolve_locally(input).map_err(|e| other(e.to_string()))?;
            for candidate in candidates {
                let candidate = candidate.to_string();
                if let Some(id) = storage.lookup(&candidate) {
                    return Ok((candidate, id));
                }
            }
            if let Some(id) = store_image(storage, input) {
                return Ok((input.to_owned(), id));
            }
        }
        Version::V1_9 => {
            // `referenceWithRegistry("localhost")`: normalized, no `latest` added here
            // (`libpod/image/parts.go`); `getImage` adds it.
            if let Ok(local) = Ref::parse_normalized(&format!("localhost/{input}")) {
                if let Some(id) = get_image(storage, &local.to_string()) {
                    return Ok((input.to_owned(), id));
                }
            }
        }
    }
    find_in_repotags(v, storage, &parts).map(|id| (input.to_owned(), id))
}

/// 1.9.3's `getImage` (`libpod/image/image.go#L450-L470` at v1.9.3): the storage transport,
/// else `store.Image` on the raw string.
fn get_image(storage: &Storage, s: &str) -> Option<Digest> {
    store_image(storage, s).or_else(|| storage.lookup(s))
}

/// A storage-transport reference: a name and/or an ID.
struct StoreRef {
    named: Option<Ref>,
    id: Option<Digest>,
}

/// `ParseStoreReference` then `GetStoreImage`
/// (`containers/image@v5.10.2:storage/storage_transport.go#L117-L188,L297-L311`; the same at
/// v5.4.3).
fn store_image(storage: &Storage, s: &str) -> Option<Digest> {
    let reference = parse_store_reference(storage, s)?;
    if let Some(named) = &reference.named {
        if let Some(id) = resolve(storage, named) {
            return Some(id);
        }
    }
    let id = reference.id?;
    let image = storage.image(&id)?;
    match &reference.named {
        Some(named) => {
            let name = named.name();
            image
                .refs
                .iter()
                .any(|r| r.repo().is_full(&name))
                .then_some(id)
        }
        None => Some(id),
    }
}

/// The storage transport's `resolveImage` ([`Storage::resolve`]) as the legacy code meets it:
/// a digested reference that is no stored name finds an image by `ImagesByDigest`
/// (`containers/image@v5.10.2:storage/storage_reference.go#L140-L170`), and a **loaded**
/// image does not know the manifest digest a scenario names. `podman load` here tries the
/// archive as a Docker archive first (`containers/podman@v3.0.1:libpod/runtime_img.go#L282-L298`,
/// `LoadAllImagesFromDockerArchive` in `libpod/image/image.go#L285-L340`; 1.9.3 likewise,
/// `libpod/runtime_img.go#L255-L275`), whose source generates a Docker schema 2 manifest
/// from `manifest.json` (`containers/image@v5.10.2:docker/internal/tarfile/src.go#L195-L230`),
/// and the store records that manifest's digest, not the OCI manifest's; libimage tries the
/// OCI layout first and keeps it (`containers/common@v0.50.1:libimage/load.go#L36-L79`).
/// Only an image pulled by digest ([`Image::pulled`](crate::store::Image::pulled)) knows
/// [`Image::manifest`](crate::store::Image::manifest), and keeps
/// knowing it once its digest name is untagged: a second `rmi <repo>@<digest>`
/// after the first untagged that name finds the image again through a tag of the same
/// repository (measured on 3.0.1: `Untagged: <reg>/app:1`, `Deleted: <A>`).
fn resolve(storage: &Storage, named: &Ref) -> Option<Digest> {
    let id = storage.resolve(named)?;
    let exact = || storage.lookup(&named.to_string()).is_some();
    let pulled = || storage.image(&id).is_some_and(|image| image.pulled);
    (named.digest.is_none() || exact() || pulled()).then_some(id)
}

/// `ParseStoreReference` (`containers/image@v5.10.2:storage/storage_transport.go#L117-L188`):
/// a trailing `@<ID or ID prefix of 3+ characters>` is an image ID; a whole input of 3+
/// characters without `@`/`:` that is an ID prefix is an image ID; anything else is a name,
/// normalized Docker-style with `latest` added. (A leading `[store]` is not modelled.)
fn parse_store_reference(storage: &Storage, s: &str) -> Option<StoreRef> {
    const MINIMUM_TRUNCATED_ID_LENGTH: usize = 3;
    if s.is_empty() || s.starts_with('[') {
        return None;
    }
    let mut rest = s;
    let mut id = None;
    if let Some((head, possible)) = s.rsplit_once('@') {
        if possible.is_empty() {
            return None;
        }
        if !go_digest_valid(possible) {
            if is_full_hex(possible) {
                id = Digest::parse(possible).ok();
            } else {
                let found = storage.lookup(possible).filter(|f| {
                    possible.len() >= MINIMUM_TRUNCATED_ID_LENGTH && f.hex().starts_with(possible)
                });
                id = Some(found?);
            }
            rest = head;
        }
    }
    if id.is_none() && rest.len() >= MINIMUM_TRUNCATED_ID_LENGTH && !rest.contains(['@', ':']) {
        if let Some(found) = storage.lookup(rest).filter(|f| f.hex().starts_with(rest)) {
            id = Some(found);
            rest = "";
        }
    }
    let named = if rest.is_empty() {
        None
    } else {
        Some(Ref::parse_normalized(rest).ok()?.tag_name_only())
    };
    Some(StoreRef { named, id })
}

/// go-digest's `Parse` accepting the input: a known algorithm with its hex length.
fn go_digest_valid(s: &str) -> bool {
    let Some((algorithm, hex)) = s.split_once(':') else {
        return false;
    };
    let size = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == size && crate::digest::is_hex(hex)
}

/// `findImageInRepotags`, the last resort of both versions: stored names whose tag (`none`
/// for a digest name, [`search_values`]) equals the input's and whose repository path is the
/// input's or ends in it.
///
/// - 3.0.1 (`libpod/image/utils.go#L19-L76`): the path must end in `/<input path>`; one
///   matching name finds its image; several are
///   `found multiple read/write images <names>: found multiple name and tag matches`
///   (exit 125; Go prints the names in map order, the model in store order); none is
///   `unable to find a name and tag match for <path> in repotags: no such image` (exit 1).
/// - 1.9.3 (`libpod/image/utils.go#L19-L45`): any suffix will do (`app` matches
///   `localhost/myapp`); several matches are
///   `found multiple name and tag matches for <path> in repotags: no such image`, and like
///   none a "no such image" error (exit 1).
fn find_in_repotags(v: Version, storage: &Storage, input: &Ref) -> Result<Digest, Failure> {
    let (_, path, tag) = search_values(input);
    let mut matches: Vec<(String, Digest)> = Vec::new();
    for image in &storage.0.images {
        for name in super::podman::names(image) {
            let Ok(stored) = Ref::parse(&name) else {
                continue;
            };
            let (_, p, t) = search_values(&stored);
            let suffix = match v {
                Version::V3_0 => p.ends_with(&format!("/{path}")),
                Version::V1_9 => p.ends_with(path.as_str()),
            };
            if t == tag && (p == path || suffix) {
                matches.push((name, image.config.clone()));
            }
        }
    }
    let not_found = |what: String| {
        fail(
            ErrorKind::NotFound,
            Class::NotFound,
            format!("{what} in repotags: no such image"),
        )
    };
    match (matches.len(), v) {
        (0, _) => Err(not_found(format!(
            "unable to find a name and tag match for {path}"
        ))),
        (1, _) => Ok(matches.remove(0).1),
        (_, Version::V1_9) => Err(not_found(format!(
            "found multiple name and tag matches for {path}"
        ))),
        (_, Version::V3_0) => {
            let mut names: Vec<String> = Vec::new();
            for (name, _) in matches {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            Err(fail(
                ErrorKind::Ambiguous,
                Class::Other,
                format!(
                    "found multiple read/write images {}: found multiple name and tag matches",
                    names.join(",")
                ),
            ))
        }
    }
}

/// What kind of error a Podman 3.0.1 message is, and its exit class
/// (`podman@v3.0.1:pkg/domain/infra/abi/images.go#L526-L566`), read back from the text: the
/// inverse of this module's message constructors.
///
/// Podman 3.0.1 (`libpod/runtime_img.go#L34-L107 @v3.0.1`): conflicts wrap
/// `define.ErrImageInUse` "image is being used", not-found is `define.ErrNoSuchImage` "no such
/// image" (`libpod/image/utils.go#L48`).
pub fn classify(text: &str) -> (ErrorKind, u8) {
    let conflict = |reason, forceable| ErrorKind::Conflict { reason, forceable };
    if text.contains("image has dependent child images") {
        (conflict(ConflictReason::DependentChildren, false), 2)
    } else if text.contains("image is referred to in multiple tags") {
        (conflict(ConflictReason::MultipleReferences, true), 2)
    } else if text.contains("as it is being used by")
        || text.contains("image is in use by a container")
    {
        (conflict(ConflictReason::ContainerInUse, true), 2)
    } else if text.ends_with("image is being used") {
        (ErrorKind::Other, 2)
    } else if text.ends_with("found multiple name and tag matches") {
        // 3.0.1's `found multiple read/write images <names>: found multiple name and tag
        // matches` (see `find_in_repotags`); 1.9's ends in "no such image" and is not found.
        (ErrorKind::Ambiguous, 125)
    } else if text.contains("no such image") {
        (ErrorKind::NotFound, 1)
    } else {
        classify_class_125(text)
    }
}

#[cfg(test)]
mod tests {
    use super::super::podman::fixture::{
        child, container, d, image, left, lines, pod_store, store,
    };
    use super::*;
    use crate::store::ContainerState::{self, Running, Stopped};
    use rstest::rstest;

    const P3: Profile = Profile::Libpod301;
    const P1: Profile = Profile::Libpod19;

    fn dg(prefix: &str) -> String {
        d(prefix).to_string()
    }

    fn hex(prefix: &str) -> String {
        d(prefix).hex().to_owned()
    }

    /// `<aa>` spelled out for the tables (checked against the fixture below).
    const AA: &str = "aa00000000000000000000000000000000000000000000000000000000000000";
    const SHA_AA: &str = "sha256:aa00000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn the_spelled_out_ids_are_the_fixtures() {
        assert_eq!((AA.to_owned(), SHA_AA.to_owned()), (hex("aa"), dg("aa")));
    }

    fn request(names: &[&str], flags: &str) -> Request {
        Request {
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            force: flags.contains("force"),
            prune: !flags.contains("noprune"),
            ignore: flags.contains("ignore"),
            all: flags.contains("all"),
            platforms: Vec::new(),
        }
    }

    /// Records, `status message` per error, exit code, images left.
    fn run(profile: Profile, s: &Store, r: Request) -> (Vec<String>, Vec<String>, u8, String) {
        let outcome = remove(profile, s, &r);
        let errors = outcome
            .errors
            .iter()
            .map(|f| format!("{} {}", f.status, f.message))
            .collect();
        let Status::Exit(code) = outcome.status else {
            panic!("exit codes expected, got {}", outcome.status)
        };
        (lines(&outcome.records), errors, code, left(&outcome.after))
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    // ----- Resolution -------------------------------------------------------------------

    /// A `localhost/app:1`; B `docker.io/library/app:1`; C `quay.io/libpod/cirros:latest`;
    /// D `127.0.0.1:5000/dig:1` (manifest `edd44…`); E `127.0.0.1:5000/pin@<E.manifest>` and
    /// `…/pin:2`; T `localhost/cafe:latest` (ID `0123…`); U ID `cafe…`; W
    /// `docker.io/library/fe:latest` (ID `0fe0…`); Y ID `fe99…`; V dangling `ab…`.
    fn resolution_store() -> Storage {
        let pin = format!("127.0.0.1:5000/pin@{}", dg("eee55"));
        Storage(store(vec![
            image("aa11", &["localhost/app:1"]),
            image("bb22", &["docker.io/library/app:1"]),
            image("cc33", &["quay.io/libpod/cirros:latest"]),
            image("dd44", &["127.0.0.1:5000/dig:1"]),
            image("ee55", &[&pin, "127.0.0.1:5000/pin:2"]),
            image("0123", &["localhost/cafe:latest"]),
            image("cafe", &["localhost/other:1"]),
            image("0fe0", &["docker.io/library/fe:latest"]),
            image("fe99", &[]),
            image("ab00", &[]),
        ]))
    }

    type Found = Result<(&'static str, String), String>;

    fn found(id: &'static str, input: impl Into<String>) -> Found {
        Ok((id, input.into()))
    }

    fn no_match(path: &str) -> Found {
        Err(format!(
            "exit 1 unable to find a name and tag match for {path} in repotags: no such image"
        ))
    }

    fn resolve(profile: Profile, input: &str) -> Found {
        let ids = [
            "aa11", "bb22", "cc33", "dd44", "ee55", "0123", "cafe", "0fe0", "fe99", "ab00",
        ];
        let v = match profile {
            Profile::Libpod19 => Version::V1_9,
            _ => Version::V3_0,
        };
        get_local_image(v, &resolution_store(), input)
            .map(|(name, id)| (ids.into_iter().find(|p| d(p) == id).unwrap(), name))
            .map_err(|f| format!("{} {}", f.status, f.message))
    }

    #[rstest]
    #[case::qualified_name("docker.io/app:1", found("bb22", "docker.io/app:1"))]
    #[case::library_path_goes_to_docker_io("library/app:1", found("bb22", "library/app:1"))]
    #[case::no_tag_means_latest("app", no_match("app"))]
    #[case::repository_suffix("cirros", found("cc33", "cirros"))]
    #[case::id_prefix("aa1", found("aa11", "aa1"))]
    #[case::one_character_prefix("d", found("dd44", "d"))]
    #[case::ambiguous_prefix_is_no_match("a", no_match("a"))]
    #[case::id_prefix_beats_a_short_tag("cafe", found("cafe", "cafe"))]
    #[case::full_id(&hex("aa11"), found("aa11", hex("aa11")))]
    #[case::sha256_short_id_keeps_its_prefix("sha256:aa11", found("aa11", "sha256:aa11"))]
    #[case::unknown_sha256_id(&dg("ff"), no_match("sha256"))]
    #[case::unknown_full_id(&hex("ff"), no_match(&hex("ff")))]
    #[case::qualified_unknown("example.com/app:1", Err("exit 1 unable to find 'example.com/app:1' in local storage: no such image".into()))]
    #[case::uppercase("Foo", Err("exit 125 repository name must be lowercase".into()))]
    #[case::blank("", Err("exit 125 input name is blank".into()))]
    #[case::manifest_digest_of_a_loaded_image_is_unknown(&format!("127.0.0.1:5000/dig@{}", dg("edd44")), Err(format!("exit 1 unable to find '127.0.0.1:5000/dig@{}' in local storage: no such image", dg("edd44"))))]
    #[case::digest_name_of_a_pulled_image(&format!("127.0.0.1:5000/pin@{}", dg("eee55")), found("ee55", format!("127.0.0.1:5000/pin@{}", dg("eee55"))))]
    #[case::digest_of_another_repository(&format!("127.0.0.1:5000/other@{}", dg("edd44")), Err(format!("exit 1 unable to find '127.0.0.1:5000/other@{}' in local storage: no such image", dg("edd44"))))]
    #[case::any_digest_matches_a_digest_name_by_repository(&format!("pin@{}", dg("ff")), found("ee55", format!("pin@{}", dg("ff"))))]
    fn names_resolve_alike_in_3_0_and_1_9(
        #[case] input: &str,
        #[case] expected: Found,
        #[values(P3, P1)] profile: Profile,
    ) {
        assert_eq!(resolve(profile, input), expected);
    }

    #[rstest]
    #[case::localhost_or_docker_io(
        "app:1",
        found("aa11", "localhost/app:1"),
        found("bb22", "app:1")
    )]
    #[case::short_prefix_or_docker_io_tag("fe", found("fe99", "fe"), found("0fe0", "fe"))]
    #[case::prefix_of_three("fe9", found("fe99", "fe9"), found("fe99", "fe9"))]
    #[case::suffix_with_or_without_slash("irros", no_match("irros"), found("cc33", "irros"))]
    fn where_3_0_and_1_9_resolve_differently(
        #[case] input: &str,
        #[case] v3_0: Found,
        #[case] v1_9: Found,
    ) {
        assert_eq!((resolve(P3, input), resolve(P1, input)), (v3_0, v1_9));
    }

    #[rstest]
    #[case::v3_0(P3, "exit 125 found multiple read/write images quay.io/a/x:latest,localhost/b/x:latest: found multiple name and tag matches")]
    #[case::v1_9(
        P1,
        "exit 1 found multiple name and tag matches for x in repotags: no such image"
    )]
    fn several_suffix_matches(#[case] profile: Profile, #[case] message: &str) {
        let s = store(vec![
            image("aa", &["quay.io/a/x:latest"]),
            image("bb", &["localhost/b/x:latest"]),
        ]);
        let (_, errors, _, _) = run(profile, &s, request(&["x"], ""));
        assert_eq!(errors, [message]);
    }

    /// The image has `localhost/<name>:latest` and `docker.io/library/<name>:latest`.
    /// 3.0.1 judges the name by the candidate it found (alias or `localhost/`), so it matches
    /// one name exactly; 1.9.3 finds the image through docker.io but judges the name as typed,
    /// which scores the same against both names.
    #[rstest]
    #[case::v3_0_alias(P3, "busybox", &["Untagged: docker.io/library/busybox:latest"], &[], 0)]
    #[case::v3_0_localhost(P3, "app", &["Untagged: localhost/app:latest"], &[], 0)]
    #[case::v1_9_ties(P1, "app", &[], &["exit 2 user input matched multiple repotags for the image"], 2)]
    fn which_of_localhost_and_docker_io_a_short_name_untags(
        #[case] profile: Profile,
        #[case] name: &str,
        #[case] records: &[&str],
        #[case] errors: &[&str],
        #[case] code: u8,
    ) {
        let s = store(vec![image(
            "aa",
            &[
                &format!("localhost/{name}:latest"),
                &format!("docker.io/library/{name}:latest"),
            ],
        )]);
        let (got, got_errors, got_code, _) = run(profile, &s, request(&[name], ""));
        assert_eq!(
            (got, got_errors, got_code),
            (strings(records), strings(errors), code)
        );
    }

    // ----- Names, IDs, force ------------------------------------------------------------

    /// M `aa…` named `localhost/app:a` then `:b` (stored `[b a]`); S `bb…` `localhost/solo:1`.
    fn multi() -> Store {
        store(vec![
            image("aa", &["localhost/app:a", "localhost/app:b"]),
            image("bb", &["localhost/solo:1"]),
        ])
    }

    const UNCHANGED: &str = "aa00:localhost/app:a,localhost/app:b bb00:localhost/solo:1";

    #[rstest]
    #[case::one_of_two_names(&["localhost/app:a"], "", &["Untagged: localhost/app:a"], "aa00:localhost/app:b bb00:localhost/solo:1")]
    #[case::short_name_matches_the_repo_tag(&["app:a"], "", &["Untagged: localhost/app:a"], "aa00:localhost/app:b bb00:localhost/solo:1")]
    #[case::force_still_only_untags(&["app:b"], "force", &["Untagged: localhost/app:b"], "aa00:localhost/app:a bb00:localhost/solo:1")]
    #[case::only_name(&["solo:1"], "", &["Untagged: localhost/solo:1", "Deleted: bb00"], "aa00:localhost/app:a,localhost/app:b")]
    #[case::force_by_id(&["aa"], "force", &["Untagged: localhost/app:a", "Untagged: localhost/app:b", "Deleted: aa00"], "bb00:localhost/solo:1")]
    #[case::full_id_with_force(&[AA], "force", &["Untagged: localhost/app:a", "Untagged: localhost/app:b", "Deleted: aa00"], "bb00:localhost/solo:1")]
    fn a_name_untags_and_the_last_name_removes(
        #[case] names: &[&str],
        #[case] flags: &str,
        #[case] records: &[&str],
        #[case] after: &str,
        #[values(P3, P1)] profile: Profile,
    ) {
        let (got, errors, code, left) = run(profile, &multi(), request(names, flags));
        assert_eq!((got, errors, code), (strings(records), vec![], 0));
        assert_eq!(left, after);
    }

    #[rstest]
    #[case::v3_0(P3, ": image is being used")]
    #[case::v1_9(P1, "")]
    fn an_id_of_a_multi_name_image_needs_force(#[case] profile: Profile, #[case] suffix: &str) {
        let (records, errors, code, after) = run(profile, &multi(), request(&["aa"], ""));
        let message = format!(
            "exit 2 unable to delete {AA} (must force) - image is referred to in multiple tags{suffix}"
        );
        assert_eq!((records, errors, code), (vec![], vec![message], 2));
        assert_eq!(after, UNCHANGED);
    }

    /// A `sha256:` input is no "ID" to `InputIsID`, so an image with several names is matched
    /// as a name, which fails.
    #[rstest]
    #[case::v3_0(P3, "", 125)]
    #[case::v3_0_force(P3, "force", 125)]
    #[case::v1_9(P1, "", 2)]
    fn a_sha256_id_of_a_multi_name_image_matches_no_name(
        #[case] profile: Profile,
        #[case] flags: &str,
        #[case] code: u8,
    ) {
        let (records, errors, got, after) = run(profile, &multi(), request(&[SHA_AA], flags));
        assert_eq!(records, [] as [String; 0]);
        assert_eq!(
            errors,
            [format!(
                "exit {code} unable to match user input to any specific repotag"
            )]
        );
        assert_eq!((got, after.as_str()), (code, UNCHANGED));
    }

    #[rstest]
    fn names_are_removed_one_by_one(#[values(P3, P1)] profile: Profile) {
        // The same image twice: the second lookup finds nothing.
        let (records, errors, code, _) = run(profile, &multi(), request(&["solo:1", "solo:1"], ""));
        assert_eq!(records, ["Untagged: localhost/solo:1", "Deleted: bb00"]);
        assert_eq!(
            (errors, code),
            (vec!["exit 1 unable to find a name and tag match for solo in repotags: no such image".to_owned()], 1)
        );
    }

    #[rstest]
    #[case::v3_0_lists_untagged_then_deleted(P3, &["Untagged: localhost/solo:1", "Untagged: localhost/app:a", "Untagged: localhost/app:b", "Deleted: bb00", "Deleted: aa00"])]
    #[case::v1_9_prints_per_image(P1, &["Untagged: localhost/solo:1", "Deleted: bb00", "Untagged: localhost/app:a", "Untagged: localhost/app:b", "Deleted: aa00"])]
    fn record_order(#[case] profile: Profile, #[case] records: &[&str]) {
        let (got, _, _, _) = run(profile, &multi(), request(&["solo:1", "aa"], "force"));
        assert_eq!(got, records);
    }

    #[rstest]
    #[case::not_found(&["nope"], 1, 1)]
    #[case::bad_name(&["Foo"], 125, 125)]
    #[case::not_found_then_bad_name(&["nope", "Foo"], 125, 125)]
    #[case::bad_name_then_not_found(&["Foo", "nope"], 125, 125)]
    #[case::two_not_found(&["nope", "nada"], 1, 1)]
    #[case::conflict_then_not_found(&["aa", "nope"], 2, 2)]
    #[case::not_found_then_conflict(&["nope", "aa"], 2, 2)]
    #[case::match_error(&[SHA_AA], 125, 2)]
    #[case::ok(&["solo:1"], 0, 0)]
    fn exit_codes(
        #[case] names: &[&str],
        #[case] v3_0: u8,
        #[case] v1_9: u8,
        #[values("", "force", "ignore")] flags: &str,
    ) {
        // Neither version has `--ignore`; force hides no not-found error in either.
        let (_, _, c3, _) = run(P3, &multi(), request(names, flags));
        let (_, _, c1, _) = run(P1, &multi(), request(names, flags));
        if flags == "force" && names.contains(&"aa") {
            return; // force by ID removes M instead of failing
        }
        assert_eq!((c3, c1), (v3_0, v1_9));
    }

    // ----- Pods -------------------------------------------------------------------------

    #[test]
    fn a_forced_removal_stops_at_an_infra_container() {
        let before = pod_store();
        let outcome = remove(P3, &before, &request(&["pause:1"], "force"));
        let want = format!(
            "error removing image {a}: container {i} using image could not be removed: container {i} is the infra container of pod {p} and cannot be removed without removing the pod",
            a = d("aa").hex(),
            i = d("11").hex(),
            p = d("ff").hex()
        );
        let errors: Vec<&str> = outcome.errors.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(errors, [want.as_str()]);
        assert_eq!(outcome.errors[0].kind, ErrorKind::Other);
        assert_eq!(outcome.status, Status::Exit(125));
        assert_eq!(outcome.after, before);
    }

    #[test]
    fn a_forced_removal_of_a_member_image_leaves_the_pod() {
        let outcome = remove(P3, &pod_store(), &request(&["app:1"], "force"));
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        let left: Vec<&Digest> = outcome.after.containers.iter().map(|c| &c.id).collect();
        assert_eq!(left, [&d("11")]);
        assert_eq!(outcome.after.pods, pod_store().pods);
    }

    // ----- Containers -------------------------------------------------------------------

    /// I `aa…` `localhost/app:1` with a stopped c1 and a running c2; J `bb…` with two names
    /// and a stopped c3.
    fn in_use() -> Store {
        let mut s = store(vec![
            image("aa", &["localhost/app:1"]),
            image("bb", &["localhost/two:1", "localhost/two:2"]),
        ]);
        s.containers = vec![
            container("c1", "aa", Stopped),
            container("c2", "aa", Running),
            container("c3", "bb", Stopped),
        ];
        s
    }

    #[rstest]
    #[case::v3_0(P3, ": image is being used")]
    #[case::v1_9(P1, "")]
    fn containers_block_an_image_with_one_name(#[case] profile: Profile, #[case] suffix: &str) {
        let before = in_use();
        let outcome = remove(profile, &before, &request(&["app:1"], ""));
        assert_eq!(
            outcome.errors,
            [Failure {
                kind: ErrorKind::Conflict {
                    reason: ConflictReason::ContainerInUse,
                    forceable: true
                },
                message: format!(
                    "could not remove image {} as it is being used by 2 containers{suffix}",
                    hex("aa")
                ),
                status: Status::Exit(2),
            }]
        );
        assert_eq!((outcome.status, outcome.after), (Status::Exit(2), before));
    }

    #[rstest]
    #[case::by_name(&["app:1"], &["Untagged: localhost/app:1", "Deleted: aa00"], "c3", "c3")]
    #[case::multi_name_image_by_id(&["bb"], &["Untagged: localhost/two:1", "Untagged: localhost/two:2", "Deleted: bb00"], "c1 c2", "c1 c2 c3")]
    fn force_removes_containers(
        #[case] names: &[&str],
        #[case] records: &[&str],
        #[case] v3_0_left: &str,
        #[case] v1_9_left: &str,
    ) {
        let containers = |o: &Outcome| {
            o.after
                .containers
                .iter()
                .map(|c| c.id.short(2).to_owned())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let o3 = remove(P3, &in_use(), &request(names, "force"));
        let o1 = remove(P1, &in_use(), &request(names, "force"));
        assert_eq!(
            (lines(&o3.records), lines(&o1.records)),
            (strings(records), strings(records))
        );
        // 1.9.3 does not look at containers of an image with several names; their storage
        // goes with the image, their libpod records stay.
        assert_eq!(
            (containers(&o3), containers(&o1)),
            (v3_0_left.to_owned(), v1_9_left.to_owned())
        );
    }

    #[rstest]
    fn one_of_several_names_is_untagged_despite_containers(
        #[values(P3, P1)] profile: Profile,
        #[values("", "force")] flags: &str,
    ) {
        let outcome = remove(profile, &in_use(), &request(&["two:1"], flags));
        assert_eq!(lines(&outcome.records), ["Untagged: localhost/two:1"]);
        assert_eq!(outcome.after.containers.len(), 3);
    }

    // ----- Parents and children ---------------------------------------------------------

    fn family(parent_tag: &str) -> Store {
        store(vec![
            image("aa", &[parent_tag]),
            child("bb", "aa", &["localhost/child:1"]),
        ])
    }

    #[rstest]
    #[case::by_its_only_name_untags_it(P3, "par:1", "localhost/par:1")]
    #[case::by_its_only_name_untags_it_1_9(P1, "par:1", "localhost/par:1")]
    fn a_parent_named_by_name_is_untagged_and_kept(
        #[case] profile: Profile,
        #[case] name: &str,
        #[case] untagged: &str,
        #[values("", "force")] flags: &str,
    ) {
        let (records, errors, code, after) =
            run(profile, &family("localhost/par:1"), request(&[name], flags));
        assert_eq!(
            (records, errors, code),
            (vec![format!("Untagged: {untagged}")], vec![], 0)
        );
        assert_eq!(after, "aa00: bb00:localhost/child:1");
    }

    #[rstest]
    #[case::v3_0(P3, ": image is being used")]
    #[case::v1_9(P1, "")]
    fn a_parent_by_id_cannot_be_removed(
        #[case] profile: Profile,
        #[case] suffix: &str,
        #[values("", "force")] flags: &str,
    ) {
        let before = family("localhost/par:1");
        let outcome = remove(profile, &before, &request(&["aa"], flags));
        assert_eq!(
            outcome.errors,
            [Failure {
                kind: ErrorKind::Conflict {
                    reason: ConflictReason::DependentChildren,
                    forceable: false
                },
                message: format!(
                    "unable to delete \"{}\" (cannot be forced) - image has dependent child images{suffix}",
                    hex("aa")
                ),
                status: Status::Exit(2),
            }]
        );
        assert_eq!(outcome.after, before);
    }

    #[rstest]
    fn force_removes_a_parents_containers_before_failing(#[values(P3, P1)] profile: Profile) {
        let mut s = family("localhost/par:1");
        s.containers = vec![container("c1", "aa", Stopped)];
        let outcome = remove(profile, &s, &request(&["aa"], "force"));
        assert_eq!(outcome.status, Status::Exit(2));
        assert_eq!(outcome.after.images, s.images);
        assert_eq!(outcome.after.containers, []);
    }

    #[rstest]
    fn a_parent_tagged_latest_by_id_loses_the_tag(#[values(P3, P1)] profile: Profile) {
        // `MatchRepoTag` scores the default tag `latest` of the typed ID.
        let (records, errors, _, after) = run(
            profile,
            &family("localhost/par:latest"),
            request(&["aa"], ""),
        );
        assert_eq!(
            (records, errors),
            (strings(&["Untagged: localhost/par:latest"]), vec![])
        );
        assert_eq!(after, "aa00: bb00:localhost/child:1");
    }

    /// G ← P ← C: G and P dangling, C `localhost/child:1`; `users` on P.
    fn chain(users: &[(&str, ContainerState)]) -> Store {
        let mut s = store(vec![
            image("aa", &[]),
            child("bb", "aa", &[]),
            child("cc", "bb", &["localhost/child:1"]),
        ]);
        s.containers = users
            .iter()
            .map(|(id, st)| container(id, "bb", *st))
            .collect();
        s
    }

    #[rstest]
    #[case::pruned_silently(&[], "", "")]
    #[case::noprune_does_not_exist(&[], "noprune", "")]
    #[case::a_container_stops_the_walk_quietly(&[("c1", Stopped)], "", "aa00: bb00:")]
    #[case::even_with_force(&[("c1", Running)], "force", "aa00: bb00:")]
    fn dangling_parents_are_pruned_without_records(
        #[case] users: &[(&str, ContainerState)],
        #[case] flags: &str,
        #[case] after: &str,
        #[values(P3, P1)] profile: Profile,
    ) {
        let (records, errors, code, left) =
            run(profile, &chain(users), request(&["child:1"], flags));
        assert_eq!(
            (records, errors, code, left.as_str()),
            (
                strings(&["Untagged: localhost/child:1", "Deleted: cc00"]),
                vec![],
                0,
                after
            )
        );
    }

    // ----- --all and the arguments ------------------------------------------------------

    #[rstest]
    #[case::v3_0(P3, &["Untagged: localhost/solo:1", "Deleted: bb00"], vec![
        format!("exit 2 unable to delete {AA} (must force) - image is referred to in multiple tags: image is being used"),
        format!("exit 2 unable to delete {AA} (must force) - image is referred to in multiple tags: image is being used"),
        "exit 125 unable to delete all images, check errors and re-run image removal if needed".to_owned(),
    ])]
    #[case::v1_9(P1, &["Untagged: localhost/solo:1", "Deleted: bb00"], vec![
        format!("exit 2 unable to delete {AA} (must force) - image is referred to in multiple tags"),
        format!("exit 2 unable to delete {AA} (must force) - image is referred to in multiple tags"),
    ])]
    fn all_retries_the_leaves_until_no_progress(
        #[case] profile: Profile,
        #[case] records: &[&str],
        #[case] errors: Vec<String>,
    ) {
        let (got, got_errors, code, after) = run(profile, &multi(), request(&[], "all"));
        assert_eq!((got, got_errors, code), (strings(records), errors, 2));
        assert_eq!(after, "aa00:localhost/app:a,localhost/app:b");
    }

    #[rstest]
    #[case::v3_0(P3, &["Untagged: localhost/child:1", "Untagged: localhost/par:1", "Deleted: bb00", "Deleted: aa00"])]
    #[case::v1_9(P1, &["Untagged: localhost/child:1", "Deleted: bb00", "Untagged: localhost/par:1", "Deleted: aa00"])]
    fn all_removes_children_before_parents(#[case] profile: Profile, #[case] records: &[&str]) {
        let (got, errors, code, after) =
            run(profile, &family("localhost/par:1"), request(&[], "all"));
        assert_eq!(
            (got, errors, code, after),
            (strings(records), vec![], 0, String::new())
        );
    }

    #[rstest]
    #[case::nothing_named(&[], "image name or ID must be specified")]
    #[case::names_and_all(&["solo:1"], "when using the --all switch, you may not pass any images names or IDs")]
    fn the_arguments_are_checked_first(
        #[case] names: &[&str],
        #[case] message: &str,
        #[values(P3, P1)] profile: Profile,
    ) {
        let flags = if names.is_empty() { "" } else { "all" };
        let before = multi();
        let outcome = remove(profile, &before, &request(names, flags));
        assert_eq!(
            outcome.errors,
            [Failure {
                kind: ErrorKind::InvalidArgument,
                message: message.into(),
                status: Status::Exit(125)
            }]
        );
        assert_eq!(outcome.after, before);
    }

    #[test]
    fn listing_is_podmans() {
        let s = family("localhost/par:1");
        assert_eq!(listing(&s), super::super::podman::listing(&s));
    }
}
