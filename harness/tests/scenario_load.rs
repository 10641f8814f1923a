//! The scenario loader: good files load as written, bad files fail where they are bad.

use rmispec::scenario::{
    self, ContainerHandle, Domain, ImageHandle, LayerName, StoredName, Target,
};
use rmispec_model::{ContainerState, ErrorKind, Profile, Status};
use std::path::{Path, PathBuf};

fn fixtures(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind)
}

#[test]
fn readme_example_loads() {
    // The example in scenarios/README.md is the format's first reader; it must stay valid.
    let readme = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/README.md"),
    )
    .unwrap();
    let yaml = readme
        .split("```yaml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a yaml block");
    let dir = tempdir("readme");
    let path = dir.join("scenarios/untag/one-of-two-tags.yaml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, yaml).unwrap();
    let s = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.name, "untag/one-of-two-tags");
    let cri = s.expect.for_profile(Profile::Cri16);
    assert_eq!(cri.records, Some(vec![]));
    assert_eq!(cri.status, Some(Status::Grpc(0)));
    let docker = s.expect.for_profile(Profile::DockerClassic);
    assert_eq!(
        docker.records,
        Some(vec!["Untagged: localhost/app:1".to_owned()])
    );
    assert_eq!(docker.status, Some(Status::Http(200)));
}

#[test]
fn good_fixture_loads_as_written() {
    let all = scenario::load_dir(fixtures("good")).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<_> = all.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["everything", "nested/minimal"]);
    let s = &all[0];
    let a = ImageHandle::new("A").unwrap();
    let b = ImageHandle::new("B").unwrap();
    assert_eq!(
        s.given.images.keys().collect::<Vec<_>>(),
        [&a, &b, &ImageHandle::new("C").unwrap()]
    );
    let image_b = &s.given.images[&b];
    assert_eq!(image_b.parent, Some(a.clone()));
    assert_eq!(image_b.layers, [LayerName::new("y").unwrap()]);
    assert_eq!(image_b.id.as_deref(), Some("7f"));
    assert_eq!(
        image_b.tags,
        [
            StoredName::Tagged {
                domain: Domain::Registry,
                path: "app".into(),
                tag: "2".into()
            },
            StoredName::Digested {
                path: "app".into(),
                of: b.clone()
            },
        ]
    );
    let c1 = &s.given.containers[&ContainerHandle::new("c1").unwrap()];
    assert_eq!(
        (c1.image.clone(), c1.state),
        (b.clone(), ContainerState::Running)
    );
    assert_eq!(s.when.rmi, ["<B:12>", "localhost/app:1"]);
    assert!(s.when.force && !s.when.noprune && !s.when.ignore && !s.when.all);

    // default < engine < profile, field by field
    let default = s.expect.for_profile(Profile::DockerClassic);
    assert_eq!(default.status, Some(Status::Http(409)));
    let errors = default.errors.unwrap();
    assert_eq!(errors.len(), 1);
    assert!(matches!(
        errors[0].kind,
        ErrorKind::Conflict {
            reason: rmispec_model::ConflictReason::RunningContainer,
            forceable: false
        }
    ));
    let pod = s.expect.for_profile(Profile::Podman43);
    assert_eq!(pod.status, Some(Status::Exit(2)));
    assert_eq!(pod.records, default.records, "records come from default");
    let pod54 = s.expect.for_profile(Profile::Podman54);
    assert_eq!(
        pod54.status,
        Some(Status::Exit(2)),
        "status from the engine entry"
    );
    assert_eq!(
        pod54.records,
        Some(vec![]),
        "records from the profile entry"
    );
    assert!(s.expect.for_profile(Profile::Libpod19).skip.is_some());
    assert!(s.expect.for_profile(Profile::Libpod301).skip.is_none());
    let after = s
        .expect
        .for_profile(Profile::DockerContainerd)
        .after
        .unwrap();
    assert_eq!(
        after.images.keys().collect::<Vec<_>>(),
        ["A", "B", "C", "<?1>"]
    );
    assert_eq!(after.containers.len(), 1);

    assert!(s.divergence_for(Profile::Cri16).is_some());
    assert!(
        s.divergence_for(Profile::Cri17).is_some(),
        "an engine entry covers its profiles"
    );
    assert!(s.divergence_for(Profile::DockerClassic).is_none());
    assert!(s
        .divergence
        .contains_key(&Target::Engine(rmispec_model::Engine::CriContainerd)));
}

#[test]
fn bad_fixtures_fail_where_they_are_bad() {
    // Each bad fixture says what the loader must say, in `# error:` lines at its top:
    // `<line>:<column>: <message start>` (or `<line>: …` when no column is promised).
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for entry in std::fs::read_dir(fixtures("bad")).unwrap() {
        let path = entry.unwrap().path();
        // lossy: one fixture is invalid UTF-8 on purpose (its `# error:` line is ASCII)
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let wanted: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# error: "))
            .collect();
        assert!(!wanted.is_empty(), "{} says no `# error:`", path.display());
        let err = scenario::load(&path)
            .err()
            .unwrap_or_else(|| panic!("{} loaded", path.display()));
        let shown = err.to_string();
        let prefix = format!("{}:", path.display());
        let lines: Vec<&str> = shown
            .lines()
            .map(|l| l.strip_prefix(&prefix).expect("each line names the file"))
            .collect();
        let ok = lines.len() == wanted.len()
            && lines
                .iter()
                .zip(&wanted)
                .all(|(got, want)| got.starts_with(want));
        if !ok {
            mismatches.push(format!(
                "{}:\n  want {}\n  got  {}",
                path.display(),
                wanted.join("\n       "),
                lines.join("\n       ")
            ));
        }
        checked += 1;
    }
    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
    assert!(checked >= 10, "only {checked} bad fixtures");
}

#[test]
fn load_dir_reports_every_bad_file() {
    let err = scenario::load_dir(fixtures("bad")).unwrap_err();
    let count = std::fs::read_dir(fixtures("bad")).unwrap().count();
    assert_eq!(err.0.len(), count);
}

#[test]
fn project_scenarios_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let all = scenario::load_dir(&root).unwrap_or_else(|e| panic!("\n{e}"));
    let mut names: Vec<_> = all.iter().map(|s| s.name.clone()).collect();
    let sorted = {
        let mut n = names.clone();
        n.sort();
        n
    };
    assert_eq!(names, sorted);
    names.dedup();
    assert_eq!(names.len(), all.len());
}

/// The README's example scenario, a small valid file to break in one place.
fn example() -> String {
    let readme = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/README.md"),
    )
    .unwrap();
    readme
        .split("```yaml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a yaml block")
        .to_owned()
}

#[test]
fn an_empty_folder_is_an_error() {
    let dir = tempdir("empty");
    std::fs::create_dir_all(dir.join("scenarios/sub")).unwrap();
    std::fs::write(dir.join("scenarios/sub/notes.txt"), "not a scenario").unwrap();
    let err = scenario::load_dir(dir.join("scenarios")).unwrap_err();
    assert_eq!(err.0.len(), 1, "{err}");
    assert!(
        err.to_string().contains("no scenario in this folder"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_is_an_error_and_no_folder_is_read_twice() {
    let dir = tempdir("loop");
    let root = dir.join("scenarios");
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::write(root.join("a/one.yaml"), example()).unwrap();
    std::os::unix::fs::symlink(".", root.join("self")).unwrap();
    std::os::unix::fs::symlink("a", root.join("b")).unwrap();
    let err = scenario::load_dir(&root).unwrap_err();
    let shown = err.to_string();
    // `b` is `a` again, `self` is the root again: two errors, and `one` was read once
    assert_eq!(err.0.len(), 2, "{shown}");
    assert!(
        shown.contains("self: this folder is") && shown.contains("b: this folder is"),
        "{shown}"
    );
    assert!(shown.contains("a symlink loop or a second link"), "{shown}");
}

#[test]
fn a_file_past_the_size_limit_fails_at_the_first_byte_past_it() {
    let mut text = example();
    text.push_str("notes: |\n");
    let line = format!("  {}\n", "x".repeat(97));
    while text.len() <= scenario::MAX_FILE_BYTES {
        text.push_str(&line);
    }
    let dir = tempdir("big");
    let path = dir.join("big.yaml");
    std::fs::write(&path, &text).unwrap();
    let err = scenario::load(&path).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    let p = &err.problems[0];
    assert!(
        p.message.starts_with("the file is larger than 4 MiB"),
        "{err}"
    );
    let before = &text[..scenario::MAX_FILE_BYTES];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    assert_eq!((p.line, p.column), (Some(line), Some(column)));
}

#[test]
fn a_fifo_is_refused_not_waited_for() {
    let dir = tempdir("fifo");
    let path = dir.join("pipe.yaml");
    let made = std::process::Command::new("mkfifo").arg(&path).status();
    if !made.is_ok_and(|s| s.success()) {
        return; // no mkfifo here: nothing to check
    }
    let err = scenario::load(&path).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn hundred_thousand_nested_maps_fail_fast_with_a_position() {
    // serde_norway took over a minute on this (its parser is quadratic in flow nesting).
    let n = 100_000;
    let text = example().replace(
        "summary:",
        &format!("notes: {}{}\nsummary:", "{a: ".repeat(n), "}".repeat(n)),
    );
    let started = std::time::Instant::now();
    let err = scenario::load_bytes("deep.yaml", text).unwrap_err();
    let took = started.elapsed();
    let p = &err.problems[0];
    assert_eq!((p.line, p.column), (Some(2), Some(8)), "{err}");
    assert!(p.message.contains("expected string"), "{err}");
    // generous (it takes milliseconds): only the old quadratic behaviour can fail it
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
}

#[test]
fn a_megabyte_of_unknown_symbols_is_one_folded_line() {
    let n = 349_525;
    let text = example().replace(
        "rmi: localhost/app:1",
        &format!("rmi: \"{}\"", "<Z>".repeat(n)),
    );
    assert!(text.len() > 1_000_000);
    let err = scenario::load_bytes("many.yaml", text).unwrap_err();
    let shown = err.to_string();
    assert_eq!(shown.lines().count(), 1, "{shown}");
    assert_eq!(
        shown,
        format!("many.yaml:8:9: `<Z>` names no image, container, pod or layer of `given` ({n} times; the first is shown)")
    );
}

#[test]
fn distinct_problems_are_capped() {
    let names: Vec<String> = (0..1000).map(|i| format!("\"<Z{i}>\"")).collect();
    let text = example().replace(
        "rmi: localhost/app:1",
        &format!("rmi: [{}]", names.join(", ")),
    );
    let err = scenario::load_bytes("distinct.yaml", text).unwrap_err();
    assert_eq!(err.problems.len(), scenario::MAX_PROBLEMS + 1, "{err}");
    let last = err.problems.last().unwrap();
    assert!(last.message.starts_with("and 950 more problems"), "{err}");
    assert!(err
        .problems
        .iter()
        .all(|p| p.line.is_some() && p.column.is_some()));
}

/// Loading is linear in the file's size: each shape of input is loaded at 1×, 2×, 4× and 8×
/// its size, and the time per byte at 8× must stay within 3× of the time per byte at 1×
/// (linear: about 1×; quadratic: 8×, and seconds rather than milliseconds). Best of five runs
/// each, to ride out a busy machine; a load under 50 ms never fails the test (noise, not
/// growth). The figures are printed (`--nocapture`).
#[test]
fn loading_is_linear_in_file_size() {
    let base = example();
    type Shape = fn(&str, usize) -> String;
    let shapes: [(&str, Shape); 6] = [
        ("symbols in one rmi string", |b, n| {
            b.replace(
                "rmi: localhost/app:1",
                &format!("rmi: \"{}\"", "<Z>".repeat(n)),
            )
        }),
        ("a flow list of names", |b, n| {
            let names = vec!["localhost/app:1"; n].join(", ");
            b.replace("rmi: localhost/app:1", &format!("rmi: [{names}]"))
        }),
        ("many images", |b, n| {
            let images: String = (0..n / 8)
                .map(|i| format!("    I{i}:\n      tags: [localhost/i:{i}]\n"))
                .collect();
            b.replace(
                "  images:\n    A:\n",
                &format!("  images:\n{images}    A:\n"),
            )
        }),
        ("many `<` without `>`", |b, n| {
            b.replace(
                "summary: Removing",
                &format!("summary: {}> Removing", "<".repeat(n)),
            )
        }),
        ("a long block of notes", |b, n| {
            let notes: String = (0..n).map(|i| format!("  line {i} <A:12>\n")).collect();
            format!("notes: |\n{notes}{b}")
        }),
        ("nested flow maps", |b, n| {
            b.replace(
                "summary:",
                &format!("notes: {}{}\nsummary:", "{a: ".repeat(n), "}".repeat(n)),
            )
        }),
    ];
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for (what, make) in shapes {
        let mut per_byte = Vec::new();
        let mut slowest = std::time::Duration::ZERO;
        for k in [1, 2, 4, 8] {
            let text = make(&base, 2_500 * k);
            let best = (0..5)
                .map(|_| {
                    let t = std::time::Instant::now();
                    let _ = scenario::load_bytes("linear.yaml", text.as_bytes());
                    t.elapsed()
                })
                .min()
                .unwrap();
            per_byte.push((text.len(), best.as_nanos() as f64 / text.len() as f64));
            slowest = best;
        }
        let growth = per_byte[3].1 / per_byte[0].1;
        report.push(format!(
            "{what}: {}; ns/byte at 8x / 1x = {growth:.2}",
            per_byte
                .iter()
                .map(|(len, ns)| format!("{len} B {ns:.0} ns/B"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if growth > 3.0 && slowest > std::time::Duration::from_millis(50) {
            failures.push(what);
        }
    }
    println!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "not linear: {failures:?}\n{}",
        report.join("\n")
    );
}

/// A fresh folder under the temp dir for one test, removed when the test ends (pass or
/// panic), so a run leaves nothing behind.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir(tag: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("rmispec-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}
