//! Mounts below a state directory: found in `/proc/self/mountinfo`, removed newest first.

use anyhow::bail;
use std::fs;
use std::path::{Path, PathBuf};

/// The mount points at or below `dir`, from `/proc/self/mountinfo` (field 5, octal escapes
/// decoded), in mount order.
pub fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| p.starts_with(dir))
        .collect()
}

fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts everything mounted at or below `dir`: newest mount first (so stacked mounts come
/// off top first), then again until nothing is left. A busy mount is detached lazily.
/// Returns how many mounts it removed.
pub fn unmount_below(dir: &Path) -> anyhow::Result<usize> {
    use nix::mount::{umount2, MntFlags};
    let mut removed = 0;
    for _round in 0..8 {
        let mounts = mounts_below(dir);
        if mounts.is_empty() {
            return Ok(removed);
        }
        for m in mounts.iter().rev() {
            if umount2(m.as_path(), MntFlags::empty()).is_ok()
                || umount2(m.as_path(), MntFlags::MNT_DETACH).is_ok()
            {
                removed += 1;
            }
        }
    }
    let left = mounts_below(dir);
    if left.is_empty() {
        Ok(removed)
    } else {
        bail!("mounts left below {}: {left:?}", dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape_mountinfo(r"/x\134y"), r"/x\y");
        assert_eq!(unescape_mountinfo(r"/plain\04"), r"/plain\04");
    }
}
