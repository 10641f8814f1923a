//! Grinding a nonce until a digest starts with a wanted hex prefix (`id: "7f"`).

use super::grind_cache::DiskCache;
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
/// (optimized even in debug builds, see the workspace profile) on the rest only. Nonces are
/// cached per (template, prefix), for the process and on disk ([`DiskCache`]) across runs;
/// a nonce from the disk is used only once the bytes it gives hash to `prefix`.
pub(super) fn grind(template: &[u8], prefix: &str) -> Vec<u8> {
    grind_with(template, prefix, DiskCache::from_env().as_ref())
}

/// [`grind`] with the disk cache given (`None`: none).
fn grind_with(template: &[u8], prefix: &str, disk: Option<&DiskCache>) -> Vec<u8> {
    let at = template
        .windows(PLACEHOLDER.len())
        .position(|w| w == PLACEHOLDER.as_bytes())
        .expect("the template holds the placeholder");
    let (head, rest) = template.split_at(at);
    let tail = &rest[PLACEHOLDER.len()..];
    let template_sha = Sha256::digest(template);
    let key = (template_sha.to_vec(), prefix.to_owned());
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let cached = cache.lock().map(|c| c.get(&key).copied()).unwrap_or(None);
    let with = |nonce: u32| {
        let mut out = Vec::with_capacity(template.len());
        out.extend_from_slice(head);
        out.extend_from_slice(&hex8(nonce));
        out.extend_from_slice(tail);
        out
    };
    if let Some(nonce) = cached {
        return with(nonce);
    }
    let sha_hex = hex(&template_sha);
    let from_disk = disk
        .and_then(|d| d.get(&sha_hex, prefix))
        .map(|nonce| (nonce, with(nonce)))
        .filter(|(_, out)| hex(&Sha256::digest(out)).starts_with(prefix));
    let (nonce, out) = from_disk.unwrap_or_else(|| {
        let nonce = search(head, tail, prefix);
        if let Some(d) = disk {
            d.put(&sha_hex, prefix, nonce);
        }
        (nonce, with(nonce))
    });
    if let Ok(mut c) = cache.lock() {
        c.insert(key, nonce);
    }
    out
}

/// `bytes` in lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    fn the_disk_cache_is_used_only_when_its_nonce_checks_out() {
        let root = std::env::temp_dir().join(format!("rmispec-grind-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let disk = DiskCache::at(&root);
        let spelled = |n: u32| String::from_utf8(hex8(n).to_vec()).unwrap();
        let fills = |template: &str, n: u32| {
            let t = template.replace(PLACEHOLDER, &spelled(n));
            hex(&Sha256::digest(t.as_bytes())).starts_with("5e")
        };
        // templates of their own, so the process cache holds nothing for them yet
        let tag = format!("{root:?}");
        let (first, second) = (
            format!("{{\"a\":\"{PLACEHOLDER}\",\"t\":\"{tag}\"}}"),
            format!("{{\"b\":\"{PLACEHOLDER}\",\"t\":\"{tag}\"}}"),
        );
        // a wrong nonce on disk is checked, ground again and overwritten
        let want = (0..).find(|&n| fills(&first, n)).unwrap();
        let sha = hex(&Sha256::digest(first.as_bytes()));
        disk.put(&sha, "5e", (0..).find(|&n| !fills(&first, n)).unwrap());
        let out = grind_with(first.as_bytes(), "5e", Some(&disk));
        assert_eq!(out, first.replace(PLACEHOLDER, &spelled(want)).into_bytes());
        assert_eq!(
            disk.get(&sha, "5e"),
            Some(want),
            "the found nonce is recorded"
        );
        // one that checks out is taken as it is (a valid one that is not the first, to tell)
        let found = (0..).find(|&n| fills(&second, n)).unwrap();
        let later = (found + 1..).find(|&n| fills(&second, n)).unwrap();
        disk.put(&hex(&Sha256::digest(second.as_bytes())), "5e", later);
        assert_eq!(
            grind_with(second.as_bytes(), "5e", Some(&disk)),
            second.replace(PLACEHOLDER, &spelled(later)).into_bytes(),
            "taken from the disk, not ground again"
        );
        std::fs::remove_dir_all(&root).unwrap();
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
