//! The reference grammar of distribution/reference, shared by every engine.
//!
//! Docker parses every name a user types with the `reference` package: moby v20.10.24 vendors
//! docker/distribution v2.8.1 (`vendor/github.com/docker/distribution/reference/`), moby v26.1.5
//! vendors distribution/reference v0.5.0 (`vendor/github.com/distribution/reference/`). The two
//! differ in three places, so every entry point takes a [`Dialect`]:
//!
//! - v0.5.0 accepts a bracketed IPv6 host (`[::1]:5000/app`) in the domain
//!   (`distribution/reference@v0.5.0:regexp.go`, `ipv6address`); v2.8.1 does not.
//! - v0.5.0's `splitDockerDomain` treats a first component that is not all lowercase as a
//!   domain (`Foo/bar` is the registry `Foo`), where v2.8.1 puts it under `docker.io` and then
//!   rejects it as uppercase (`normalize.go`, `splitDockerDomain`).
//! - The uppercase error of `ParseNormalizedNamed` names the offending part in v0.5.0:
//!   `invalid reference format: repository name (library/Foo) must be lowercase`, and does not
//!   in v2.8.1: `invalid reference format: repository name must be lowercase`.
//!
//! The grammar is written out by hand rather than as regular expressions: the anchored
//! `ReferenceRegexp` has exactly one way to split a string (the digest follows the only `@`,
//! the tag follows a `:` after the last `/`, the domain is the first `/`-component when it
//! can be one), so membership plus that split is what Go's leftmost-first captures give.
//!
//! # Why not `oci_spec::distribution::Reference`
//!
//! oci-spec 0.10 parses and normalizes names the way Docker does for ordinary names (the
//! property test below checks it agrees with [`parse_normalized`] on generated valid names),
//! but it cannot stand in for this module:
//! - a bare 64-hex string parses there as the repository `docker.io/library/<hex>`; Docker
//!   rejects it as a name (`cannot specify 64-byte hexadecimal strings`) and
//!   `ParseAnyReference` turns it into an image ID;
//! - it has no short-ID / ID-prefix logic (engines look IDs up themselves);
//! - it gives no familiar names (`busybox:latest`) and none of Docker's error texts, which the
//!   engines report verbatim;
//! - it knows one dialect; Docker 20.10 and 26.1 differ (above).
//!
//! # containers/image
//!
//! libimage parses with containers/image's fork of this package (`docker/reference`); the copy
//! read (`containers/image:docker/reference/normalize.go`, exported as `SplitDockerDomain`,
//! version vendored by common v0.50.1 not pinned down) has the v2.8.1 rule and error text: a
//! first component is a domain iff it has `.` or `:` or is `localhost`, an uppercase one is
//! not. Where libimage differs is what it does with a name that has no domain: it does not
//! take `docker.io/library/` for granted but tries `localhost/`, the configured registries
//! and a repository-suffix match (short-name resolution), which is libimage's business, not
//! this grammar's.

use crate::digest::{is_full_hex, Digest};
use crate::reference::Repository;

/// Which vendored copy of the reference package.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// docker/distribution v2.8.1, vendored by moby v20.10.24.
    Distribution2_8,
    /// distribution/reference v0.5.0, vendored by moby v26.1.5.
    Reference0_5,
    /// distribution/reference v0.6.0, vendored by moby v28.5.2 and containerd v1.7.24 and
    /// v2.1.9: v0.5.0's grammar, but the 255-character limit applies to the path alone, not
    /// to the domain and path (`moby/moby@v28.5.2:vendor/github.com/distribution/reference/reference.go#L198-L211`,
    /// where v0.5.0 checked the whole name first, `@v26.1.5:…/reference.go#L202-L204`).
    Reference0_6,
}

/// `NameTotalLengthMax` (`reference.go`): the longest name (domain and path) `Parse` accepts.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// The tag `TagNameOnly` adds (`normalize.go`, `defaultTag`).
pub const DEFAULT_TAG: &str = "latest";

/// Why a string is not a reference. `Display` is the upstream text, verbatim.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GrammarError {
    /// `ErrReferenceInvalidFormat` (`reference.go`).
    #[error("invalid reference format")]
    InvalidFormat,
    /// `ErrNameContainsUppercase` (`reference.go`): `Parse` of a string that would match if
    /// lowercased.
    #[error("repository name must be lowercase")]
    NameContainsUppercase,
    /// `ParseNormalizedNamed`'s own uppercase check on the remote name, v2.8.1 text
    /// (`docker/distribution@v2.8.1:reference/normalize.go`).
    #[error("invalid reference format: repository name must be lowercase")]
    RemoteUppercase,
    /// The same check, v0.5.0 text, naming the remote part (up to the first `:`)
    /// (`distribution/reference@v0.5.0:normalize.go`).
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    RemoteUppercaseNamed(String),
    /// `ErrNameEmpty` (`reference.go`): `Parse("")`.
    #[error("repository name must have at least one component")]
    NameEmpty,
    /// `ErrNameTooLong` (`reference.go`).
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    /// `ParseNormalizedNamed` of exactly 64 lowercase hex characters (`normalize.go`).
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    /// go-digest `ErrDigestInvalidFormat` (`opencontainers/go-digest@v1.0.0:digest.go`).
    #[error("invalid checksum digest format")]
    DigestFormat,
    /// go-digest `ErrDigestInvalidLength`.
    #[error("invalid checksum digest length")]
    DigestLength,
    /// go-digest `ErrDigestUnsupported`: a well-formed digest of an algorithm other than
    /// sha256/sha384/sha512.
    #[error("unsupported digest algorithm")]
    DigestUnsupported,
    /// Not an upstream error: a *valid* sha384/sha512 digest reference. Docker accepts it,
    /// but the model's digests are sha256 only, so no stored image can carry it: engines
    /// answer "not found" for it. `name` is as parsed (normalized by [`parse_normalized`]),
    /// `digest` as written.
    #[error("{name}@{digest}: digest algorithm not modelled")]
    ForeignDigest {
        /// The name part, as parsed.
        name: String,
        /// The tag, if any.
        tag: Option<String>,
        /// The digest, `algorithm:hex`.
        digest: String,
    },
}

/// What `reference.Parse` returns: a name as written (no normalization), tag, digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The name, exactly as written (`busybox`, `localhost:5000/app`).
    pub name: String,
    /// The tag, if given.
    pub tag: Option<String>,
    /// The digest, if given.
    pub digest: Option<Digest>,
}

impl Parsed {
    /// The domain and path as `Parse` splits them (`anchoredNameRegexp`): the first component
    /// is a domain whenever it is a syntactically valid one and more follows, so `foo/bar`
    /// has the domain `foo` here (normalization, [`split_domain`], would not say so).
    pub fn domain_and_path(&self, dialect: Dialect) -> (Option<&str>, &str) {
        split_name(dialect, &self.name).unwrap_or((None, &self.name))
    }
}

/// `reference.Parse` in the v2.8.1 dialect (no normalization).
pub fn parse(s: &str) -> Result<Parsed, GrammarError> {
    parse_in(Dialect::Distribution2_8, s)
}

/// `reference.Parse` (`reference.go`): match the anchored grammar; on failure, an empty string
/// is `NameEmpty`, a string that would match lowercased is `NameContainsUppercase`, anything
/// else `InvalidFormat`; then a name over 255 characters is `NameTooLong`, and the digest must
/// pass go-digest's `Parse`.
pub fn parse_in(dialect: Dialect, s: &str) -> Result<Parsed, GrammarError> {
    let (name, tag, digest) = parse_borrowed(dialect, s)?;
    Ok(Parsed {
        name: name.to_owned(),
        tag: tag.map(str::to_owned),
        digest,
    })
}

/// [`parse_in`] with the name and tag borrowed from `s`: what [`parse_normalized_in`] needs,
/// without the copies it would drop at once.
fn parse_borrowed(
    dialect: Dialect,
    s: &str,
) -> Result<(&str, Option<&str>, Option<Digest>), GrammarError> {
    let Some((name, tag, digest)) = split_reference(dialect, s) else {
        if s.is_empty() {
            return Err(GrammarError::NameEmpty);
        }
        if split_reference(dialect, &go_lower(s)).is_some() {
            return Err(GrammarError::NameContainsUppercase);
        }
        return Err(GrammarError::InvalidFormat);
    };
    let limited = match dialect {
        Dialect::Reference0_6 => split_name(dialect, name).map_or(name, |(_, path)| path),
        Dialect::Distribution2_8 | Dialect::Reference0_5 => name,
    };
    if limited.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(GrammarError::NameTooLong);
    }
    let digest = match digest {
        None => None,
        Some(d) => match parse_digest(d)? {
            Some(d) => Some(d),
            None => {
                return Err(GrammarError::ForeignDigest {
                    name: name.to_owned(),
                    tag: tag.map(str::to_owned),
                    digest: d.to_owned(),
                })
            }
        },
    };
    Ok((name, tag, digest))
}

/// Distribution's domain rule (`splitDockerDomain`, `normalize.go`), v2.8.1 dialect: the
/// first `/`-component of `name` is a domain iff it contains `.` or `:` or is `localhost`.
/// Returns the domain (if any) and the rest, with no `docker.io`/`library/` filled in.
pub fn split_domain(name: &str) -> (Option<&str>, &str) {
    split_domain_in(Dialect::Distribution2_8, name)
}

/// [`split_domain`] in any dialect. v0.5.0 (and v0.6.0) adds: a first component that is not all
/// lowercase is a domain too (`distribution/reference@v0.5.0:normalize.go`,
/// `splitDockerDomain`).
pub fn split_domain_in(dialect: Dialect, name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || (dialect != Dialect::Distribution2_8 && !is_go_lower(first)) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

/// `ParseNormalizedNamed` in the v2.8.1 dialect. Returns the repository, tag and digest.
pub fn parse_normalized(
    s: &str,
) -> Result<(Repository, Option<String>, Option<Digest>), GrammarError> {
    parse_normalized_in(Dialect::Distribution2_8, s)
}

/// `ParseNormalizedNamed` (`normalize.go`): a 64-hex string is refused; the domain is split
/// off by [`split_domain_in`] (none → `docker.io`; `index.docker.io` → `docker.io`; a
/// single-component `docker.io` path gains `library/`); the remote name up to the first `:`
/// must be lowercase; then `Parse` of `domain/remainder`.
///
/// The repository comes from `Parse`'s own split of the normalized name. In the rare case
/// where the chosen domain is not a valid domain but the whole name is a valid path
/// (`a_b.c/app`), upstream gets an empty domain; so does the returned [`Repository`].
pub fn parse_normalized_in(
    dialect: Dialect,
    s: &str,
) -> Result<(Repository, Option<String>, Option<Digest>), GrammarError> {
    if is_full_hex(s) {
        return Err(GrammarError::HexName(s.to_owned()));
    }
    let (domain, remainder) = split_domain_in(dialect, s);
    let domain = match domain {
        None | Some("index.docker.io") => "docker.io",
        Some(d) => d,
    };
    let library = domain == "docker.io" && !remainder.contains('/');
    // `domain/[library/]remainder`, built once: the remote name is its tail after `domain/`.
    let mut normalized = String::with_capacity(domain.len() + 9 + remainder.len());
    normalized.push_str(domain);
    normalized.push('/');
    if library {
        normalized.push_str("library/");
    }
    normalized.push_str(remainder);
    let remote = normalized[domain.len() + 1..]
        .split(':')
        .next()
        .unwrap_or_default();
    if !is_go_lower(remote) {
        return Err(match dialect {
            Dialect::Distribution2_8 => GrammarError::RemoteUppercase,
            Dialect::Reference0_5 | Dialect::Reference0_6 => {
                GrammarError::RemoteUppercaseNamed(remote.to_owned())
            }
        });
    }
    let (name, tag, digest) = parse_borrowed(dialect, &normalized)?;
    let (domain, path) = split_name(dialect, name).unwrap_or((None, name));
    let repo = Repository::new(domain.unwrap_or_default(), path);
    Ok((repo, tag.map(str::to_owned), digest))
}

/// `TagNameOnly` (`normalize.go`): a reference with neither tag nor digest gets `latest`.
pub fn tag_name_only(tag: Option<String>, digest: Option<&Digest>) -> Option<String> {
    match (tag, digest) {
        (None, None) => Some(DEFAULT_TAG.to_owned()),
        (tag, _) => tag,
    }
}

/// What `ParseAnyReference` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnyReference {
    /// A bare digest: 64 hex, or a valid `algorithm:hex` (`digestReference`). Docker looks it
    /// up as an image ID.
    Digest(Digest),
    /// A name, normalized.
    Named {
        /// The repository.
        repo: Repository,
        /// The tag, if given.
        tag: Option<String>,
        /// The digest, if given.
        digest: Option<Digest>,
    },
}

/// `ParseAnyReference` in either dialect (`normalize.go`): 64 lowercase hex is the digest
/// `sha256:<hex>`; a string go-digest parses is a digest; anything else goes through
/// `ParseNormalizedNamed`. A valid sha384/sha512 bare digest is [`GrammarError::ForeignDigest`]
/// with an empty name.
pub fn parse_any_in(dialect: Dialect, s: &str) -> Result<AnyReference, GrammarError> {
    if is_full_hex(s) {
        return Digest::parse(s)
            .map(AnyReference::Digest)
            .map_err(|_| GrammarError::InvalidFormat);
    }
    match parse_digest(s) {
        Ok(Some(d)) => return Ok(AnyReference::Digest(d)),
        Ok(None) => {
            return Err(GrammarError::ForeignDigest {
                name: String::new(),
                tag: None,
                digest: s.to_owned(),
            })
        }
        Err(_) => {}
    }
    let (repo, tag, digest) = parse_normalized_in(dialect, s)?;
    Ok(AnyReference::Named { repo, tag, digest })
}

/// [`parse_any_in`] in the v2.8.1 dialect.
pub fn parse_any(s: &str) -> Result<AnyReference, GrammarError> {
    parse_any_in(Dialect::Distribution2_8, s)
}

/// go-digest v1.0.0 `Parse` (`digest.go` `Validate`, `algorithm.go` `Validate`): no `:` (or
/// nothing after it) is a format error; an unknown algorithm is "unsupported" if the string
/// is otherwise well formed (`DigestRegexpAnchored`), else a format error; a known algorithm
/// needs exactly its hex length (else "length") in lowercase hex (else "format").
/// `Ok(None)`: a valid sha384/sha512 digest. Docker's classic digest-set search
/// (`digestset.Lookup`) also branches on which of these errors it gets.
pub fn parse_digest(s: &str) -> Result<Option<Digest>, GrammarError> {
    let Some((algorithm, encoded)) = s
        .split_once(':')
        .filter(|(a, e)| !a.is_empty() && !e.is_empty())
    else {
        return Err(GrammarError::DigestFormat);
    };
    let size = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => {
            return Err(if go_digest_well_formed(algorithm, encoded) {
                GrammarError::DigestUnsupported
            } else {
                GrammarError::DigestFormat
            })
        }
    };
    if encoded.len() != size {
        return Err(GrammarError::DigestLength);
    }
    if !crate::digest::is_hex(encoded) {
        return Err(GrammarError::DigestFormat);
    }
    Ok(Digest::parse(s).ok())
}

/// go-digest's `DigestRegexp`: `[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`.
fn go_digest_well_formed(algorithm: &str, encoded: &str) -> bool {
    let lower_alnum = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    algorithm.split(['.', '+', '_', '-']).all(lower_alnum)
        && !encoded.is_empty()
        && encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
}

/// Whether `s` is its own [`go_lower`]: with no allocation for ASCII, which is every name
/// but the odd one a test types.
fn is_go_lower(s: &str) -> bool {
    if s.is_ascii() {
        !s.bytes().any(|b| b.is_ascii_uppercase())
    } else {
        go_lower(s) == s
    }
}

/// Go's `strings.ToLower`: simple (one-to-one) case mapping. Rust's `to_lowercase` is the
/// full mapping, which differs for `İ` (U+0130) only.
fn go_lower(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '\u{130}' {
                'i'
            } else {
                c.to_lowercase().next().unwrap_or(c)
            }
        })
        .collect()
}

/// `ReferenceRegexp` (anchored): `name [":" tag] ["@" digest]`, split into its captures.
fn split_reference(dialect: Dialect, s: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
    let (left, digest) = match s.split_once('@') {
        Some((left, digest)) if digest_syntax(digest) => (left, Some(digest)),
        Some(_) => return None,
        None => (s, None),
    };
    let last_slash = left.rfind('/');
    let (name, tag) = match left.rfind(':') {
        Some(colon) if last_slash.is_none_or(|sl| colon > sl) => {
            (&left[..colon], Some(&left[colon + 1..]))
        }
        _ => (left, None),
    };
    if tag.is_some_and(|t| !tag_syntax(t)) {
        return None;
    }
    split_name(dialect, name)?;
    Some((name, tag, digest))
}

/// `anchoredNameRegexp`: `[domain "/"] remote-name`, preferring a domain (leftmost-first).
fn split_name(dialect: Dialect, name: &str) -> Option<(Option<&str>, &str)> {
    if let Some((first, rest)) = name.split_once('/') {
        if domain_syntax(dialect, first) && remote_name(rest) {
            return Some((Some(first), rest));
        }
    }
    remote_name(name).then_some((None, name))
}

/// `remote-name := path-component ["/" path-component]*`.
fn remote_name(s: &str) -> bool {
    s.split('/').all(path_component)
}

/// `path-component := [a-z0-9]+ (separator [a-z0-9]+)*`, `separator := [._] | "__" | "-"+`.
/// (v2.8.1 writes the dash separator `[-]*`; the empty alternative adds no strings.)
fn path_component(s: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = s.as_bytes();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `domain := host [":" port]`, `host := domain-name | "[" ipv6 "]"` (IPv6 in v0.5.0 only).
fn domain_syntax(dialect: Dialect, s: &str) -> bool {
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let port_ok = |rest: &str| rest.is_empty() || rest.strip_prefix(':').is_some_and(digits);
    if let Some(inner) = s.strip_prefix('[') {
        if dialect == Dialect::Distribution2_8 {
            return false;
        }
        let Some((addr, rest)) = inner.split_once(']') else {
            return false;
        };
        return !addr.is_empty()
            && addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
            && port_ok(rest);
    }
    let (host, rest) = match s.find(':') {
        Some(c) => (&s[..c], &s[c..]),
        None => (s, ""),
    };
    host.split('.').all(domain_component) && port_ok(rest)
}

/// `domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
fn domain_component(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// `tag := [\w][\w.-]{0,127}` (Go's `\w` is ASCII).
fn tag_syntax(s: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = s.as_bytes();
    (1..=128).contains(&b.len())
        && word(b[0])
        && b[1..].iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// `digest := [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)* ":" [[:xdigit:]]{32,}`.
fn digest_syntax(s: &str) -> bool {
    let Some((algorithm, hex)) = s.split_once(':') else {
        return false;
    };
    let component = |p: &str| {
        let b = p.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
    };
    algorithm.split(['-', '_', '+', '.']).all(component)
        && hex.len() >= 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn repo(s: &str) -> Repository {
        let (d, p) = s.split_once('/').unwrap();
        Repository::new(d, p)
    }

    #[rstest]
    #[case("busybox", "busybox", None, false)]
    #[case("busybox:1.36", "busybox", Some("1.36"), false)]
    #[case("localhost:5000/app:v1", "localhost:5000/app", Some("v1"), false)]
    #[case("localhost:5000", "localhost", Some("5000"), false)]
    #[case("a/b/c:_x", "a/b/c", Some("_x"), false)]
    #[case("my--app__x.y", "my--app__x.y", None, false)]
    #[case(&format!("busybox@sha256:{HEX}"), "busybox", None, true)]
    #[case(&format!("busybox:1@sha256:{HEX}"), "busybox", Some("1"), true)]
    #[case("Registry.Example.COM/app", "Registry.Example.COM/app", None, false)]
    fn parse_accepts(
        #[case] s: &str,
        #[case] name: &str,
        #[case] tag: Option<&str>,
        #[case] digest: bool,
    ) {
        let p = parse(s).unwrap();
        assert_eq!(p.name, name);
        assert_eq!(p.tag.as_deref(), tag);
        assert_eq!(p.digest.is_some(), digest);
    }

    #[rstest]
    #[case("", GrammarError::NameEmpty)]
    #[case("Busybox", GrammarError::NameContainsUppercase)]
    #[case("busybox:", GrammarError::InvalidFormat)]
    #[case(":tag", GrammarError::InvalidFormat)]
    #[case("busybox:-x", GrammarError::InvalidFormat)]
    #[case("a//b", GrammarError::InvalidFormat)]
    #[case("a/", GrammarError::InvalidFormat)]
    #[case("a___b", GrammarError::InvalidFormat)]
    #[case("a._b", GrammarError::InvalidFormat)]
    #[case("-a", GrammarError::InvalidFormat)]
    #[case("a@b", GrammarError::InvalidFormat)]
    #[case("host:port/app", GrammarError::InvalidFormat)]
    #[case("[::1]:5000/app", GrammarError::InvalidFormat)]
    #[case("busybox@sha256:abcd", GrammarError::InvalidFormat)]
    #[case(&format!("busybox@sha256:{}", &HEX[..40]), GrammarError::DigestLength)]
    #[case(&format!("busybox@sha256:{}", HEX.to_uppercase()), GrammarError::DigestFormat)]
    #[case(&format!("busybox@md5:{}", &HEX[..32]), GrammarError::DigestUnsupported)]
    #[case(&format!("busybox@SHA256:{HEX}"), GrammarError::DigestFormat)]
    #[case(&"a".repeat(256), GrammarError::NameTooLong)]
    fn parse_rejects(#[case] s: &str, #[case] err: GrammarError) {
        assert_eq!(parse(s), Err(err));
    }

    #[test]
    fn error_texts_are_upstream() {
        assert_eq!(
            GrammarError::InvalidFormat.to_string(),
            "invalid reference format"
        );
        assert_eq!(
            GrammarError::RemoteUppercase.to_string(),
            "invalid reference format: repository name must be lowercase"
        );
        assert_eq!(
            GrammarError::RemoteUppercaseNamed("library/Foo".into()).to_string(),
            "invalid reference format: repository name (library/Foo) must be lowercase"
        );
        assert_eq!(
            GrammarError::HexName(HEX.into()).to_string(),
            format!("invalid repository name ({HEX}), cannot specify 64-byte hexadecimal strings")
        );
    }

    /// v0.6.0 limits the path to 255 characters, v0.5.0 and v2.8.1 the domain and path.
    #[test]
    fn v0_6_limits_the_path_not_the_whole_name() {
        let path = "a".repeat(250);
        let long = format!("localhost/{path}:1");
        for d in [Dialect::Distribution2_8, Dialect::Reference0_5] {
            assert_eq!(parse_in(d, &long), Err(GrammarError::NameTooLong), "{d:?}");
            assert_eq!(
                parse_normalized_in(d, &long).map(|_| ()),
                Err(GrammarError::NameTooLong)
            );
        }
        let (repo, tag, _) = parse_normalized_in(Dialect::Reference0_6, &long).unwrap();
        assert_eq!(repo, Repository::new("localhost", path.as_str()));
        assert_eq!(tag.as_deref(), Some("1"));
        let longer = format!("localhost/{}", "a".repeat(256));
        assert_eq!(
            parse_in(Dialect::Reference0_6, &longer),
            Err(GrammarError::NameTooLong)
        );
        // Without a domain the path is the whole name: the same limit in every dialect.
        assert_eq!(
            parse_in(Dialect::Reference0_6, &"a".repeat(256)),
            Err(GrammarError::NameTooLong)
        );
    }

    #[test]
    fn ipv6_hosts_are_v0_5_only() {
        let p = parse_in(Dialect::Reference0_5, "[::1]:5000/app:1").unwrap();
        assert_eq!(
            p.domain_and_path(Dialect::Reference0_5),
            (Some("[::1]:5000"), "app")
        );
        assert!(parse_in(Dialect::Distribution2_8, "[::1]:5000/app").is_err());
    }

    #[rstest]
    #[case("busybox", None, "busybox")]
    #[case("library/busybox", None, "library/busybox")]
    #[case("localhost/app", Some("localhost"), "app")]
    #[case("example.com/app", Some("example.com"), "app")]
    #[case("host:5000/app", Some("host:5000"), "app")]
    #[case("localhostx/app", None, "localhostx/app")]
    #[case("Foo/bar", None, "Foo/bar")]
    fn split_domain_rule(#[case] s: &str, #[case] domain: Option<&str>, #[case] rest: &str) {
        assert_eq!(split_domain(s), (domain, rest));
    }

    #[test]
    fn uppercase_first_component_is_a_domain_in_v0_5() {
        assert_eq!(
            split_domain_in(Dialect::Reference0_5, "Foo/bar"),
            (Some("Foo"), "bar")
        );
        assert_eq!(
            parse_normalized_in(Dialect::Distribution2_8, "Foo/bar"),
            Err(GrammarError::RemoteUppercase)
        );
        let (r, _, _) = parse_normalized_in(Dialect::Reference0_5, "Foo/bar").unwrap();
        assert_eq!(r, Repository::new("Foo", "bar"));
    }

    #[rstest]
    #[case("busybox", "docker.io/library/busybox", None)]
    #[case("busybox:1", "docker.io/library/busybox", Some("1"))]
    #[case("user/app", "docker.io/user/app", None)]
    #[case("docker.io/busybox", "docker.io/library/busybox", None)]
    #[case("index.docker.io/busybox:2", "docker.io/library/busybox", Some("2"))]
    #[case("localhost/app", "localhost/app", None)]
    #[case("127.0.0.1:5000/a/b:c", "127.0.0.1:5000/a/b", Some("c"))]
    #[case("localhost:5000", "docker.io/library/localhost", Some("5000"))]
    fn normalizes(#[case] s: &str, #[case] full: &str, #[case] tag: Option<&str>) {
        let (r, t, d) = parse_normalized(s).unwrap();
        assert_eq!(r, repo(full));
        assert_eq!(t.as_deref(), tag);
        assert_eq!(d, None);
    }

    #[rstest]
    #[case(HEX, GrammarError::HexName(HEX.into()))]
    #[case("Busybox", GrammarError::RemoteUppercase)]
    #[case("Busybox:Tag", GrammarError::RemoteUppercase)]
    #[case("a_b.c:5000/app", GrammarError::InvalidFormat)]
    #[case("busybox::1", GrammarError::InvalidFormat)]
    fn normalize_rejects(#[case] s: &str, #[case] err: GrammarError) {
        assert_eq!(parse_normalized(s), Err(err));
    }

    /// Strings that look like something else but are ordinary names to Docker.
    #[rstest]
    #[case("busybox:Tag", "docker.io/library/busybox", Some("Tag"))]
    #[case("sha256:abc", "docker.io/library/sha256", Some("abc"))]
    #[case("abcdef012345", "docker.io/library/abcdef012345", None)]
    fn normalizes_lookalikes(#[case] s: &str, #[case] full: &str, #[case] tag: Option<&str>) {
        let (r, t, _) = parse_normalized(s).unwrap();
        assert_eq!((r, t.as_deref()), (repo(full), tag));
    }

    /// `splitDockerDomain` picks `a_b.c` (it has a `.`), but it is no valid domain, so `Parse`
    /// takes the whole string as a path: upstream's domain is empty. oci-spec says `a_b.c`.
    #[test]
    fn invalid_domain_falls_back_to_path() {
        let (r, _, _) = parse_normalized("a_b.c/app").unwrap();
        assert_eq!(r, Repository::new("", "a_b.c/app"));
        let oci: oci_spec::distribution::Reference = "a_b.c/app".parse().unwrap();
        assert_eq!(oci.registry(), "a_b.c");
    }

    #[test]
    fn v0_5_uppercase_error_names_the_remote() {
        assert_eq!(
            parse_normalized_in(Dialect::Reference0_5, "Busybox:1"),
            Err(GrammarError::RemoteUppercaseNamed("library/Busybox".into()))
        );
    }

    #[test]
    fn tag_name_only_adds_latest_only_to_bare_names() {
        let d = Digest::parse(HEX).unwrap();
        assert_eq!(tag_name_only(None, None).as_deref(), Some("latest"));
        assert_eq!(tag_name_only(Some("1".into()), None).as_deref(), Some("1"));
        assert_eq!(tag_name_only(None, Some(&d)), None);
    }

    #[rstest]
    #[case(HEX, true)]
    #[case(&format!("sha256:{HEX}"), true)]
    #[case(&HEX[..12], false)]
    #[case("busybox", false)]
    fn parse_any_finds_digests(#[case] s: &str, #[case] is_digest: bool) {
        let r = parse_any(s).unwrap();
        assert_eq!(matches!(r, AnyReference::Digest(_)), is_digest, "{r:?}");
    }

    #[test]
    fn foreign_digests_are_valid_but_unmodelled() {
        let s = format!("busybox@sha512:{HEX}{HEX}");
        assert!(matches!(parse(&s), Err(GrammarError::ForeignDigest { .. })));
    }

    /// Names generated from the grammar itself: lowercase path components with separators,
    /// an optional domain, an optional tag.
    fn valid_name() -> impl Strategy<Value = String> {
        let component = "[a-z0-9]{1,4}((\\.|_|__|-{1,2})[a-z0-9]{1,3}){0,2}";
        let domain = prop_oneof![
            Just(String::new()),
            Just("localhost/".to_owned()),
            "[a-z0-9]{1,5}\\.[a-z]{2,3}/",
            "[a-z0-9]{1,5}(\\.[a-z]{2,3})?:[0-9]{2,5}/",
            Just("docker.io/".to_owned()),
            Just("index.docker.io/".to_owned()),
        ];
        let tag = prop_oneof![Just(String::new()), ":[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}"];
        (domain, prop::collection::vec(component, 1..4), tag)
            .prop_map(|(d, cs, t)| format!("{d}{}{t}", cs.join("/")))
            .prop_filter("64-hex names are IDs", |s| !is_full_hex(s))
            // A first component with `.` that is not a valid domain: see
            // `invalid_domain_falls_back_to_path` (oci-spec differs there).
            .prop_filter("invalid domain", |s| {
                split_domain(s)
                    .0
                    .is_none_or(|d| domain_syntax(Dialect::Distribution2_8, d))
            })
    }

    proptest! {
        /// oci-spec normalizes ordinary names the way `ParseNormalizedNamed` + `TagNameOnly` do.
        #[test]
        fn agrees_with_oci_spec(s in valid_name()) {
            let (r, tag, _) = parse_normalized(&s).unwrap();
            let oci: oci_spec::distribution::Reference = s.parse().unwrap();
            prop_assert_eq!(oci.registry(), &*r.domain);
            prop_assert_eq!(oci.repository(), &*r.path);
            let tag = tag_name_only(tag, None);
            prop_assert_eq!(oci.tag(), tag.as_deref());
        }

        /// Both dialects agree on everything without IPv6 or an uppercase first component.
        #[test]
        fn dialects_agree_on_lowercase_names(s in valid_name()) {
            prop_assert_eq!(
                parse_normalized_in(Dialect::Distribution2_8, &s),
                parse_normalized_in(Dialect::Reference0_5, &s)
            );
        }
    }

    #[test]
    fn oci_spec_takes_a_hex_name_as_a_repository() {
        let oci: oci_spec::distribution::Reference = HEX.parse().unwrap();
        assert_eq!(oci.repository(), format!("library/{HEX}"));
        assert!(parse_normalized(HEX).is_err());
    }
}
