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

use rmispec::live::adapter::Answer;
use rmispec::live::docker::{DockerBackend, Reset};
use rmispec::live::sandbox::{mounts_below, processes_mentioning};
use rmispec::live::LiveOptions;
use rmispec_model::{ErrorKind, Profile, Request, Status};
use std::path::PathBuf;

/// The Docker profiles `RMISPEC_LIVE` asks for.
fn wanted() -> Vec<Profile> {
    let v = std::env::var("RMISPEC_LIVE").unwrap_or_default();
    let ids: Vec<&str> = v.split(',').map(str::trim).collect();
    let profiles: Vec<Profile> = [
        Profile::DockerClassic,
        Profile::DockerClassic28,
        Profile::DockerContainerd,
        Profile::DockerContainerd28,
    ]
    .into_iter()
    .filter(|p| {
        ids.iter()
            .any(|i| Profile::from_id(i) == Some(*p) || *i == "docker" || *i == "all")
    })
    .collect();
    // The tests are #[ignore]d unless asked for (--ignored): asked for, naming no engine is a mistake, not a pass.
    assert!(
        !profiles.is_empty(),
        "RMISPEC_LIVE names no Docker engine: set RMISPEC_LIVE=docker (or all) to run these --ignored tests"
    );
    profiles
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
#[ignore = "live: needs root, the Docker engines (scripts/install-engines) and RMISPEC_LIVE=docker|all; CI runs it with --ignored"]
fn engines_start_empty_answer_and_leave_nothing_behind() {
    let profiles = wanted();
    if profiles.is_empty() {
        eprintln!("skipped: RMISPEC_LIVE names no Docker engine");
        return;
    }
    let shims_before = shim_sockets();
    // What the engines would write outside the sandbox with default settings.
    let outside = [
        "/var/lib/docker",
        "/var/lib/containerd",
        "/opt/containerd",
        "/etc/docker/key.json",
        "/run/containerd/runc",
    ];
    let existed: Vec<bool> = outside
        .iter()
        .map(|p| std::path::Path::new(p).exists())
        .collect();
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
        let Answer {
            records,
            errors,
            status,
        } = b
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
        assert_eq!(b.remove(&two).unwrap().status, Status::Exit(1));
        assert_eq!(
            b.remove(&two.clone().forced()).unwrap().status,
            Status::Exit(0)
        );
        // An invalid reference.
        let Answer { errors, status, .. } = b.remove(&Request::name("UPPER")).unwrap();
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
    for (p, before) in outside.iter().zip(existed) {
        assert!(
            before || !std::path::Path::new(p).exists(),
            "{p} was created outside the sandbox"
        );
    }
}

#[test]
#[ignore = "live: needs root, the Docker engines (scripts/install-engines) and RMISPEC_LIVE=docker|all; CI runs it with --ignored"]
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

/// The checkout's scenarios folder.
fn scenario(name: &str) -> rmispec::scenario::Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(format!("{name}.yaml"));
    rmispec::scenario::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
#[ignore = "live: needs root, the Docker engines (scripts/install-engines) and RMISPEC_LIVE=docker|all; CI runs it with --ignored"]
fn a_parent_with_a_child_is_built_the_engines_way_and_observed() {
    use rmispec::backend::Backend;
    for p in wanted() {
        let mut b = DockerBackend::connect(p, &LiveOptions::default())
            .unwrap_or_else(|e| panic!("{p}: {e:#}"));
        let s = scenario("parents/parent-by-id");
        let obs = b.run(&s).unwrap_or_else(|e| panic!("{p}: {e:#}"));
        let base = obs.symbols.image_id("Base").unwrap().clone();
        let child = obs.symbols.image_id("Child").unwrap().clone();
        match p {
            // Linked by load: the synthesized config digests are the IDs, and the engine
            // refuses to delete the parent.
            Profile::DockerClassic | Profile::DockerClassic28 => {
                let synth = rmispec::synth::synthesize(&s.given);
                assert_eq!(child, synth.image("Child").unwrap().config.digest);
                assert_eq!(obs.status, Status::Http(409));
                assert!(
                    matches!(obs.errors[0].kind, ErrorKind::Conflict { .. }),
                    "{:?}",
                    obs.errors
                );
                assert_eq!(obs.after.images.len(), 2);
            }
            // Committed: the child's ID is the engine's, and the parent is deleted anyway.
            _ => {
                let synth = rmispec::synth::synthesize(&s.given);
                assert_ne!(child, synth.image("Child").unwrap().manifest.digest);
                assert_eq!(obs.status, Status::Http(200), "{:?}", obs.errors);
                assert!(obs.after.images.iter().all(|i| i.id != base));
                assert!(obs.after.images.iter().any(|i| i.id == child));
            }
        }
        // The next run starts from an empty engine.
        let again = b.run(&scenario("untag/one-of-two-tags")).unwrap();
        assert_eq!(again.after.images.len(), 1, "{:?}", again.after);
    }
}

#[test]
#[ignore = "live: needs root, the Docker engines (scripts/install-engines) and RMISPEC_LIVE=docker|all; CI runs it with --ignored"]
fn an_external_daemon_must_be_empty_unless_the_user_says_so() {
    use rmispec::backend::Backend;
    for p in wanted() {
        let mut owner = DockerBackend::connect(p, &LiveOptions::default()).unwrap();
        let socket = owner.engine().unwrap().socket();
        let external = LiveOptions {
            socket: Some(socket.clone()),
            ..LiveOptions::default()
        };
        let mut b = DockerBackend::connect(p, &external).expect("an empty daemon is accepted");
        b.run(&scenario("untag/one-of-two-tags")).unwrap();
        // Something is left in the daemon now: a second client refuses it...
        let err = DockerBackend::connect(p, &external)
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not empty"), "{err}");
        // ...unless told; and dropping a client that used it empties it.
        let forced = LiveOptions {
            allow_default_socket: true,
            ..external
        };
        drop(DockerBackend::connect(p, &forced).unwrap());
        assert!(owner.listing().unwrap().images.is_empty());
        drop(b);
    }
}
