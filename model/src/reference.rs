//! Stored image names: `repo:tag` and `repo@sha256:…`, fully qualified.
//!
//! This module holds the *stored* form every engine agrees on once a name is normalized
//! (`docker.io/library/busybox:latest`). Parsing what a user types is engine business
//! (Docker's `docker.io/library/` normalization, libimage's `localhost/` short names, CRI's
//! ID fallback); the grammar they share is in [`grammar`](crate::reference::grammar).

use crate::digest::Digest;
use std::fmt;
use std::sync::Arc;

pub mod grammar;

/// A repository: registry domain plus path, e.g. `docker.io` + `library/busybox`.
///
/// The parts are shared (`Arc<str>`), as [`Digest`]'s hex is: engines clone whole stores
/// for every call and never change a stored name in place, so a clone of a name costs a
/// count, not three allocations.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Repository {
    /// Registry domain, with port if any: `docker.io`, `localhost`, `127.0.0.1:5000`.
    pub domain: Arc<str>,
    /// Path below the domain: `library/busybox`, `cbe/app`.
    pub path: Arc<str>,
}

impl Repository {
    /// Builds a repository from its parts.
    pub fn new(domain: impl Into<Arc<str>>, path: impl Into<Arc<str>>) -> Self {
        Repository {
            domain: domain.into(),
            path: path.into(),
        }
    }

    /// `domain/path`.
    pub fn full(&self) -> String {
        let mut s = String::with_capacity(self.domain.len() + 1 + self.path.len());
        s.push_str(&self.domain);
        s.push('/');
        s.push_str(&self.path);
        s
    }

    /// Whether [`Repository::full`] is `s`, without building it: engines compare the
    /// repository of a typed name with every stored one's.
    pub fn is_full(&self, s: &str) -> bool {
        s.strip_prefix(&*self.domain)
            .and_then(|r| r.strip_prefix('/'))
            .is_some_and(|r| r == &*self.path)
    }

    /// Docker's "familiar" spelling: `docker.io/library/x` → `x`, `docker.io/u/x` → `u/x`,
    /// anything else unchanged.
    pub fn familiar(&self) -> String {
        let mut s = String::new();
        self.push_familiar(&mut s);
        s
    }

    /// Appends [`Repository::familiar`] to `out`.
    fn push_familiar(&self, out: &mut String) {
        if &*self.domain == "docker.io" {
            out.push_str(
                self.path
                    .strip_prefix("library/")
                    .filter(|p| !p.contains('/'))
                    .unwrap_or(&self.path),
            );
        } else {
            out.push_str(&self.domain);
            out.push('/');
            out.push_str(&self.path);
        }
    }
}

/// A stored name of an image: a tag or a digest reference, fully qualified.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Reference {
    /// `repo:tag`.
    Tagged {
        /// The repository.
        repo: Repository,
        /// The tag.
        tag: Arc<str>,
    },
    /// `repo@sha256:…`: always the digest of the image's manifest.
    Digested {
        /// The repository.
        repo: Repository,
        /// The manifest digest.
        digest: Digest,
    },
}

impl Reference {
    /// `repo@digest` in this reference's repository.
    pub fn with_digest(&self, digest: &Digest) -> Reference {
        Reference::Digested {
            repo: self.repo().clone(),
            digest: digest.clone(),
        }
    }

    /// The repository of either form.
    pub fn repo(&self) -> &Repository {
        match self {
            Reference::Tagged { repo, .. } | Reference::Digested { repo, .. } => repo,
        }
    }

    /// Whether this is a tag (not a digest reference).
    pub fn is_tag(&self) -> bool {
        matches!(self, Reference::Tagged { .. })
    }

    /// Fully qualified: `docker.io/library/busybox:latest`, `127.0.0.1:5000/app@sha256:…`.
    ///
    /// Built by hand rather than with `format!`: engines compare stored names by this
    /// spelling on every lookup, so it is the model's hottest allocation.
    pub fn full(&self) -> String {
        let repo = self.repo();
        let mut s = String::with_capacity(repo.domain.len() + repo.path.len() + self.suffix_len());
        s.push_str(&repo.domain);
        s.push('/');
        s.push_str(&repo.path);
        self.push_suffix(&mut s);
        s
    }

    /// Docker's familiar spelling: `busybox:latest`, `localhost/app:1`.
    pub fn familiar(&self) -> String {
        let repo = self.repo();
        let mut s = String::with_capacity(repo.domain.len() + repo.path.len() + self.suffix_len());
        repo.push_familiar(&mut s);
        self.push_suffix(&mut s);
        s
    }

    /// Whether [`Reference::full`] is `s`, without building it: engines compare typed names
    /// with every stored one on each lookup.
    pub fn is_full(&self, s: &str) -> bool {
        let repo = self.repo();
        let Some(rest) = s
            .strip_prefix(&*repo.domain)
            .and_then(|r| r.strip_prefix('/'))
            .and_then(|r| r.strip_prefix(&*repo.path))
        else {
            return false;
        };
        match self {
            Reference::Tagged { tag, .. } => rest.strip_prefix(':') == Some(&**tag),
            Reference::Digested { digest, .. } => {
                rest.strip_prefix("@sha256:") == Some(digest.hex())
            }
        }
    }

    /// The length of `/` plus what follows the repository: `:tag` or `@sha256:<hex>`.
    fn suffix_len(&self) -> usize {
        match self {
            Reference::Tagged { tag, .. } => 2 + tag.len(),
            Reference::Digested { digest, .. } => 2 + 7 + digest.hex().len(),
        }
    }

    /// Appends `:tag` or `@sha256:<hex>`.
    fn push_suffix(&self, out: &mut String) {
        match self {
            Reference::Tagged { tag, .. } => {
                out.push(':');
                out.push_str(tag);
            }
            Reference::Digested { digest, .. } => {
                out.push_str("@sha256:");
                out.push_str(digest.hex());
            }
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `is_full` is `full() ==`, on names that share every part but one with each other.
    #[test]
    fn is_full_is_equality_with_full() {
        let digest = Digest::parse(&"ab".repeat(32)).unwrap();
        let repos = [
            Repository::new("docker.io", "library/busybox"),
            Repository::new("docker.io/library", "busybox"),
            Repository::new("127.0.0.1:5000", "app"),
            Repository::new("", "app"),
        ];
        let mut refs = Vec::new();
        for repo in &repos {
            for tag in ["latest", "1", ""] {
                refs.push(Reference::Tagged {
                    repo: repo.clone(),
                    tag: tag.into(),
                });
            }
            refs.push(Reference::Digested {
                repo: repo.clone(),
                digest: digest.clone(),
            });
        }
        let mut typed: Vec<String> = refs.iter().map(Reference::full).collect();
        typed.extend(refs.iter().map(Reference::familiar));
        typed.extend(refs.iter().map(|r| format!("{}x", r.full())));
        typed.extend(refs.iter().map(|r| r.full()[1..].to_owned()));
        typed.push(String::new());
        typed.extend(refs.iter().map(|r| r.repo().full()));
        typed.extend(refs.iter().map(|r| format!("{}/", r.repo().full())));
        for r in &refs {
            for s in &typed {
                assert_eq!(r.is_full(s), r.full() == *s, "{r:?} vs {s:?}");
                assert_eq!(r.repo().is_full(s), r.repo().full() == *s, "{r:?} vs {s:?}");
            }
        }
    }
}
