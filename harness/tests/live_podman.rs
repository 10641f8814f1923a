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

use rmispec::backend::Backend;
use rmispec::live::adapter::Answer;
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
    let profiles: Vec<Profile> = [
        Profile::Podman43,
        Profile::Libpod301,
        Profile::Podman54,
        Profile::Podman58,
    ]
    .into_iter()
    .filter(|p| {
        ids.iter().any(|i| {
            Profile::from_id(i) == Some(*p)
                || *i == "all" && !matches!(p, Profile::Podman54 | Profile::Podman58)
                || *i == "podman" && !matches!(p, Profile::Podman54 | Profile::Podman58)
        })
    })
    .collect();
    // The tests are #[ignore]d unless asked for (--ignored): asked for, naming no engine is a mistake, not a pass.
    assert!(
        !profiles.is_empty(),
        "RMISPEC_LIVE names no Podman engine: set RMISPEC_LIVE=podman (or all) to run these --ignored tests"
    );
    profiles
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
    // A container's exit command (`podman container cleanup`, run by its conmon after the
    // container is gone) may still be removing its cgroup for a moment.
    let t0 = std::time::Instant::now();
    loop {
        let new: Vec<_> = host_paths().difference(host_before).cloned().collect();
        if new.is_empty() {
            break;
        }
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(15),
            "written outside the sandbox: {new:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if t0.elapsed().as_millis() > 0 {
        eprintln!("host paths settled after {:?}", t0.elapsed());
    }
}

#[test]
#[ignore = "live: needs root, podman (scripts/install-engines) and RMISPEC_LIVE=podman|all; CI runs it with --ignored"]
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
        let Answer {
            records,
            errors,
            status,
        } = b
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
            platforms: Vec::new(),
        };
        let Answer {
            records,
            errors,
            status,
        } = b.remove(&none).unwrap();
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
#[ignore = "live: needs root, podman (scripts/install-engines) and RMISPEC_LIVE=podman|all; CI runs it with --ignored"]
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
        assert!(
            err.contains("default socket for podman-libimage"),
            "{socket}: {err}"
        );
    }
}

/// Scenarios that take every path of the adapter: loads and tags in stored order, digest
/// references through the registry, children by commit and their pruning, containers (the
/// forced removal of a running one), several names in one batch, and the CLI for what only
/// the CLI shows. Each must come out as the scenario expects for the profile (where the
/// scenario runs it at all), and the run must leave nothing behind.
const SCENARIOS: &[&str] = &[
    "untag/one-of-two-tags",
    "untag/last-tag",
    "by-id/three-tags-two-repos-force",
    "digest/digest-only",
    "digest/name-tag-and-digest",
    "parents/child-by-id",
    "prune/dangling-parent",
    "prune/grandparents",
    "containers/running-by-id-force",
    "containers/stopped-by-tag",
    "multi/one-missing",
    "multi/same-name-twice",
    "libimage/all-with-names",
    "libimage/all-with-running-container",
];

#[test]
#[ignore = "live: needs root, podman (scripts/install-engines) and RMISPEC_LIVE=podman|all; CI runs it with --ignored"]
fn scenarios_build_and_come_out_as_expected() {
    let profiles = wanted();
    if profiles.is_empty() {
        eprintln!("skipped: RMISPEC_LIVE names no Podman engine");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let host_before = host_paths();
    for p in profiles {
        let mut b = PodmanBackend::connect(p, &LiveOptions::default())
            .unwrap_or_else(|e| panic!("{p}: {e:#}"));
        let dir = b.state_dir().expect("sandboxed").to_path_buf();
        let mut ran = 0;
        for name in SCENARIOS {
            let path = root.join(format!("{name}.yaml"));
            if !path.exists() {
                eprintln!("{name}: no such scenario (any more)");
                continue;
            }
            let scenario = rmispec::scenario::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            let expected = scenario.expect.for_profile(p);
            if expected.skip.is_some() {
                continue;
            }
            let obs =
                Backend::run(&mut b, &scenario).unwrap_or_else(|e| panic!("{p} {name}: {e:#}"));
            let got = rmispec::normalize::normalize(&obs);
            let want = rmispec::compare::expected(&expected, &obs.symbols).unwrap();
            if scenario.divergence_for(p).is_none() {
                assert_eq!(got, want, "{p} {name}");
            }
            ran += 1;
        }
        assert!(ran > 0, "{p}: no scenario ran");
        eprintln!("{p}: {ran} scenarios, timings {:?}", b.timings);
        drop(b);
        assert_nothing_left(&dir, &host_before);
    }
}
