//! The `rmispec` binary as a user runs it: exit codes, formats, errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch folder holding a `scenarios` folder, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("rmispec-cli-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("scenarios/untag")).expect("scratch dir");
        Scratch(dir)
    }

    fn scenario(&self, name: &str, text: &str) -> &Scratch {
        let path = self.0.join("scenarios").join(format!("{name}.yaml"));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(path, text).expect("write scenario");
        self
    }

    fn scenarios(&self) -> PathBuf {
        self.0.join("scenarios")
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rmispec(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rmispec"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("rmispec runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The README's example, with an expectation no engine meets for docker-classic.
const WRONG: &str = r#"summary: Removing one of two tags of an image only untags it.
given:
  images:
    A:
      tags: [localhost/app:1, localhost/app:2]
when:
  rmi: localhost/app:1
expect:
  default:
    records: ["Untagged: localhost/nope:1"]
    status: http 200
    after:
      images:
        A: [localhost/app:2]
  cri-containerd:
    skip: not what this test is about
  podman-libimage:
    skip: not what this test is about
  libpod-legacy:
    skip: not what this test is about
"#;

#[test]
fn a_failing_expectation_exits_1_and_is_spelled_out() {
    let scratch = Scratch::new("fail");
    scratch.scenario("untag/wrong", WRONG);
    let out = rmispec(
        &["run", "--engine", "docker-classic@20.10,cri-containerd@1.7"],
        &scratch.0,
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let header: Vec<&str> = stdout
        .lines()
        .next()
        .expect("a header")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["scenario", "DC", "CRI"]);
    let row: Vec<&str> = stdout
        .lines()
        .nth(1)
        .expect("a row")
        .split_whitespace()
        .collect();
    assert_eq!(row[0], "untag/wrong");
    assert!(row[1].ends_with('✗'), "{stdout}");
    assert_eq!(row[2], "-", "skipped: {stdout}");
    assert!(
        stdout.contains("FAIL docker-classic@20.10/untag/wrong (model)"),
        "{stdout}"
    );
    assert!(stdout.contains("- Untagged: localhost/nope:1"), "{stdout}");
}

#[test]
fn json_has_one_result_per_scenario_and_engine() {
    let scratch = Scratch::new("json");
    scratch.scenario("untag/wrong", WRONG);
    let scenarios = scratch.scenarios();
    let out = rmispec(
        &[
            "run",
            "--format",
            "json",
            "--engine",
            "all",
            "--scenarios",
            scenarios.to_str().expect("utf-8"),
        ],
        Path::new("/"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let results = value["results"].as_array().expect("results");
    assert_eq!(results.len(), 12, "every profile");
    let dc = results
        .iter()
        .find(|r| r["engine"] == "docker-classic@20.10")
        .expect("docker-classic@20.10");
    assert_eq!(dc["scenario"], "untag/wrong");
    assert_eq!(dc["backend"], "model");
    assert_eq!(dc["verdict"], "fail");
    assert!(dc["outcome"]["records"].is_array(), "{dc}");
    let p5 = results
        .iter()
        .find(|r| r["engine"] == "podman-libimage@5.4")
        .expect("a versioned profile");
    assert_eq!(
        p5["verdict"], "skip",
        "the engine's skip covers its other versions"
    );
}

#[test]
fn junit_and_filter() {
    let scratch = Scratch::new("junit");
    scratch
        .scenario("untag/wrong", WRONG)
        .scenario("other/wrong-too", WRONG);
    let out = rmispec(
        &[
            "run",
            "--format",
            "junit",
            "--filter",
            "other/",
            "--engine",
            "docker-classic",
        ],
        &scratch.0,
    );
    let xml = text(&out.stdout);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert_eq!(
        xml.matches("<testcase ").count(),
        1,
        "the filter keeps one scenario: {xml}"
    );
    assert!(xml.contains("name=\"other/wrong-too (model)\""), "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
}

#[test]
fn a_bad_scenario_file_exits_2_with_its_location() {
    let scratch = Scratch::new("bad");
    scratch.scenario("untag/bad", &WRONG.replace("summary:", "sumary:"));
    let out = rmispec(&["run"], &scratch.0);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let located = stderr.lines().any(|l| {
        l.split("bad.yaml:").nth(1).is_some_and(|rest| {
            let mut parts = rest.splitn(3, ':');
            parts.next().is_some_and(|n| n.parse::<u32>().is_ok())
                && parts.next().is_some_and(|n| n.parse::<u32>().is_ok())
        })
    });
    assert!(located, "path:line:column in {stderr}");
    assert!(stderr.contains("sumary"), "{stderr}");
}

#[test]
fn explain_shows_the_scenario_and_suggests_names() {
    let scratch = Scratch::new("explain");
    scratch.scenario("untag/wrong", WRONG);
    let out = rmispec(
        &[
            "explain",
            "untag/wrong",
            "--engine",
            "docker-classic@20.10,cri-containerd@1.7",
        ],
        &scratch.0,
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("untag/wrong\n  Removing one of two tags"),
        "{stdout}"
    );
    assert!(
        stdout.contains("when:\n  rmi: localhost/app:1\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("== docker-classic 20.10.24 (model)\n  fail"),
        "{stdout}"
    );
    assert!(
        stdout.contains("== cri-containerd 1.7.24 (model)\n  skip"),
        "{stdout}"
    );
    assert_eq!(out.status.code(), Some(1));

    let out = rmispec(&["explain", "wrong"], &scratch.0);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("did you mean: untag/wrong"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn docs_writes_and_checks_the_semantics_matrix() {
    let scratch = Scratch::new("docs");
    scratch.scenario("untag/wrong", WRONG);
    let out = rmispec(&["docs", "--check"], &scratch.0);
    assert_eq!(
        out.status.code(),
        Some(1),
        "no docs yet: {}",
        text(&out.stderr)
    );
    rmispec(&["docs"], &scratch.0);
    let md = std::fs::read_to_string(scratch.path("docs/semantics.md"))
        .expect("docs written beside scenarios");
    assert!(md.contains("## untag"), "{md}");
    assert!(
        md.contains("| | scenario | DC | DC28 | DK | DK28 | CRI | CRI1.6 | CRI2.1 | P4 | P5 | P5.8 | P3 | P1 |"),
        "{md}"
    );
    let out = rmispec(&["docs", "--check"], &scratch.0);
    assert_eq!(
        out.status.code(),
        Some(0),
        "up to date: {}",
        text(&out.stderr)
    );
}

#[test]
fn live_options_need_live_and_unknown_engines_are_refused() {
    let out = rmispec(&["run", "--socket", "/nonexistent.sock"], Path::new("/"));
    assert_eq!(out.status.code(), Some(2));
    let out = rmispec(
        &["run", "--live", "--socket", "/nonexistent.sock"],
        Path::new("/"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("one --engine"),
        "a socket serves one engine: {}",
        text(&out.stderr)
    );
    let out = rmispec(&["run", "--engine", "docker"], Path::new("/"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cri-containerd@1.6"),
        "lists the ids: {}",
        text(&out.stderr)
    );
}
