//! The containerd CRI plugin's `ImageService.RemoveImage` (containerd 1.7.24, 1.6.20 and
//! 2.1.9).
//!
//! CRI's removal is the simplest of all engines, because the CRI contract has no notion of
//! "untag": `RemoveImage` is asked for an image and removes the **whole** image, every
//! reference it has, whichever of them (or which ID prefix) it was named by
//! (`containerd/containerd@v1.7.24:pkg/cri/server/image_remove.go#L30-L68`, the comment at
//! L34-L35: "Remove the whole image no matter the it's image id or reference. This is the
//! semantic defined in CRI now."). There is
//!
//! - no container check: kubelet's image GC, not the runtime, keeps in-use images; a running
//!   container keeps running on a removed image;
//! - no force, no prune (no parent/child links exist in containerd), no `--ignore`;
//! - no error for a name that resolves to nothing: not found is success (L39-L44), which makes
//!   the call idempotent, as critest asserts;
//! - no records: `RemoveImageResponse` is an empty message (L67).
//!
//! The only failure a removal can report on a consistent store is an ambiguous ID prefix.
//!
//! **1.6.20 vs 1.7.24.** The removal path is the same code apart from tracing:
//! `image_remove.go` (`@v1.6.20#L35-L65`), `localResolve` (`@v1.6.20:pkg/cri/server/helpers.go#L167-L193`
//! vs `@v1.7.24:…/helpers.go#L165-L191`) and the store's `get` (`pkg/cri/store/image/image.go`)
//! are identical; 1.6 parses with containerd's vendored copy of distribution's reference
//! (`@v1.6.20:reference/docker/reference.go#L643`), 1.7 with `github.com/distribution/reference`
//! (`@v1.7.24:vendor/github.com/distribution/reference/normalize.go#L107-L121`), with the same
//! grammar. 1.7 adds image pinning (`Pinned`), which `RemoveImage` does not consult. 1.7's
//! `pkg/cri/sbserver/image_remove.go` is the same function for the sandboxed-CRI mode. So
//! [`Profile::Cri16`] and [`Profile::Cri17`] share every rule here.
//!
//! **2.1.9** ([`Profile::Cri21`]). `RemoveImage` is split into a gRPC wrapper and a service
//! (`containerd/containerd@v2.1.9:internal/cri/server/images/image_remove.go#L36-L42`,
//! `#L44-L77`); the service is 1.7.24's function line for line, and `LocalResolve`
//! (`internal/cri/server/images/service.go#L140-L168`) is 1.7.24's `localResolve`. The new
//! rule is the wrapper's (R-CRI-7, [`grpc_answer`]): **any** NotFound the service returns is
//! success, where 1.7.24 only swallowed a NotFound from resolution. On a consistent store the
//! service has no other NotFound to return (a reference deleted under it is already skipped,
//! L67-L72), so every request the model can express has 1.7.24's outcome; the rule shows only
//! when the store changes during the call. Pinning (`pinned_images.sandbox`, the label
//! `io.cri-containerd.pinned`) is still never consulted by `RemoveImage`.

use crate::digest::{find_prefix, is_full_hex, PrefixMatch};
use crate::outcome::{ErrorKind, Failure, Outcome, Status};
use crate::reference::grammar::{self, tag_name_only, Dialect};
use crate::store::{Listing, Store};
use crate::{Digest, Profile, Reference, Request};

/// gRPC `OK`.
const OK: Status = Status::Grpc(0);
/// gRPC `Unknown`: what a plain Go error becomes once `errdefs.ToGRPC` finds no errdefs class
/// in it (`containerd/containerd@v1.7.24:errdefs/grpc.go#L36-L66`).
const UNKNOWN: Status = Status::Grpc(2);

/// What `profile` does when asked to remove `request.names` (both CRI profiles behave alike,
/// see the module docs).
///
/// The CRI API takes one image per call; like kubelet and `crictl rmi`, the request is driven
/// as one `RemoveImage` call per name, in order, and each call's failure is collected. With
/// `all`, the names are followed by one call per remaining image by its full ID, which is what
/// `crictl rmi --all` does (`kubernetes-sigs/cri-tools@v1.30.1:cmd/crictl/image.go#L383-L401`;
/// crictl walks a map, so its order is not defined; ours is store order). `force`, `prune`
/// and `ignore` do not exist in CRI and change nothing.
pub fn remove(profile: Profile, store: &Store, request: &Request) -> Outcome {
    debug_assert!(matches!(
        profile,
        Profile::Cri16 | Profile::Cri17 | Profile::Cri21
    ));
    let mut after = store.clone();
    let mut errors = Vec::new();
    for name in &request.names {
        if let Err(failure) = grpc_answer(profile, remove_image(profile, &mut after, name)) {
            errors.push(failure);
        }
    }
    if request.all {
        after.images.clear();
    }
    let status = errors.first().map_or(OK, |f| f.status);
    Outcome {
        records: Vec::new(),
        errors,
        status,
        after,
    }
}

/// One `RemoveImage` call: resolve, then delete every reference of the image, which deletes
/// the image with its last reference (`image_remove.go#L48-L66`; the CRI image store drops an
/// image when its reference list empties, `pkg/cri/store/image/image.go#L321-L352`).
fn remove_image(profile: Profile, store: &mut Store, input: &str) -> Result<(), Failure> {
    match resolve(profile, store, input) {
        Resolved::Image(id) => {
            store.images.retain(|image| image.config != id);
            Ok(())
        }
        // `return empty without error when image not found` (image_remove.go#L40-L44).
        Resolved::NotFound => Ok(()),
        Resolved::Ambiguous => Err(Failure {
            kind: ErrorKind::Ambiguous,
            // `fmt.Errorf("can not resolve %q locally: %w", …)` (image_remove.go#L45) around
            // go-digest's `ErrDigestAmbiguous`
            // (`vendor/github.com/opencontainers/go-digest/digestset/set.go#L34`).
            message: format!(
                "can not resolve {} locally: ambiguous digest string",
                go_quote(input)
            ),
            status: UNKNOWN,
        }),
    }
}

/// R-CRI-7: what the gRPC layer makes of the service's answer. containerd 2.1.9's wrapper
/// (`containerd/containerd@v2.1.9:internal/cri/server/images/image_remove.go#L36-L42`,
/// `if err != nil && !errdefs.IsNotFound(err)`) answers OK to any NotFound; 1.6 and 1.7 return
/// the service's error as it is (`@v1.7.24:pkg/cri/server/image_remove.go#L36-L68`), having
/// swallowed only the NotFound of resolution (L39-L44, [`remove_image`]).
fn grpc_answer(profile: Profile, answer: Result<(), Failure>) -> Result<(), Failure> {
    match answer {
        Err(f) if profile == Profile::Cri21 && f.kind == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// What `localResolve` finds for an input.
#[derive(Debug, PartialEq, Eq)]
enum Resolved {
    Image(Digest),
    NotFound,
    Ambiguous,
}

/// `localResolve` (`containerd/containerd@v1.7.24:pkg/cri/server/helpers.go#L163-L191`):
///
/// 1. a valid `sha256:<64 hex>` digest is taken as the image ID;
/// 2. else the input is normalized by `docker.ParseDockerRef` and looked up exactly in the
///    reference → ID cache (`pkg/cri/store/image/image.go#L164-L174`). A parse error is
///    swallowed (`return ""`), so an invalid name (`UPPER`, `a b`, a bare 64-hex string) is
///    not an error: it goes on to step 3, misses, and the call succeeds as "not found";
/// 3. else the **raw input** is looked up as a possibly truncated ID in the digest set.
///
/// Names therefore win over ID prefixes.
fn resolve(profile: Profile, store: &Store, input: &str) -> Resolved {
    if let Some(hex) = input.strip_prefix("sha256:").filter(|h| is_full_hex(h)) {
        return store
            .images
            .iter()
            .find(|i| i.config.hex() == hex)
            .map_or(Resolved::NotFound, |i| Resolved::Image(i.config.clone()));
    }
    if let Some(name) = parse_docker_ref(profile, input) {
        let by_name = store
            .images
            .iter()
            .find(|i| i.refs.iter().any(|r| r.is_full(&name)));
        if let Some(image) = by_name {
            return Resolved::Image(image.config.clone());
        }
    }
    lookup_id(store, input)
}

/// go-digest's `digestset.Set.Lookup` over the image IDs
/// (`containerd/containerd@v1.7.24:vendor/github.com/opencontainers/go-digest/digestset/set.go#L83-L119`).
///
/// `Lookup` first tries `digest.Parse`: an input with an algorithm (`sha256:abc`, failing only
/// on length) is searched by its hex part and must name the same algorithm; an input without
/// one (`abc`; also `sha256:`, whose empty hex is an invalid *format*) is searched as typed.
/// Either way the search is a plain prefix search of any length, so the empty string matches
/// every image, and a string holding anything but lowercase hex matches none.
fn lookup_id(store: &Store, input: &str) -> Resolved {
    let prefix = match input.split_once(':') {
        None => input,
        Some(("sha256", hex)) if !hex.is_empty() => hex,
        // Another algorithm, or no hex: nothing in a set of sha256 IDs matches.
        Some(_) => return Resolved::NotFound,
    };
    match find_prefix(store.images.iter().map(|i| &i.config), prefix) {
        PrefixMatch::None => Resolved::NotFound,
        PrefixMatch::One(id) => Resolved::Image(id.clone()),
        PrefixMatch::Many => Resolved::Ambiguous,
    }
}

/// `docker.ParseDockerRef`: the fully qualified name an input normalizes to, or `None` when it
/// does not parse (`containerd/containerd@v1.7.24:vendor/github.com/distribution/reference/normalize.go#L107-L121`,
/// `@v1.6.20:reference/docker/reference.go#L643-L664`): `ParseNormalizedNamed` (which refuses a
/// 64-hex string, adds `docker.io/library/`, maps `index.docker.io` to `docker.io`), then a
/// `name:tag@digest` keeps only the digest, and a name with neither gets `:latest`.
///
/// 1.7.24 and 2.1.9 vendor distribution/reference v0.6.0 (`go.mod` at both tags), whose
/// grammar is v0.5.0's (an upper-case or bracketed-IPv6 first component is a domain) with the
/// length limit on the path alone ([`Dialect::Reference0_6`]); 1.6.20 parses with
/// containerd's own copy of docker/distribution v2.8 (`reference/docker`), which has neither
/// rule. This is the one place the CRI profiles differ on a consistent store, and only for
/// names like `Registry/app` or `[::1]:5000/app`.
fn parse_docker_ref(profile: Profile, input: &str) -> Option<String> {
    let dialect = match profile {
        Profile::Cri16 => Dialect::Distribution2_8,
        _ => Dialect::Reference0_6,
    };
    let (repo, tag, digest) = grammar::parse_normalized_in(dialect, input).ok()?;
    let reference = match (digest, tag_name_only(tag, None)) {
        (Some(digest), _) => Reference::Digested { repo, digest },
        (None, tag) => Reference::Tagged {
            repo,
            tag: tag.unwrap_or_default().into(),
        },
    };
    Some(reference.full())
}

/// Go's `%q` for the inputs a user types: a double-quoted string with `"` and `\` escaped and
/// control characters as `\n`, `\t` or `\x..`.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A pull by tag records three image records: the tag, `repo@<manifest>` and the bare
/// `sha256:<config>` (`containerd/containerd@v1.7.24:pkg/cri/server/image_pull.go#L203-L217`,
/// the same in `@v2.1.9:internal/cri/server/images/image_pull.go`); the last is never listed
/// and never a name (see [`listing`]), so the names are the tag and the digest reference.
pub fn pulled_names(tag: &Reference, manifest: &Digest) -> Vec<Reference> {
    vec![tag.clone(), tag.with_digest(manifest)]
}

/// What `ListImages` shows (`containerd/containerd@v1.7.24:pkg/cri/server/image_list.go#L25-L39`,
/// `toCRIImage` in `image_status.go#L64-L82`): the ID is the config digest; names are the
/// RepoTags then the RepoDigests, fully qualified. `parseImageReferences`
/// (`helpers.go#L316-L333`) keeps only references that parse as tagged or canonical *named*
/// references, so the `sha256:<config>` reference CRI stores at pull (a bare digest, not a
/// name) is never listed; an image left with only that reference lists with no names.
/// Containers keep their state: removal never touches them.
pub fn listing(store: &Store) -> Listing {
    Listing::by_config_tags_then_digests(store)
}

/// What kind of error a failed `RemoveImage` is, from its gRPC code (the number: 3
/// `InvalidArgument`, 5 `NotFound`) and message, as a live adapter sees it. containerd maps its
/// errors with `errdefs.ToGRPC`: an errdefs class becomes its code, anything else (the wrapped
/// go-digest `ErrDigestAmbiguous` of an ambiguous ID prefix) `Unknown`
/// (`containerd/containerd@v1.7.24:errdefs/grpc.go#L36-L66`). The inverse of this module's
/// failures (`tests/laws.rs` checks it on generated stores).
pub fn classify(code: u8, message: &str) -> ErrorKind {
    const INVALID_ARGUMENT: u8 = 3;
    const NOT_FOUND: u8 = 5;
    match code {
        _ if message.ends_with("ambiguous digest string") => ErrorKind::Ambiguous,
        NOT_FOUND => ErrorKind::NotFound,
        INVALID_ARGUMENT if message.contains("invalid reference format") => {
            ErrorKind::InvalidReference
        }
        INVALID_ARGUMENT => ErrorKind::InvalidArgument,
        _ => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Container, ContainerState, Image};
    use crate::{Reference, Repository};
    use rstest::rstest;

    /// A digest whose hex starts with `prefix`, padded with `0`.
    fn d(prefix: &str) -> Digest {
        Digest::parse(&format!("{prefix:0<64}")).unwrap()
    }

    fn tag(domain: &str, path: &str, tag: &str) -> Reference {
        Reference::Tagged {
            repo: Repository::new(domain, path),
            tag: tag.into(),
        }
    }

    fn image(config: &str, manifest: &str, refs: Vec<Reference>) -> Image {
        Image {
            config: d(config),
            manifest: d(manifest),
            layers: vec![d("1a")],
            parent: None,
            pulled: Image::pulled_by_digest(&refs),
            history: 1,
            refs,
            platforms: vec![Default::default()],
            index: Vec::new(),
        }
    }

    /// A: `docker.io/library/busybox:latest` + `:1` + `127.0.0.1:5000/app@sha256:<A.manifest>`,
    /// ID `ab12…`; B: `localhost/app:1`, ID `ab34…`; C: dangling, ID `cd…`; a running container
    /// on A.
    fn store() -> Store {
        let a_manifest = d("e1");
        Store {
            images: vec![
                image(
                    "ab12",
                    "e1",
                    vec![
                        tag("docker.io", "library/busybox", "latest"),
                        tag("docker.io", "library/busybox", "1"),
                        Reference::Digested {
                            repo: Repository::new("127.0.0.1:5000", "app"),
                            digest: a_manifest,
                        },
                    ],
                ),
                image("ab34", "e2", vec![tag("localhost", "app", "1")]),
                image("cd", "e3", vec![]),
            ],
            containers: vec![Container {
                id: d("c1"),
                image: d("ab12"),
                state: ContainerState::Running,
                mounts: Vec::new(),
                pod: None,
                layers: Vec::new(),
            }],
            manifest_lists: Vec::new(),
            pods: Vec::new(),
        }
    }

    fn ids(store: &Store) -> Vec<String> {
        store
            .images
            .iter()
            .map(|i| i.config.short(4).to_owned())
            .collect()
    }

    #[rstest]
    #[case::tag("busybox", "ab34 cd00")]
    #[case::one_of_two_tags_removes_both("busybox:1", "ab34 cd00")]
    #[case::familiar_docker_hub("docker.io/busybox:latest", "ab34 cd00")]
    #[case::legacy_index_domain("index.docker.io/library/busybox", "ab34 cd00")]
    #[case::fully_qualified("docker.io/library/busybox:latest", "ab34 cd00")]
    #[case::digest_reference(&format!("127.0.0.1:5000/app@{}", d("e1")), "ab34 cd00")]
    #[case::tag_dropped_before_digest(&format!("127.0.0.1:5000/app:9@{}", d("e1")), "ab34 cd00")]
    #[case::localhost_name("localhost/app:1", "ab12 cd00")]
    #[case::short_name_is_not_localhost("app:1", "ab12 ab34 cd00")]
    #[case::full_id(&d("ab34").prefixed(), "ab12 cd00")]
    #[case::bare_full_id(&d("ab34").hex().to_owned(), "ab12 cd00")]
    #[case::prefix("ab3", "ab12 cd00")]
    #[case::one_char_prefix("c", "ab12 ab34")]
    #[case::sha256_short_prefix("sha256:ab1", "ab34 cd00")]
    #[case::dangling_by_id("cd", "ab12 ab34")]
    #[case::not_found("nosuch", "ab12 ab34 cd00")]
    #[case::unknown_digest_name(&format!("127.0.0.1:5000/app@{}", d("e2")), "ab12 ab34 cd00")]
    #[case::upper_case_is_not_an_error("UPPER", "ab12 ab34 cd00")]
    #[case::space_is_not_an_error("a b", "ab12 ab34 cd00")]
    #[case::upper_case_hex_is_no_prefix("AB3", "ab12 ab34 cd00")]
    #[case::algorithm_without_hex("sha256:", "ab12 ab34 cd00")]
    #[case::other_algorithm("sha512:ab3", "ab12 ab34 cd00")]
    fn one_name_removes_the_whole_image_or_nothing(#[case] input: &str, #[case] left: &str) {
        let before = store();
        let outcome = remove(Profile::Cri17, &before, &Request::name(input));
        assert_eq!(
            (
                outcome.status,
                outcome.errors.as_slice(),
                outcome.records.as_slice()
            ),
            (OK, &[][..], &[][..])
        );
        assert_eq!(ids(&outcome.after).join(" "), left);
        assert_eq!(
            outcome.after.containers, before.containers,
            "containers are never touched"
        );
    }

    #[rstest]
    #[case::short_prefix("ab")]
    #[case::sha256_prefix("sha256:a")]
    #[case::one_char("a")]
    fn an_ambiguous_prefix_fails_with_unknown(
        #[case] input: &str,
        #[values(Profile::Cri16, Profile::Cri17)] profile: Profile,
    ) {
        let before = store();
        let outcome = remove(profile, &before, &Request::name(input));
        assert_eq!(outcome.status, UNKNOWN);
        assert_eq!(
            outcome.errors,
            vec![Failure {
                kind: ErrorKind::Ambiguous,
                message: format!("can not resolve \"{input}\" locally: ambiguous digest string"),
                status: UNKNOWN,
            }]
        );
        assert_eq!(outcome.after, before);
    }

    #[rstest]
    #[case::empty_store(0, Ok(0))]
    #[case::one_image(1, Ok(1))]
    #[case::two_images(2, Err(()))]
    fn the_empty_string_is_the_prefix_of_every_id(
        #[case] images: usize,
        #[case] removed: Result<usize, ()>,
    ) {
        let mut before = store();
        before.images.truncate(images);
        let outcome = remove(Profile::Cri17, &before, &Request::name(""));
        match removed {
            Ok(n) => assert_eq!(
                (outcome.status, outcome.after.images.len()),
                (OK, images - n)
            ),
            Err(()) => assert_eq!((outcome.status, outcome.after), (UNKNOWN, before)),
        }
    }

    #[test]
    fn a_name_wins_over_an_id_prefix() {
        let mut before = store();
        before.images[1]
            .refs
            .push(tag("docker.io", "library/ab12", "latest"));
        let outcome = remove(Profile::Cri17, &before, &Request::name("ab12"));
        assert_eq!(ids(&outcome.after), ["ab12", "cd00"]);
    }

    #[test]
    fn force_prune_and_running_containers_change_nothing() {
        let before = store();
        let plain = remove(Profile::Cri16, &before, &Request::name("busybox"));
        let mut forced = Request::name("busybox").forced();
        forced.prune = false;
        forced.ignore = true;
        assert_eq!(remove(Profile::Cri16, &before, &forced), plain);
        assert_eq!(plain.after.containers[0].state, ContainerState::Running);
        assert!(plain.after.image(&d("ab12")).is_none());
    }

    #[test]
    fn several_names_are_several_calls_and_the_first_failure_sets_the_status() {
        let before = store();
        let request = Request {
            names: vec!["busybox".into(), "busybox".into(), "a".into(), "ab".into()],
            ..Request::name("")
        };
        let outcome = remove(Profile::Cri17, &before, &request);
        // `busybox` removes A; the second `busybox` is not found, so it succeeds; with A gone,
        // `a` is a unique prefix of B; `ab` then matches nothing.
        assert_eq!((outcome.status, outcome.errors.len()), (OK, 0));
        assert_eq!(ids(&outcome.after), ["cd00"]);

        let request = Request {
            names: vec!["a".into(), "localhost/app:1".into(), "a".into()],
            ..Request::name("")
        };
        let outcome = remove(Profile::Cri17, &before, &request);
        assert_eq!(outcome.status, UNKNOWN);
        assert_eq!(
            outcome.errors.len(),
            1,
            "the third call finds only A: {:?}",
            outcome.errors
        );
        assert_eq!(ids(&outcome.after), ["cd00"]);
    }

    #[test]
    fn all_removes_every_image_after_the_names() {
        let request = Request {
            names: vec!["ab".into()],
            all: true,
            ..Request::name("")
        };
        let outcome = remove(Profile::Cri17, &store(), &request);
        assert_eq!(
            (
                outcome.status,
                outcome.errors.len(),
                outcome.after.images.len()
            ),
            (UNKNOWN, 1, 0)
        );
    }

    #[test]
    fn the_listing_shows_tags_then_digests_fully_qualified_and_no_id_reference() {
        let listing = listing(&store());
        let names: Vec<_> = listing.images.iter().map(|i| i.names.join(" ")).collect();
        assert_eq!(
            names,
            [
                format!("docker.io/library/busybox:1 docker.io/library/busybox:latest 127.0.0.1:5000/app@{}", d("e1")),
                "localhost/app:1".to_owned(),
                String::new(),
            ]
        );
        assert_eq!(listing.images[0].id, d("ab12"));
        assert_eq!(listing.containers, [(d("c1"), ContainerState::Running)]);
    }

    #[rstest]
    #[case("busybox", Some("docker.io/library/busybox:latest"))]
    #[case("library/busybox:1", Some("docker.io/library/busybox:1"))]
    #[case("user/app", Some("docker.io/user/app:latest"))]
    #[case("docker.io/app", Some("docker.io/library/app:latest"))]
    #[case("localhost/app", Some("localhost/app:latest"))]
    #[case("localhost:5000/a/b:v1.0", Some("localhost:5000/a/b:v1.0"))]
    #[case("127.0.0.1:5000/app:1", Some("127.0.0.1:5000/app:1"))]
    #[case("Example.com/app", Some("Example.com/app:latest"))]
    #[case("a__b.c-d---e", Some("docker.io/library/a__b.c-d---e:latest"))]
    #[case("sha256:abc", Some("docker.io/library/sha256:abc"))]
    #[case("Busybox", None)]
    #[case("a b", None)]
    #[case("busybox:", None)]
    #[case("busybox:-x", None)]
    #[case("a//b", None)]
    #[case("a..b", None)]
    #[case("-a", None)]
    #[case("a/", None)]
    #[case("busybox@sha256:abc", None)]
    #[case(
        "0123456789012345678901234567890123456789012345678901234567890123",
        None
    )]
    fn docker_ref_normalization(#[case] input: &str, #[case] expected: Option<&str>) {
        assert_eq!(parse_docker_ref(Profile::Cri17, input).as_deref(), expected);
        if !input.starts_with("Example") {
            assert_eq!(parse_docker_ref(Profile::Cri16, input).as_deref(), expected);
        }
    }

    #[rstest]
    #[case::upper_case_registry("Reg/app:1", None, Some("Reg/app:1"))]
    #[case::ipv6_registry("[::1]:5000/app:1", None, Some("[::1]:5000/app:1"))]
    fn the_16_and_17_grammars_differ_on_odd_registries(
        #[case] input: &str,
        #[case] cri16: Option<&str>,
        #[case] cri17: Option<&str>,
    ) {
        assert_eq!(parse_docker_ref(Profile::Cri16, input).as_deref(), cri16);
        assert_eq!(parse_docker_ref(Profile::Cri17, input).as_deref(), cri17);
    }

    /// One `RemoveImage` call, whatever it is given, removes exactly one whole image or
    /// nothing, fails only when it removes nothing, and never reports a record.
    #[test]
    fn one_call_removes_one_whole_image_or_nothing() {
        fn prop(input: String) -> bool {
            let before = store();
            let o = remove(Profile::Cri17, &before, &Request::name(input));
            let gone = before.images.len() - o.after.images.len();
            let whole = o
                .after
                .images
                .iter()
                .all(|i| before.image(&i.config) == Some(i));
            o.records.is_empty() && whole && gone <= 1 && (o.errors.is_empty() || gone == 0)
        }
        quickcheck::quickcheck(prop as fn(String) -> bool);
        // Arbitrary strings rarely hit a name or an ID: check the interesting ones too.
        for input in [
            "busybox",
            "a",
            "ab",
            "ab3",
            "c",
            "",
            "sha256:a",
            "localhost/app:1",
        ] {
            assert!(prop(input.to_owned()), "{input:?}");
        }
    }

    #[test]
    fn go_quote_escapes_like_percent_q() {
        assert_eq!(go_quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
    }

    /// R-CRI-7: 2.1.9's gRPC wrapper answers OK to any NotFound of the service; 1.6 and 1.7
    /// pass it on. Other errors pass in every version.
    #[rstest]
    fn r_cri_7_any_not_found_is_success_in_2_1(
        #[values(Profile::Cri16, Profile::Cri17, Profile::Cri21)] profile: Profile,
    ) {
        let not_found = Failure {
            kind: ErrorKind::NotFound,
            message: "failed to update image reference: not found".into(),
            status: Status::Grpc(5),
        };
        let got = grpc_answer(profile, Err(not_found.clone()));
        if profile == Profile::Cri21 {
            assert_eq!(got, Ok(()));
        } else {
            assert_eq!(got, Err(not_found));
        }
        let ambiguous = remove(profile, &store(), &Request::name("ab"));
        assert_eq!(ambiguous.errors.len(), 1, "{profile}");
        assert_eq!(ambiguous.errors[0].kind, ErrorKind::Ambiguous);
        assert_eq!(grpc_answer(profile, Ok(())), Ok(()));
    }

    /// 2.1.9 removes as 1.7.24 does on every consistent store (its resolution and removal are
    /// 1.7.24's, line for line).
    #[rstest]
    #[case("busybox")]
    #[case("ab12")]
    #[case("nosuch")]
    #[case("")]
    fn cri_2_1_removes_as_1_7(#[case] input: &str) {
        let r = Request::name(input);
        assert_eq!(
            remove(Profile::Cri21, &store(), &r),
            remove(Profile::Cri17, &store(), &r)
        );
    }
}
