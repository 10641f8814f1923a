//! OCI platforms: what an image's config says it runs on, and what Docker 28.2+'s image
//! delete `platforms` option asks for.

use crate::digest::Digest;
use std::fmt;

/// One entry of a multi-platform image's OCI index: a platform and the digest of its image
/// manifest. Whether the store has that manifest's content is
/// [`Image::platforms`](crate::Image::platforms).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PlatformManifest {
    /// The platform the index descriptor names.
    pub platform: Platform,
    /// The platform's image manifest digest.
    pub manifest: Digest,
}

/// An OCI platform (`os`, `architecture`, optional `variant`), as image-spec's config and
/// index descriptors carry it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`…
    pub architecture: String,
    /// `v8`, `v7`…; `None` when the platform has none.
    pub variant: Option<String>,
}

impl Platform {
    /// `linux/amd64`: the platform of every image the harness synthesizes.
    pub fn linux_amd64() -> Platform {
        Platform {
            os: "linux".to_owned(),
            architecture: "amd64".to_owned(),
            variant: None,
        }
    }

    /// Whether `self` (a requested platform) matches an image's `platform` exactly, as
    /// containerd's `platforms.OnlyStrict` does for the platforms a daemon on amd64 knows
    /// (`containerd/platforms`: same OS and architecture, and the variant when the request
    /// names one). Fuzzy matches across ARM variants are not modelled: the only ARM content
    /// a store here has is a multi-platform image's `linux/arm64` (no variant), matched exactly.
    pub fn matches(&self, platform: &Platform) -> bool {
        self.os == platform.os
            && self.architecture == platform.architecture
            && (self.variant.is_none() || self.variant == platform.variant)
    }
}

impl Default for Platform {
    fn default() -> Platform {
        Platform::linux_amd64()
    }
}

impl fmt::Display for Platform {
    /// `platforms.FormatAll`: `os/architecture[/variant]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Why a platform string does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformError(pub String);

impl fmt::Display for PlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid platform {:?}: expected `os/architecture` or `os/architecture/variant`, lower case (`linux/arm64`)",
            self.0
        )
    }
}

impl std::error::Error for PlatformError {}

impl std::str::FromStr for Platform {
    type Err = PlatformError;
    /// Parses `os/architecture[/variant]`, each part lower-case letters, digits and `_`.
    fn from_str(s: &str) -> Result<Platform, PlatformError> {
        let bad = || PlatformError(s.to_owned());
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| ok(p)) {
            return Err(bad());
        }
        Ok(Platform {
            os: parts[0].to_owned(),
            architecture: parts[1].to_owned(),
            variant: parts.get(2).map(|v| (*v).to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_formats_and_matches() {
        let arm: Platform = "linux/arm64/v8".parse().unwrap();
        assert_eq!(arm.to_string(), "linux/arm64/v8");
        let amd: Platform = "linux/amd64".parse().unwrap();
        assert_eq!(amd, Platform::linux_amd64());
        assert!(amd.matches(&Platform::linux_amd64()));
        assert!(!arm.matches(&Platform::linux_amd64()));
        for bad in ["linux", "linux/", "Linux/amd64", "a/b/c/d", ""] {
            assert!(bad.parse::<Platform>().is_err(), "{bad}");
        }
    }
}
