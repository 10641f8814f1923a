//! The process protocol (`docs/protocol.md`, `--command PROG`).
//!
//! - `plumbing_*`: the harness's half of the protocol against a tiny fake program written
//!   here (a shell script answering canned lines). They test the pipes, the handshake, the
//!   deadlines, the error messages and the stop order; no engine is involved and none is
//!   claimed to be checked.
//! - `podman_cli_adapter_*`: every scenario through the real adapter program in the
//!   repository, `adapters/podman-cli/rmispec-podman-cli`, driving the real `podman` CLI,
//!   judged against the model as `podman-libimage`. Ignored unless asked for (`--ignored`,
//!   as CI does); asked for on a machine without Podman, it fails and says so.
#![cfg(feature = "live")]

use rmispec::backend::{Backend, Unsupported};
use rmispec::compare::Verdict;
use rmispec::live::process::child::Grace;
use rmispec::live::process::{self, ProcessBackend, Settings};
use rmispec::live::{self, LiveOptions};
use rmispec::observation::Normalized;
use rmispec::runner;
use rmispec_model::{ErrorKind, Profile, Record, Request, Status};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The fake program: answers each op with a canned line, misbehaving as `$1` says.
const FAKE: &str = r#"#!/bin/sh
# A protocol plumbing fake: no engine behind it.
mode=$1
while IFS= read -r line; do
  case "$line" in
    *'"op":"hello"'*)
      case $mode in
        old-protocol) echo '{"protocol":0,"semantics":"docker-classic"}' ;;
        *) echo '{"protocol":1,"semantics":"docker-classic","engine":"fake 0.1"}' ;;
      esac ;;
    *'"op":"list"'*)
      case $mode in
        bad-json) echo 'this is not json' ;;
        *) echo '{"images":[],"containers":[]}' ;;
      esac ;;
    *'"op":"build"'*) echo '{"unsupported":"the fake builds nothing"}' ;;
    *'"op":"remove"'*)
      case $mode in
        hang) sleep 60 ;;
        crash) echo 'fake: giving up' >&2; exit 3 ;;
        *) echo '{"records":["Untagged: localhost/app:1"],"errors":[{"message":"No such image: nope:latest","status":"http 404"}],"status":"http 404"}' ;;
      esac ;;
    *'"op":"bye"'*)
      case $mode in
        stubborn) trap '' TERM; while :; do sleep 1; done ;;
        *) echo '{}'; exit 0 ;;
      esac ;;
    *) echo '{}' ;;
  esac
done
"#;

/// The fake's command line: the script given to `sh -c`, so no file is written (and none is
/// left behind); `$1` is the mode.
fn fake(mode: &str) -> Vec<String> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        FAKE.into(),
        "fake".into(),
        mode.into(),
    ]
}

fn settings(command: Vec<String>, timeout: Duration) -> Settings {
    Settings {
        command,
        timeout,
        grace: Grace {
            after_eof: Duration::from_millis(500),
            after_term: Duration::from_millis(500),
        },
    }
}

fn connect(mode: &str, timeout: Duration) -> anyhow::Result<ProcessBackend> {
    process::connect_with(
        Profile::DockerClassic,
        &LiveOptions::default(),
        settings(fake(mode), timeout),
    )
}

/// Whether a process with this PID (or any in its group) still runs.
/// Whether any process of group `pgid` is still alive after up to two seconds. A SIGKILL
/// to a group returns once the signal is queued; the members reaped by others (the fake's
/// `sleep`, reparented) may take a moment to die, and CI's loaded machines showed one alive
/// right after the kill. Two seconds is far past that moment and far short of the `sleep 60`.
fn group_alive(pgid: u32) -> bool {
    let t0 = Instant::now();
    while group_alive_now(pgid) {
        if t0.elapsed() > Duration::from_secs(2) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn group_alive_now(pgid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // Fields after the command's closing parenthesis: state, ppid, pgrp.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields.first() != Some(&"Z") && fields.get(2) == Some(&pgid.to_string().as_str())
    })
}

#[test]
fn plumbing_handshake_list_and_remove() {
    let mut b = connect("ok", Duration::from_secs(10)).unwrap();
    assert_eq!(b.label(), "process fake 0.1");
    assert!(b.listing().unwrap().images.is_empty());
    let answer = b.remove(&Request::name("nope")).unwrap();
    assert_eq!(
        answer.records,
        vec![Record::Untagged("localhost/app:1".into())]
    );
    assert_eq!(answer.status, Status::Http(404));
    assert_eq!(answer.errors.len(), 1);
    assert_eq!(
        answer.errors[0].kind,
        ErrorKind::NotFound,
        "read by docker-classic's classifier"
    );
    assert_eq!(answer.errors[0].message, "No such image: nope:latest");
    let pid = b.adapter().pid();
    drop(b);
    assert!(!group_alive(pid), "the program exits after `bye`");
}

#[test]
fn plumbing_unsupported_is_a_skip_with_the_programs_reason() {
    let mut b = connect("ok", Duration::from_secs(10)).unwrap();
    let scenarios = runner::load(&root().join("scenarios")).unwrap();
    let s = scenarios
        .iter()
        .find(|s| s.name == "untag/one-of-two-tags")
        .unwrap();
    let e = b.run(s).unwrap_err();
    assert_eq!(
        Unsupported::find(&e).map(|u| u.reason.as_str()),
        Some("the fake builds nothing"),
        "{e:#}"
    );
    let result = runner::live_result(s, Profile::DockerClassic, b.label(), Err(e), None);
    assert!(
        matches!(result.verdict, Verdict::Skip { .. }),
        "{:?}",
        result.verdict
    );
}

#[test]
fn plumbing_a_call_past_its_deadline_kills_the_program_and_says_which_call() {
    let mut b = connect("hang", Duration::from_millis(700)).unwrap();
    let pid = b.adapter().pid();
    let t0 = Instant::now();
    let e = b.remove(&Request::name("x")).unwrap_err().to_string();
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert!(
        e.contains("did not answer `remove` within 700ms and was killed"),
        "{e}"
    );
    assert!(!group_alive(pid), "the program and its `sleep` are gone");
    let again = b.listing().unwrap_err().to_string();
    assert!(again.contains("cannot send `list`"), "{again}");
}

#[test]
fn plumbing_a_program_that_dies_fails_the_call_with_its_exit_and_log() {
    let mut b = connect("crash", Duration::from_secs(10)).unwrap();
    let e = b.remove(&Request::name("x")).unwrap_err().to_string();
    assert!(
        e.contains("exited (exit code 3) before answering `remove`"),
        "{e}"
    );
    assert!(e.contains("fake: giving up"), "its stderr is quoted: {e}");
}

#[test]
fn plumbing_bad_json_names_the_call_and_the_line() {
    let e = format!(
        "{:#}",
        connect("bad-json", Duration::from_secs(10)).unwrap_err()
    );
    assert!(
        e.contains(
            "the answer to `list` (line 2 of the program's output, `this is not json`) is not JSON"
        ),
        "{e}"
    );
}

#[test]
fn plumbing_the_handshake_checks_version_and_semantics() {
    let e = format!(
        "{:#}",
        connect("old-protocol", Duration::from_secs(10)).unwrap_err()
    );
    assert!(
        e.contains("speaks protocol version 0; this harness speaks 1"),
        "{e}"
    );
    let e = format!(
        "{:#}",
        process::connect_with(
            Profile::Podman43,
            &LiveOptions::default(),
            settings(fake("ok"), Duration::from_secs(10)),
        )
        .unwrap_err()
    );
    assert!(
        e.contains("claims the semantics \"docker-classic\", but it is judged as podman-libimage"),
        "{e}"
    );
}

#[test]
fn plumbing_a_program_that_ignores_eof_and_sigterm_is_killed_on_drop() {
    let b = connect("stubborn", Duration::from_millis(500)).unwrap();
    let pid = b.adapter().pid();
    let t0 = Instant::now();
    drop(b);
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert!(!group_alive(pid), "SIGKILL after the grace periods");
}

#[test]
fn plumbing_connect_picks_the_process_adapter_for_a_command() {
    let opts = LiveOptions {
        command: Some(fake("ok")),
        ..LiveOptions::default()
    };
    let b = live::connect(Profile::DockerClassic, &opts).unwrap();
    assert_eq!(b.label(), "process fake 0.1");
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The adapter program in the repository.
fn podman_cli() -> PathBuf {
    root().join("adapters/podman-cli/rmispec-podman-cli")
}

/// What Podman writes on a host when nothing stops it (the shared caches, the default run
/// directories, transient `/var/tmp` directories), what the adapter makes in the temp dir,
/// and its cgroups: none of it may be left after the run.
fn host_paths() -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    for p in [
        "/var/lib/containers",
        "/var/cache/containers",
        "/run/containers",
        "/run/libpod",
        "/var/lib/cni",
        "/dev/shm/libpod_lock",
    ] {
        if Path::new(p).exists() {
            found.insert(PathBuf::from(p));
        }
    }
    let mut dirs = vec![
        std::env::temp_dir(),
        PathBuf::from("/tmp"),
        PathBuf::from("/var/tmp"),
    ];
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        dirs.extend(entries.flatten().map(|e| e.path()));
    }
    for d in dirs {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let oci = n
                .strip_prefix("oci")
                .is_some_and(|r| r.bytes().all(|b| b.is_ascii_digit()));
            if n.starts_with("rmispec-pc-")
                || n.starts_with("rmispec-podman-cli-")
                || n.starts_with("rmispec-process-")
                || oci
            {
                found.insert(e.path());
            }
        }
    }
    found
}

/// Where `podman rmi` (the CLI) differs from the batch endpoint the model describes, strict:
/// each must still differ, and exactly so.
///
/// `--force` drops "image not known" errors: Podman 4.3.1's CLI leaves them out of what it
/// prints and of the exit code (`containers/podman@v4.3.1:cmd/podman/images/rm.go#L88-L102`,
/// since commit 75419c5d88 "When removing objects specifying --force, podman should exit
/// with 0"), while `DELETE /libpod/images/remove?force=true` reports them with exit code 1
/// (`pkg/domain/infra/abi/images.go#L557-L600` passes Force and Ignore to libimage unchanged).
/// From 5.1 the CLI sets `--ignore` whenever `--force` is given (commit f2c365c6f6), which
/// moves the same behaviour into libimage.
const CLI_FORCE_IGNORES_MISSING: [&str; 4] = [
    "multi/force-hard-conflict-and-missing",
    "multi/force-untag-in-use-and-missing",
    "multi/one-missing-force",
    "not-found/tag-force",
];

/// Scenarios whose outcome depends on how the image was loaded, where the adapter loads
/// otherwise than the harness's libpod-API builder: it runs `podman pull docker-archive:`
/// (to put the name first), and a Docker archive source records the schema 2 manifest it
/// builds from `manifest.json` (`containers/podman@v4.3.1:vendor/github.com/containers/image/v5/docker/internal/tarfile/src.go`),
/// not the synthesized OCI manifest, so a digest reference to that manifest names nothing,
/// as on libpod 3.0 (`scenarios/digest/digest-of-loaded-image.yaml`). Strict: each must be
/// the plain miss, with the store unchanged.
const ADAPTER_LOADS_DOCKER_ARCHIVE: [&str; 1] = ["digest/digest-of-loaded-image"];

/// The model's outcome as the CLI shows it under `--force`: no not-found errors, and exit 0
/// when they were the only ones.
fn as_cli_with_force(mut model: Normalized) -> Normalized {
    model.errors.retain(|e| e.kind != "not-found");
    if model.errors.is_empty() {
        model.status = "exit 0".into();
    }
    model
}

#[test]
#[ignore = "live: drives the real podman CLI through adapters/podman-cli (CI runs it with --ignored)"]
fn podman_cli_adapter_judged_as_podman_libimage_on_every_scenario() {
    let podman = Path::new("/usr/bin/podman");
    assert!(
        podman.exists(),
        "podman is not installed at {} (scripts/install-engines installs it): this live test was asked for and \
         cannot run",
        podman.display()
    );
    let profile = Profile::Podman43;
    let scenarios = runner::load(&root().join("scenarios")).unwrap();
    let opts = LiveOptions {
        command: Some(vec![podman_cli().to_string_lossy().into_owned()]),
        ..LiveOptions::default()
    };
    let host_before = host_paths();
    let t0 = Instant::now();
    let mut backend = live::connect(profile, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    let (mut pass, mut cli, mut skips, mut failures) = (0, 0, Vec::new(), Vec::new());
    for s in &scenarios {
        let result = if runner::skip_reason(s, profile).is_some() {
            runner::live_result(
                s,
                profile,
                backend.label(),
                Err(anyhow::anyhow!("skipped")),
                None,
            )
        } else {
            let live = runner::observe(backend.as_mut(), s);
            runner::live_result(s, profile, backend.label(), live, None)
        };
        if ADAPTER_LOADS_DOCKER_ARCHIVE.contains(&s.name.as_str()) {
            let got = result.outcome.clone();
            let plain_miss = got.as_ref().is_some_and(|o| {
                o.records.is_empty()
                    && o.status == "exit 1"
                    && !o.errors.is_empty()
                    && o.errors.iter().all(|e| e.kind == "not-found")
                    && o.built.as_ref().is_none_or(|b| *b == o.after)
            });
            if plain_miss {
                cli += 1;
            } else {
                failures.push(format!(
                    "{}: listed as loaded from a Docker archive (a plain miss), but got {got:?}",
                    s.name
                ));
            }
            continue;
        }
        let listed = CLI_FORCE_IGNORES_MISSING.contains(&s.name.as_str());
        match (&result.verdict, listed) {
            (Verdict::Skip { reason }, _) => skips.push(format!("{}: {reason}", s.name)),
            (Verdict::Fail(_), true) => {
                let want = as_cli_with_force(runner::model_outcome(s, profile).unwrap());
                let got = result.outcome.clone().unwrap();
                if got == want {
                    cli += 1;
                } else {
                    failures.push(format!(
                        "{}: differs from the model otherwise than by the CLI's --force (wanted {want:?}, got {got:?})",
                        s.name
                    ));
                }
            }
            (Verdict::Pass | Verdict::KnownDivergence { .. }, true) => failures.push(format!(
                "{}: listed as a CLI divergence (--force ignores missing names), but it passes now",
                s.name
            )),
            (Verdict::Pass | Verdict::KnownDivergence { .. }, false) => pass += 1,
            (v, _) => failures.push(format!("{} [{}]:\n{}", s.name, v.id(), v.detail())),
        }
    }
    drop(backend);
    let elapsed = t0.elapsed();
    let left: Vec<PathBuf> = host_paths().difference(&host_before).cloned().collect();
    assert!(left.is_empty(), "the adapter left on the host: {left:?}");
    let judged = scenarios.len() - skips.len();
    eprintln!(
        "podman-cli as {profile}: {} scenarios, {judged} judged: {pass} pass, {cli} differ as the CLI does (--force \
         ignores missing names; a docker-archive load), {} skip, {} fail; {:.1?}",
        scenarios.len(),
        skips.len(),
        failures.len(),
        elapsed
    );
    for s in &skips {
        eprintln!("  skip {s}");
    }
    assert!(
        failures.is_empty(),
        "{} scenarios failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
