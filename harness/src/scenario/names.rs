//! The stored names (tags, digest references) of a scenario's images.
//!
//! Each is checked when it is parsed, so a bad one fails with the line and column of the
//! YAML value that holds it.

use crate::handles::{parse_str, ImageHandle};
use std::fmt;
use std::str::FromStr;

/// Where a stored name lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Domain {
    /// `<reg>`: the local registry, whose `host:port` is only known at run time.
    Registry,
    /// A literal domain: `localhost`, `docker.io`, `quay.io`, `example.com:5000`.
    Named(String),
}

/// A stored name of an image, fully qualified, as a scenario writes it.
///
/// A digest reference always names the image's own manifest and always lives in `<reg>`:
/// that is the only way a live engine gets one (push, then pull by digest), so the type
/// keeps no digest and no domain for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StoredName {
    /// `domain/path:tag`.
    Tagged {
        /// The registry domain.
        domain: Domain,
        /// The repository path below the domain: `app`, `library/busybox`.
        path: String,
        /// The tag.
        tag: String,
    },
    /// `<reg>/path@sha256:<X.manifest>`, where `X` is the image that holds the name.
    Digested {
        /// The repository path below `<reg>`.
        path: String,
        /// The handle the scenario wrote in `<X.manifest>`. The loader checks that it is the
        /// image's own handle.
        of: ImageHandle,
    },
}

impl StoredName {
    /// The repository path below the domain.
    pub fn path(&self) -> &str {
        match self {
            StoredName::Tagged { path, .. } | StoredName::Digested { path, .. } => path,
        }
    }

    /// Whether this is a tag.
    pub fn is_tag(&self) -> bool {
        matches!(self, StoredName::Tagged { .. })
    }

    /// The real, fully qualified name, given the registry's `host:port` and the image's
    /// manifest digest: `127.0.0.1:5000/app@sha256:…`, `localhost/app:1`.
    pub fn expand(&self, registry: &str, manifest: &rmispec_model::Digest) -> String {
        self.to_reference(registry, manifest).full()
    }

    /// The model's stored reference, given the registry's `host:port` and the image's
    /// manifest digest.
    pub fn to_reference(
        &self,
        registry: &str,
        manifest: &rmispec_model::Digest,
    ) -> rmispec_model::Reference {
        use rmispec_model::{Reference, Repository};
        match self {
            StoredName::Tagged { domain, path, tag } => {
                let domain = match domain {
                    Domain::Registry => registry.to_owned(),
                    Domain::Named(d) => d.clone(),
                };
                Reference::Tagged {
                    repo: Repository::new(domain, path.clone()),
                    tag: tag.as_str().into(),
                }
            }
            StoredName::Digested { path, .. } => Reference::Digested {
                repo: Repository::new(registry, path.clone()),
                digest: manifest.clone(),
            },
        }
    }
}

impl fmt::Display for StoredName {
    /// The symbolic spelling, as a scenario writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoredName::Tagged {
                domain: Domain::Registry,
                path,
                tag,
            } => write!(f, "<reg>/{path}:{tag}"),
            StoredName::Tagged {
                domain: Domain::Named(d),
                path,
                tag,
            } => write!(f, "{d}/{path}:{tag}"),
            StoredName::Digested { path, of } => write!(f, "<reg>/{path}@sha256:<{of}.manifest>"),
        }
    }
}

impl FromStr for StoredName {
    type Err = String;

    /// Parses a fully qualified stored name: `localhost/app:1`, `<reg>/app:1`,
    /// `<reg>/app@sha256:<A.manifest>`, with the reference grammar engines share
    /// ([`rmispec_model::reference::grammar`]), and checks that it is already in the
    /// normalized form engines store (`docker.io/library/busybox:latest`, not `busybox`).
    fn from_str(s: &str) -> Result<Self, String> {
        use rmispec_model::reference::grammar;
        // The grammar sees `<reg>` as a stand-in registry, and `<X.manifest>` as some digest.
        const STAND_IN: &str = "registry.rmispec.invalid:1";
        let real = match s.strip_prefix("<reg>/") {
            Some(rest) => format!("{STAND_IN}/{rest}"),
            None => s.to_owned(),
        };
        // Image ID symbols in a tag's path or tag (`localhost/<B:12>:latest`) are checked as
        // the hex they stand for, then kept as written: they are expanded per engine when the
        // store is built (see [`StoredName::resolved`]).
        let (real, symbols) = id_stand_ins(&real)?;
        let (real, of) = match real.split_once('@') {
            Some((name, digest)) => {
                let of = digest
                    .strip_prefix("sha256:<")
                    .and_then(|d| d.strip_suffix(".manifest>"))
                    .and_then(|h| ImageHandle::new(h).ok())
                    .ok_or_else(|| {
                        format!("digest reference {s:?} must name an image's manifest: `…@sha256:<X.manifest>`")
                    })?;
                (format!("{name}@sha256:{}", "0".repeat(64)), Some(of))
            }
            None => (real, None),
        };
        let (repo, tag, digest) = grammar::parse_normalized(&real)
            .map_err(|e| format!("invalid stored name {s:?}: {e}"))?;
        let normalized = match (&tag, &digest) {
            (Some(_), Some(_)) => {
                return Err(format!("stored name {s:?} has both a tag and a digest: an engine stores one or the other"))
            }
            (None, None) => {
                return Err(format!(
                    "stored name {s:?} has no tag: write it fully qualified, `{s}:latest` (or a digest reference)"
                ))
            }
            (Some(t), None) => format!("{}:{t}", repo.full()),
            (None, Some(d)) => format!("{}@{d}", repo.full()),
        };
        if normalized != real {
            return Err(format!(
                "stored name {s:?} is not fully qualified: engines store it as `{}` (write the domain: \
                 `localhost/…`, `docker.io/library/…`, `<reg>/…`)",
                normalized.replace(STAND_IN, "<reg>")
            ));
        }
        let domain = if &*repo.domain == STAND_IN {
            Domain::Registry
        } else {
            Domain::Named(repo.domain.to_string())
        };
        match (of, tag) {
            (Some(_), _) if domain != Domain::Registry => Err(format!(
                "digest reference {s:?} must live in the local registry: `<reg>/{}@sha256:<X.manifest>`",
                repo.path
            )),
            (Some(_), _) if !symbols.is_empty() => Err(format!(
                "digest reference {s:?} has a symbol in its path: only tags may hold image ID symbols"
            )),
            (Some(of), _) => Ok(StoredName::Digested { path: repo.path.to_string(), of }),
            (None, Some(tag)) => Ok(StoredName::Tagged {
                domain,
                path: restore(&repo.path, &symbols),
                tag: restore(&tag, &symbols),
            }),
            (None, None) => unreachable!("a name without tag or digest was refused above"),
        }
    }
}

/// `s` with every image ID symbol after the domain (`<B>`, `<B:12>`, `<B.config:4>`) replaced
/// by a stand-in of the same length made of hex the grammar accepts, and the (stand-in,
/// symbol) pairs, in order. A symbol of any other kind is an error: only image IDs are known
/// before the store is built.
fn id_stand_ins(s: &str) -> Result<(String, Vec<(String, String)>), String> {
    let mut out = String::with_capacity(s.len());
    let mut pairs = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        let symbol = &rest[start..start + len + 1];
        out.push_str(&rest[..start]);
        rest = &rest[start + len + 1..];
        if symbol.contains(".manifest>") && rest.is_empty() && out.ends_with("@sha256:") {
            // A digest reference's own `<X.manifest>`: the caller reads it.
            out.push_str(symbol);
            continue;
        }
        let body = &symbol[1..symbol.len() - 1];
        let (handle, width) = match body.rsplit_once(':') {
            Some((h, n)) => (
                h,
                n.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=64).contains(n))
                    .ok_or_else(|| {
                        format!("`{symbol}` in {s:?}: a prefix is 1 to 64 hex characters")
                    })?,
            ),
            None => (body, 64),
        };
        let handle = handle
            .strip_suffix(".config")
            .or_else(|| handle.strip_suffix(".manifest"))
            .unwrap_or(handle);
        if ImageHandle::new(handle).is_err() {
            return Err(format!(
                "`{symbol}` in {s:?}: a stored name may hold image ID symbols only (`<B>`, `<B:12>`, `<B.config:4>`)"
            ));
        }
        // Distinct stand-ins (the index in hex, padded), so each maps back to its symbol.
        let index = pairs.len();
        let stand_in = format!("{:a>width$}", format!("{index:x}"));
        let stand_in = stand_in[stand_in.len() - width..].to_owned();
        out.push_str(&stand_in);
        pairs.push((stand_in, symbol.to_owned()));
    }
    out.push_str(rest);
    Ok((out, pairs))
}

/// `s` with the stand-ins of [`id_stand_ins`] turned back into their symbols.
fn restore(s: &str, pairs: &[(String, String)]) -> String {
    let mut out = s.to_owned();
    for (stand_in, symbol) in pairs {
        out = out.replacen(stand_in.as_str(), symbol, 1);
    }
    out
}

impl StoredName {
    /// Whether the name holds image ID symbols (`localhost/<B:12>:latest`).
    pub fn has_symbols(&self) -> bool {
        matches!(self, StoredName::Tagged { path, tag, .. } if path.contains('<') || tag.contains('<'))
    }

    /// The name with its image ID symbols expanded by `expand` (a backend's symbol table, so
    /// `<B:12>` is B's ID as that engine spells it: the manifest digest on docker-containerd).
    pub fn resolved(
        &self,
        expand: impl Fn(&str) -> Result<String, crate::symbols::SymbolError>,
    ) -> Result<StoredName, crate::symbols::SymbolError> {
        Ok(match self {
            StoredName::Tagged { domain, path, tag } if self.has_symbols() => StoredName::Tagged {
                domain: domain.clone(),
                path: expand(path)?,
                tag: expand(tag)?,
            },
            other => other.clone(),
        })
    }
}

impl<'de> serde::Deserialize<'de> for StoredName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, "a fully qualified name", str::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names() {
        let ok = [
            "localhost/app:1",
            "docker.io/library/busybox:latest",
            "<reg>/app:1",
            "example.com:5000/a/b-c:v1.0",
        ];
        for s in ok {
            let n: StoredName = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(n.to_string(), s);
        }
        let d: StoredName = "<reg>/app@sha256:<A.manifest>".parse().unwrap();
        assert_eq!(
            d,
            StoredName::Digested {
                path: "app".into(),
                of: ImageHandle::new("A").unwrap()
            }
        );
        assert_eq!(d.to_string(), "<reg>/app@sha256:<A.manifest>");
        let bad = [
            "app:1",                             // no domain
            "localhost/app",                     // no tag
            "cbe/app:1",                         // `cbe` is not a domain
            "localhost/App:1",                   // upper case path
            "docker.io/busybox:latest",          // not normalized
            "localhost/app@sha256:<A.manifest>", // digest outside <reg>
            "<reg>/app@sha256:<A.config>",       // not a manifest
            "localhost/app:-x",                  // bad tag
        ];
        for s in bad {
            assert!(s.parse::<StoredName>().is_err(), "{s} parsed");
        }
    }

    #[test]
    fn stored_names_may_hold_image_id_symbols() {
        for s in [
            "localhost/<B:12>:latest",
            "localhost/app:<B:12>",
            "localhost/x/<B.config:4>:1",
            "docker.io/library/<A:12>:latest",
        ] {
            let n: StoredName = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert!(n.has_symbols(), "{s}");
            assert_eq!(n.to_string(), s);
        }
        for s in [
            "localhost/<c1:12>:latest",         // containers are made later
            "localhost/<B:65>:latest",          // longer than a digest
            "<reg>/<B:12>@sha256:<B.manifest>", // only tags
            "localhost/App<B:4>:1",             // upper case around it
        ] {
            assert!(s.parse::<StoredName>().is_err(), "{s} parsed");
        }
        let n: StoredName = "localhost/<B:4>:latest".parse().unwrap();
        let r = n.resolved(|s| Ok(s.replace("<B:4>", "abcd"))).unwrap();
        assert_eq!(r.to_string(), "localhost/abcd:latest");
        assert!(!r.has_symbols());
    }
}
