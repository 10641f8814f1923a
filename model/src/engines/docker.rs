//! What the two Docker engines share: the API's answers (conflict texts, "No such image",
//! record spelling, HTTP statuses) and the docker CLI's way of driving the API, one call per
//! name.
//!
//! Both image services (`daemon/images` for the classic store, `daemon/containerd` for the
//! containerd store) answer the same endpoint, `DELETE /images/{name}?force=&noprune=`, and
//! spell their answers the same way; only how they resolve and what they delete differ, and
//! that lives in [`docker_classic`](super::docker_classic) and
//! [`docker_containerd`](super::docker_containerd).
//!
//! Request options Docker does not have: `ignore` and `all` are libimage's (`podman rmi
//! --ignore`, `--all`); neither the Engine API nor the docker CLI has them, so both Docker
//! engines ignore them (with `all` and no names, the CLI refuses to run, as it does for
//! `docker rmi` with no argument).

use crate::digest::Digest;
use crate::outcome::{ConflictReason, ErrorKind, Failure, Outcome, Record, Status};
use crate::platform::Platform;
use crate::reference::grammar::{self, Dialect, GrammarError};
use crate::reference::{Reference, Repository};
use crate::request::Request;
use crate::store::Store;
use crate::Profile;

/// `force`, `noprune` and `platforms` as one API call gets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options<'a> {
    /// `force=1`.
    pub force: bool,
    /// `!noprune`: prune untagged parents.
    pub prune: bool,
    /// `platforms=` (one JSON OCI platform each), as sent. The router reads it only from API
    /// 1.50 on (`moby@v28.5.2:api/server/router/image/image_routes.go#L320-L333`), so each
    /// store's module decides by version whether its daemon sees it ([`platforms_read`]).
    pub platforms: &'a [Platform],
}

/// R-D-P: the platforms the daemon of `profile` reads from a `DELETE /images/{name}` call.
/// The option (and API 1.50) is new in Docker 28.2 (moby commits 30da69d694, 072483f9d7);
/// older daemons speak older API versions, whose router ignores the query value (observed on
/// 28.5.2 through `/v1.49`), so for them it is as if none was sent.
pub fn platforms_read<'a>(profile: Profile, options: Options<'a>) -> &'a [Platform] {
    match profile {
        Profile::DockerClassic28 | Profile::DockerContainerd28 => options.platforms,
        _ => &[],
    }
}

/// One API call's answer: the records (empty on error: the daemon answers either a JSON list
/// or an error), the error, and the store after (which a failed call may still have changed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// `Untagged:` / `Deleted:` records, in order.
    pub records: Vec<Record>,
    /// The error, if the call failed.
    pub error: Option<Failure>,
    /// The store afterwards.
    pub after: Store,
}

impl Call {
    /// A successful call.
    pub fn ok(records: Vec<Record>, after: Store) -> Call {
        Call {
            records,
            error: None,
            after,
        }
    }

    /// A failed call: the daemon discards records it gathered (`ImageDelete` returns
    /// `nil, err`), but keeps what it already changed.
    pub fn failed(error: Failure, after: Store) -> Call {
        Call {
            records: Vec::new(),
            error: Some(error),
            after,
        }
    }

    /// The HTTP status of the call.
    pub fn status(&self) -> Status {
        self.error.as_ref().map_or(Status::Http(200), |e| e.status)
    }
}

/// `missingImageError` (`moby@v20.10.24:api/server/router/image/image_routes.go#L185-L202`,
/// same at v26.1.5 L259-L270): the router refuses a name that is empty after
/// `strings.TrimSpace`, before the image service sees it. Its kind is an invalid reference
/// (an `InvalidParameter`, HTTP 400, like the grammar's errors).
pub const BLANK_NAME: &str = "image name cannot be blank";

/// Drives the Engine API the way the docker CLI does (`docker/cli@v26.1.5:
/// cli/command/image/remove.go` `runRemove`; the same at v20.10.24): one `DELETE` per name,
/// in order, each against the store the previous call left; records are printed as they
/// come, errors collected.
///
/// The status: with one name, the HTTP status of its call (what the API reports); with
/// several, the CLI's exit code: 1 if any call failed, except 0 when `force` and every
/// failure is a not-found (the CLI asks `errdefs.IsNotFound`, i.e. HTTP 404: Docker
/// 26's "ambiguous reference" counts as not found there). With no names (only possible with
/// libimage's `all`), the CLI refuses (`cli.RequiresMinArgs(1)`, `cli/required.go`), exit 1.
///
/// A blank name is answered by the router (400, [`BLANK_NAME`]) without calling `call`.
///
/// Messages are the daemon's, as the API returns them (R-DC-22). What a CLI prints around
/// them is not modelled: the 20.10 CLI's client rewrites any 404 into `Error: No such image:
/// <name as typed>` (R-DC-24, `moby@v20.10.24:client/image_remove.go`), newer clients print
/// `Error response from daemon: <message>`.
pub fn drive(
    store: &Store,
    request: &Request,
    mut call: impl FnMut(Store, &str, Options<'_>) -> Call,
) -> Outcome {
    if request.names.is_empty() {
        return Outcome {
            records: Vec::new(),
            errors: vec![Failure {
                kind: ErrorKind::InvalidArgument,
                message: "\"docker rmi\" requires at least 1 argument.\nSee 'docker rmi --help'.\n\n\
                          Usage:  docker rmi [OPTIONS] IMAGE [IMAGE...]\n\nRemove one or more images"
                    .to_owned(),
                status: Status::Exit(1),
            }],
            status: Status::Exit(1),
            after: store.clone(),
        };
    }
    let options = Options {
        force: request.force,
        prune: request.prune,
        platforms: &request.platforms,
    };
    let mut after = store.clone();
    let mut records = Vec::new();
    let mut errors = Vec::new();
    let mut last = Status::Http(200);
    for name in &request.names {
        // Each call takes the store the previous one left, and leaves its own.
        let answer = if name.trim().is_empty() {
            Call::failed(failure(ErrorKind::InvalidReference, BLANK_NAME, 400), after)
        } else {
            call(after, name, options)
        };
        last = answer.status();
        records.extend(answer.records);
        errors.extend(answer.error);
        after = answer.after;
    }
    let status = if request.names.len() == 1 {
        last
    } else if errors.is_empty()
        || (request.force && errors.iter().all(|e| e.status == Status::Http(404)))
    {
        Status::Exit(0)
    } else {
        Status::Exit(1)
    };
    Outcome {
        records,
        errors,
        status,
        after,
    }
}

/// A failure with an HTTP status.
pub fn failure(kind: ErrorKind, message: impl Into<String>, status: u16) -> Failure {
    Failure {
        kind,
        message: message.into(),
        status: Status::Http(status),
    }
}

/// `stringid.TruncateID`: the first 12 hex characters, no algorithm.
pub fn truncate_id(id: &Digest) -> &str {
    id.short(12)
}

/// `Untagged: <familiar name>`.
pub fn untagged(reference: &Reference) -> Record {
    Record::Untagged(reference.familiar())
}

/// `Deleted: sha256:<hex>`: an image ID, or on the classic store also a layer chain ID.
pub fn deleted(id: &Digest) -> Record {
    Record::Deleted(id.prefixed())
}

/// `familiarizeName` (`reference/normalize.go`): drops `docker.io/` and a lone `library/`.
/// Unlike [`Repository::familiar`] it handles the empty domain `Parse` gives a name whose
/// first component looks like a domain but is not one (`a_b.c/app`).
pub fn familiar_repo(repo: &Repository) -> String {
    if repo.domain.is_empty() {
        repo.path.to_string()
    } else {
        repo.familiar()
    }
}

/// `reference.String` of a normalized name: the full name, then `:tag`, then `@digest`.
pub fn full_string(repo: &Repository, tag: Option<&str>, digest: Option<&Digest>) -> String {
    let mut s = repo.full();
    if let Some(tag) = tag {
        s.push(':');
        s.push_str(tag);
    }
    if let Some(digest) = digest {
        s.push('@');
        s.push_str(&digest.prefixed());
    }
    s
}

/// `multiple platforms are not supported` (classic store, 28.2+,
/// `moby/moby@v28.5.2:daemon/images/image_delete.go#L70-L77`): `errdefs.InvalidParameter`,
/// HTTP 400.
pub fn multiple_platforms() -> Failure {
    failure(ErrorKind::InvalidArgument, MULTIPLE_PLATFORMS, 400)
}

/// The text of [`multiple_platforms`].
pub const MULTIPLE_PLATFORMS: &str = "multiple platforms are not supported";

/// The containerd store's refusal of `platforms` without force (28.2+,
/// `moby/moby@v28.5.2:daemon/containerd/image_delete.go#L68-L70`; the dash is an em dash
/// followed by a hyphen, as upstream spells it): `ErrInvalidArgument`, HTTP 400.
pub const PLATFORMS_NEED_FORCE: &str =
    "Content will be removed from all images referencing this variant. Use \u{2014}-force to force delete.";

/// `reference.FamiliarString`: familiar name, then `:tag`, then `@digest`, whichever are set.
pub fn familiar_string(repo: &Repository, tag: Option<&str>, digest: Option<&Digest>) -> String {
    let mut s = familiar_repo(repo);
    if let Some(tag) = tag {
        s.push(':');
        s.push_str(tag);
    }
    if let Some(digest) = digest {
        s.push('@');
        s.push_str(&digest.prefixed());
    }
    s
}

/// `ErrImageDoesNotExist` (`moby@v20.10.24:daemon/images/image.go#L23-L37`, moved but the
/// same at v26.1.5): `No such image: <FamiliarString(TagNameOnly(ref))>`, HTTP 404.
pub fn no_such_image(familiar: &str) -> Failure {
    failure(
        ErrorKind::NotFound,
        format!("No such image: {familiar}"),
        404,
    )
}

/// The not-found answer for a name `ParseNormalizedNamed` accepted: `latest` is added when
/// the name has neither tag nor digest.
pub fn no_such_named(repo: &Repository, tag: Option<String>, digest: Option<&Digest>) -> Failure {
    let tag = grammar::tag_name_only(tag, digest);
    no_such_image(&familiar_string(repo, tag.as_deref(), digest))
}

/// The not-found answer for a name with a valid sha384/sha512 digest, which no image of the
/// model can carry ([`GrammarError::ForeignDigest`]); `input` is the name as typed.
pub fn no_such_foreign(dialect: Dialect, input: &str) -> Failure {
    let familiar = match input.rsplit_once('@') {
        Some((name, digest)) => match grammar::parse_normalized_in(dialect, name) {
            Ok((repo, tag, _)) => {
                format!("{}@{digest}", familiar_string(&repo, tag.as_deref(), None))
            }
            Err(_) => input.to_owned(),
        },
        None => input.to_owned(),
    };
    no_such_image(&familiar)
}

/// A name the reference grammar refuses: `errdefs.InvalidParameter`, HTTP 400, with the
/// grammar's own text.
pub fn invalid(error: &GrammarError) -> Failure {
    failure(ErrorKind::InvalidReference, error.to_string(), 400)
}

/// Why an image cannot be deleted, as `checkImageDeleteConflict` says it
/// (`moby@v20.10.24:daemon/images/image_delete.go#L358-L406`,
/// `moby@v26.1.5:daemon/containerd/image_delete.go#L434-L473`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict<'a> {
    /// Hard, classic only: `image has dependent child images`.
    Children,
    /// Hard: `image is being used by running container <cid12>`.
    Running(&'a Digest),
    /// Soft: `image is referenced in multiple repositories` (also said of two tags in one
    /// repository).
    MultipleReferences,
    /// Soft: `image is being used by stopped container <cid12>`.
    Stopped(&'a Digest),
    /// Soft, containerd store, by name: `container <cid12> is using its referenced image
    /// <id12>` (it does not say whether the container runs).
    InUse {
        /// The first container using the image.
        container: &'a Digest,
        /// The image ID.
        image: &'a Digest,
    },
}

impl Conflict<'_> {
    /// Whether `force` cannot override it.
    pub fn hard(self) -> bool {
        matches!(self, Conflict::Children | Conflict::Running(_))
    }

    /// `used` in upstream's `imageDeleteConflict`: the conflict is a container.
    pub fn used(self) -> bool {
        matches!(
            self,
            Conflict::Running(_) | Conflict::Stopped(_) | Conflict::InUse { .. }
        )
    }

    /// The engine-neutral reason.
    pub fn reason(self) -> ConflictReason {
        match self {
            Conflict::Children => ConflictReason::DependentChildren,
            Conflict::Running(_) => ConflictReason::RunningContainer,
            Conflict::MultipleReferences => ConflictReason::MultipleReferences,
            Conflict::Stopped(_) => ConflictReason::StoppedContainer,
            Conflict::InUse { .. } => ConflictReason::ContainerInUse,
        }
    }

    /// The text after ` - `.
    pub fn message(self) -> String {
        match self {
            Conflict::Children => "image has dependent child images".to_owned(),
            Conflict::Running(c) => format!(
                "image is being used by running container {}",
                truncate_id(c)
            ),
            Conflict::MultipleReferences => {
                "image is referenced in multiple repositories".to_owned()
            }
            Conflict::Stopped(c) => format!(
                "image is being used by stopped container {}",
                truncate_id(c)
            ),
            Conflict::InUse { container, image } => format!(
                "container {} is using its referenced image {}",
                truncate_id(container),
                truncate_id(image)
            ),
        }
    }

    /// `imageDeleteConflict.Error()`: `conflict: unable to delete <subject> (cannot be
    /// forced|must be forced) - <message>`, HTTP 409 (its `Conflict()` marker). `subject` is
    /// the 12-hex image ID, or on the containerd store's by-name conflict the familiar name.
    pub fn failure(self, subject: &str) -> Failure {
        let force = if self.hard() {
            "cannot be forced"
        } else {
            "must be forced"
        };
        failure(
            ErrorKind::Conflict {
                reason: self.reason(),
                forceable: !self.hard(),
            },
            format!(
                "conflict: unable to delete {subject} ({force}) - {}",
                self.message()
            ),
            409,
        )
    }
}

/// What kind of error the docker CLI refused a request with before calling the engine (its
/// status is the CLI's exit code, not an HTTP status): `"docker rmi" requires at least 1
/// argument.` is an invalid argument; anything else is read as an engine message.
pub fn classify_cli(message: &str) -> ErrorKind {
    if message.starts_with("\"docker rmi\" requires at least 1 argument") {
        ErrorKind::InvalidArgument
    } else {
        classify(0, message)
    }
}

/// How a live adapter reads a Docker error back into a kind, from the HTTP status and the
/// message: the inverse of the constructors above (a property test checks it on them).
pub fn classify(status: u16, message: &str) -> ErrorKind {
    match status {
        404 if message == "ambiguous reference" => ErrorKind::Ambiguous,
        404 => ErrorKind::NotFound,
        400 if message == MULTIPLE_PLATFORMS || message == PLATFORMS_NEED_FORCE => {
            ErrorKind::InvalidArgument
        }
        400 => ErrorKind::InvalidReference,
        409 => {
            let forceable = !message.contains("(cannot be forced)");
            let reason = if message.contains("dependent child images") {
                ConflictReason::DependentChildren
            } else if message.contains("by running container") {
                ConflictReason::RunningContainer
            } else if message.contains("by stopped container") {
                ConflictReason::StoppedContainer
            } else if message.contains("multiple repositories") {
                ConflictReason::MultipleReferences
            } else if message.contains("is using its referenced image") {
                ConflictReason::ContainerInUse
            } else {
                return ErrorKind::Other;
            };
            ErrorKind::Conflict { reason, forceable }
        }
        _ => ErrorKind::Other,
    }
}

/// `isImageIDPrefix` (`moby@v20.10.24:daemon/images/image_delete.go#L213-L225`, the same in
/// `moby@v26.1.5:daemon/containerd/image_delete.go#L259-L269`): whether the name as typed is
/// a prefix of `sha256:<hex>` or of `<hex>`. It is asked of the *resolved* image, so a tag
/// that happens to be such a prefix (`abc`, or even `sha`) makes the call a by-ID delete.
pub fn is_image_id_prefix(id: &Digest, input: &str) -> bool {
    id.prefixed().starts_with(input) || id.hex().starts_with(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_refusals_read_back_as_invalid_arguments() {
        assert_eq!(
            classify(400, MULTIPLE_PLATFORMS),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            classify(400, PLATFORMS_NEED_FORCE),
            ErrorKind::InvalidArgument
        );
        assert!(PLATFORMS_NEED_FORCE.contains("Use \u{2014}-force"));
        assert_eq!(classify(400, BLANK_NAME), ErrorKind::InvalidReference);
    }
    use crate::store::Store;
    use rstest::rstest;

    fn d(c: char) -> Digest {
        Digest::parse(&c.to_string().repeat(64)).unwrap()
    }

    /// A fake API: `nosuch*` is not found, `bad*` conflicts, anything else untags itself.
    fn fake(store: Store, name: &str, _: Options) -> Call {
        if name.starts_with("nosuch") {
            Call::failed(no_such_image(name), store)
        } else if name.starts_with("bad") {
            Call::failed(Conflict::Stopped(&d('c')).failure("aaaaaaaaaaaa"), store)
        } else {
            Call::ok(vec![Record::Untagged(name.to_owned())], store)
        }
    }

    fn request(names: &[&str], force: bool) -> Request {
        Request {
            names: names.iter().map(|s| s.to_string()).collect(),
            force,
            prune: true,
            ignore: false,
            all: false,
            platforms: Vec::new(),
        }
    }

    #[rstest]
    #[case(&["a"], false, Status::Http(200))]
    #[case(&["nosuch"], false, Status::Http(404))]
    #[case(&["bad"], true, Status::Http(409))]
    #[case(&["  "], false, Status::Http(400))]
    #[case(&["a", "b"], false, Status::Exit(0))]
    #[case(&["a", "nosuch"], false, Status::Exit(1))]
    #[case(&["a", "nosuch"], true, Status::Exit(0))]
    #[case(&["nosuch", "bad"], true, Status::Exit(1))]
    #[case(&["a", ""], true, Status::Exit(1))]
    fn status_is_http_for_one_name_and_cli_exit_for_several(
        #[case] names: &[&str],
        #[case] force: bool,
        #[case] status: Status,
    ) {
        let out = drive(&Store::default(), &request(names, force), fake);
        assert_eq!(out.status, status);
    }

    #[test]
    fn records_and_errors_are_concatenated_in_order() {
        let out = drive(
            &Store::default(),
            &request(&["a", "nosuch1", "b", "nosuch2"], false),
            fake,
        );
        assert_eq!(
            out.records,
            vec![Record::Untagged("a".into()), Record::Untagged("b".into())]
        );
        let messages: Vec<_> = out.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            ["No such image: nosuch1", "No such image: nosuch2"]
        );
        assert!(out.errors.iter().all(|e| e.status == Status::Http(404)));
    }

    #[test]
    fn blank_name_never_reaches_the_image_service() {
        let out = drive(
            &Store::default(),
            &request(&[" \t"], false),
            |_: Store, _: &str, _| unreachable!(),
        );
        assert_eq!(out.errors[0].message, BLANK_NAME);
        assert_eq!(out.errors[0].kind, ErrorKind::InvalidReference);
    }

    #[test]
    fn no_names_is_a_cli_usage_error() {
        let mut r = request(&[], false);
        r.all = true;
        let out = drive(&Store::default(), &r, fake);
        assert_eq!(out.status, Status::Exit(1));
        assert!(out.errors[0]
            .message
            .starts_with("\"docker rmi\" requires at least 1 argument."));
    }

    #[rstest]
    #[case(Conflict::Children, "conflict: unable to delete 0123456789ab (cannot be forced) - image has dependent child images")]
    #[case(Conflict::MultipleReferences, "conflict: unable to delete 0123456789ab (must be forced) - image is referenced in multiple repositories")]
    #[case(Conflict::Running(&d('c')), "conflict: unable to delete 0123456789ab (cannot be forced) - image is being used by running container cccccccccccc")]
    #[case(Conflict::Stopped(&d('c')), "conflict: unable to delete 0123456789ab (must be forced) - image is being used by stopped container cccccccccccc")]
    #[case(Conflict::InUse { container: &d('c'), image: &d('a') }, "conflict: unable to delete 0123456789ab (must be forced) - container cccccccccccc is using its referenced image aaaaaaaaaaaa")]
    fn conflict_texts(#[case] c: Conflict, #[case] text: &str) {
        let f = c.failure("0123456789ab");
        assert_eq!(f.message, text);
        assert_eq!(f.status, Status::Http(409));
        assert_eq!(
            classify(409, &f.message),
            f.kind,
            "classify inverts the constructor"
        );
    }

    #[rstest]
    #[case(404, "No such image: x:latest", ErrorKind::NotFound)]
    #[case(404, "ambiguous reference", ErrorKind::Ambiguous)]
    #[case(400, "invalid reference format", ErrorKind::InvalidReference)]
    #[case(400, BLANK_NAME, ErrorKind::InvalidReference)]
    #[case(400, "invalid name reference", ErrorKind::InvalidReference)]
    #[case(409, "conflict: unable to remove repository reference \"x\" (must force) - container c is using its referenced image i",
        ErrorKind::Conflict { reason: ConflictReason::ContainerInUse, forceable: true })]
    #[case(500, "boom", ErrorKind::Other)]
    fn classify_reads_messages(
        #[case] status: u16,
        #[case] message: &str,
        #[case] kind: ErrorKind,
    ) {
        assert_eq!(classify(status, message), kind);
    }

    #[rstest]
    #[case("sha256:abc", true)]
    #[case("abc", true)]
    #[case("sha", true)]
    #[case("abd", false)]
    #[case("busybox", false)]
    fn id_prefix(#[case] input: &str, #[case] yes: bool) {
        let id = Digest::parse(&format!("abc{}", "0".repeat(61))).unwrap();
        assert_eq!(is_image_id_prefix(&id, input), yes);
    }

    #[rstest]
    #[case("docker.io", "library/busybox", Some("1"), false, "busybox:1")]
    #[case("docker.io", "library/a/b", None, false, "library/a/b")]
    #[case("docker.io", "u/app", None, true, "u/app@sha256:aaaa")]
    #[case(
        "localhost:5000",
        "app",
        Some("t"),
        true,
        "localhost:5000/app:t@sha256:aaaa"
    )]
    #[case("", "a_b.c/app", Some("latest"), false, "a_b.c/app:latest")]
    fn familiar_strings(
        #[case] domain: &str,
        #[case] path: &str,
        #[case] tag: Option<&str>,
        #[case] digest: bool,
        #[case] want: &str,
    ) {
        let dg = d('a');
        let s = familiar_string(&Repository::new(domain, path), tag, digest.then_some(&dg));
        assert!(s.starts_with(want), "{s} vs {want}");
    }
}

/// Small stores for the Docker engines' tests. Digests are written as short hex prefixes
/// padded with `0` ([`hx`]); an image's manifest digest is its config prefix padded with `f`
/// ([`manifest_of`]), so the two never collide.
#[cfg(test)]
pub(crate) mod testing {
    use crate::digest::Digest;
    use crate::outcome::Record;
    use crate::reference::grammar;
    use crate::reference::Reference;
    use crate::request::Request;
    use crate::store::{Container, ContainerState, Image, Store};
    use proptest::prelude::*;

    /// Image A's config prefix.
    pub const A: &str = "a";
    /// Image B's config prefix.
    pub const B: &str = "b";
    /// The base layer's chain ID prefix.
    pub const BASE: &str = "0ba5e";
    /// A's own layer.
    pub const LA: &str = "01a";
    /// B's own layer.
    pub const LB: &str = "01b";

    /// `prefix` padded with `0` to 64 hex characters.
    pub fn hx(prefix: &str) -> String {
        format!("{prefix:0<64}")
    }

    /// [`hx`] as a digest.
    pub fn d(prefix: &str) -> Digest {
        Digest::parse(&hx(prefix)).unwrap()
    }

    /// The manifest digest of the image whose config prefix is `prefix`.
    pub fn manifest_of(prefix: &str) -> Digest {
        Digest::parse(&format!("{prefix:f<64}")).unwrap()
    }

    /// A stored name from its fully qualified spelling.
    pub fn reference(full: &str) -> Reference {
        let (repo, tag, digest) = grammar::parse_normalized(full).unwrap();
        match digest {
            Some(digest) => Reference::Digested { repo, digest },
            None => Reference::Tagged {
                repo,
                tag: tag.unwrap().into(),
            },
        }
    }

    /// An image; `sha256:MANIFEST` in a name stands for the image's own manifest digest.
    pub fn image(config: &str, layers: &[&str], parent: Option<&str>, refs: &[&str]) -> Image {
        let manifest = manifest_of(config);
        let refs: Vec<Reference> = refs
            .iter()
            .map(|r| reference(&r.replace("sha256:MANIFEST", &manifest.prefixed())))
            .collect();
        Image {
            config: d(config),
            manifest: manifest.clone(),
            layers: layers.iter().map(|l| d(l)).collect(),
            parent: parent.map(d),
            pulled: Image::pulled_by_digest(&refs),
            // Docker keeps explicit parent links and never reads it.
            history: layers.len(),
            refs,
            platforms: vec![Default::default()],
            index: Vec::new(),
        }
    }

    /// A container.
    pub fn container(id: &str, image: &str, state: ContainerState) -> Container {
        Container {
            id: d(id),
            image: d(image),
            state,
            mounts: Vec::new(),
            pod: None,
            layers: Vec::new(),
        }
    }

    /// Image A (layers base, a) with these names.
    pub fn single_refs(refs: &[&str]) -> Store {
        Store {
            images: vec![image(A, &[BASE, LA], None, refs)],
            containers: vec![],
            manifest_lists: Vec::new(),
            pods: Vec::new(),
        }
    }

    /// Image A with one name.
    pub fn single(name: &str) -> Store {
        single_refs(&[name])
    }

    /// A request.
    pub fn request(names: &[&str], force: bool, prune: bool) -> Request {
        Request {
            names: names.iter().map(|s| s.to_string()).collect(),
            force,
            prune,
            ignore: false,
            all: false,
            platforms: Vec::new(),
        }
    }

    /// Records as strings, known digests replaced by their symbols: `Deleted: A`,
    /// `Untagged: busybox@sha256:M` (A's manifest; `MB` for B's).
    pub fn symbolic(records: &[Record]) -> Vec<String> {
        let symbols = [
            (d(A), "A"),
            (d(B), "B"),
            (d(BASE), "BASE"),
            (d(LA), "LA"),
            (d(LB), "LB"),
            (manifest_of(A), "sha256:M"),
            (manifest_of(B), "sha256:MB"),
        ];
        records
            .iter()
            .map(|r| {
                let mut s = r.to_string();
                for (digest, symbol) in &symbols {
                    s = s.replace(&digest.prefixed(), symbol);
                }
                s
            })
            .collect()
    }

    const PREFIXES: [&str; 3] = ["a1", "a2", "b1"];
    const TAGS: [&str; 4] = [
        "docker.io/library/busybox:latest",
        "docker.io/library/busybox:1",
        "localhost/app:1",
        "docker.io/library/a1:latest",
    ];
    const REPOS: [&str; 2] = ["docker.io/library/busybox", "localhost/app"];

    /// Up to three images (`a1`, `a2`, `b1`: `a` is an ambiguous prefix), some built on an
    /// earlier one, with tags spread over them, digest references to their own manifests,
    /// and up to two containers.
    pub fn arbitrary_store() -> impl Strategy<Value = Store> {
        (prop::collection::vec(any::<u8>(), 24), 0usize..3).prop_map(|(b, n)| build(&b, n))
    }

    fn build(b: &[u8], containers: usize) -> Store {
        let mut images: Vec<Image> = Vec::new();
        for (i, p) in PREFIXES.iter().enumerate() {
            if b[i].is_multiple_of(4) {
                continue;
            }
            let parent = (b[3 + i].is_multiple_of(3) && !images.is_empty())
                .then(|| &images[b[3 + i] as usize % images.len()]);
            let mut layers = parent.map_or_else(|| vec![d(BASE)], |p| p.layers.clone());
            layers.push(d(&format!("c{p}")));
            let history = Image::history_on(parent, layers.len());
            let parent = parent.map(|p| p.config.clone());
            images.push(Image {
                config: d(p),
                manifest: manifest_of(p),
                layers,
                parent,
                refs: vec![],
                platforms: vec![Default::default()],
                index: Vec::new(),
                pulled: false,
                history,
            });
        }
        if images.is_empty() {
            return Store::default();
        }
        let n = images.len();
        for (j, t) in TAGS.iter().enumerate() {
            let owner = b[6 + j] as usize % (n + 1);
            if owner < n {
                images[owner].refs.push(reference(t));
            }
        }
        for (k, image) in images.iter_mut().enumerate() {
            for (r, repo) in REPOS.iter().enumerate() {
                if b[10 + 2 * k + r].is_multiple_of(3) {
                    image
                        .refs
                        .push(reference(&format!("{repo}@{}", image.manifest.prefixed())));
                }
            }
        }
        let containers = (0..containers)
            .map(|c| {
                let of = &images[b[16 + 2 * c] as usize % n];
                let state = ContainerState::ALL[b[17 + 2 * c] as usize % ContainerState::ALL.len()];
                Container {
                    id: d(&format!("c0{c}")),
                    image: of.config.clone(),
                    state,
                    mounts: Vec::new(),
                    pod: None,
                    layers: of.layers.clone(),
                }
            })
            .collect();
        Store {
            images,
            containers,
            manifest_lists: Vec::new(),
            pods: Vec::new(),
        }
    }

    /// Names a user might type against [`arbitrary_store`]: tags, short and full IDs of
    /// either digest, digest references, lookalikes, and a bad one.
    pub fn arbitrary_name() -> impl Strategy<Value = String> {
        let names = vec![
            "busybox".to_owned(),
            "busybox:1".to_owned(),
            "localhost/app:1".to_owned(),
            "a1".to_owned(),
            "a1:latest".to_owned(),
            "a".to_owned(),
            "a2".to_owned(),
            "b1".to_owned(),
            "a1ff".to_owned(),
            "sha256:a2".to_owned(),
            "sha".to_owned(),
            "nosuch".to_owned(),
            "Bad".to_owned(),
            hx("a1"),
            format!("sha256:{}", manifest_of("b1").hex()),
            format!("busybox@{}", manifest_of("a1").prefixed()),
            format!("localhost/app@{}", manifest_of("a2").prefixed()),
            format!("busybox:1@{}", manifest_of("b1").prefixed()),
        ];
        prop::sample::select(names)
    }
}
