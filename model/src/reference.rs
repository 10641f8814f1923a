//! Stored image names: `repo:tag` and `repo@sha256:…`, fully qualified.
//!
//! This module holds the *stored* form every engine agrees on once a name is normalized
//! (`docker.io/library/busybox:latest`). Parsing what a user types is engine business
//! (Docker's `docker.io/library/` normalization, libimage's `localhost/` short names, CRI's
//! ID fallback); the grammar they share is in [`grammar`](crate::reference::grammar).

use crate::digest::Digest;
use std::fmt;

pub mod grammar;

/// A repository: registry domain plus path, e.g. `docker.io` + `library/busybox`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Repository {
    /// Registry domain, with port if any: `docker.io`, `localhost`, `127.0.0.1:5000`.
    pub domain: String,
    /// Path below the domain: `library/busybox`, `cbe/app`.
    pub path: String,
}

impl Repository {
    /// Builds a repository from its parts.
    pub fn new(domain: impl Into<String>, path: impl Into<String>) -> Self {
        Repository {
            domain: domain.into(),
            path: path.into(),
        }
    }

    /// `domain/path`.
    pub fn full(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// Docker's "familiar" spelling: `docker.io/library/x` → `x`, `docker.io/u/x` → `u/x`,
    /// anything else unchanged.
    pub fn familiar(&self) -> String {
        if self.domain == "docker.io" {
            self.path
                .strip_prefix("library/")
                .filter(|p| !p.contains('/'))
                .unwrap_or(&self.path)
                .to_owned()
        } else {
            self.full()
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
        tag: String,
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
    pub fn full(&self) -> String {
        match self {
            Reference::Tagged { repo, tag } => format!("{}:{tag}", repo.full()),
            Reference::Digested { repo, digest } => format!("{}@{digest}", repo.full()),
        }
    }

    /// Docker's familiar spelling: `busybox:latest`, `localhost/app:1`.
    pub fn familiar(&self) -> String {
        match self {
            Reference::Tagged { repo, tag } => format!("{}:{tag}", repo.familiar()),
            Reference::Digested { repo, digest } => format!("{}@{digest}", repo.familiar()),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full())
    }
}
