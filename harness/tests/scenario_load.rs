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

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rmispec-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
