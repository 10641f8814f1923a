//! Live Podman services, sandboxed: start, answer, reset, stop, and nothing left behind, in the
//! state directory's surroundings nor in the host paths Podman writes by default.
//!
//! Runs only for the engines `RMISPEC_LIVE` names (comma-separated: `podman-libimage`,
//! `libpod-legacy`, `podman-libimage@5.4`, or `podman` for the first two, or `all`), and then
//! fails, not skips, when an engine cannot start:
//!
//! ```sh
//! RMISPEC_LIVE=podman cargo test -p rmispec --features live-podman --test live_podman
//! ```
#![cfg(feature = "live-podman")]

use rmispec::live::podman::{PodmanBackend, Reset};
use rmispec::live::sandbox::{mounts_below, processes_mentioning};
use rmispec::live::LiveOptions;
use rmispec_model::{ErrorKind, Profile, Request, Status};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The Podman profiles `RMISPEC_LIVE` asks for.
fn wanted() -> Vec<Profile> {
    let v = std::env::var("RMISPEC_LIVE").unwrap_or_default();
    let ids: Vec<&str> = v.split(',').map(str::trim).collect();
    [Profile::Podman43, Profile::Libpod301, Profile::Podman54]
        .into_iter()
        .filter(|p| {
            ids.iter().any(|i| {
                *i == p.id()
                    || *i == "all" && *p != Profile::Podman54
                    || *i == "podman" && *p != Profile::Podman54
            })
        })
        .collect()
}

/// What Podman writes outside its state directory when nothing stops it (notes §7.7), and
/// where its containers' cgroups go by default: none of it may change during a run.
fn host_paths() -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let roots = [
        "/var/lib/containers",
        "/var/cache/containers",
        "/run/containers",
        "/run/libpod",
        "/run/runc",
        "/var/lib/cni",
    ];
    for r in roots {
        walk(Path::new(r), 4, &mut found);
    }
    for f in ["/dev/shm/libpod_lock", "/run/lock/netavark.lock"] {
        if Path::new(f).exists() {
            found.insert(PathBuf::from(f));
        }
    }
    // Transient extraction and commit directories in /var/tmp (`ociNNN`, `NNN`, `storageNNN`).
    if let Ok(entries) = std::fs::read_dir("/var/tmp") {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let rest = n
                .trim_start_matches("oci")
                .trim_start_matches("storage")
                .trim_start_matches("podman");
            if rest.is_empty() || rest.bytes().all(|b| b.is_ascii_digit()) {
                found.insert(e.path());
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        for e in entries.flatten() {
            for parent in ["libpod_parent", "rmispec-podman"] {
                let p = e.path().join(parent);
                if p.exists() {
                    found.insert(p);
                }
            }
        }
    }
    found
}

fn walk(p: &Path, depth: usize, out: &mut BTreeSet<PathBuf>) {
    if p.symlink_metadata().is_err() {
        return;
    }
    out.insert(p.to_path_buf());
    if depth == 0 {
        return;
    }
    if let Ok(entries) = std::fs::read_dir(p) {
        for e in entries.flatten() {
            walk(&e.path(), depth - 1, out);
        }
    }
}

fn assert_nothing_left(dir: &Path, host_before: &BTreeSet<PathBuf>) {
    assert!(
        processes_mentioning(dir).is_empty(),
        "processes left: {:?}",
        processes_mentioning(dir)
    );
    assert!(
        mounts_below(dir).is_empty(),
        "mounts left: {:?}",
        mounts_below(dir)
    );
    assert!(!dir.exists(), "{} left", dir.display());
    let after = host_paths();
    let new: Vec<_> = after.difference(host_before).collect();
    assert!(new.is_empty(), "written outside the sandbox: {new:?}");
}

#[test]
fn services_start_empty_answer_and_leave_nothing_behind() {
    let profiles = wanted();
    if profiles.is_empty() {
        eprintln!("skipped: RMISPEC_LIVE names no Podman engine");
        return;
    }
    let host_before = host_paths();
    for p in profiles {
        let mut b = PodmanBackend::connect(p, &LiveOptions::default())
            .unwrap_or_else(|e| panic!("{p}: {e:#}"));
        let dir = b.state_dir().expect("sandboxed").to_path_buf();
        assert!(b.listing().unwrap().images.is_empty());

        // A name that does not exist: the batch endpoint reports it, exit class 1.
        let (records, errors, status) = b
            .remove(&Request::name("localhost/rmispec/nothing:here"))
            .unwrap();
        assert!(records.is_empty());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].kind, ErrorKind::NotFound, "{errors:?}");
        assert_eq!(status, Status::Exit(1));

        // No names and no --all: the CLI refuses before it calls the service (the endpoint
        // would remove every image).
        let none = Request {
            names: vec![],
            force: true,
            prune: true,
            ignore: false,
            all: false,
        };
        let (records, errors, status) = b.remove(&none).unwrap();
        assert!(records.is_empty());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].kind, ErrorKind::InvalidArgument, "{errors:?}");
        assert_eq!(status, Status::Exit(125));

        for reset in [Reset::Api, Reset::FreshRoot] {
            b.set_reset(reset).unwrap();
            b.touch();
            b.reset().unwrap_or_else(|e| panic!("{p} {reset:?}: {e:#}"));
            assert!(b.listing().unwrap().images.is_empty());
        }
        drop(b);
        assert_nothing_left(&dir, &host_before);
    }
}

#[test]
fn the_host_default_sockets_are_refused() {
    if wanted().is_empty() {
        eprintln!("skipped: RMISPEC_LIVE names no Podman engine");
        return;
    }
    for socket in ["/run/podman/podman.sock", "/var/run/podman/podman.sock"] {
        let opts = LiveOptions {
            socket: Some(socket.into()),
            ..LiveOptions::default()
        };
        let err = PodmanBackend::connect(Profile::Podman43, &opts)
            .unwrap_err()
            .to_string();
        assert!(err.contains("default Podman socket"), "{socket}: {err}");
    }
}
