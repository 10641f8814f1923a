//! The live CRI adapter against sandboxed containerd 1.7.24 and 1.6.20: start, build, remove,
//! reset, stop, and nothing left behind (processes, shim sockets, mounts, cgroups, the state
//! directory); a runtime behind `--socket`, built by pulls only; the reset costs.
//!
//! Runs only for the profiles `RMISPEC_LIVE` names (`cri-containerd`, `cri-containerd@1.6`,
//! `cri` for both, or `all`), and then fails, not skips, when a runtime cannot start:
//!
//! ```sh
//! RMISPEC_LIVE=cri cargo test -p rmispec --features live-cri --test live_cri
//! RMISPEC_LIVE=cri RMISPEC_CRI_BENCH=1 cargo test -p rmispec --features live-cri --test live_cri -- --nocapture reset_costs
//! ```
#![cfg(feature = "live-cri")]

use k8s_cri::v1::ContainerState as ContainerStateCri;
use rmispec::backend::Backend;
use rmispec::live::adapter::Answer;
use rmispec::live::cri::{CriBackend, Reset};
use rmispec::live::sandbox::{mounts_below, processes_mentioning};
use rmispec::live::LiveOptions;
use rmispec::scenario::Scenario;
use rmispec_model::{ContainerState, ErrorKind, Profile, Request, Status};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The CRI profiles `RMISPEC_LIVE` asks for.
fn wanted() -> Vec<Profile> {
    let v = std::env::var("RMISPEC_LIVE").unwrap_or_default();
    let ids: Vec<&str> = v.split(',').map(str::trim).collect();
    let profiles: Vec<Profile> = [Profile::Cri17, Profile::Cri16, Profile::Cri21]
        .into_iter()
        .filter(|p| {
            ids.iter()
                .any(|i| Profile::from_id(i) == Some(*p) || *i == "cri" || *i == "all")
        })
        .collect();
    // The tests are #[ignore]d unless asked for (--ignored): asked for, naming no engine is a mistake, not a pass.
    assert!(
        !profiles.is_empty(),
        "RMISPEC_LIVE names no CRI profile: set RMISPEC_LIVE=cri (or all) to run these --ignored tests"
    );
    profiles
}

/// A scenario of the checkout.
fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(format!("{name}.yaml"));
    rmispec::scenario::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A scenario of the tests' own: `body` holds its `given` and `when`; its expectation (never
/// compared here) is a placeholder. Written to a file: the loader reports locations in files.
fn scenario_from(name: &str, body: &str) -> Scenario {
    let yaml = format!(
        "summary: {name}\n{body}\nexpect:\n  default:\n    status: grpc OK\n    records: []\n    after: {{images: {{}}}}\n"
    );
    let dir = std::env::temp_dir().join(format!("rmispec-live-cri-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).unwrap();
    let s = rmispec::scenario::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    std::fs::remove_dir_all(&dir).unwrap();
    s
}

/// The shim sockets of the tasks below `dir`: each bundle's `address` file names one.
fn shim_sockets(dir: &Path) -> Vec<PathBuf> {
    let tasks = dir.join("ctd-state/io.containerd.runtime.v2.task/k8s.io");
    std::fs::read_dir(tasks)
        .map(|d| {
            d.flatten()
                // containerd 1.x writes the shim's socket to `address`; 2.x to
                // `bootstrap.json` (`containerd/containerd@v2.1.9:core/runtime/v2/binary.go#L143`).
                .filter_map(|e| {
                    std::fs::read_to_string(e.path().join("address"))
                        .ok()
                        .or_else(|| {
                            let b = std::fs::read(e.path().join("bootstrap.json")).ok()?;
                            let v: serde_json::Value = serde_json::from_slice(&b).ok()?;
                            v["address"].as_str().map(str::to_owned)
                        })
                })
                .map(|a| PathBuf::from(a.trim().trim_start_matches("unix://")))
                .collect()
        })
        .unwrap_or_default()
}

/// The cgroup `name` in every hierarchy that has it.
fn cgroups(name: &str) -> Vec<PathBuf> {
    std::fs::read_dir("/sys/fs/cgroup")
        .map(|d| {
            d.flatten()
                .map(|e| e.path().join(name))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
#[ignore = "live: needs root, containerd (scripts/install-engines) and RMISPEC_LIVE=cri|all; CI runs it with --ignored"]
fn runtimes_build_remove_reset_and_leave_nothing_behind() {
    let profiles = wanted();
    if profiles.is_empty() {
        eprintln!("skipped: RMISPEC_LIVE names no CRI profile");
        return;
    }
    let s = scenario("untag/while-container-uses-other-tag");
    for profile in profiles {
        let mut b = CriBackend::connect(profile, &LiveOptions::default())
            .unwrap_or_else(|e| panic!("{profile}: {e:#}"));
        let engine = b.engine().expect("sandboxed");
        let dir = engine.dir().path().to_path_buf();
        let parent = engine.cgroup_parent().trim_start_matches('/').to_owned();
        assert!(
            b.listing().unwrap().images.is_empty(),
            "the sandbox image is not listed"
        );

        let seen = b.run(&s).unwrap_or_else(|e| panic!("{profile}: {e:#}"));
        assert_eq!(seen.after.containers.len(), 1);
        assert_eq!(
            seen.after.containers[0].1,
            ContainerState::Running,
            "RemoveImage never touches containers"
        );
        assert!(
            seen.after.images.is_empty(),
            "RemoveImage of one tag removes the whole image"
        );
        // The pod and its container run in the harness's cgroup, not /k8s.io.
        let pids = cgroups(&parent)
            .into_iter()
            .find(|p| p.ends_with(Path::new("pids").join(&parent)));
        let pids = pids.unwrap_or_else(|| panic!("no pids cgroup {parent}"));
        let children = std::fs::read_dir(&pids)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .count();
        assert_eq!(
            children,
            2,
            "the sandbox and the container under {}",
            pids.display()
        );
        let shims = shim_sockets(&dir);
        assert!(
            !shims.is_empty() && shims.iter().all(|s| s.exists()),
            "{shims:?}"
        );

        // A stopped container is CONTAINER_EXITED; the sandbox image is pinned on 1.7 only.
        let o = b.run(&scenario("containers/stopped-by-tag")).unwrap();
        assert_eq!(o.after.containers[0].1, ContainerState::Stopped);
        let cri = b.cri().unwrap();
        let raw = cri.containers(&std::collections::HashMap::new()).unwrap();
        assert_eq!(raw[0].state, ContainerStateCri::ContainerExited as i32);
        let pause = cri.list_images().unwrap();
        assert_eq!(pause.len(), 1, "only the sandbox image is left: {pause:?}");
        // 1.7 pins the sandbox image (a label); 2.1 too (`pinned_images.sandbox`); 1.6 does not.
        assert_eq!(pause[0].pinned, profile != Profile::Cri16, "{profile}");

        // Not found is success; an ambiguous prefix is Unknown; nothing has records.
        let Answer {
            records,
            errors,
            status,
        } = b
            .remove(&Request::name("localhost/rmispec/nothing:here"))
            .unwrap();
        assert_eq!(
            (records.len(), errors.len(), status),
            (0, 0, Status::Grpc(0))
        );
        for reset in [Reset::Api, Reset::FreshRoot, Reset::Api] {
            b.set_reset(reset).unwrap();
            b.touch();
            b.run(&scenario("prefix/ambiguous"))
                .map(|o| {
                    assert_eq!(
                        (o.status, o.errors[0].kind),
                        (Status::Grpc(2), ErrorKind::Ambiguous)
                    );
                })
                .unwrap_or_else(|e| panic!("{profile} after {reset:?}: {e:#}"));
        }
        // An API reset leaves what a fresh root has: the sandbox image's three blobs (config,
        // manifest, base layer) and its one snapshot; garbage collection took the rest.
        b.set_reset(Reset::Api).unwrap();
        b.reset().unwrap();
        let count = |rel: &str| {
            std::fs::read_dir(dir.join(rel))
                .map(|d| d.count())
                .unwrap_or(0)
        };
        assert_eq!(
            count("ctd-root/io.containerd.content.v1.content/blobs/sha256"),
            3,
            "{profile}: blobs"
        );
        assert_eq!(
            count("ctd-root/io.containerd.snapshotter.v1.overlayfs/snapshots"),
            1,
            "{profile}: snapshots"
        );
        drop(b);

        assert!(
            processes_mentioning(&dir).is_empty(),
            "processes left: {:?}",
            processes_mentioning(&dir)
        );
        assert!(
            mounts_below(&dir).is_empty(),
            "mounts left: {:?}",
            mounts_below(&dir)
        );
        assert!(!dir.exists(), "{} left", dir.display());
        let left: Vec<_> = shims.iter().filter(|s| s.exists()).collect();
        assert!(left.is_empty(), "shim sockets left: {left:?}");
        assert!(
            cgroups(&parent).is_empty(),
            "cgroups left: {:?}",
            cgroups(&parent)
        );
    }
}

#[test]
#[ignore = "live: needs root, containerd (scripts/install-engines) and RMISPEC_LIVE=cri|all; CI runs it with --ignored"]
fn a_runtime_behind_a_socket_is_built_through_its_own_apis() {
    let Some(&profile) = wanted().first() else {
        return;
    };
    // A sandboxed containerd stands in for someone else's runtime.
    let mut host = CriBackend::connect(profile, &LiveOptions::default()).unwrap();
    let socket = host.cri().unwrap().socket().to_path_buf();
    let opts = LiveOptions {
        socket: Some(socket),
        ..LiveOptions::default()
    };
    let mut guest = CriBackend::connect(profile, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(guest.engine().is_none());
    // Not the runtime's default /k8s.io: the host's own cgroup, removed with it.
    guest.set_cgroup_parent(host.engine().unwrap().cgroup_parent());
    assert_eq!(
        guest.sandbox_image(),
        host.sandbox_image(),
        "read from Status(verbose)"
    );

    // `<reg>` tags with their digest references, and a container: pulls suffice.
    let s = scenario("digest/digest-with-tag-same-repo");
    let o = guest.run(&s).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(o.after.images.is_empty());
    let pulled = scenario_from(
        "pulled-with-container",
        r#"given:
  images:
    A: {tags: ["<reg>/app:1", "<reg>/app@sha256:<A.manifest>"]}
  containers:
    c1: {image: A, state: running}
when:
  rmi: "<reg>/app:1"
"#,
    );
    let o = guest.run(&pulled).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(o.after.containers.len(), 1);
    // `localhost/…` cannot be pulled, but the socket also serves containerd's API: the names
    // are image records, as in the sandbox, and the store lists as the model says.
    let o = guest
        .run(&scenario("untag/one-of-two-tags"))
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(o.built.is_none(), "built as given: {:?}", o.built);
    // A runtime the harness empties is left empty; a non-empty one is refused.
    drop(guest);
    assert!(
        host.listing().unwrap().images.is_empty() && host.listing().unwrap().containers.is_empty()
    );
    host.run(&scenario("not-found/tag")).unwrap();
    let err = CriBackend::connect(profile, &opts).unwrap_err().to_string();
    assert!(err.contains("--i-know-this-deletes-images"), "{err}");
}

#[test]
#[ignore = "live: needs root, containerd (scripts/install-engines) and RMISPEC_LIVE=cri|all; CI runs it with --ignored"]
fn default_sockets_are_refused() {
    if wanted().is_empty() {
        return;
    }
    for socket in ["/run/containerd/containerd.sock", "/var/run/crio/crio.sock"] {
        let opts = LiveOptions {
            socket: Some(socket.into()),
            ..LiveOptions::default()
        };
        let err = CriBackend::connect(Profile::Cri17, &opts)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--i-know-this-deletes-images"),
            "{socket}: {err}"
        );
    }
}

/// The reset's cost both ways, from the store docs/engines.md#reset timed (5 images × 2 tags, 2
/// running and 2 stopped containers), n runs each; prints medians. Opt-in: it takes a while.
#[test]
#[ignore = "live: needs benchmark: RMISPEC_CRI_BENCH=1 RMISPEC_LIVE=cri, with --ignored"]
fn reset_costs() {
    if std::env::var_os("RMISPEC_CRI_BENCH").is_none() {
        return;
    }
    let n = 7;
    let s = scenario_from(
        "reset-bench",
        r#"given:
  images:
    A: {tags: [localhost/a:1, localhost/a:2], layers: [a]}
    B: {tags: [localhost/b:1, localhost/b:2], layers: [b]}
    C: {tags: [localhost/c:1, localhost/c:2], layers: [c]}
    D: {tags: [localhost/d:1, localhost/d:2], layers: [d]}
    E: {tags: [localhost/e:1, localhost/e:2], layers: [e]}
  containers:
    r1: {image: A, state: running}
    r2: {image: B, state: running}
    s1: {image: C, state: stopped}
    s2: {image: D, state: stopped}
when:
  rmi: localhost/e:1
"#,
    );
    for profile in wanted() {
        let mut b = CriBackend::connect(profile, &LiveOptions::default()).unwrap();
        for reset in [Reset::Api, Reset::FreshRoot] {
            b.set_reset(reset).unwrap();
            let mut took = Vec::new();
            for _ in 0..n {
                b.run(&s).unwrap_or_else(|e| panic!("{e:#}"));
                let t0 = Instant::now();
                b.reset().unwrap();
                took.push(t0.elapsed());
            }
            took.sort();
            let all: Vec<String> = took.iter().map(|d| format!("{:.0?}", d)).collect();
            eprintln!(
                "{profile}: reset {reset:?}: median {:.1?} (n={n}: {})",
                took[n / 2],
                all.join(" ")
            );
            assert!(took[n / 2] < Duration::from_secs(10));
        }
    }
}
