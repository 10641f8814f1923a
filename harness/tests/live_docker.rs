//! Live Docker engines, sandboxed: start, empty, reset, stop, and nothing left behind.
//!
//! Runs only for the engines `RMISPEC_LIVE` names (comma-separated: `docker-classic`,
//! `docker-containerd`, or `docker` for both), and then fails, not skips, when an engine
//! cannot start:
//!
//! ```sh
//! RMISPEC_LIVE=docker cargo test -p rmispec --features live-docker --test live_docker
//! ```
#![cfg(feature = "live-docker")]

use rmispec::live::docker::{DockerBackend, Reset};
use rmispec::live::sandbox::{mounts_below, processes_mentioning};
use rmispec::live::LiveOptions;
use rmispec_model::{ErrorKind, Profile, Request, Status};
use std::path::PathBuf;

/// The Docker profiles `RMISPEC_LIVE` asks for.
fn wanted() -> Vec<Profile> {
    let v = std::env::var("RMISPEC_LIVE").unwrap_or_default();
    let ids: Vec<&str> = v.split(',').map(str::trim).collect();
    [Profile::DockerClassic, Profile::DockerContainerd]
        .into_iter()
        .filter(|p| {
            ids.iter()
                .any(|i| *i == p.id() || *i == "docker" || *i == "all")
        })
        .collect()
}

fn shim_sockets() -> Vec<PathBuf> {
    std::fs::read_dir("/run/containerd/s")
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Everything a sandboxed engine leaves: processes naming its dir, mounts below it, the dir.
fn assert_nothing_left(dir: &std::path::Path, shims_before: &[PathBuf]) {
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
    let new: Vec<_> = shim_sockets()
        .into_iter()
        .filter(|s| !shims_before.contains(s))
        .collect();
    assert!(new.is_empty(), "shim sockets left: {new:?}");
}

#[test]
fn engines_start_empty_answer_and_leave_nothing_behind() {
    let profiles = wanted();
    if profiles.is_empty() {
        eprintln!("skipped: RMISPEC_LIVE names no Docker engine");
        return;
    }
    let shims_before = shim_sockets();
    // Both at once when both are asked for: they must not share anything.
    let backends: Vec<DockerBackend> = profiles
        .iter()
        .map(|p| {
            DockerBackend::connect(*p, &LiveOptions::default())
                .unwrap_or_else(|e| panic!("{p}: {e:#}"))
        })
        .collect();
    let mut dirs = Vec::new();
    for mut b in backends {
        let dir = b.engine().expect("sandboxed").dir().path().to_path_buf();
        assert!(b.listing().unwrap().images.is_empty());
        // A name that does not exist: 404, classified as not found.
        let (records, errors, status) = b
            .remove(&Request::name("localhost/rmispec/nothing:here"))
            .unwrap();
        assert!(records.is_empty());
        assert_eq!(status, Status::Http(404), "{errors:?}");
        assert_eq!(errors[0].kind, ErrorKind::NotFound);
        assert_eq!(
            errors[0].message,
            "No such image: localhost/rmispec/nothing:here"
        );
        // Several names: the CLI's exit code; force with only not-found errors is 0.
        let two = Request {
            names: vec!["localhost/a:1".into(), "localhost/b:1".into()],
            ..Request::name("x")
        };
        assert_eq!(b.remove(&two).unwrap().2, Status::Exit(1));
        assert_eq!(b.remove(&two.clone().forced()).unwrap().2, Status::Exit(0));
        // An invalid reference.
        let (_, errors, status) = b.remove(&Request::name("UPPER")).unwrap();
        assert_eq!(
            (status, errors[0].kind),
            (Status::Http(400), ErrorKind::InvalidReference),
            "{errors:?}"
        );
        for reset in [Reset::Api, Reset::FreshRoot] {
            b.set_reset(reset).unwrap();
            b.touch();
            b.reset().unwrap();
            assert!(b.listing().unwrap().images.is_empty());
        }
        dirs.push(dir);
    }
    for d in dirs {
        assert_nothing_left(&d, &shims_before);
    }
}

#[test]
fn the_default_socket_is_refused() {
    if wanted().is_empty() {
        return;
    }
    let opts = LiveOptions {
        socket: Some("/var/run/docker.sock".into()),
        ..LiveOptions::default()
    };
    let err = DockerBackend::connect(Profile::DockerClassic, &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("--i-know-this-deletes-images"), "{err}");
}
