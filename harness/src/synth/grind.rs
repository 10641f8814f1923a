//! Grinding a nonce until a digest starts with a wanted hex prefix (`id: "7f"`).

use sha2::digest::generic_array::{typenum::U64, GenericArray};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// What the caller writes where the nonce goes; [`grind`] replaces it with 8 hex digits.
pub(super) const PLACEHOLDER: &str = "@NONCE@@";

/// (sha256 of the template, prefix) → nonce.
type Cache = HashMap<(Vec<u8>, String), u32>;

/// Finds the first nonce (`00000000`, `00000001`… in hex) that, put in place of
/// [`PLACEHOLDER`] in `template`, gives bytes whose sha256 starts with `prefix`; returns
/// those bytes.
///
/// A 5-hex prefix takes about a million tries, so each try is cheap: the 64-byte blocks
/// before the placeholder are compressed once, and each try runs sha2's block function
/// (optimized even in debug builds, see the workspace profile) on the rest only. Results
/// are cached per (template, prefix) for the process, since the runner synthesizes a
/// scenario once per profile.
pub(super) fn grind(template: &[u8], prefix: &str) -> Vec<u8> {
    let at = template
        .windows(PLACEHOLDER.len())
        .position(|w| w == PLACEHOLDER.as_bytes())
        .expect("the template holds the placeholder");
    let (head, rest) = template.split_at(at);
    let tail = &rest[PLACEHOLDER.len()..];
    let key = (Sha256::digest(template).to_vec(), prefix.to_owned());
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let cached = cache.lock().map(|c| c.get(&key).copied()).unwrap_or(None);
    let nonce = cached.unwrap_or_else(|| {
        let nonce = search(head, tail, prefix);
        if let Ok(mut c) = cache.lock() {
            c.insert(key, nonce);
        }
        nonce
    });
    let mut out = Vec::with_capacity(template.len());
    out.extend_from_slice(head);
    out.extend_from_slice(&hex8(nonce));
    out.extend_from_slice(tail);
    out
}

/// The first nonce whose `head + hex8(nonce) + tail` hashes to `prefix…`.
fn search(head: &[u8], tail: &[u8], prefix: &str) -> u32 {
    const IV: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let wanted: Vec<u8> = prefix.bytes().map(nibble).collect();
    let full = head.len() / 64 * 64;
    let mut base = IV;
    compress(&mut base, &head[..full]);
    // the rest of the message after the precompressed blocks, with sha256's padding
    let total_bits = ((head.len() + 8 + tail.len()) as u64) * 8;
    let mut buf = Vec::with_capacity(head.len() - full + 8 + tail.len() + 72);
    buf.extend_from_slice(&head[full..]);
    let nonce_at = buf.len();
    buf.extend_from_slice(&[0; 8]);
    buf.extend_from_slice(tail);
    buf.push(0x80);
    while buf.len() % 64 != 56 {
        buf.push(0);
    }
    buf.extend_from_slice(&total_bits.to_be_bytes());
    let mut blocks: Vec<GenericArray<u8, U64>> = buf
        .chunks_exact(64)
        .map(|b| *GenericArray::from_slice(b))
        .collect();
    (0..=u32::MAX)
        .find(|&n| {
            for (i, digit) in hex8(n).into_iter().enumerate() {
                let at = nonce_at + i;
                blocks[at / 64][at % 64] = digit;
            }
            let mut state = base;
            sha2::compress256(&mut state, &blocks);
            starts_with(&state, &wanted)
        })
        .expect("a prefix of at most 5 hex digits is found well before 2^32 tries")
}

/// Runs sha256's block function over `blocks` (a multiple of 64 bytes).
fn compress(state: &mut [u32; 8], blocks: &[u8]) {
    let blocks: Vec<GenericArray<u8, U64>> = blocks
        .chunks_exact(64)
        .map(|b| *GenericArray::from_slice(b))
        .collect();
    sha2::compress256(state, &blocks);
}

/// `n` as 8 lower-case hex digits.
fn hex8(n: u32) -> [u8; 8] {
    let mut out = [0u8; 8];
    for (i, o) in out.iter_mut().enumerate() {
        let v = ((n >> (28 - 4 * i)) & 0xf) as u8;
        *o = if v < 10 { b'0' + v } else { b'a' + v - 10 };
    }
    out
}

fn nibble(hex: u8) -> u8 {
    match hex {
        b'0'..=b'9' => hex - b'0',
        b'a'..=b'f' => hex - b'a' + 10,
        _ => panic!("not a lower-case hex digit: {}", hex as char),
    }
}

/// Whether the digest in `state` (big-endian words) starts with the nibbles `wanted`.
fn starts_with(state: &[u32; 8], wanted: &[u8]) -> bool {
    wanted.iter().enumerate().all(|(i, &w)| {
        let word = state[i / 8];
        ((word >> (28 - 4 * (i % 8))) & 0xf) as u8 == w
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_prefix_and_keeps_the_rest() {
        // a template longer than a block, with the placeholder past the first block
        let template = format!(
            "{{\"a\":\"{}\",\"n\":\"{PLACEHOLDER}\",\"x\":1}}",
            "z".repeat(100)
        );
        let out = grind(template.as_bytes(), "abc");
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.ends_with("\",\"x\":1}"), "{text}");
        assert_eq!(text.len(), template.len());
        let hex: String = Sha256::digest(&out)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(hex.starts_with("abc"), "{hex}");
        assert_eq!(
            grind(template.as_bytes(), "abc"),
            out,
            "deterministic (and cached)"
        );
    }

    #[test]
    fn the_block_function_agrees_with_sha2() {
        // the search's own padding must give sha256 itself: prefix "" accepts nonce 0
        let head = b"x".repeat(130);
        let tail = b"tail";
        let n = search(&head, tail, "");
        assert_eq!(n, 0);
        let mut msg = head.clone();
        msg.extend_from_slice(&hex8(0));
        msg.extend_from_slice(tail);
        let want: String = Sha256::digest(&msg)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let first = &want[..5];
        assert_eq!(
            search(&head, tail, first),
            0,
            "the real digest of nonce 0 starts with {first}"
        );
    }
}
