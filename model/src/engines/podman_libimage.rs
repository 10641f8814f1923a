//! Podman on containers/common `libimage`: 4.3.1 ([`Profile::Podman43`], containers/common
//! v0.50.1, containers/storage v1.43.0, containers/image v5.23.0), 5.4.2
//! ([`Profile::Podman54`], containers/common v0.62.3, containers/storage v1.57.2,
//! containers/image v5.34.3) and 5.8.6 ([`Profile::Podman58`], containers/common v0.67.1,
//! containers/image 5.39.2, containers/storage 1.64.0, per the Debian build's
//! `Static-Built-Using`; upstream podman v5.8.2 vendors the same common, so 5.8 is cited at
//! `containers/podman@v5.8.2:vendor/go.podman.io/common/…`).
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
//!   `podman::Class`);
//! - the records are every `Untagged:` name, then every `Deleted:` ID, in the report's order
//!   (per image, in the order the images were processed); names are fully qualified as
//!   stored, IDs are bare 64 hex (the config digest).
//!
//! Two checks come from the CLI, not the endpoint (`cmd/podman/images/rm.go#L67-L73` at
//! v4.3.1): no names without `--all` is an error (`image name or ID must be specified`), and
//! names with `--all` too. The endpoint itself would, with no names, remove **every** image
//! (`libimage` treats an empty list as "everything the filters let through",
//! `containers/common@v0.50.1:libimage/runtime.go#L689-L703`; docs/engines.md#traps), and with
//! names and `all` just remove the names. A caller of the endpoint must check the arguments
//! the way the CLI does; the model answers as the CLI does.
//!
//! Checked on podman 4.3.1 through the endpoint: the report's order (every `Untagged`, then
//! every `Deleted`), `force=true` with an unknown name (`ExitCode` 1), `ignore=true` (0), a
//! name that does not parse (125); through the CLI: the by-ID and by-digest messages, the
//! `sha256:<short>` error, the in-use message, aliases, and `rmi -a` on a parent and child.
//!
//! # The rules
//!
//! Resolution is `lookup`; removal is `Run::remove_recursive`, after all names were
//! looked up and grouped by image ([`remove`]). In short: a name that resolves to an image
//! with one name, or `--all`, removes the image; one of several names is untagged; an ID or
//! `sha256:` digest of an image with several names needs force; force removes the containers
//! first; a container blocks removal (exit 2); an image with children loses its record but
//! is reported as untagged only; a parent left dangling is removed too (unless `noprune`).
//!
//! # 4.3.1 and 5.4.2
//!
//! The removal code is the same (`libimage/image.go` `removeRecursive`, v0.50.1 L352-L514,
//! v0.62.3 L400-L560). They differ in looking names up (`Version`):
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
//! # 5.8.6: 5.4.2's rules, and one about manifest lists
//!
//! R-P-58: the removal and lookup code of common v0.67.1 is v0.62.3's apart from style
//! (`removeRecursive` is `libimage/image.go#L413-L573` at v5.8.2, was v0.62.3 L400-L560;
//! `RemoveImages` `runtime.go#L733-L856`; lookup unchanged), so [`Profile::Podman58`] runs
//! 5.4.2's rules (`Version::V0_62`). The one change: a dangling parent that a **local manifest
//! list** names is no longer pruned. `IsDangling` now builds the layer tree with the
//! manifest lists' instance digests and is false for an image whose digest is one of them
//! (`containers/podman@v5.8.2:vendor/go.podman.io/common/libimage/image.go#L196-L222`,
//! `layer_tree.go#L108-L156`; pruning decides on it at `image.go#L559-L572`;
//! containers/container-libs 9e1bb4b047, first in podman v5.5.0). The [`Store`] holds
//! manifest lists ([`crate::ManifestList`], `given.manifests` in scenarios), so the rule is
//! `Run::is_dangling` (`scenarios/manifests/untagged-parent-in-a-list.yaml`, checked live:
//! 5.8.6 keeps the parent, 4.3.1 and 5.4.2 delete it). The compat API's force no longer
//! removing running containers (podman v5.6.0) is not the batch endpoint's business and is
//! not modelled.
//!
//! # Manifest lists (every version)
//!
//! A list is an image record of its own in containers-storage, listed with its names. A name
//! or ID that finds a list resolves, in `RemoveImages`' lookup, to the list's instance for
//! the local platform when that image is stored, and to the list itself otherwise
//! (`podman::Storage::through_manifest_list`); the name the user typed stays the resolved
//! name, so an instance with several names cannot be untagged by it (`<name>: tag not
//! known`, exit 125, force or not). Removing an image a list names leaves the list alone.
//! All checked live on 4.3.1, 5.4.2 and 5.8.6 (`scenarios/manifests/`).
//!
//! # Configuration modelled
//!
//! `registries.conf` with `unqualified-search-registries = []` and
//! `short-name-mode = "disabled"`, plus the short-name aliases of the system drop-in
//! directory, which the live engines read too (`busybox` → `docker.io/library/busybox`, …:
//! `podman::ALIASES`, `podman::resolve_locally`).

use super::podman::{
    batch_status, classify_class_125, fail, go_list, go_quote, records, resolve_locally, Class,
    DeleteError, Ref, Storage,
};
use crate::digest::{is_full_hex, Digest};
use crate::outcome::{ConflictReason, ErrorKind, Failure, Outcome};
use crate::reference::grammar::GrammarError;
use crate::store::{Listing, Store};
use crate::{Profile, Request};
use std::collections::{BTreeMap, HashMap};

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
            // R-P-58: 5.8.6 looks names up as 5.4.2 does.
            Profile::Podman54 | Profile::Podman58 => Version::V0_62,
            _ => Version::V0_50,
        }
    }
}

/// What `profile` reports for `request` on the libpod batch endpoint (see the module docs).
pub fn remove(profile: Profile, store: &Store, request: &Request) -> Outcome {
    answer(profile, store, request, &mut Lookups::default())
}

/// [`remove`] of each of `requests` on the same `store`, each name looked up once for all of
/// them ([`Lookups`]).
pub fn remove_each<'r>(
    profile: Profile,
    store: &Store,
    requests: impl IntoIterator<Item = &'r Request>,
) -> Vec<Outcome> {
    let mut lookups = Lookups::default();
    requests
        .into_iter()
        .map(|request| answer(profile, store, request, &mut lookups))
        .collect()
}

/// What [`lookup`] answered, by name, on one store and version. libimage looks every name of
/// a request up before it removes anything (`containers/common@v0.50.1:libimage/runtime.go#L654-L687`),
/// so a lookup's answer depends on the store before, the version and the name alone, and
/// requests on the same store share it.
#[derive(Default)]
struct Lookups(HashMap<String, Result<(Digest, String), Failure>>);

impl Lookups {
    fn get(
        &mut self,
        version: Version,
        storage: &Storage,
        name: &str,
    ) -> Result<(Digest, String), Failure> {
        if let Some(answer) = self.0.get(name) {
            return answer.clone();
        }
        let answer = lookup(version, storage, name);
        self.0.insert(name.to_owned(), answer.clone());
        answer
    }
}

/// [`remove`], with the lookups made on `store` so far.
fn answer(profile: Profile, store: &Store, request: &Request, lookups: &mut Lookups) -> Outcome {
    debug_assert!(matches!(
        profile,
        Profile::Podman43 | Profile::Podman54 | Profile::Podman58
    ));
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
        lists_keep_parents: profile == Profile::Podman58,
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
        // `run.storage` is still `store`: nothing has been removed yet.
        match lookups.get(version, &run.storage, name) {
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
/// (`podman::listing`).
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
    /// R-P-58: a dangling parent that a stored manifest list names is not pruned (5.5+).
    lists_keep_parents: bool,
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
    ///    A second name for the same image finds the record gone: no children then, so it is
    ///    reported deleted after all (checked live on 4.3.1, 5.4.2 and 5.8.6).
    /// 6. Unless `noprune`, a parent left dangling (no names, no other children) is removed
    ///    the same way, recursively, with the same force (L490-L513): a container on it is
    ///    an error (exit 2) where Docker would stop quietly.
    ///
    /// With `--all`, images go in store order, so a parent comes before its child: it loses
    /// its record as an image with children (only `Untagged:`), and once the child is gone no
    /// parent is left to prune, so the parent is never reported `Deleted:` (checked on
    /// podman 4.3.1).
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
            remove_containers_for_image(&mut self.storage, &id);
        }
        // Children are found through the image's own config (`layerTree.children` reads it,
        // `toOCI`, uncached): once the record is gone, as on the second name of a request that
        // already deleted the image, that fails and counts as no children, so the image is now
        // reported `Deleted:`. v0.62.3 returns no children on `ErrorIsImageUnknown`
        // (`containers/common@v0.62.3:libimage/layer_tree.go#L170-L177`, the same at
        // `containers/podman@v5.8.2:vendor/go.podman.io/common/libimage/layer_tree.go#L187-L194`);
        // v0.50.1 returns the error (`containers/common@v0.50.1:libimage/layer_tree.go#L142-L146`)
        // and `removeRecursive` ignores it as no children (`libimage/image.go#L454-L460`).
        // `parent` is `None` then too (`Parent` fails the same way and is ignored).
        let has_children = self.storage.image(&id).is_some() && self.storage.has_children(&id);
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
            Some(parent) if self.is_dangling(&parent) => {
                let mut parent = Handle::read(&self.storage, parent);
                self.remove_recursive(&mut parent, "", processed)
            }
            _ => Ok(()),
        }
    }

    /// `IsDangling`: no names, no children, and from 5.5 on, not an instance of any stored
    /// manifest list (R-P-58: the layer tree collects every list's instance digests and the
    /// image's `Digest()` is looked up there,
    /// `containers/podman@v5.8.2:vendor/go.podman.io/common/libimage/image.go#L196-L222`,
    /// `layer_tree.go#L108-L156`; 5.4.2 has only the first two tests,
    /// `containers/common@v0.62.3:libimage/image.go#L198-L209`).
    fn is_dangling(&self, id: &Digest) -> bool {
        let in_list = self.lists_keep_parents
            && self
                .storage
                .image(id)
                .is_some_and(|i| self.storage.0.in_manifest_list(&i.manifest));
        self.storage.is_dangling(id) && !in_list
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
        // An image an earlier name of the request deleted: `SetNames` fails with
        // `ErrImageUnknown` before `Untag` reloads the image, and `removeRecursive` ignores
        // that error, so the names libimage holds stay the ones it looked up, and with names
        // left it skips the removal (no `Deleted:`; found by the fuzzer, seed 3 case 5 on
        // 4.3.1; `containers/podman@v4.3.1:vendor/github.com/containers/common/libimage/image.go#L557-L602`,
        // the skip at L431-L441).
        let gone = self.storage.image(&handle.id).is_none()
            && self.storage.0.manifest_list(&handle.id).is_none();
        if !gone {
            self.storage.remove_name(&handle.id, &normalized);
            handle.names = self.storage.names(&handle.id);
        }
        Ok(())
    }
}

/// libpod's `RemoveContainersForImageCallback`, which libimage calls on a forced removal
/// (`containers/podman@v4.3.1:libpod/runtime_img.go#L26-L53`, the same in
/// `@v5.4.2:libpod/runtime_img.go#L27-L60` and `@v5.8.2:libpod/runtime_img.go#L25-L58`):
/// every container of the image goes, in the state's order; an **infra** container takes its
/// whole pod with it (`removePod` with its containers, force), so the pod's other containers
/// go too, whatever image they run. A container already gone with its pod is passed over.
fn remove_containers_for_image(storage: &mut Storage, id: &Digest) {
    for container in storage.users(id) {
        match storage.infra_of(&container) {
            Some(pod) => storage.remove_pod(&pod),
            None => storage.remove_container(&container),
        }
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
/// 4. The short-name candidates (the name's alias if it has one, then `localhost/<name>`,
///    then the search registries) and the docker.io normalization are tried in turn, by
///    stored name (L287-L307).
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
    // A name or ID that finds a manifest list means the list's local instance, if stored
    // (`Storage::through_manifest_list`); the resolved name stays what was typed.
    let storage_lookup = |key: &str| {
        storage
            .lookup(key)
            .map(|id| storage.through_manifest_list(id))
    };
    if by_full_id || by_digest {
        return match storage_lookup(bare) {
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
            Version::V0_50 => storage_lookup(&candidate.to_string()),
            // The storage transport's `resolveImage` (`@v0.62.3#L364-L379`).
            Version::V0_62 => storage
                .resolve(&candidate)
                .map(|id| storage.through_manifest_list(id)),
        };
        if let Some(id) = found {
            return Ok((id, candidate.to_string()));
        }
    }

    if let Some(id) = storage_lookup(&name) {
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
                .find(|i| i.manifest.is_prefixed(digest))
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
                if image.manifest.is_prefixed(digest) {
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

/// What kind of error a libimage message is, and its exit class (`removeErrorsToExitCode`:
/// 1 not found, 2 in use, 125 otherwise; `podman@v4.3.1:pkg/domain/infra/abi/images.go#L515-L554`),
/// read back from the text as a live adapter sees it. The inverse of this module's message
/// constructors (`tests/laws.rs` checks it on generated stores).
///
/// libimage (containers/common v0.50.1, v0.62.3). The sentinel errors' texts come last in a
/// wrapped message: `storage.ErrImageUnknown` "image not known", `ErrLayerUnknown` "layer not
/// known", `ErrImageUsedByContainer` "image is in use by a container"
/// (`containers/storage@v1.43.0:types/errors.go`); the exit class follows them with
/// `errors.Is`, so text that merely resembles them ("tag not known") is class 125.
pub fn classify(text: &str) -> (ErrorKind, u8) {
    let conflict = |reason| ErrorKind::Conflict {
        reason,
        forceable: true,
    };
    if text.contains("image is in use by a container") {
        // `image used by <cid>: image is in use by a container: consider listing external
        // containers and force-removing image` (libimage/image.go#L472-L477 @v0.50.1).
        (conflict(ConflictReason::ContainerInUse), 2)
    } else if text.contains("image not known") || text.contains("layer not known") {
        (ErrorKind::NotFound, 1)
    } else if text.contains("with more than one tag") {
        // `unable to delete image "<id>" by ID|digest with more than one tag ([…]): please
        // force removal` (libimage/image.go#L420-L426 @v0.50.1).
        (conflict(ConflictReason::MultipleReferences), 125)
    } else if text.contains("tag not known") {
        // A digest reference whose repository the image has no digest name in
        // (libimage/image.go#L433-L438 @v0.50.1): the image was found, the name was not; not
        // a storage not-found error, so class 125 and kind other.
        (ErrorKind::Other, 125)
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
    use crate::outcome::Status;
    use crate::store::ContainerState::{Running, Stopped};
    use crate::Record;
    use rstest::rstest;

    const P43: Profile = Profile::Podman43;
    const P54: Profile = Profile::Podman54;
    const P58: Profile = Profile::Podman58;

    /// `<aa>`'s full ID, spelled out for the tables.
    const AA: &str = "aa00000000000000000000000000000000000000000000000000000000000000";
    /// The same with `sha256:`.
    const SHA_AA: &str = "sha256:aa00000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn the_spelled_out_ids_are_the_fixtures() {
        assert_eq!((AA.to_owned(), SHA_AA.to_owned()), (hex("aa"), dg("aa")));
    }

    fn dg(prefix: &str) -> String {
        d(prefix).to_string()
    }

    fn hex(prefix: &str) -> String {
        d(prefix).hex().to_owned()
    }

    /// `names…` with `force`, `ignore`, `noprune`, `all` as flags in `flags`.
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

    /// The outcome in short: records, `status message` per error, status code, images left.
    fn run(profile: Profile, s: &Store, r: Request) -> (Vec<String>, Vec<String>, u8, String) {
        let outcome = remove(profile, s, &r);
        let errors = outcome
            .errors
            .iter()
            .map(|f| format!("{} {}", f.status, f.message))
            .collect();
        let Status::Exit(code) = outcome.status else {
            panic!("libpod reports exit codes, got {}", outcome.status)
        };
        (lines(&outcome.records), errors, code, left(&outcome.after))
    }

    // ----- Resolution -------------------------------------------------------------------

    /// A `localhost/app:1`; B `docker.io/library/app:1`; C `quay.io/libpod/cirros:latest`;
    /// D `127.0.0.1:5000/dig:1` (manifest `edd44…`); E `127.0.0.1:5000/pin@<E.manifest>` and
    /// `…/pin:2`; T `localhost/cafe:latest` (ID `0123…`); U ID `cafe…`; V dangling, ID `ab…`.
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
            image("ab00", &[]),
        ]))
    }

    type Found = Result<(&'static str, String), String>;

    fn found(id: &'static str, name: impl Into<String>) -> Found {
        Ok((id, name.into()))
    }

    fn unknown(name: impl std::fmt::Display) -> Found {
        Err(format!("exit 1 {name}: image not known"))
    }

    #[rstest]
    #[case::localhost_first("app:1", found("aa11", "localhost/app:1"))]
    #[case::docker_io_familiar("docker.io/app:1", found("bb22", "docker.io/library/app:1"))]
    #[case::library_path_is_a_short_name("library/app:1", found("bb22", "docker.io/library/app:1"))]
    #[case::no_tag_means_latest("app", unknown("app"))]
    #[case::repository_suffix("cirros", found("cc33", "quay.io/libpod/cirros:latest"))]
    #[case::repository_path_suffix("libpod/cirros", found("cc33", "quay.io/libpod/cirros:latest"))]
    #[case::suffix_needs_a_slash("irros", unknown("irros"))]
    #[case::suffix_needs_the_tag("cirros:1", unknown("cirros:1"))]
    #[case::qualified_names_get_no_suffix_match(
        "example.com/cirros",
        unknown("example.com/cirros")
    )]
    #[case::id_prefix("aa1", found("aa11", "aa1"))]
    #[case::one_character_prefix("d", found("dd44", "d"))]
    #[case::ambiguous_prefix_is_unknown("a", unknown("a"))]
    #[case::tag_beats_id_prefix("cafe", found("0123", "localhost/cafe:latest"))]
    #[case::prefix_without_such_tag("caf", found("cafe", "caf"))]
    #[case::full_id(&hex("aa11"), found("aa11", hex("aa11")))]
    #[case::sha256_full_id(&dg("aa11"), found("aa11", dg("aa11")))]
    #[case::unknown_full_id(&hex("ff"), unknown(hex("ff")))]
    #[case::unknown_sha256_id(&dg("ff"), unknown(dg("ff")))]
    #[case::sha256_needs_64_hex("sha256:aa11", Err("exit 125 sha256:aa11: invalid format: no 64-byte hexadecimal value".into()))]
    #[case::stored_digest_name(&format!("127.0.0.1:5000/pin@{}", dg("eee55")), found("ee55", format!("127.0.0.1:5000/pin@{}", dg("eee55"))))]
    #[case::tag_dropped_before_digest(&format!("127.0.0.1:5000/pin:9@{}", dg("eee55")), found("ee55", format!("127.0.0.1:5000/pin@{}", dg("eee55"))))]
    #[case::digest_of_a_tagged_image(&format!("127.0.0.1:5000/dig@{}", dg("edd44")), found("dd44", format!("127.0.0.1:5000/dig@{}", dg("edd44"))))]
    #[case::other_digest_algorithm(&format!("busybox@sha512:{}", "ab".repeat(64)), unknown(format!("busybox@sha512:{}", "ab".repeat(64))))]
    fn names_resolve_alike_in_4_3_and_5_4(
        #[case] input: &str,
        #[case] expected: Found,
        #[values(P43, P54)] profile: Profile,
    ) {
        assert_eq!(resolve(profile, input), expected);
    }

    fn resolve(profile: Profile, input: &str) -> Found {
        let ids = [
            "aa11", "bb22", "cc33", "dd44", "ee55", "0123", "cafe", "ab00",
        ];
        lookup(Version::of(profile), &resolution_store(), input)
            .map(|(id, name)| {
                let id = ids.into_iter().find(|p| d(p) == id).unwrap();
                (id, name)
            })
            .map_err(|f| format!("{} {}", f.status, f.message))
    }

    #[rstest]
    #[case::uppercase(
        "Foo",
        Err("exit 125 repository name must be lowercase".into()),
        Err("exit 125 parsing reference \"Foo\": repository name must be lowercase".into())
    )]
    #[case::empty(
        "",
        Err("exit 125 repository name must have at least one component".into()),
        Err("exit 125 parsing reference \"\": repository name must have at least one component".into())
    )]
    #[case::digest_of_another_repository(
        &format!("127.0.0.1:5000/other@{}", dg("edd44")),
        found("dd44", format!("127.0.0.1:5000/other@{}", dg("edd44"))),
        unknown(format!("127.0.0.1:5000/other@{}", dg("edd44")))
    )]
    #[case::short_digested_name(
        &format!("dig@{}", dg("edd44")),
        found("dd44", format!("dig@{}", dg("edd44"))),
        found("dd44", format!("127.0.0.1:5000/dig@{}", dg("edd44")))
    )]
    #[case::short_digested_name_of_another_repository(
        &format!("nodig@{}", dg("edd44")),
        found("dd44", format!("nodig@{}", dg("edd44"))),
        unknown(format!("nodig@{}", dg("edd44")))
    )]
    fn where_4_3_and_5_4_resolve_differently(
        #[case] input: &str,
        #[case] v4_3: Found,
        #[case] v5_4: Found,
    ) {
        assert_eq!((resolve(P43, input), resolve(P54, input)), (v4_3, v5_4));
    }

    #[rstest]
    #[case::alias_beats_localhost(
        "busybox",
        "Untagged: docker.io/library/busybox:latest",
        "localhost/busybox:latest"
    )]
    #[case::no_alias_localhost_first(
        "app",
        "Untagged: localhost/app:latest",
        "docker.io/library/app:latest"
    )]
    fn an_alias_comes_before_localhost(
        #[case] name: &str,
        #[case] record: &str,
        #[case] kept: &str,
        #[values(P43, P54)] profile: Profile,
    ) {
        let s = store(vec![image(
            "aa",
            &[
                &format!("localhost/{name}:latest"),
                &format!("docker.io/library/{name}:latest"),
            ],
        )]);
        let (records, errors, code, after) = run(profile, &s, request(&[name], ""));
        assert_eq!(
            (records, errors, code),
            (vec![record.to_owned()], vec![], 0)
        );
        assert_eq!(after, format!("aa00:{kept}"));
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
    #[case::one_of_two_names_is_untagged(&["localhost/app:a"], "", &["Untagged: localhost/app:a"], "aa00:localhost/app:b bb00:localhost/solo:1")]
    #[case::short_name_untags_the_stored_name(&["app:b"], "", &["Untagged: localhost/app:b"], "aa00:localhost/app:a bb00:localhost/solo:1")]
    #[case::force_still_only_untags(&["localhost/app:a"], "force", &["Untagged: localhost/app:a"], "aa00:localhost/app:b bb00:localhost/solo:1")]
    #[case::both_names_remove_the_image(&["app:a", "app:b"], "", &["Untagged: localhost/app:a", "Untagged: localhost/app:b", "Deleted: aa00"], "bb00:localhost/solo:1")]
    #[case::only_name_removes_the_image(&["solo:1"], "", &["Untagged: localhost/solo:1", "Deleted: bb00"], "aa00:localhost/app:a,localhost/app:b")]
    #[case::id_of_a_one_name_image(&["bb"], "", &["Untagged: localhost/solo:1", "Deleted: bb00"], "aa00:localhost/app:a,localhost/app:b")]
    #[case::force_by_id_untags_every_name_in_stored_order(&["aa"], "force", &["Untagged: localhost/app:a", "Untagged: localhost/app:b", "Deleted: aa00"], "bb00:localhost/solo:1")]
    #[case::force_by_digest(&[SHA_AA], "force", &["Untagged: localhost/app:a", "Untagged: localhost/app:b", "Deleted: aa00"], "bb00:localhost/solo:1")]
    #[case::same_image_twice_is_one_removal(&["localhost/solo:1", "solo:1", "bb"], "", &["Untagged: localhost/solo:1", "Deleted: bb00"], "aa00:localhost/app:a,localhost/app:b")]
    #[case::every_untagged_before_every_deleted(&["solo:1", "aa"], "force", &["Untagged: localhost/solo:1", "Untagged: localhost/app:a", "Untagged: localhost/app:b", "Deleted: bb00", "Deleted: aa00"], "")]
    fn a_name_untags_and_the_last_name_removes(
        #[case] names: &[&str],
        #[case] flags: &str,
        #[case] records: &[&str],
        #[case] after: &str,
        #[values(P43, P54)] profile: Profile,
    ) {
        let (got, errors, code, left) = run(profile, &multi(), request(names, flags));
        assert_eq!(
            (got, errors, code),
            (records.iter().map(|r| r.to_string()).collect(), vec![], 0)
        );
        assert_eq!(left, after);
    }

    #[rstest]
    #[case::by_id(&["aa"], "ID")]
    #[case::by_full_id(&[AA], "ID")]
    #[case::by_sha256_digest(&[SHA_AA], "digest")]
    fn an_id_or_digest_of_a_multi_name_image_needs_force(
        #[case] names: &[&str],
        #[case] how: &str,
        #[values(P43, P54)] profile: Profile,
    ) {
        let (records, errors, code, after) = run(profile, &multi(), request(names, ""));
        let message = format!(
            "exit 125 unable to delete image \"{}\" by {how} with more than one tag ([localhost/app:a localhost/app:b]): please force removal",
            hex("aa")
        );
        assert_eq!((records, errors, code), (vec![], vec![message], 125));
        assert_eq!(after, UNCHANGED);
    }

    #[rstest]
    fn the_id_error_does_not_stop_the_other_names(#[values(P43, P54)] profile: Profile) {
        // Both names find M; the ID is tried first and fails, the name still untags.
        let (records, errors, code, after) =
            run(profile, &multi(), request(&["aa", "localhost/app:a"], ""));
        assert_eq!(records, ["Untagged: localhost/app:a"]);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("exit 125 unable to delete image"));
        assert_eq!(code, 125);
        assert_eq!(after, "aa00:localhost/app:b bb00:localhost/solo:1");
    }

    #[rstest]
    #[case::not_found(&["nope"], "", vec!["exit 1 nope: image not known"], 1)]
    #[case::force_does_not_hide_it_on_the_endpoint(&["nope"], "force", vec!["exit 1 nope: image not known"], 1)]
    #[case::ignore_skips_it(&["nope"], "ignore", vec![], 0)]
    #[case::ignore_keeps_other_errors(&["nope", "sha256:ab"], "ignore", vec!["exit 125 sha256:ab: invalid format: no 64-byte hexadecimal value"], 125)]
    #[case::not_found_and_other_is_125(&["nope", "sha256:ab"], "", vec!["exit 1 nope: image not known", "exit 125 sha256:ab: invalid format: no 64-byte hexadecimal value"], 125)]
    fn unknown_names_are_reported_unless_ignored(
        #[case] names: &[&str],
        #[case] flags: &str,
        #[case] errors: Vec<&str>,
        #[case] code: u8,
        #[values(P43, P54)] profile: Profile,
    ) {
        let mut all = names.to_vec();
        all.push("solo:1");
        let (records, got, status, after) = run(profile, &multi(), request(&all, flags));
        assert_eq!(
            records,
            ["Untagged: localhost/solo:1", "Deleted: bb00"],
            "the other names are still removed"
        );
        assert_eq!(
            (got, status),
            (errors.iter().map(|e| e.to_string()).collect(), code)
        );
        assert_eq!(after, "aa00:localhost/app:a,localhost/app:b");
    }

    #[test]
    fn deleted_ids_are_bare_hex_and_names_fully_qualified() {
        let outcome = remove(P43, &multi(), &request(&["solo:1"], ""));
        assert_eq!(
            outcome.records,
            [
                Record::Untagged("localhost/solo:1".into()),
                Record::Deleted(hex("bb"))
            ]
        );
    }

    // ----- Pods -------------------------------------------------------------------------

    #[rstest]
    fn a_forced_removal_of_an_infra_image_takes_the_whole_pod(
        #[values(P43, P54, P58)] profile: Profile,
    ) {
        let outcome = remove(profile, &pod_store(), &request(&["pause:1"], "force"));
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        assert_eq!(
            lines(&outcome.records),
            ["Untagged: localhost/pause:1", "Deleted: aa00"].map(String::from)
        );
        assert!(outcome.after.pods.is_empty());
        let left: Vec<&Digest> = outcome.after.containers.iter().map(|c| &c.id).collect();
        assert_eq!(
            left,
            [&d("33")],
            "the member 22 went with the pod; 33 stands alone"
        );
    }

    #[rstest]
    fn a_forced_removal_of_a_member_image_leaves_the_pod(
        #[values(P43, P54, P58)] profile: Profile,
    ) {
        let outcome = remove(profile, &pod_store(), &request(&["app:1"], "force"));
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        assert_eq!(outcome.after.pods, pod_store().pods);
        let left: Vec<&Digest> = outcome.after.containers.iter().map(|c| &c.id).collect();
        assert_eq!(left, [&d("11")]);
    }

    // ----- Containers -------------------------------------------------------------------

    /// I `aa…` `localhost/app:1`, with a stopped c1 and a running c2; J `bb…` with two names
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

    fn in_use_error(container: &str) -> String {
        format!(
            "exit 2 image used by {}: image is in use by a container: consider listing external containers and force-removing image",
            hex(container)
        )
    }

    #[rstest]
    #[case::by_its_only_name(&["app:1"])]
    #[case::by_id(&["aa"])]
    fn a_container_blocks_removal_naming_the_last_one(
        #[case] names: &[&str],
        #[values(P43, P54)] profile: Profile,
    ) {
        let before = in_use();
        let outcome = remove(profile, &before, &request(names, ""));
        assert_eq!(outcome.records, []);
        assert_eq!(
            outcome
                .errors
                .iter()
                .map(|f| format!("{} {}", f.status, f.message))
                .collect::<Vec<_>>(),
            [in_use_error("c2")]
        );
        assert_eq!(
            outcome.errors[0].kind,
            ErrorKind::Conflict {
                reason: ConflictReason::ContainerInUse,
                forceable: true
            }
        );
        assert_eq!(outcome.status, Status::Exit(2));
        assert_eq!(outcome.after, before);
    }

    #[rstest]
    #[case::by_name(&["app:1"], &["Untagged: localhost/app:1", "Deleted: aa00"], 1)]
    #[case::by_id_of_a_multi_name_image(&["bb"], &["Untagged: localhost/two:1", "Untagged: localhost/two:2", "Deleted: bb00"], 2)]
    fn force_removes_the_containers_first(
        #[case] names: &[&str],
        #[case] records: &[&str],
        #[case] containers_left: usize,
        #[values(P43, P54)] profile: Profile,
    ) {
        let outcome = remove(profile, &in_use(), &request(names, "force"));
        assert_eq!(lines(&outcome.records), records);
        assert_eq!((outcome.errors.len(), outcome.status), (0, Status::Exit(0)));
        assert_eq!(outcome.after.containers.len(), containers_left);
    }

    #[rstest]
    fn untagging_one_of_several_names_ignores_containers(
        #[values("", "force")] flags: &str,
        #[values(P43, P54)] profile: Profile,
    ) {
        let outcome = remove(profile, &in_use(), &request(&["two:1"], flags));
        assert_eq!(lines(&outcome.records), ["Untagged: localhost/two:1"]);
        assert_eq!(outcome.after.containers.len(), 3);
    }

    #[rstest]
    fn in_use_outranks_not_found(#[values(P43, P54)] profile: Profile) {
        let (_, errors, code, _) = run(profile, &in_use(), request(&["nope", "app:1"], ""));
        assert_eq!(
            errors,
            [
                "exit 1 nope: image not known".to_owned(),
                in_use_error("c2")
            ]
        );
        assert_eq!(code, 2);
    }

    // ----- Parents and children ---------------------------------------------------------

    #[rstest]
    #[case::parent_by_name(&["par:1"], "", &["Untagged: localhost/par:1"], "bb00:localhost/child:1")]
    #[case::parent_by_id(&["aa"], "", &["Untagged: localhost/par:1"], "bb00:localhost/child:1")]
    #[case::child_keeps_a_named_parent(&["child:1"], "", &["Untagged: localhost/child:1", "Deleted: bb00"], "aa00:localhost/par:1")]
    // The second name finds the record gone, so no children: deleted after all, and the
    // names it was read with untagged twice (checked live on 4.3.1, 5.4.2 and 5.8.6).
    #[case::parent_by_name_twice(&["par:1", "par:1"], "", &["Untagged: localhost/par:1", "Untagged: localhost/par:1", "Deleted: aa00"], "bb00:localhost/child:1")]
    #[case::parent_by_id_twice(&["aa", "aa"], "", &["Untagged: localhost/par:1", "Untagged: localhost/par:1", "Deleted: aa00"], "bb00:localhost/child:1")]
    fn an_image_with_children_loses_its_record_but_is_reported_untagged(
        #[case] names: &[&str],
        #[case] flags: &str,
        #[case] records: &[&str],
        #[case] after: &str,
        #[values(P43, P54)] profile: Profile,
    ) {
        let s = store(vec![
            image("aa", &["localhost/par:1"]),
            child("bb", "aa", &["localhost/child:1"]),
        ]);
        let (got, errors, code, left) = run(profile, &s, request(names, flags));
        assert_eq!(
            (got, errors, code, left),
            (
                records.iter().map(|r| r.to_string()).collect(),
                vec![],
                0,
                after.to_owned()
            )
        );
    }

    /// G ← P ← C: G and P dangling, C `localhost/child:1`; `users` containers on P.
    fn chain(users: &[(&str, crate::store::ContainerState)]) -> Store {
        let mut s = store(vec![
            image("aa", &[]),
            child("bb", "aa", &[]),
            child("cc", "bb", &["localhost/child:1"]),
        ]);
        s.containers = users
            .iter()
            .map(|(id, state)| container(id, "bb", *state))
            .collect();
        s
    }

    #[rstest]
    #[case::dangling_parents_are_pruned(&[], "", &["Untagged: localhost/child:1", "Deleted: cc00", "Deleted: bb00", "Deleted: aa00"], vec![], 0, "")]
    #[case::noprune_keeps_them(&[], "noprune", &["Untagged: localhost/child:1", "Deleted: cc00"], vec![], 0, "aa00: bb00:")]
    #[case::a_container_on_a_parent_is_an_error(&[("c1", Stopped)], "", &["Untagged: localhost/child:1", "Deleted: cc00"], vec![in_use_error("c1")], 2, "aa00: bb00:")]
    #[case::force_reaches_the_parents_containers(&[("c1", Running)], "force", &["Untagged: localhost/child:1", "Deleted: cc00", "Deleted: bb00", "Deleted: aa00"], vec![], 0, "")]
    fn parents_left_dangling_are_removed_with_the_same_force(
        #[case] users: &[(&str, crate::store::ContainerState)],
        #[case] flags: &str,
        #[case] records: &[&str],
        #[case] errors: Vec<String>,
        #[case] code: u8,
        #[case] after: &str,
        #[values(P43, P54, P58)] profile: Profile,
    ) {
        let (got, got_errors, got_code, left) =
            run(profile, &chain(users), request(&["child:1"], flags));
        assert_eq!(got, records);
        assert_eq!((got_errors, got_code, left.as_str()), (errors, code, after));
    }

    // ----- manifest lists ------------------------------------------------------------------

    /// [`chain`] with a manifest list `localhost/ml:1` (ID `ff…`) naming `instance`'s manifest.
    fn chain_in_list(instance: &str) -> Store {
        let mut s = chain(&[]);
        s.manifest_lists = vec![crate::store::ManifestList {
            id: d("ff"),
            refs: vec![super::super::podman::fixture::name("localhost/ml:1")],
            instances: vec![d(&format!("e{instance}"))],
        }];
        s
    }

    #[rstest]
    #[case::from_5_5_a_listed_parent_stays(P58, &["Untagged: localhost/child:1", "Deleted: cc00"])]
    #[case::before_it_is_pruned(P54, &["Untagged: localhost/child:1", "Deleted: cc00", "Deleted: bb00", "Deleted: aa00"])]
    #[case::on_4_3_too(P43, &["Untagged: localhost/child:1", "Deleted: cc00", "Deleted: bb00", "Deleted: aa00"])]
    fn a_dangling_parent_in_a_manifest_list(#[case] profile: Profile, #[case] records: &[&str]) {
        let (got, errors, code, _) = run(profile, &chain_in_list("bb"), request(&["child:1"], ""));
        assert_eq!(got, records);
        assert_eq!((errors.len(), code), (0, 0));
    }

    #[rstest]
    fn a_lists_name_finds_its_stored_instance_else_the_list(
        #[values(P43, P54, P58)] profile: Profile,
    ) {
        let mut s = store(vec![image("aa", &["localhost/part:1"])]);
        s.manifest_lists = chain_in_list("aa").manifest_lists;
        let (got, _, _, _) = run(profile, &s, request(&["localhost/ml:1"], ""));
        assert_eq!(got, ["Untagged: localhost/part:1", "Deleted: aa00"]);
        s.images.clear();
        let (got, _, _, left) = run(profile, &s, request(&["localhost/ml:1"], ""));
        assert_eq!(got, ["Untagged: localhost/ml:1", "Deleted: ff00"]);
        assert_eq!(left, "");
    }

    // ----- --all and the arguments ------------------------------------------------------

    #[rstest]
    #[case::every_image_whole(multi(), &["Untagged: localhost/app:a", "Untagged: localhost/app:b", "Untagged: localhost/solo:1", "Deleted: aa00", "Deleted: bb00"])]
    #[case::a_parent_first_is_only_untagged(
        store(vec![image("aa", &["localhost/par:1"]), child("bb", "aa", &["localhost/child:1"])]),
        &["Untagged: localhost/par:1", "Untagged: localhost/child:1", "Deleted: bb00"]
    )]
    fn all_removes_every_image_in_store_order(
        #[case] s: Store,
        #[case] records: &[&str],
        #[values(P43, P54)] profile: Profile,
    ) {
        let (got, errors, code, after) = run(profile, &s, request(&[], "all"));
        assert_eq!(
            (got, errors, code, after),
            (
                records.iter().map(|r| r.to_string()).collect(),
                vec![],
                0,
                String::new()
            )
        );
    }

    #[rstest]
    fn all_stops_at_containers_without_force(#[values(P43, P54)] profile: Profile) {
        let (records, errors, code, after) = run(profile, &in_use(), request(&[], "all"));
        assert_eq!(records, [] as [String; 0]);
        assert_eq!(errors, [in_use_error("c2"), in_use_error("c3")]);
        assert_eq!(code, 2);
        assert_eq!(
            after,
            "aa00:localhost/app:1 bb00:localhost/two:1,localhost/two:2"
        );
    }

    #[rstest]
    #[case::nothing_named(&[], "", "image name or ID must be specified")]
    #[case::nothing_named_with_force(&[], "force", "image name or ID must be specified")]
    #[case::names_and_all(&["solo:1"], "all", "when using the --all switch, you may not pass any images names or IDs")]
    fn the_arguments_are_checked_first(
        #[case] names: &[&str],
        #[case] flags: &str,
        #[case] message: &str,
        #[values(P43, P54)] profile: Profile,
    ) {
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
        assert_eq!(
            (outcome.status, outcome.records.len()),
            (Status::Exit(125), 0)
        );
        assert_eq!(outcome.after, before, "never \"remove everything\"");
    }

    // ----- Digest names -----------------------------------------------------------------

    /// E: `127.0.0.1:5000/pin@<E.manifest>` and `…/pin:2`; F: `127.0.0.1:5000/dig:1` and
    /// `:2` (manifest `eff…`, no digest name); G: `127.0.0.1:5000/one:1` (manifest `e77…`).
    fn digests() -> Store {
        let pin = format!("127.0.0.1:5000/pin@{}", dg("eee"));
        store(vec![
            image("ee", &[&pin, "127.0.0.1:5000/pin:2"]),
            image("ff", &["127.0.0.1:5000/dig:1", "127.0.0.1:5000/dig:2"]),
            image("77", &["127.0.0.1:5000/one:1"]),
        ])
    }

    #[rstest]
    #[case::a_stored_digest_name_is_untagged(
        &format!("127.0.0.1:5000/pin@{}", dg("eee")),
        vec![format!("Untagged: 127.0.0.1:5000/pin@{}", dg("eee"))], vec![], 0
    )]
    #[case::a_digest_that_is_no_name_cannot_be_untagged(
        &format!("127.0.0.1:5000/dig@{}", dg("eff")),
        vec![], vec![format!("exit 125 127.0.0.1:5000/dig@{}: tag not known", dg("eff"))], 125
    )]
    #[case::the_digest_of_a_one_name_image_removes_it(
        &format!("127.0.0.1:5000/one@{}", dg("e77")),
        vec!["Untagged: 127.0.0.1:5000/one:1".to_owned(), "Deleted: 7700".to_owned()], vec![], 0
    )]
    fn digest_references_untag_only_stored_digest_names(
        #[case] name: &str,
        #[case] records: Vec<String>,
        #[case] errors: Vec<String>,
        #[case] code: u8,
        #[values(P43, P54)] profile: Profile,
    ) {
        let (got, got_errors, got_code, _) = run(profile, &digests(), request(&[name], ""));
        assert_eq!((got, got_errors, got_code), (records, errors, code));
    }

    #[test]
    fn only_4_3_removes_by_a_digest_of_another_repository() {
        let name = format!("127.0.0.1:5000/elsewhere@{}", dg("e77"));
        let (r43, _, c43, _) = run(P43, &digests(), request(&[&name], ""));
        let (r54, e54, c54, _) = run(P54, &digests(), request(&[&name], ""));
        assert_eq!(
            (r43, c43),
            (
                vec![
                    "Untagged: 127.0.0.1:5000/one:1".to_owned(),
                    "Deleted: 7700".to_owned()
                ],
                0
            )
        );
        assert_eq!(
            (r54, e54, c54),
            (vec![], vec![format!("exit 1 {name}: image not known")], 1)
        );
    }
}
