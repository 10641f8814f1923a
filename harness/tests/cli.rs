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
    assert!(
        xml.contains(r#"<testcase name="other/wrong-too" classname="docker-classic@28.5""#),
        "{xml}"
    );
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert!(
        xml.contains("- Untagged: localhost/nope:1"),
        "the diff is the message: {xml}"
    );
    assert_valid_junit(&xml);
}

/// The repository's own scenarios folder.
fn repo_scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn repo_args<'a>(args: &[&'a str], scenarios: &'a Path) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend(["--scenarios", scenarios.to_str().expect("utf-8")]);
    v
}

/// Validates a JUnit document against the schema in tests/fixtures with `xmllint --schema`
/// (Debian's libxml2-utils; CI installs it). Without xmllint the check is skipped with a
/// note, except in CI, where it must run.
fn assert_valid_junit(xml: &str) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit.xsd");
    let file = std::env::temp_dir().join(format!(
        "rmispec-junit-{}-{}.xml",
        std::process::id(),
        xml.len()
    ));
    std::fs::write(&file, xml).expect("write the report");
    let run = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(&file)
        .output();
    let _ = std::fs::remove_file(&file);
    match run {
        Ok(out) => assert!(
            out.status.success(),
            "the JUnit report does not validate against {}:\n{}",
            schema.display(),
            text(&out.stderr)
        ),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "note: JUnit schema check skipped: xmllint: {e} (apt-get install libxml2-utils)"
            )
        }
        Err(e) => panic!("xmllint is needed in CI (apt-get install libxml2-utils): {e}"),
    }
}

#[test]
fn junit_of_every_scenario_validates_with_one_suite_per_profile_and_skips() {
    let scenarios = repo_scenarios();
    let out = rmispec(
        &repo_args(&["run", "--format", "junit", "--engine", "all"], &scenarios),
        Path::new("/"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let xml = text(&out.stdout);
    assert_valid_junit(&xml);
    assert_eq!(
        xml.matches("<testsuite ").count(),
        rmispec_model::Profile::ALL.len(),
        "one suite per profile"
    );
    assert!(
        xml.contains(r#"<testsuite name="podman-libimage@5.4""#),
        "{xml}"
    );
    assert!(
        xml.matches("<skipped message=").count() >= 1,
        "skips are <skipped>"
    );
    let skipped: usize = xml
        .split("<testsuites ")
        .nth(1)
        .and_then(|t| t.split("skipped=\"").nth(1))
        .and_then(|t| t.split('"').next())
        .and_then(|n| n.parse().ok())
        .expect("a skipped count");
    assert_eq!(skipped, xml.matches("<skipped ").count());
    assert!(
        !xml.contains("(model)\""),
        "no backend or version in test names"
    );
}

#[test]
fn the_matrix_fits_the_terminal_width() {
    let scenarios = repo_scenarios();
    for (engines, columns) in [("", 80usize), ("all", 80), ("all", 120)] {
        {
            let mut args = vec!["run"];
            if !engines.is_empty() {
                args.extend(["--engine", engines]);
            }
            let out = Command::new(env!("CARGO_BIN_EXE_rmispec"))
                .args(repo_args(&args, &scenarios))
                .env("COLUMNS", columns.to_string())
                .output()
                .expect("rmispec runs");
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
            let stdout = text(&out.stdout);
            for line in stdout.lines() {
                assert!(
                    line.chars().count() <= columns,
                    "{} > {columns} columns (--engine {engines:?}): {line}",
                    line.chars().count()
                );
            }
            assert!(stdout.contains("cells: U<n>"), "the legend: {stdout}");
            assert!(!stdout.contains(" g2"), "gRPC codes by name: {stdout}");
        }
    }
}

#[test]
fn filters_are_repeatable_globs_with_skip_and_must_match() {
    let scenarios = repo_scenarios();
    let list = |args: &[&str]| {
        let mut all = vec!["run", "--list"];
        all.extend_from_slice(args);
        let out = rmispec(&repo_args(&all, &scenarios), Path::new("/"));
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (code, names, _) = list(&["--filter", "untag/*", "--filter", "digest/digest-only"]);
    assert_eq!(code, Some(0));
    let names: Vec<&str> = names.lines().collect();
    assert!(names.contains(&"digest/digest-only"), "{names:?}");
    assert!(names
        .iter()
        .all(|n| n.starts_with("untag/") || *n == "digest/digest-only"));
    assert!(names.len() > 2, "{names:?}");
    let (_, kept, _) = list(&["--filter", "untag/*", "--skip", "*last*"]);
    assert!(!kept.contains("untag/last-tag"), "{kept}");
    assert!(kept.contains("untag/one-of-two-tags"), "{kept}");
    let (code, _, stderr) = list(&["--filter", "untag/*", "--filter", "nothing-like-it"]);
    assert_eq!(code, Some(2), "a filter that matches nothing: {stderr}");
    assert!(stderr.contains("nothing-like-it"), "{stderr}");
    let (code, _, stderr) = list(&["--filter", "[bad"]);
    assert_eq!(code, Some(2), "{stderr}");
}

#[test]
fn partitions_split_the_run_and_their_reports_merge() {
    let scenarios = repo_scenarios();
    let scratch = Scratch::new("partition");
    let mut seen: Vec<String> = Vec::new();
    let mut reports = Vec::new();
    for kind in ["count", "hash"] {
        seen.clear();
        reports.clear();
        for k in 1..=3 {
            let share = format!("{kind}:{k}/3");
            let out = rmispec(
                &repo_args(&["run", "--list", "--partition", &share], &scenarios),
                Path::new("/"),
            );
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
            seen.extend(text(&out.stdout).lines().map(str::to_owned));
            let out = rmispec(
                &repo_args(
                    &[
                        "run",
                        "--format",
                        "json",
                        "--engine",
                        "docker-classic,cri-containerd",
                        "--partition",
                        &share,
                    ],
                    &scenarios,
                ),
                Path::new("/"),
            );
            let path = scratch.path(&format!("{kind}-{k}.json"));
            std::fs::write(&path, &out.stdout).expect("write a report");
            reports.push(path);
        }
        let all = rmispec(&repo_args(&["run", "--list"], &scenarios), Path::new("/"));
        let mut all: Vec<String> = text(&all.stdout).lines().map(str::to_owned).collect();
        all.sort();
        seen.sort();
        assert_eq!(seen, all, "{kind}: the shares cover every scenario once");
    }
    let mut args = vec!["merge", "--format", "json"];
    let paths: Vec<String> = reports.iter().map(|p| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    let out = rmispec(&args, Path::new("/"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let merged: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let whole = rmispec(
        &repo_args(
            &[
                "run",
                "--format",
                "json",
                "--engine",
                "docker-classic,cri-containerd",
            ],
            &scenarios,
        ),
        Path::new("/"),
    );
    let whole: serde_json::Value = serde_json::from_slice(&whole.stdout).expect("JSON");
    assert_eq!(merged["counts"], whole["counts"], "merged counts");
    args[2] = "junit";
    let out = rmispec(&args, Path::new("/"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_valid_junit(&text(&out.stdout));
    // The same share twice is an overlap, not a bigger run.
    let out = rmispec(&["merge", &paths[0], &paths[0]], Path::new("/"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn the_engine_help_says_what_the_default_and_all_are() {
    let out = rmispec(&["run", "--help"], Path::new("/"));
    let help = text(&out.stdout);
    assert!(help.contains("default profile"), "{help}");
    assert!(
        help.contains("every profile that has a live engine"),
        "{help}"
    );
    assert!(help.contains("--partition"), "{help}");
    assert!(help.contains("--skip"), "{help}");
}

/// Without live adapters compiled in, every live engine fails to start: each fails its own
/// results with the reason, and the run goes on to the next and reports them all. (With
/// live features this would start every engine, so it is left to CI's live run there.)
#[test]
#[cfg_attr(
    any(feature = "live-docker", feature = "live-cri", feature = "live-podman"),
    ignore = "would start every live engine"
)]
fn engine_all_live_marks_engines_that_cannot_start_and_goes_on() {
    let scratch = Scratch::new("live-all");
    scratch.scenario("untag/wrong", WRONG);
    let out = rmispec(
        &[
            "run",
            "--live",
            "--engine",
            "all",
            "--format",
            "json",
            "--state-dir",
            scratch.path("state").to_str().expect("utf-8"),
        ],
        &scratch.0,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let results = value["results"].as_array().expect("results");
    let engines: Vec<&str> = results
        .iter()
        .filter_map(|r| r["engine"].as_str())
        .collect();
    assert!(
        !engines.contains(&"libpod-legacy@1.9"),
        "model-only: {engines:?}"
    );
    assert_eq!(
        engines.len(),
        rmispec_model::Profile::live().count(),
        "every live profile has its cell: {engines:?}"
    );
    let dc = &results[0];
    assert_eq!(dc["verdict"], "error");
    assert!(
        dc["detail"]
            .as_str()
            .is_some_and(|d| d.contains("live-docker")),
        "the reason: {dc}"
    );
    assert!(
        results.iter().any(|r| r["verdict"] == "skip"),
        "skips stay skips"
    );
    assert!(
        !text(&out.stderr).contains('\r'),
        "no progress bar off a terminal: {}",
        text(&out.stderr)
    );
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

/// The README's example is the real file, and the README names every `RMISPEC_*` variable
/// the harness reads.
#[test]
fn the_readme_shows_the_real_example_and_every_variable() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let file = std::fs::read_to_string(root.join("scenarios/untag/one-of-two-tags.yaml"))
        .expect("the example scenario");
    assert!(
        readme.contains(&format!("```yaml\n{file}```")),
        "the README's example differs from scenarios/untag/one-of-two-tags.yaml"
    );
    let mut names = std::collections::BTreeSet::new();
    let mut dirs = vec![root.join("harness/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file");
                for (i, _) in text.match_indices("RMISPEC_") {
                    let name: String = text[i..]
                        .chars()
                        .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                        .collect();
                    if name.len() > "RMISPEC_".len() && !name.ends_with('_') {
                        names.insert(name);
                    }
                }
            }
        }
    }
    // Benchmarks of the live CRI tests only: not for users.
    names.remove("RMISPEC_CRI_BENCH");
    let missing: Vec<_> = names
        .iter()
        .filter(|n| !readme.contains(n.as_str()))
        .collect();
    assert!(missing.is_empty(), "README.md does not mention {missing:?}");
}
