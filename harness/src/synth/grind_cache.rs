//! The nonces [`grind`](super::grind::grind) found, kept on disk, so that a prefix is ground
//! once per (template, prefix) on a machine rather than once per process: a 5-hex `id:`
//! prefix costs seconds in a debug build, and `cargo test` and every `rmispec run` would
//! otherwise pay it again.
//!
//! Where: `RMISPEC_CACHE_DIR` (empty: no disk cache), else `$XDG_CACHE_HOME/rmispec`, else
//! `$HOME/.cache/rmispec`; below it `nonces-v1/<sha256 of the template>-<prefix>`, each file
//! the nonce's 8 hex digits. A hit is never trusted: the caller hashes the bytes the nonce
//! gives and grinds again when they miss the prefix (a stale, truncated or edited file), so
//! the cache can only save time, never change an image. Writes go through a temporary file
//! and a rename, so concurrent runs see a whole file or none; a cache that cannot be read or
//! written is no cache, not an error.

use std::path::{Path, PathBuf};

/// Bumped when what a key means changes (the search order, the nonce's spelling).
const VERSION_DIR: &str = "nonces-v1";

/// A folder of ground nonces.
#[derive(Clone, Debug)]
pub(super) struct DiskCache {
    dir: PathBuf,
}

impl DiskCache {
    /// The cache the environment names (see the module), if any.
    pub(super) fn from_env() -> Option<DiskCache> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let root = match std::env::var_os("RMISPEC_CACHE_DIR") {
            Some(v) if v.is_empty() => return None,
            Some(v) => PathBuf::from(v),
            None => var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| var("HOME").map(|h| Path::new(&h).join(".cache")))?
                .join("rmispec"),
        };
        Some(DiskCache::at(&root))
    }

    /// The cache below `root`.
    pub(super) fn at(root: &Path) -> DiskCache {
        DiskCache {
            dir: root.join(VERSION_DIR),
        }
    }

    /// The file of (`template`'s sha256 in hex, `prefix`); `None` for a prefix that is not
    /// lower-case hex (it could not name a file safely, and the loader rejects it anyway).
    fn file(&self, template_sha: &str, prefix: &str) -> Option<PathBuf> {
        let hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        (hex(template_sha) && hex(prefix) && prefix.len() <= 64)
            .then(|| self.dir.join(format!("{template_sha}-{prefix}")))
    }

    /// The nonce recorded for the key, unchecked (the caller checks it).
    pub(super) fn get(&self, template_sha: &str, prefix: &str) -> Option<u32> {
        let text = std::fs::read_to_string(self.file(template_sha, prefix)?).ok()?;
        let text = text.trim();
        (text.len() == 8)
            .then(|| u32::from_str_radix(text, 16).ok())
            .flatten()
    }

    /// Records `nonce` for the key; failures are ignored (the next run grinds again).
    pub(super) fn put(&self, template_sha: &str, prefix: &str, nonce: u32) {
        let Some(file) = self.file(template_sha, prefix) else {
            return;
        };
        let tmp = self.dir.join(format!(
            ".{template_sha}-{prefix}.{}.{:?}.tmp",
            std::process::id(),
            std::thread::current().id()
        ));
        let written = std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(&tmp, format!("{nonce:08x}\n")))
            .and_then(|()| std::fs::rename(&tmp, &file));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("rmispec-grind-cache-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_nonce_put_is_got_back_and_bad_files_are_misses() {
        let root = scratch("roundtrip");
        let cache = DiskCache::at(&root);
        let sha = "ab".repeat(32);
        assert_eq!(cache.get(&sha, "7f"), None, "empty");
        cache.put(&sha, "7f", 0x1234);
        assert_eq!(cache.get(&sha, "7f"), Some(0x1234));
        assert_eq!(cache.get(&sha, "7e"), None, "another prefix is another key");
        let file = cache.file(&sha, "7f").expect("a hex key");
        for junk in ["", "12", "zzzzzzzz", "123456789"] {
            std::fs::write(&file, junk).unwrap();
            assert_eq!(cache.get(&sha, "7f"), None, "{junk:?}");
        }
        assert!(
            cache.file(&sha, "../x").is_none() && cache.file("../", "7f").is_none(),
            "nothing but hex names a file"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
