//! Symbols: the scenario's names for real IDs (`<A>`, `<A.manifest:12>`, `<c1>`, `<x>`,
//! `<reg>`), and the table that maps them to one backend's real digests and back.
//!
//! Real IDs never appear in scenarios or snapshots. A backend's [`Symbols`] table expands a
//! scenario's strings into what to send ([`Symbols::expand`]) and turns what came back into
//! symbols again ([`Symbols::symbolize`]); expectations go through both
//! ([`Symbols::canonicalize`]), so `<A.manifest>` and `<A>` compare equal where the manifest
//! digest is the image ID (docker-containerd).

use crate::handles::{ContainerHandle, ImageHandle, LayerName, PodHandle};
use indexmap::IndexMap;
use rmispec_model::{Digest, Engine, Profile};
use std::ops::Range;

/// Which digest of an image a symbol names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// `<A>`: the image ID as the profile spells it (config digest, or the manifest digest on
    /// docker-containerd).
    Id,
    /// `<A.config>`.
    Config,
    /// `<A.manifest>`.
    Manifest,
}

/// One symbol, as written between `<` and `>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Symbol<'a> {
    /// `<A>`, `<A.config>`, `<A.manifest:12>`.
    Image {
        /// The handle.
        handle: &'a str,
        /// Which digest.
        part: Part,
        /// A prefix length (1–64), or the whole digest.
        len: Option<usize>,
    },
    /// `<c1>`, `<p1>`, `<x:12>`: a container, a pod or a layer (they share the lower-case
    /// names).
    Lower {
        /// The container handle or layer name.
        name: &'a str,
        /// A prefix length (1–64), or the whole ID.
        len: Option<usize>,
    },
    /// `<reg>`: the local registry's `host:port`.
    Registry,
    /// `<?1>`, `<?2:12>`: a digest a live engine made up that no symbol names, numbered in
    /// order of appearance. Expansion leaves it as it is.
    Unknown {
        /// Its number, from 1.
        n: usize,
        /// A prefix length, or the whole digest.
        len: Option<usize>,
    },
}

/// A string that cannot be expanded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SymbolError {
    /// Something between `<` and `>` that looks like a symbol but is not one.
    #[error("malformed symbol `{0}`: expected `<A>`, `<A.config>`, `<A.manifest>`, `<A:12>`, `<c1>`, `<x>` or `<reg>`")]
    Malformed(String),
    /// A symbol whose name the table does not have.
    #[error("unknown symbol `{0}`: no image, container or layer by that name")]
    Unknown(String),
}

/// Finds the symbols in `s`, with their byte ranges (including `<` and `>`). Text between
/// `<` and `>` that does not start like a name (`<=`, `< 3`) is not a symbol.
pub fn scan(s: &str) -> Result<Vec<(Range<usize>, Symbol<'_>)>, SymbolError> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(open) = s[at..].find('<').map(|i| at + i) {
        let Some(close) = s[open..].find('>').map(|i| open + i) else {
            break;
        };
        let inner = &s[open + 1..close];
        let symbol_like = inner.starts_with(|c: char| c.is_ascii_alphabetic() || c == '?')
            && inner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '?' | '-'));
        if !symbol_like {
            at = open + 1;
            continue;
        }
        let symbol = parse(inner).ok_or_else(|| SymbolError::Malformed(format!("<{inner}>")))?;
        out.push((open..close + 1, symbol));
        at = close + 1;
    }
    Ok(out)
}

fn parse(inner: &str) -> Option<Symbol<'_>> {
    let (body, len) = match inner.split_once(':') {
        Some((b, n)) => {
            let n: usize = n.parse().ok().filter(|n| (1..=64).contains(n))?;
            if n.to_string().len() != inner.len() - b.len() - 1 {
                return None; // `:012`, `:+1`
            }
            (b, Some(n))
        }
        None => (inner, None),
    };
    if let Some(num) = body.strip_prefix('?') {
        let n: usize = num
            .parse()
            .ok()
            .filter(|&n: &usize| n > 0 && n.to_string() == num)?;
        return Some(Symbol::Unknown { n, len });
    }
    if body == "reg" {
        return len.is_none().then_some(Symbol::Registry);
    }
    let (name, part) = match body.split_once('.') {
        Some((n, "config")) => (n, Part::Config),
        Some((n, "manifest")) => (n, Part::Manifest),
        Some(_) => return None,
        None => (body, Part::Id),
    };
    if ImageHandle::new(name).is_ok() {
        Some(Symbol::Image {
            handle: name,
            part,
            len,
        })
    } else if part == Part::Id && LayerName::new(name).is_ok() {
        Some(Symbol::Lower { name, len })
    } else {
        None
    }
}

/// An image's two digests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageDigests {
    /// The config digest.
    pub config: Digest,
    /// The manifest digest.
    pub manifest: Digest,
}

/// One backend's table: real digests ↔ the scenario's symbols.
///
/// Built by [`crate::synth::Synthesized::symbols`] (or [`crate::synth::Synthesized::to_store`]
/// for the model); a live adapter adds what only the engine knows (container IDs, an ID it
/// made up for a committed child).
#[derive(Clone, Debug)]
pub struct Symbols {
    /// Whether the profile's image ID is the manifest digest (docker-containerd).
    id_is_manifest: bool,
    registry: String,
    images: IndexMap<ImageHandle, ImageDigests>,
    containers: IndexMap<ContainerHandle, Digest>,
    pods: IndexMap<PodHandle, Digest>,
    layers: IndexMap<LayerName, Digest>,
    unknown: Vec<Digest>,
    /// ID prefixes a request used, hex → canonical symbol, in order of use.
    prefixes: Vec<(String, String)>,
}

impl Symbols {
    /// An empty table for `profile`, whose registry is `registry` (`host:port`).
    pub fn new(profile: Profile, registry: impl Into<String>) -> Symbols {
        Symbols {
            id_is_manifest: profile.engine() == Engine::DockerContainerd,
            registry: registry.into(),
            images: IndexMap::new(),
            containers: IndexMap::new(),
            pods: IndexMap::new(),
            layers: IndexMap::new(),
            unknown: Vec::new(),
            prefixes: Vec::new(),
        }
    }

    /// Adds (or replaces) an image's digests.
    pub fn add_image(&mut self, handle: ImageHandle, config: Digest, manifest: Digest) {
        self.images
            .insert(handle, ImageDigests { config, manifest });
    }

    /// Adds (or replaces) a container's ID.
    pub fn add_container(&mut self, handle: ContainerHandle, id: Digest) {
        self.containers.insert(handle, id);
    }

    /// Adds (or replaces) a pod's ID.
    pub fn add_pod(&mut self, handle: PodHandle, id: Digest) {
        self.pods.insert(handle, id);
    }

    /// A pod's ID.
    pub fn pod(&self, handle: &str) -> Option<&Digest> {
        self.pods.get(handle)
    }

    /// Adds (or replaces) a layer's chain ID.
    pub fn add_layer(&mut self, name: LayerName, chain_id: Digest) {
        self.layers.insert(name, chain_id);
    }

    /// Numbers `digest` as `<?N>` if no symbol names it yet, and returns its symbol.
    pub fn add_unknown(&mut self, digest: &Digest) -> String {
        if let Some(s) = self.name_of(digest.hex()) {
            return format!("<{s}>");
        }
        self.unknown.push(digest.clone());
        format!("<?{}>", self.unknown.len())
    }

    /// Numbers every 64-hex word in `text` that no symbol names, in order of appearance.
    pub fn add_unknowns_in(&mut self, text: &str) {
        for run in hex_words(text) {
            if let Ok(d) = Digest::parse(&text[run]) {
                self.add_unknown(&d);
            }
        }
    }

    /// The registry's `host:port`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// An image's digests.
    pub fn image(&self, handle: &str) -> Option<&ImageDigests> {
        self.images.get(handle)
    }

    /// An image's ID as this profile spells it.
    pub fn image_id(&self, handle: &str) -> Option<&Digest> {
        self.image(handle).map(|d| {
            if self.id_is_manifest {
                &d.manifest
            } else {
                &d.config
            }
        })
    }

    /// Every image's ID as this profile spells it, in the order the images were added.
    pub fn image_ids(&self) -> impl Iterator<Item = &Digest> + '_ {
        self.images.values().map(move |d| {
            if self.id_is_manifest {
                &d.manifest
            } else {
                &d.config
            }
        })
    }

    /// The handle of the image with this config or manifest digest.
    pub fn image_handle(&self, digest: &Digest) -> Option<&ImageHandle> {
        self.images
            .iter()
            .find(|(_, d)| &d.config == digest || &d.manifest == digest)
            .map(|(h, _)| h)
    }

    /// A container's ID.
    pub fn container(&self, handle: &str) -> Option<&Digest> {
        self.containers.get(handle)
    }

    /// The handle of the container with this ID.
    pub fn container_handle(&self, id: &Digest) -> Option<&ContainerHandle> {
        self.containers
            .iter()
            .find(|(_, d)| *d == id)
            .map(|(h, _)| h)
    }

    /// A layer's chain ID.
    pub fn layer(&self, name: &str) -> Option<&Digest> {
        self.layers.get(name)
    }

    /// The number of the unknown digest, as in `<?N>`.
    pub fn unknown_number(&self, digest: &Digest) -> Option<usize> {
        self.unknown.iter().position(|d| d == digest).map(|i| i + 1)
    }

    /// Replaces the symbols in `s` with what they mean here. `<?N>` stays as it is.
    pub fn expand(&self, s: &str) -> Result<String, SymbolError> {
        self.expand_with(s, |_, _| {})
    }

    /// [`Symbols::expand`] for a request's names: the ID prefixes it uses are remembered,
    /// so that the same hex in the engine's answer symbolizes back to them.
    pub fn expand_request(&mut self, s: &str) -> Result<String, SymbolError> {
        let mut used = Vec::new();
        let out = self.expand_with(s, |hex, symbol| used.push((hex.to_owned(), symbol)))?;
        for u in used {
            if !self.prefixes.contains(&u) {
                self.prefixes.push(u);
            }
        }
        Ok(out)
    }

    fn expand_with(
        &self,
        s: &str,
        mut on_prefix: impl FnMut(&str, String),
    ) -> Result<String, SymbolError> {
        let mut out = String::with_capacity(s.len());
        let mut at = 0;
        for (range, symbol) in scan(s)? {
            out.push_str(&s[at..range.start]);
            at = range.end;
            let unknown = || SymbolError::Unknown(s[range.clone()].to_owned());
            let (digest, len) = match symbol {
                Symbol::Registry => {
                    out.push_str(&self.registry);
                    continue;
                }
                Symbol::Unknown { .. } => {
                    out.push_str(&s[range.clone()]);
                    continue;
                }
                Symbol::Image { handle, part, len } => {
                    let d = self.image(handle).ok_or_else(unknown)?;
                    let digest = match part {
                        Part::Id => self.image_id(handle).ok_or_else(unknown)?,
                        Part::Config => &d.config,
                        Part::Manifest => &d.manifest,
                    };
                    (digest, len)
                }
                Symbol::Lower { name, len } => (
                    self.container(name)
                        .or_else(|| self.pod(name))
                        .or_else(|| self.layer(name))
                        .ok_or_else(unknown)?,
                    len,
                ),
            };
            match len {
                Some(n) => {
                    let hex = digest.short(n);
                    let name = self
                        .name_of(digest.hex())
                        .expect("a digest from the table has a name");
                    on_prefix(hex, format!("<{name}:{n}>"));
                    out.push_str(hex);
                }
                None => out.push_str(digest.hex()),
            }
        }
        out.push_str(&s[at..]);
        Ok(out)
    }

    /// Replaces real IDs in `s` with symbols: first the registry's `host:port` with `<reg>`;
    /// then each word of lower-case hex (a run not glued to other letters, digits or `_`):
    /// a known 64-hex digest becomes its symbol, a prefix a request used becomes the symbol
    /// it was written as, a run of 12 or more that starts exactly one known digest becomes
    /// `<X:n>`; anything else stays.
    pub fn symbolize(&self, s: &str) -> String {
        let s = if self.registry.is_empty() {
            s.to_owned()
        } else {
            s.replace(&self.registry, "<reg>")
        };
        let mut out = String::with_capacity(s.len());
        let mut at = 0;
        for run in hex_words(&s) {
            let hex = &s[run.clone()];
            let symbol = if hex.len() == 64 {
                self.name_of(hex).map(|n| format!("<{n}>"))
            } else {
                // A tag is never an ID: `app:1` keeps its `1` even where a request typed
                // `<B:1>` and B's ID starts with `1` (`sha256:1` is still the prefix).
                let before = &s[..run.start];
                let is_tag = before.ends_with(':') && !before.ends_with("sha256:");
                let typed = if is_tag {
                    None
                } else {
                    self.prefixes.iter().find(|(p, _)| p == hex)
                };
                typed
                    .map(|(_, sym)| sym.clone())
                    .or_else(|| (hex.len() >= 12).then(|| self.unique_prefix(hex)).flatten())
            };
            if let Some(symbol) = symbol {
                out.push_str(&s[at..run.start]);
                out.push_str(&symbol);
                at = run.end;
            }
        }
        out.push_str(&s[at..]);
        out
    }

    /// `symbolize(expand(s))`: the form an expectation is compared in.
    pub fn canonicalize(&self, s: &str) -> Result<String, SymbolError> {
        Ok(self.symbolize(&self.expand(s)?))
    }

    /// Every digest the table knows, with its symbol name (no `<>`), in a fixed order.
    fn known(&self) -> impl Iterator<Item = (&Digest, String)> {
        let (config, manifest) = if self.id_is_manifest {
            (".config", "")
        } else {
            ("", ".manifest")
        };
        let images = self.images.iter().flat_map(move |(h, d)| {
            [
                (&d.config, format!("{h}{config}")),
                (&d.manifest, format!("{h}{manifest}")),
            ]
        });
        let containers = self.containers.iter().map(|(h, d)| (d, h.to_string()));
        let pods = self.pods.iter().map(|(h, d)| (d, h.to_string()));
        let layers = self.layers.iter().map(|(n, d)| (d, n.to_string()));
        let unknown = self
            .unknown
            .iter()
            .enumerate()
            .map(|(i, d)| (d, format!("?{}", i + 1)));
        images
            .chain(containers)
            .chain(pods)
            .chain(layers)
            .chain(unknown)
    }

    /// The symbol name (no `<>`) of a full digest.
    fn name_of(&self, hex: &str) -> Option<String> {
        self.known().find(|(d, _)| d.hex() == hex).map(|(_, n)| n)
    }

    fn unique_prefix(&self, hex: &str) -> Option<String> {
        let mut found: Option<(&Digest, String)> = None;
        for (d, name) in self.known() {
            if d.hex().starts_with(hex) {
                match &found {
                    Some((f, _)) if *f != d => return None,
                    Some(_) => {}
                    None => found = Some((d, name)),
                }
            }
        }
        found.map(|(_, name)| format!("<{name}:{}>", hex.len()))
    }
}

/// The byte ranges of the words of lower-case hex in `s`: maximal runs of `[0-9a-f]` with
/// no ASCII letter, digit or `_` on either side (so `sha256`, `app`, `a256` are not words).
fn hex_words(s: &str) -> Vec<Range<usize>> {
    let b = s.as_bytes();
    let is_hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !is_hex(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_hex(b[i]) {
            i += 1;
        }
        let glued = (start > 0 && is_word(b[start - 1])) || (i < b.len() && is_word(b[i]));
        if !glued {
            out.push(start..i);
        }
        while i < b.len() && is_word(b[i]) {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> Digest {
        Digest::parse(&c.to_string().repeat(64)).unwrap()
    }

    fn table(profile: Profile) -> Symbols {
        let mut s = Symbols::new(profile, "127.0.0.1:5000");
        s.add_image(ImageHandle::new("A").unwrap(), d('a'), d('b'));
        s.add_container(ContainerHandle::new("c1").unwrap(), d('c'));
        s.add_layer(LayerName::base(), d('e'));
        s
    }

    #[test]
    fn scans_symbols() {
        let found = scan("x <A.config:12> <c1> <reg>/a <?2> a < b <= c").unwrap();
        let symbols: Vec<_> = found.into_iter().map(|(_, s)| s).collect();
        assert_eq!(
            symbols,
            vec![
                Symbol::Image {
                    handle: "A",
                    part: Part::Config,
                    len: Some(12)
                },
                Symbol::Lower {
                    name: "c1",
                    len: None
                },
                Symbol::Registry,
                Symbol::Unknown { n: 2, len: None },
            ]
        );
        for bad in [
            "<A.layer>",
            "<A:0>",
            "<A:65>",
            "<reg:3>",
            "<c1.config>",
            "<A:012>",
        ] {
            assert!(matches!(scan(bad), Err(SymbolError::Malformed(_))), "{bad}");
        }
    }

    #[test]
    fn expands_per_profile() {
        let classic = table(Profile::DockerClassic);
        let containerd = table(Profile::DockerContainerd);
        assert_eq!(
            classic.expand("sha256:<A>").unwrap(),
            format!("sha256:{}", "a".repeat(64))
        );
        assert_eq!(containerd.expand("<A:4>").unwrap(), "bbbb");
        assert_eq!(
            classic
                .expand("<A.manifest:3> <c1:2> <base:1> <reg>/x <?1>")
                .unwrap(),
            "bbb cc e 127.0.0.1:5000/x <?1>"
        );
        assert_eq!(
            classic.expand("<Z>"),
            Err(SymbolError::Unknown("<Z>".into()))
        );
    }

    #[test]
    fn symbolizes_and_canonicalizes() {
        let mut containerd = table(Profile::DockerContainerd);
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        assert_eq!(
            containerd.symbolize(&format!("Deleted: sha256:{b}")),
            "Deleted: sha256:<A>"
        );
        assert_eq!(
            containerd.symbolize(&format!("{a} {}", &b[..12])),
            "<A.config> <A:12>"
        );
        // short runs and runs glued to letters stay
        assert_eq!(
            containerd.symbolize("sha256 bbbb xbbbbbbbbbbbbbbb"),
            "sha256 bbbb xbbbbbbbbbbbbbbb"
        );
        // a prefix the request used comes back as the symbol it was
        assert_eq!(containerd.expand_request("<A:4>").unwrap(), "bbbb");
        assert_eq!(
            containerd.symbolize("No such image: bbbb:latest"),
            "No such image: <A:4>:latest"
        );
        // ... but never in a tag's place
        assert_eq!(containerd.expand_request("<A:1>").unwrap(), "b");
        assert_eq!(
            containerd.symbolize("app:b sha256:b b"),
            "app:b sha256:<A:1> <A:1>"
        );
        assert_eq!(
            containerd.canonicalize("<A.manifest>").unwrap(),
            containerd.canonicalize("<A>").unwrap()
        );
        assert_ne!(
            containerd.canonicalize("<A.config>").unwrap(),
            containerd.canonicalize("<A>").unwrap()
        );
        assert_eq!(containerd.symbolize("127.0.0.1:5000/app"), "<reg>/app");
    }

    #[test]
    fn numbers_unknown_digests() {
        let mut s = table(Profile::Podman43);
        let f = "f".repeat(64);
        let nine = "9".repeat(64);
        s.add_unknowns_in(&format!("Deleted: {f} {} {nine} {f}", "a".repeat(64)));
        assert_eq!(
            s.symbolize(&format!("{nine} {f} {}", &f[..12])),
            "<?2> <?1> <?1:12>"
        );
        assert_eq!(s.expand("<?1>").unwrap(), "<?1>");
    }
}
