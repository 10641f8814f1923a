//! The handles a scenario gives its images and containers, and its layer names: checked
//! when parsed, so a bad one fails with the line and column of the YAML value that holds it.
//!
//! They live apart from the scenario format because the symbol table (`<A.config:12>`,
//! `<c1>`, `<base>`) is keyed by them too, and the format's loader expands symbols: both
//! import these types, neither imports the other for them.

use std::fmt;
use std::str::FromStr;

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $check:path, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $ty(String);

        impl $ty {
            /// Checks and wraps `s`.
            pub fn new(s: impl Into<String>) -> Result<Self, String> {
                let s = s.into();
                if $check(&s) {
                    Ok($ty(s))
                } else {
                    Err(format!(concat!("invalid ", $what, " {:?}")  , s))
                }
            }

            /// The name as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $ty::new(s)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl std::borrow::Borrow<str> for $ty {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                parse_str(d, $what, |s| $ty::new(s))
            }
        }
    };
}

name_type!(
    /// An image handle: `A`, `Base`, `App2`. Starts with an upper-case ASCII letter, then
    /// letters and digits only, so that `<A.config:12>` parses without doubt.
    ImageHandle,
    is_image_handle,
    "image handle (expected an upper-case letter, then letters and digits: `A`, `Base`)"
);

name_type!(
    /// A container handle: `c1`, `web`. Starts with a lower-case ASCII letter, then
    /// lower-case letters, digits and `-`.
    ContainerHandle,
    is_lower_name,
    "container handle (expected a lower-case letter, then lower-case letters, digits and `-`: `c1`)"
);

name_type!(
    /// A pod handle: `p1`, `web`. Same spelling rules as a container handle; pods, containers
    /// and layers share the `<name>` symbol space.
    PodHandle,
    is_lower_name,
    "pod handle (expected a lower-case letter, then lower-case letters, digits and `-`: `p1`)"
);

name_type!(
    /// A layer name: `base` (the layer every image starts from) or an extra layer `x`.
    /// Same spelling rules as a container handle; the two share the `<name>` symbol space.
    LayerName,
    is_lower_name,
    "layer name (expected a lower-case letter, then lower-case letters, digits and `-`: `x`)"
);

impl LayerName {
    /// The layer every image starts from: it holds `/bin/pause`, the containers' process.
    pub fn base() -> Self {
        LayerName("base".to_owned())
    }

    /// Whether this is [`LayerName::base`].
    pub fn is_base(&self) -> bool {
        self.0 == "base"
    }
}

fn is_image_handle(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase()) && chars.all(|c| c.is_ascii_alphanumeric())
}

fn is_lower_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Deserializes a string through `parse`. The error is raised inside the visitor, while the
/// YAML deserializer still knows where the scalar is, so it carries the scalar's line,
/// column and key path (an error raised after `String::deserialize` returns would only get
/// the enclosing map's).
pub(crate) fn parse_str<'de, D, T>(
    d: D,
    expecting: &'static str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct V<F>(&'static str, F);
    impl<'de, T, F: FnOnce(&str) -> Result<T, String>> serde::de::Visitor<'de> for V<F> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
            (self.1)(v).map_err(E::custom)
        }
    }
    d.deserialize_str(V(expecting, parse))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles() {
        assert!(ImageHandle::new("A").is_ok());
        assert!(ImageHandle::new("Base2").is_ok());
        assert!(ImageHandle::new("a").is_err());
        assert!(ImageHandle::new("A.b").is_err());
        assert!(ContainerHandle::new("c1").is_ok());
        assert!(ContainerHandle::new("C1").is_err());
        assert!(LayerName::new("x-1").is_ok());
        assert!(LayerName::new("").is_err());
    }
}
