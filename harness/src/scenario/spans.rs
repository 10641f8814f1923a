//! Where things are in a scenario file: a second, untyped parse of the same text that keeps
//! every node's position, so that checks made after the typed parse (a symbol that names
//! nothing, a parent that comes later) can still point at the exact key, list item or
//! character, in block and flow style alike. serde keeps no positions once a typed value is
//! built, and finding keys again by searching the text cannot see into flow collections.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// A 1-based line and column (in characters).
pub(super) type Pos = (usize, usize);

/// A YAML node with the positions of its parts.
pub(super) enum Node {
    /// Any scalar (numbers and booleans too): only its position matters here.
    Scalar,
    /// A sequence.
    Seq(Vec<Spanned<Node>>),
    /// A mapping: each key (its text when it is a string) and value.
    Map(Vec<(Spanned<Option<String>>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML node")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_i128<E>(self, _: i128) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_u128<E>(self, _: u128) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_str<E>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_bytes<E>(self, _: &[u8]) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<Key>>()? {
                    let key = Spanned {
                        value: key.value.0,
                        referenced: key.referenced,
                        defined: key.defined,
                    };
                    entries.push((key, map.next_value()?));
                }
                Ok(Node::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}

/// A mapping key: its text when it is a scalar; `None` for a complex key.
struct Key(Option<String>);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(Key(Some(v.to_owned())))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Key, E> {
                Ok(Key(Some(v.to_string())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
                Ok(Key(Some(v.to_string())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
                Ok(Key(Some(v.to_string())))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Key, E> {
                Ok(Key(None))
            }
            fn visit_unit<E>(self) -> Result<Key, E> {
                Ok(Key(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Key, A::Error> {
                Node::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Key(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Key, A::Error> {
                Node::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(Key(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The positions of a file's nodes, and a map from byte offsets to lines and columns.
pub(super) struct Spans<'a> {
    src: &'a str,
    /// The byte offset of each line's start.
    lines: Vec<usize>,
    root: Option<Spanned<Node>>,
}

impl<'a> Spans<'a> {
    /// Indexes `src`, which the typed parse has already accepted (so this parse succeeds
    /// too; if it did not, positions fall back to the start of the file).
    pub(super) fn new(src: &'a str, options: serde_saphyr::Options) -> Spans<'a> {
        let root = serde_saphyr::from_str_with_options(src, options).ok();
        Spans {
            src,
            lines: line_starts(src),
            root,
        }
    }

    /// The line and column of byte `offset` (clamped to the text; a byte inside a character
    /// counts as that character).
    pub(super) fn pos(&self, offset: usize) -> Pos {
        pos_in(self.src, &self.lines, offset)
    }

    /// The node at `path`: keys of mappings and, on sequences, item numbers (`"0"`); a
    /// scalar stands for item 0 of itself (`rmi: x` is `rmi: [x]`). Returns the deepest node
    /// found and whether the whole path was: the position of the last key found, or of the
    /// item.
    fn walk(&self, path: &[&str]) -> Option<(&Spanned<Node>, Option<Pos>, bool)> {
        let root = self.root.as_ref()?;
        let mut node = root;
        let mut at = None;
        for step in path {
            let next = match &node.value {
                Node::Map(entries) => entries
                    .iter()
                    .find(|(k, _)| k.value.as_deref() == Some(*step))
                    .map(|(k, v)| (v, Some(self.location(&k.referenced)))),
                Node::Seq(items) => step
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i))
                    .map(|v| (v, Some(self.location(&v.referenced)))),
                Node::Scalar if *step == "0" => Some((node, at)),
                Node::Scalar => None,
            };
            match next {
                Some((n, p)) => {
                    node = n;
                    at = p;
                }
                None => return Some((node, at, false)),
            }
        }
        Some((node, at, true))
    }

    /// Where the key (or list item) at the end of `path` is; when part of the path is
    /// absent, the deepest key found; at worst the file's start.
    pub(super) fn key(&self, path: &[&str]) -> Pos {
        self.walk(path).and_then(|(_, at, _)| at).unwrap_or((1, 1))
    }

    /// Where `needle`, found at byte `range` of the string value at `path`, is in the file.
    /// Exact for plain and quoted scalars whose text before the needle has no escapes or
    /// line breaks; otherwise the value's position.
    pub(super) fn within(&self, path: &[&str], value: &str, range: std::ops::Range<usize>) -> Pos {
        let Some((node, _, true)) = self.walk(path) else {
            return self.key(path);
        };
        let here = self.location(&node.referenced);
        let Some(start) = node.referenced.span().byte_offset() else {
            return here;
        };
        let Ok(start) = usize::try_from(start) else {
            return here;
        };
        let mut body = start;
        if matches!(self.src.as_bytes().get(start), Some(b'"' | b'\'')) {
            body += 1;
        }
        let (Some(prefix), Some(needle)) = (value.get(..range.start), value.get(range.clone()))
        else {
            return here;
        };
        let at = body + range.start;
        let same = self.src.get(body..at) == Some(prefix)
            && self
                .src
                .get(at..)
                .is_some_and(|rest| rest.starts_with(needle));
        if same {
            self.pos(at)
        } else {
            here
        }
    }

    /// The dotted path (`given.images.A.tags[0]`) of what is at `pos` as the parser reports
    /// it: for a value, the path to it; for a key, the mapping that holds it (`unknown field`
    /// is about the mapping). For the context of a parser error, which has no path.
    pub(super) fn path_at(&self, pos: Pos) -> Option<String> {
        fn find(node: &Spanned<Node>, pos: Pos, path: &mut String) -> bool {
            let here = |l: &serde_saphyr::Location| to_pos(l) == Some(pos);
            match &node.value {
                Node::Scalar => false,
                Node::Seq(items) => items.iter().enumerate().any(|(i, item)| {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    if here(&item.referenced) || find(item, pos, path) {
                        return true;
                    }
                    path.truncate(len);
                    false
                }),
                Node::Map(entries) => entries.iter().any(|(k, v)| {
                    if here(&k.referenced) {
                        return true;
                    }
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k.value.as_deref().unwrap_or("?"));
                    if here(&v.referenced) || find(v, pos, path) {
                        return true;
                    }
                    path.truncate(len);
                    false
                }),
            }
        }
        let mut path = String::new();
        (find(self.root.as_ref()?, pos, &mut path) && !path.is_empty()).then_some(path)
    }

    fn location(&self, l: &serde_saphyr::Location) -> Pos {
        // Byte offsets are exact for string input; line and column are the fallback.
        match l.span().byte_offset().and_then(|b| usize::try_from(b).ok()) {
            Some(b) if l.line() > 0 => self.pos(b),
            _ => to_pos(l).unwrap_or((1, 1)),
        }
    }
}

/// A saphyr location as a position, when known.
pub(super) fn to_pos(l: &serde_saphyr::Location) -> Option<Pos> {
    let line = usize::try_from(l.line()).ok()?;
    let column = usize::try_from(l.column()).ok()?;
    (line > 0).then_some((line, column.max(1)))
}

/// The byte offset of each line's start. Line breaks are YAML's (and the parser's): `\n`,
/// `\r\n`, and a lone `\r`, so that our positions and the parser's agree.
pub(super) fn line_starts(src: &str) -> Vec<usize> {
    breaks(src.as_bytes()).collect()
}

/// 0, then the offset after each line break of `b`.
fn breaks(b: &[u8]) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(0).chain(b.iter().enumerate().filter_map(|(i, &c)| {
        let ends = c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n'));
        ends.then_some(i + 1)
    }))
}

/// Byte `offset` of `src` as a line and column, given [`line_starts`] of `src`.
pub(super) fn pos_in(src: &str, lines: &[usize], offset: usize) -> Pos {
    let offset = offset.min(src.len());
    let line = lines.partition_point(|&s| s <= offset).max(1);
    let start = lines[line - 1];
    let column = src
        .as_bytes()
        .get(start..offset)
        .map_or(0, |b| b.iter().filter(|&&c| (c & 0xC0) != 0x80).count());
    (line, column + 1)
}

/// Byte `offset` of possibly invalid UTF-8 `bytes` as a line and column (characters of the
/// valid prefix; an invalid byte counts as one).
pub(super) fn pos_in_bytes(bytes: &[u8], offset: usize) -> Pos {
    let offset = offset.min(bytes.len());
    let before = &bytes[..offset];
    let (mut line, mut start) = (0, 0);
    for b in breaks(before).filter(|&b| b <= offset) {
        line += 1;
        start = b;
    }
    let column = before[start..]
        .iter()
        .filter(|&&c| (c & 0xC0) != 0x80)
        .count();
    (line, column + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_bytes() {
        let src = "ab\ncé\nx";
        let lines = line_starts(src);
        assert_eq!(pos_in(src, &lines, 0), (1, 1));
        assert_eq!(pos_in(src, &lines, 3), (2, 1));
        assert_eq!(pos_in(src, &lines, 6), (2, 3), "é is one column");
        assert_eq!(pos_in(src, &lines, 7), (3, 1));
        assert_eq!(pos_in_bytes(b"ab\nc\xff", 4), (2, 2));
        let cr = "a\rb\r\nc";
        assert_eq!(
            pos_in(cr, &line_starts(cr), 2),
            (2, 1),
            "a lone CR breaks a line"
        );
        assert_eq!(
            pos_in(cr, &line_starts(cr), 5),
            (3, 1),
            "CR LF is one break"
        );
        assert_eq!(pos_in_bytes(cr.as_bytes(), 5), (3, 1));
    }

    #[test]
    fn finds_keys_values_and_symbols_in_flow_style() {
        let src = "given:\n  images: {A: {tags: [x]}}\nafter:\n  A: [one, \"t <Z> u\"]\nrmi: x\n";
        let s = Spans::new(src, serde_saphyr::Options::default());
        assert_eq!(s.key(&["given", "images", "A", "tags"]), (2, 16));
        assert_eq!(s.path_at((2, 16)).as_deref(), Some("given.images.A"));
        assert_eq!(
            s.path_at((2, 23)).as_deref(),
            Some("given.images.A.tags[0]")
        );
        assert_eq!(s.key(&["after", "A", "1"]), (4, 12));
        assert_eq!(s.within(&["after", "A", "1"], "t <Z> u", 2..5), (4, 15));
        assert_eq!(s.within(&["rmi", "0"], "x", 0..1), (5, 6));
        // an absent key: the deepest key found
        assert_eq!(s.key(&["given", "nope"]), (1, 1));
    }
}
