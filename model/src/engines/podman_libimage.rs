//! Podman on containers/common `libimage`: 4.3.1 ([`Profile::Podman43`], containers/common
//! v0.50.1, containers/storage v1.43.0, containers/image v5.23.0) and 5.4.2
//! ([`Profile::Podman54`], containers/common v0.62.3, containers/storage v1.57.2,
//! containers/image v5.34.3).
//!
//! # The surface
//!
//! What is modelled is the libpod REST **batch** endpoint
//! `DELETE /libpod/images/remove?images=…&force=&ignore=&noprune=&all=`
//! (`containers/podman@v4.3.1:pkg/api/handlers/libpod/images.go#L541-L564`,
//! `@v5.4.2#L639-L662`). It always answers HTTP 200 with a report: `Untagged` and `Deleted`
//! lists, the `Errors` as strings and an `ExitCode`, the code `podman rmi` would exit with
//! (`pkg/domain/infra/abi/images.go#L515-L588` at v4.3.1). So:
//!
//! - [`Outcome::status`] is `exit <ExitCode>`; each [`Failure::status`] is the exit-code class
//!   of that one error (1 not found, 2 in use, 125 anything else, see
//!   [`Class`](super::podman::Class));
//! - the records are every `Untagged:` name, then every `Deleted:` ID, in the report's order
//!   (per image, in the order the images were processed); names are fully qualified as
//!   stored, IDs are bare 64 hex (the config digest).
//!
//! Two checks come from the CLI, not the endpoint (`cmd/podman/images/rm.go#L67-L73` at
//! v4.3.1): no names without `--all` is an error (`image name or ID must be specified`), and
//! names with `--all` too. The endpoint itself would, with no names, remove **every** image
//! (`libimage` treats an empty list as "everything the filters let through",
//! `containers/common@v0.50.1:libimage/runtime.go#L689-L703`; backends.md §7.12), and with
//! names and `all` just remove the names. A caller of the endpoint must check the arguments
//! the way the CLI does; the model answers as the CLI does.
//!
//! # The rules
//!
//! Resolution is [`lookup`]; removal is [`Run::remove_recursive`], after all names were
//! looked up and grouped by image ([`remove`]). In short: a name that resolves to an image
//! with one name, or `--all`, removes the image; one of several names is untagged; an ID or
//! `sha256:` digest of an image with several names needs force; force removes the containers
//! first; a container blocks removal (exit 2); an image with children loses its record but
//! is reported as untagged only; a parent left dangling is removed too (unless `noprune`).
//!
//! # 4.3.1 and 5.4.2
//!
//! The removal code is the same (`libimage/image.go` `removeRecursive`, v0.50.1 L352-L514,
//! v0.62.3 L400-L560). They differ in looking names up ([`Version`]):
//!
//! - 5.4.2 wraps a name that does not parse: `parsing reference "<name>": <reason>`
//!   (`containers/common@v0.62.3:libimage/runtime.go#L268-L271`); 4.3.1 gives the bare reason;
//! - a `repo@sha256:…` candidate: 4.3.1 only finds an image that has that exact string as a
//!   stored name, then falls back to **any** image with that manifest digest, whatever its
//!   repository; 5.4.2 resolves candidates through the storage transport, which also accepts
//!   an image with that digest and some name in the same repository, and its fallback
//!   insists on a repository match ("harden lookup by digest");
//! - in the error of an untag that cannot be normalized, 4.3.1 repeats
//!   `normalizing name "<name>": ` (unreachable for names the lookup resolved).
//!
//! The 5.4.2 CLI makes `--force` imply `--ignore` (`cmd/podman/images/rm.go#L72-L74`), and the
//! 4.3.1 CLI hides not-found errors under `--force` (`rm.go#L88-L101`); both are CLI-only, so
//! on the endpoint `force=true` with an unknown name still reports it (exit 1) in both.
//!
//! # Configuration modelled
//!
//! `registries.conf` with `unqualified-search-registries = []` and
//! `short-name-mode = "disabled"`, no short-name aliases (see
//! [`resolve_locally`](super::podman::resolve_locally)).

use super::podman::{
    batch_status, fail, go_list, go_quote, records, resolve_locally, Class, DeleteError, Ref,
    Storage,
};
use crate::digest::{is_full_hex, Digest};
use crate::outcome::{ConflictReason, ErrorKind, Failure, Outcome};
use crate::reference::grammar::GrammarError;
use crate::store::{Listing, Store};
use crate::{Profile, Request};
use std::collections::BTreeMap;

/// The containers/common version a profile runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    /// Podman 4.3.1: containers/common v0.50.1.
    V0_50,
    /// Podman 5.4.2: containers/common v0.62.3.
    V0_62,
}

impl Version {
    fn of(profile: Profile) -> Version {
        match profile {
            Profile::Podman54 => Version::V0_62,
            _ => Version::V0_50,
        }
    }
}

/// What `profile` reports for `request` on the libpod batch endpoint (see the module docs).
pub fn remove(profile: Profile, store: &Store, request: &Request) -> Outcome {
    debug_assert!(matches!(profile, Profile::Podman43 | Profile::Podman54));
    if let Some(failure) = check_arguments(request) {
        return Outcome {
            records: Vec::new(),
            status: failure.status,
            errors: vec![failure],
            after: store.clone(),
        };
    }
    let version = Version::of(profile);
    let mut run = Run {
        version,
        storage: Storage(store.clone()),
        force: request.force,
        prune: request.prune,
        reports: BTreeMap::new(),
    };
    let mut errors = Vec::new();

    // Look every name up first, grouping the names by image in first-seen order
    // (`containers/common@v0.50.1:libimage/runtime.go#L654-L687`). With `--all`, every image,
    // intermediate ones too, each "referenced by" nothing (`abi/images.go#L565-L576`: the
    // `intermediate=false` filter is only added without `All`; `runtime.go#L689-L703`).
    let mut targets: Vec<(Handle, Vec<String>)> = Vec::new();
    if request.all {
        for id in run.storage.ids() {
            targets.push((Handle::read(&run.storage, id), Vec::new()));
        }
    }
    for name in &request.names {
        match lookup(version, &run.storage, name) {
            Ok((id, resolved)) => match targets.iter_mut().find(|(h, _)| h.id == id) {
                Some((_, refs)) => refs.push(resolved),
                None => targets.push((Handle::read(&run.storage, id), vec![resolved])),
            },
            // `--ignore` skips exactly the errors that wrap `ErrImageUnknown` (L674-L676).
            Err(failure) if request.ignore && failure.kind == ErrorKind::NotFound => {}
            Err(failure) => errors.push(failure),
        }
    }

    // Remove in that order, once per name that found the image ("" when none did), and list
    // each image the removals touched once, in the order they were first touched
    // (L714-L745).
    let mut touched: Vec<Digest> = Vec::new();
    for (mut handle, refs) in targets {
        let refs = if refs.is_empty() {
            vec![String::new()]
        } else {
            refs
        };
        for referenced_by in refs {
            let mut processed = Vec::new();
            if let Err(failure) = run.remove_recursive(&mut handle, &referenced_by, &mut processed)
            {
                errors.push(failure);
            }
            for id in processed {
                if !touched.contains(&id) {
                    touched.push(id);
                }
            }
        }
    }

    // The endpoint's report: `Deleted` for the images marked removed, `Untagged` for every
    // name each image lost (`abi/images.go#L578-L583`).
    let mut untagged = Vec::new();
    let mut deleted = Vec::new();
    for id in touched {
        if let Some(report) = run.reports.remove(&id) {
            if report.removed {
                deleted.push(id);
            }
            untagged.extend(report.untagged);
        }
    }
    Outcome {
        records: records(untagged, deleted),
        status: batch_status(&errors),
        errors,
        after: run.storage.0,
    }
}

/// How Podman lists a store; the same for every Podman version
/// ([`podman::listing`](super::podman::listing)).
pub fn listing(store: &Store) -> Listing {
    super::podman::listing(store)
}

/// The CLI's argument checks (`containers/podman@v4.3.1:cmd/podman/images/rm.go#L67-L73`,
/// `@v5.4.2:cmd/podman/images/rm.go#L64-L70`): plain errors, so exit 125.
fn check_arguments(request: &Request) -> Option<Failure> {
    let message = match (request.names.is_empty(), request.all) {
        (true, false) => "image name or ID must be specified",
        (false, true) => "when using the --all switch, you may not pass any images names or IDs",
        _ => return None,
    };
    Some(fail(ErrorKind::InvalidArgument, Class::Other, message))
}

/// A libimage `*Image`: an ID and the storage record as it was read. The names are read once
/// and re-read only when the image itself untags (`Untag` → `reload`,
/// `containers/common@v0.50.1:libimage/image.go#L598-L602`), so a second removal of an image
/// already deleted still sees the names it had.
#[derive(Clone, Debug)]
struct Handle {
    id: Digest,
    names: Vec<String>,
}

impl Handle {
    fn read(storage: &Storage, id: Digest) -> Handle {
        let names = storage.names(&id);
        Handle { id, names }
    }
}

/// The `RemoveImageReport` kept per image across one request (`rmMap`).
#[derive(Clone, Debug, Default)]
struct Report {
    removed: bool,
    untagged: Vec<String>,
}

/// One request's removal state: the storage being changed and the reports so far.
struct Run {
    version: Version,
    storage: Storage,
    force: bool,
    prune: bool,
    reports: BTreeMap<Digest, Report>,
}

impl Run {
    /// `removeRecursive` (`containers/common@v0.50.1:libimage/image.go#L352-L514`, the same
    /// rules at `@v0.62.3#L400-L560`). `referenced_by` is the name the lookup resolved, or
    /// `""` for `--all` and for pruned parents. IDs this call touched are appended to
    /// `processed`.
    ///
    /// 1. An image already removed in this request is done (L371-L381).
    /// 2. With one name, or referenced by nothing, the image is removed whatever it was
    ///    named by (L405-L415): `rmi foo` on an image whose only name is `foo` and which a
    ///    container uses is an in-use error, not an untag.
    /// 3. Otherwise it has several names. Named by ID (the input is a prefix of the ID) or by
    ///    `sha256:` digest, it needs force (L416-L427, exit 125); with force the whole image
    ///    goes. Named by a name, that name is untagged, and the image stays while names are
    ///    left (L429-L439), force or not.
    /// 4. With force, the containers of the image are removed first, running ones stopped
    ///    (L446-L449; libpod's callback, `containers/podman@v4.3.1:libpod/runtime_img.go#L26-L75`).
    /// 5. The image record is deleted; a container still using it refuses that (exit 2,
    ///    L472-L477). Children do not stop it: their layers stay, and the image is then
    ///    reported with its names as untagged but not as deleted (L451-L460, L479-L488).
    /// 6. Unless `noprune`, a parent left dangling (no names, no other children) is removed
    ///    the same way, recursively, with the same force (L490-L513): a container on it is
    ///    an error (exit 2) where Docker would stop quietly.
    fn remove_recursive(
        &mut self,
        handle: &mut Handle,
        referenced_by: &str,
        processed: &mut Vec<Digest>,
    ) -> Result<(), Failure> {
        let id = handle.id.clone();
        if self.reports.entry(id.clone()).or_default().removed {
            return Ok(());
        }
        let count = handle.names.len();
        let mut skip_remove = false;
        if !(referenced_by.is_empty() || count == 1) {
            let by_id = id.hex().starts_with(referenced_by);
            let by_digest = referenced_by.starts_with("sha256:");
            if !self.force && count > 1 && (by_id || by_digest) {
                let how = if by_id { "ID" } else { "digest" };
                return Err(fail(
                    ErrorKind::Conflict {
                        reason: ConflictReason::MultipleReferences,
                        forceable: true,
                    },
                    Class::Other,
                    format!(
                        "unable to delete image {} by {how} with more than one tag ({}): please force removal",
                        go_quote(id.hex()),
                        go_list(&handle.names)
                    ),
                ));
            }
            if !by_id && !by_digest {
                self.untag(handle, referenced_by)?;
                self.report(&id).untagged.push(referenced_by.to_owned());
                skip_remove = !handle.names.is_empty();
            }
        }
        processed.push(id.clone());
        if skip_remove {
            return Ok(());
        }
        if self.force {
            self.storage.remove_containers_of(&id);
        }
        let has_children = self.storage.has_children(&id);
        let parent = self.storage.parent(&id);
        match self.storage.delete_image(&id) {
            // An image already gone counts as removed (`handleError`, L386-L393).
            Ok(()) | Err(DeleteError::NotAnImage) => {}
            Err(DeleteError::UsedBy(container)) => return Err(in_use(&container)),
        }
        let report = self.report(&id);
        report.untagged.extend(handle.names.iter().cloned());
        if !has_children {
            report.removed = true;
        }
        if !self.prune {
            return Ok(());
        }
        match parent {
            Some(parent) if self.storage.is_dangling(&parent) => {
                let mut parent = Handle::read(&self.storage, parent);
                self.remove_recursive(&mut parent, "", processed)
            }
            _ => Ok(()),
        }
    }

    fn report(&mut self, id: &Digest) -> &mut Report {
        self.reports.entry(id.clone()).or_default()
    }

    /// `Untag` (`containers/common@v0.50.1:libimage/image.go#L557-L603`, `@v0.62.3#L602-L648`):
    /// the name is normalized ([`normalize_name`]) and must be one of the image's names as
    /// last read, else `<name>: tag not known` (exit 125). That is how a digest reference
    /// that found the image through its manifest digest, without being a stored name, fails
    /// on an image with several names.
    fn untag(&mut self, handle: &mut Handle, name: &str) -> Result<(), Failure> {
        let other = |message: String| fail(ErrorKind::Other, Class::Other, message);
        let normalized = normalize_name(name).map_err(|e| {
            let inner = format!("normalizing name {}: {e}", go_quote(name));
            other(match self.version {
                Version::V0_50 => format!("normalizing name {}: {inner}", go_quote(name)),
                Version::V0_62 => inner,
            })
        })?;
        let normalized = normalized.to_string();
        if !handle.names.contains(&normalized) {
            return Err(other(format!("{normalized}: tag not known")));
        }
        self.storage.remove_name(&handle.id, &normalized);
        handle.names = self.storage.names(&handle.id);
        Ok(())
    }
}

/// The in-use error: containers/storage's `image used by <cid>: image is in use by a
/// container` (`containers/storage@v1.43.0:store.go#L2441`, `types/errors.go#L23`), wrapped
/// by libimage (`containers/common@v0.50.1:libimage/image.go#L473-L475`). Podman does not say
/// whether the container runs.
fn in_use(container: &Digest) -> Failure {
    fail(
        ErrorKind::Conflict {
            reason: ConflictReason::ContainerInUse,
            forceable: true,
        },
        Class::InUse,
        format!(
            "image used by {}: image is in use by a container: consider listing external containers and force-removing image",
            container.hex()
        ),
    )
}

/// `<name>: image not known` (`storage.ErrImageUnknown`, `containers/storage@v1.43.0:types/errors.go#L21`).
fn not_known(name: &str) -> Failure {
    fail(
        ErrorKind::NotFound,
        Class::NotFound,
        format!("{name}: image not known"),
    )
}

/// `NormalizeName` (`containers/common@v0.50.1:libimage/normalize.go#L17-L57`): a name
/// whose domain is not a registry gets `localhost/`; then docker.io normalization, the tag
/// of a tagged and digested name dropped, `latest` added when neither is given.
fn normalize_name(name: &str) -> Result<Ref, GrammarError> {
    let parsed = Ref::parse(name)?;
    let name = if parsed.is_short() {
        format!("localhost/{}", parsed.to_string().trim_start_matches('/'))
    } else {
        name.to_owned()
    };
    Ok(Ref::parse_normalized(&name)?
        .without_tag_if_digested()
        .tag_name_only())
}

/// `LookupImage` (`containers/common@v0.50.1:libimage/runtime.go#L219-L320`,
/// `@v0.62.3#L241-L346`): the image a name means, and the name it resolved to.
///
/// 1. A tagged and digested name loses its tag (Docker compatibility, L239-L246). A name
///    that does not parse is an error (exit 125).
/// 2. `sha256:` must be followed by a full 64-hex ID, else
///    `sha256:<x>: invalid format: no 64-byte hexadecimal value` (exit 125, not a not-found
///    error, so `--ignore` does not skip it) (L248-L258).
/// 3. A full ID, with or without `sha256:`, is looked up as an ID only (L260-L270).
/// 4. The short-name candidates (`localhost/<name>` first, then the search registries) and
///    the docker.io normalization are tried in turn, by stored name (L287-L307).
/// 5. Then the name itself: an exact stored name, or an ID prefix of any length; an
///    ambiguous prefix finds nothing (L309-L317). So a tag wins over an ID prefix.
/// 6. Last, a fuzzy match ([`lookup_in_digests_and_repo_tags`]).
///
/// Not found: `<name>: image not known` (exit 1).
fn lookup(version: Version, storage: &Storage, input: &str) -> Result<(Digest, String), Failure> {
    let parsed = Ref::parse(input)
        .map_err(|e| {
            fail(
                ErrorKind::InvalidReference,
                Class::Other,
                match version {
                    Version::V0_50 => e.to_string(),
                    Version::V0_62 => format!("parsing reference {}: {e}", go_quote(input)),
                },
            )
        })?
        .without_tag_if_digested();
    let name = parsed.to_string();

    let (by_digest, bare) = match name.strip_prefix("sha256:") {
        Some(hex) => (true, hex),
        None => (false, name.as_str()),
    };
    let by_full_id = is_full_hex(bare);
    if by_digest && !by_full_id {
        return Err(fail(
            ErrorKind::InvalidReference,
            Class::Other,
            format!("{name}: invalid format: no 64-byte hexadecimal value"),
        ));
    }
    if by_full_id || by_digest {
        return match storage.lookup(bare) {
            Some(id) => Ok((id, name)),
            None => Err(not_known(&name)),
        };
    }

    let Ok(mut candidates) = resolve_locally(&name) else {
        return Err(not_known(&name));
    };
    if let Ok(docker) = Ref::parse_docker(&name) {
        candidates.push(docker);
    }
    for candidate in candidates {
        let found = match version {
            // `store.Image(candidate)`: the exact stored name (L324-L333).
            Version::V0_50 => storage.lookup(&candidate.to_string()),
            // The storage transport's `resolveImage` (`@v0.62.3#L364-L379`).
            Version::V0_62 => storage.resolve(&candidate),
        };
        if let Some(id) = found {
            return Ok((id, candidate.to_string()));
        }
    }

    if let Some(id) = storage.lookup(&name) {
        return Ok((id, name));
    }
    lookup_in_digests_and_repo_tags(version, storage, &name, &parsed)
}

/// The last resort of `LookupImage` (`containers/common@v0.50.1:libimage/runtime.go#L420-L490`,
/// `@v0.62.3#L476-L533`).
///
/// - A digested name: 4.3.1 takes the first image (store order) with that manifest digest,
///   **whatever its repository**, and resolves to the name as given; 5.4.2 only does this
///   for short names, and needs an image with a name (tag or digest name) whose repository
///   ends in the given one, then resolves to `<that repository>@<digest>`.
/// - A short name with a tag (default `latest`): the first image with a name in a repository
///   that is the given one or ends in `/<given one>`, with that tag
///   (`quay.io/libpod/cirros:latest` for `cirros`); it resolves to that stored name.
/// - Else not found.
fn lookup_in_digests_and_repo_tags(
    version: Version,
    storage: &Storage,
    name: &str,
    parsed: &Ref,
) -> Result<(Digest, String), Failure> {
    let images = &storage.0.images;
    if version == Version::V0_50 {
        if let Some(digest) = &parsed.digest {
            return images
                .iter()
                .find(|i| &i.manifest.to_string() == digest)
                .map(|i| (i.config.clone(), name.to_owned()))
                .ok_or_else(|| not_known(name));
        }
    }
    if !parsed.is_short() {
        return Err(not_known(name));
    }
    let wanted = parsed.clone().tag_name_only();
    let repo = wanted.name();
    let fuzzy_repo = |candidate: &str| {
        candidate == repo
            || candidate
                .strip_suffix(repo.as_str())
                .is_some_and(|head| head.ends_with('/'))
    };
    for image in images {
        let matching = super::podman::names(image).into_iter().find_map(|stored| {
            let stored = Ref::parse(&stored).ok()?;
            let tag_ok = match version {
                // `inRepoTags` compares tags, a digest name's tag being `<none>` (v0.50.1
                // L656-L686, `normalize.go#L75-L98`).
                Version::V0_50 => stored.tag == wanted.tag,
                // `referenceFuzzilyMatchingRepoAndTag` (v0.62.3 `image.go#L707-L735`): a
                // wanted digest matches any name of the repository.
                Version::V0_62 => wanted.digest.is_some() || stored.tag == wanted.tag,
            };
            (tag_ok && fuzzy_repo(&stored.name())).then_some(stored)
        });
        let Some(stored) = matching else { continue };
        match (&wanted.digest, version) {
            (Some(digest), Version::V0_62) => {
                if &image.manifest.to_string() == digest {
                    return Ok((
                        image.config.clone(),
                        format!("{}@{digest}", stored.trimmed()),
                    ));
                }
            }
            _ => return Ok((image.config.clone(), stored.to_string())),
        }
    }
    Err(not_known(name))
}
