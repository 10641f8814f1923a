//! sha256 digests: image IDs, manifest digests, layer chain IDs, container IDs.

use std::fmt;
use std::sync::Arc;

/// A sha256 digest, kept as its 64 lowercase hex characters.
///
/// Engines spell the same digest differently (`sha256:<hex>` on Docker, bare hex on Podman);
/// the spelling is an engine's business, so the type holds only the hex.
///
/// The hex is shared (`Arc<str>`), not owned: engines clone whole stores for every call, and
/// a digest is never changed once parsed, so a clone costs a count, not an allocation.
/// Equality, order and hashing are those of the hex string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(Arc<str>);

/// Why a string is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a sha256 digest: {0:?} (expected 64 lowercase hex characters, optionally after `sha256:`)"
)]
pub struct DigestError(pub String);

impl Digest {
    /// Parses `sha256:<64 hex>` or bare `<64 hex>`.
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        let hex = s.strip_prefix("sha256:").unwrap_or(s);
        if is_full_hex(hex) {
            Ok(Digest(Arc::from(hex)))
        } else {
            Err(DigestError(s.to_owned()))
        }
    }

    /// The 64 hex characters.
    pub fn hex(&self) -> &str {
        &self.0
    }

    /// `sha256:<hex>`, the algorithm-prefixed spelling.
    pub fn prefixed(&self) -> String {
        let mut s = String::with_capacity(7 + self.0.len());
        s.push_str("sha256:");
        s.push_str(&self.0);
        s
    }

    /// Whether `s` is [`prefixed`](Self::prefixed) (also the `Display` spelling), without
    /// building it.
    pub fn is_prefixed(&self, s: &str) -> bool {
        s.strip_prefix("sha256:") == Some(&*self.0)
    }

    /// The first `n` hex characters (12 is what Docker and Podman print as a short ID).
    pub fn short(&self, n: usize) -> &str {
        &self.0[..n.min(64)]
    }
}

/// Whether `s` is exactly 64 lowercase hex characters.
pub fn is_full_hex(s: &str) -> bool {
    s.len() == 64 && is_hex(s)
}

/// Whether `s` is non-empty and only lowercase hex characters.
pub fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}…", &self.0[..12])
    }
}

/// What an ID-prefix search over a set of digests found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrefixMatch<'a> {
    /// No digest starts with the prefix.
    None,
    /// Exactly one distinct digest does.
    One(&'a Digest),
    /// Several distinct digests do.
    Many,
}

/// Searches `digests` for those whose hex starts with `prefix` (bare hex, no `sha256:`),
/// as distribution's `digestset` and containers/storage's `truncindex` do. An empty prefix
/// matches everything. Duplicates of one digest count once.
pub fn find_prefix<'a>(
    digests: impl IntoIterator<Item = &'a Digest>,
    prefix: &str,
) -> PrefixMatch<'a> {
    let mut found: Option<&Digest> = None;
    for d in digests {
        if d.hex().starts_with(prefix) {
            match found {
                Some(f) if f != d => return PrefixMatch::Many,
                _ => found = Some(d),
            }
        }
    }
    found.map_or(PrefixMatch::None, PrefixMatch::One)
}
