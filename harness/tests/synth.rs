//! The image synthesizer: bytes, digests, archive, and the process it ships.

use rmispec::scenario::{
    ContainerHandle, ContainerSpec, Given, ImageHandle, ImageSpec, LayerName, StoredName,
};
use rmispec::synth::{self, SynthImage};
use rmispec_model::{ContainerState, Digest, Profile, Reference};
use sha2::{Digest as _, Sha256};
use std::io::Read;

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn h(s: &str) -> ImageHandle {
    ImageHandle::new(s).unwrap()
}

fn given(images: &[(&str, ImageSpec)]) -> Given {
    Given {
        images: images.iter().map(|(n, s)| (h(n), s.clone())).collect(),
        containers: Default::default(),
        manifests: Default::default(),
        pods: Default::default(),
    }
}

fn tags(names: &[&str]) -> Vec<StoredName> {
    names.iter().map(|n| n.parse().unwrap()).collect()
}

/// (path, mode, uid, gid, mtime, content) of every entry.
fn entries(tar_bytes: &[u8]) -> Vec<(String, u32, u64, u64, u64, Vec<u8>)> {
    let mut archive = tar::Archive::new(tar_bytes);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let hd = e.header().clone();
            assert!(hd.as_ustar().is_some(), "USTAR headers");
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            let path = String::from_utf8(e.path_bytes().to_vec()).unwrap();
            (
                path,
                hd.mode().unwrap(),
                hd.uid().unwrap(),
                hd.gid().unwrap(),
                hd.mtime().unwrap(),
                data,
            )
        })
        .collect()
}

#[test]
fn base_layer_holds_pause_with_fixed_metadata() {
    let s = synth::synthesize(&given(&[("A", ImageSpec::default())]));
    let a = &s.images[0];
    assert_eq!(a.layers.len(), 1);
    let got = entries(&a.layers[0].blob.bytes);
    assert_eq!(
        got,
        vec![
            ("bin/".to_owned(), 0o755, 0, 0, 0, vec![]),
            (
                "bin/pause".to_owned(),
                0o755,
                0,
                0,
                0,
                synth::PAUSE_ELF.to_vec()
            ),
        ]
    );
    // uncompressed: the blob digest is the diff ID
    assert_eq!(a.layers[0].blob.digest.hex(), sha(&a.layers[0].blob.bytes));
}

#[test]
fn a_tiny_image_has_the_digests_of_its_documented_bytes() {
    let s = synth::synthesize(&given(&[(
        "A",
        ImageSpec {
            tags: tags(&["localhost/app:1"]),
            ..Default::default()
        },
    )]));
    let a = &s.images[0];
    let layer = &a.layers[0].blob.bytes;
    let diff = sha(layer);
    // The config as the format documents it, written out by hand.
    let config = format!(
        "{{\"architecture\":\"amd64\",\"config\":{{\"Cmd\":[\"/bin/pause\"],\"Env\":[\"PATH=/bin\"],\
         \"Labels\":{{\"rmispec.image\":\"A\"}},\"StopSignal\":\"SIGKILL\"}},\"created\":\"2000-01-01T00:00:00Z\",\
         \"history\":[{{\"created\":\"2000-01-01T00:00:00Z\",\"created_by\":\"rmispec layer base\"}}],\
         \"os\":\"linux\",\"rootfs\":{{\"diff_ids\":[\"sha256:{diff}\"],\"type\":\"layers\"}}}}"
    );
    assert_eq!(String::from_utf8(a.config.bytes.clone()).unwrap(), config);
    assert_eq!(a.config.digest.hex(), sha(config.as_bytes()));
    let manifest = format!(
        "{{\"config\":{{\"digest\":\"sha256:{}\",\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":{}}},\
         \"layers\":[{{\"digest\":\"sha256:{diff}\",\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"size\":{}}}],\
         \"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"schemaVersion\":2}}",
        sha(config.as_bytes()),
        config.len(),
        layer.len()
    );
    assert_eq!(
        String::from_utf8(a.manifest.bytes.clone()).unwrap(),
        manifest
    );
    assert_eq!(a.manifest.digest.hex(), sha(manifest.as_bytes()));
}

#[test]
fn same_scenario_same_digests() {
    let g = given(&[
        (
            "A",
            ImageSpec {
                tags: tags(&["localhost/a:1"]),
                layers: vec![LayerName::new("x").unwrap()],
                ..Default::default()
            },
        ),
        (
            "B",
            ImageSpec {
                parent: Some(h("A")),
                ..Default::default()
            },
        ),
    ]);
    let one = synth::synthesize(&g);
    let two = synth::synthesize(&g);
    assert_eq!(one, two);
    assert_ne!(
        one.images[0].config.digest, one.images[1].config.digest,
        "the handle label tells images apart"
    );
}

#[test]
fn chain_ids_follow_image_spec() {
    let x = LayerName::new("x").unwrap();
    let y = LayerName::new("y").unwrap();
    let s = synth::synthesize(&given(&[(
        "A",
        ImageSpec {
            layers: vec![x, y],
            ..Default::default()
        },
    )]));
    let a = &s.images[0];
    let diffs: Vec<String> = a
        .layers
        .iter()
        .map(|l| format!("sha256:{}", sha(&l.blob.bytes)))
        .collect();
    let c1 = diffs[0].clone();
    let c2 = format!("sha256:{}", sha(format!("{c1} {}", diffs[1]).as_bytes()));
    let c3 = format!("sha256:{}", sha(format!("{c2} {}", diffs[2]).as_bytes()));
    let got: Vec<String> = a.chain_ids().iter().map(Digest::prefixed).collect();
    assert_eq!(got, [c1, c2, c3]);
    // an extra layer holds /rmispec/<name>
    let files = entries(&a.layers[2].blob.bytes);
    assert_eq!(
        files.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
        ["rmispec/", "rmispec/y"]
    );
    assert_eq!(files[1].1, 0o644);
}

#[test]
fn a_child_is_its_parent_plus_one_step() {
    let y = LayerName::new("y").unwrap();
    let s = synth::synthesize(&given(&[
        ("A", ImageSpec::default()),
        (
            "B",
            ImageSpec {
                parent: Some(h("A")),
                layers: vec![y],
                ..Default::default()
            },
        ),
        (
            "C",
            ImageSpec {
                parent: Some(h("A")),
                ..Default::default()
            },
        ),
    ]));
    let history = |i: &SynthImage| {
        let v: serde_json::Value = serde_json::from_slice(&i.config.bytes).unwrap();
        v["history"].as_array().unwrap().clone()
    };
    let (a, b, c) = (&s.images[0], &s.images[1], &s.images[2]);
    assert_eq!(b.parent, Some(h("A")));
    assert_eq!(b.chain_ids()[0], a.chain_ids()[0]);
    assert_eq!(b.layers.len(), 2);
    assert_eq!(c.chain_ids(), a.chain_ids(), "no layer of its own");
    for child in [b, c] {
        let (hp, hc) = (history(a), history(child));
        assert_eq!(
            hc.len(),
            hp.len() + 1,
            "Docker links a child one history entry longer"
        );
        assert_eq!(hc[..hp.len()], hp[..]);
    }
    assert_eq!(history(c)[1]["empty_layer"], serde_json::json!(true));
}

#[test]
fn id_prefixes_are_ground() {
    let s = synth::synthesize(&given(&[
        (
            "A",
            ImageSpec {
                id: Some("7f".into()),
                ..Default::default()
            },
        ),
        (
            "B",
            ImageSpec {
                id: Some("7f".into()),
                ..Default::default()
            },
        ),
        (
            "C",
            ImageSpec {
                id: Some("c0de".into()),
                ..Default::default()
            },
        ),
    ]));
    for (image, prefix) in [
        (&s.images[0], "7f"),
        (&s.images[1], "7f"),
        (&s.images[2], "c0de"),
    ] {
        assert!(
            sha(&image.config.bytes).starts_with(prefix),
            "{:?}",
            image.config.digest
        );
        assert!(
            sha(&image.manifest.bytes).starts_with(prefix),
            "{:?}",
            image.manifest.digest
        );
        let config: serde_json::Value = serde_json::from_slice(&image.config.bytes).unwrap();
        assert!(config["config"]["Labels"]["rmispec.nonce"].is_string());
        let manifest: serde_json::Value = serde_json::from_slice(&image.manifest.bytes).unwrap();
        assert!(manifest["annotations"]["rmispec.nonce"].is_string());
    }
    assert_ne!(s.images[0].config.digest, s.images[1].config.digest);
}

#[test]
fn the_store_and_symbols_follow_the_scenario() {
    let mut g = given(&[
        (
            "A",
            ImageSpec {
                tags: tags(&["localhost/a:1", "<reg>/a@sha256:<A.manifest>"]),
                ..Default::default()
            },
        ),
        (
            "B",
            ImageSpec {
                parent: Some(h("A")),
                tags: tags(&["<reg>/b:2"]),
                ..Default::default()
            },
        ),
    ]);
    let c1 = ContainerHandle::new("c1").unwrap();
    g.containers.insert(
        c1.clone(),
        ContainerSpec {
            image: h("B"),
            state: ContainerState::Running,
            mounts: Vec::new(),
            pod: None,
        },
    );
    let s = synth::synthesize(&g);
    let (store, symbols) = s.to_store(&g, Profile::DockerContainerd);
    let (a, b) = (&s.images[0], &s.images[1]);
    assert_eq!(store.images.len(), 2);
    assert_eq!(store.images[1].parent, Some(a.config.digest.clone()));
    assert_eq!(store.images[0].refs[0].full(), "localhost/a:1");
    assert_eq!(
        store.images[0].refs[1],
        Reference::Digested {
            repo: rmispec_model::Repository::new(synth::MODEL_REGISTRY, "a"),
            digest: a.manifest.digest.clone()
        }
    );
    assert_eq!(
        store.images[1].refs[0].full(),
        format!("{}/b:2", synth::MODEL_REGISTRY)
    );
    assert_eq!(store.containers[0].id.hex(), sha(b"c1"));
    assert_eq!(store.containers[0].image, b.config.digest);
    // docker-containerd: the ID is the manifest digest
    assert_eq!(symbols.expand("<B>").unwrap(), b.manifest.digest.hex());
    assert_eq!(symbols.expand("<c1:12>").unwrap(), &sha(b"c1")[..12]);
    assert_eq!(
        symbols.expand("<base>").unwrap(),
        a.layers[0].chain_id.hex()
    );
    assert_eq!(
        symbols.symbolize(&b.config.digest.prefixed()),
        "sha256:<B.config>"
    );
}

#[test]
fn archive_holds_both_layouts() {
    let g = given(&[
        (
            "A",
            ImageSpec {
                tags: tags(&["localhost/a:1"]),
                ..Default::default()
            },
        ),
        (
            "B",
            ImageSpec {
                parent: Some(h("A")),
                layers: vec![LayerName::new("x").unwrap()],
                ..Default::default()
            },
        ),
    ]);
    let s = synth::synthesize(&g);
    let (a, b) = (&s.images[0], &s.images[1]);
    let a_names = ["localhost/a:1".to_owned(), "localhost/a:2".to_owned()];
    let bytes = synth::archive(&[(a, &a_names[..]), (b, &[])]);
    assert_eq!(
        bytes,
        synth::archive(&[(a, &a_names[..]), (b, &[])]),
        "deterministic"
    );
    let files = entries(&bytes);
    let paths: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    let file = |p: &str| {
        files
            .iter()
            .find(|f| f.0 == p)
            .unwrap_or_else(|| panic!("no {p}"))
            .5
            .clone()
    };
    // every blob is stored under its own digest
    for f in files
        .iter()
        .filter(|f| f.0.starts_with("blobs/sha256/") && !f.0.ends_with('/'))
    {
        assert_eq!(f.0, format!("blobs/sha256/{}", sha(&f.5)));
    }
    for blob in a.blobs().chain(b.blobs()).chain([&a.manifest, &b.manifest]) {
        assert_eq!(
            file(&format!("blobs/sha256/{}", blob.digest.hex())),
            blob.bytes
        );
    }
    let docker: serde_json::Value = serde_json::from_slice(&file("manifest.json")).unwrap();
    assert_eq!(docker[0]["RepoTags"], serde_json::json!(a_names));
    assert_eq!(
        docker[0]["Config"],
        format!("blobs/sha256/{}", a.config.digest.hex())
    );
    assert_eq!(docker[1]["Parent"], a.config.digest.prefixed());
    assert_eq!(docker[1]["Layers"].as_array().unwrap().len(), 2);
    let index: serde_json::Value = serde_json::from_slice(&file("index.json")).unwrap();
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(
        manifests.len(),
        3,
        "one per name, and one for the untagged child"
    );
    assert_eq!(
        manifests[1]["annotations"]["io.containerd.image.name"],
        "localhost/a:2"
    );
    assert_eq!(
        manifests[1]["annotations"]["org.opencontainers.image.ref.name"],
        "2"
    );
    assert_eq!(manifests[2]["digest"], b.manifest.digest.prefixed());
    assert!(manifests[2].get("annotations").is_none());
    assert_eq!(file("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#);
}

#[test]
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn pause_sleeps_until_killed() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::ExitStatusExt;
    let s = synth::synthesize(&given(&[("A", ImageSpec::default())]));
    let pause = entries(&s.images[0].layers[0].blob.bytes)
        .into_iter()
        .find(|e| e.0 == "bin/pause")
        .unwrap()
        .5;
    let dir = std::env::temp_dir().join(format!("rmispec-pause-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pause");
    std::fs::write(&path, &pause).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = std::process::Command::new(&path).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still running after 300 ms"
    );
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
    let state = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(state, "S", "sleeping, not spinning");
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_loaded_scenario_runs_through_synth_and_symbols() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/good/everything.yaml");
    let scenario = rmispec::scenario::load(&path).unwrap();
    let s = synth::synthesize(&scenario.given);
    let b = s.image("B").unwrap();
    assert!(b.config.digest.hex().starts_with("7f") && b.manifest.digest.hex().starts_with("7f"));
    for profile in [Profile::DockerClassic, Profile::DockerContainerd] {
        let (store, mut symbols) = s.to_store(&scenario.given, profile);
        assert_eq!(store.images.len(), 3);
        let request = scenario.request(&mut symbols).unwrap();
        let id = if profile == Profile::DockerContainerd {
            &b.manifest.digest
        } else {
            &b.config.digest
        };
        assert_eq!(
            request.names,
            [id.hex()[..12].to_owned(), "localhost/app:1".to_owned()]
        );
        assert!(request.force && request.prune);
        // what the engine says back comes home to the scenario's symbols
        let answer = format!(
            "conflict: unable to delete {} (cannot be forced)",
            &id.hex()[..12]
        );
        assert_eq!(
            symbols.symbolize(&answer),
            "conflict: unable to delete <B:12> (cannot be forced)"
        );
        let expected = &scenario.expect.for_profile(profile).errors.unwrap()[0].message;
        let c1 = synth::container_id(&ContainerHandle::new("c1").unwrap());
        let real = format!(
            "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
            &id.hex()[..12],
            &c1.hex()[..12]
        );
        assert_eq!(
            symbols.canonicalize(expected).unwrap(),
            symbols.symbolize(&real)
        );
    }
}

#[test]
fn a_multi_platform_image_is_an_index_with_only_its_content_in_the_archive() {
    let (amd64, arm64): (rmispec_model::Platform, rmispec_model::Platform) = (
        "linux/amd64".parse().unwrap(),
        "linux/arm64".parse().unwrap(),
    );
    let spec = |content: Option<Vec<rmispec_model::Platform>>| ImageSpec {
        tags: tags(&["localhost/app:1"]),
        platforms: vec![amd64.clone(), arm64.clone()],
        content,
        ..ImageSpec::default()
    };
    let g = given(&[("A", spec(Some(vec![amd64.clone()])))]);
    let s = synth::synthesize(&g);
    let a = s.image("A").unwrap();
    let index = a.index.as_ref().expect("an index");
    assert_eq!(index.digest.hex(), sha(&index.bytes));
    let doc: serde_json::Value = serde_json::from_slice(&index.bytes).unwrap();
    let manifests = doc["manifests"].as_array().unwrap();
    assert_eq!(manifests[0]["digest"], a.manifest.digest.prefixed());
    assert_eq!(manifests[0]["platform"]["architecture"], "amd64");
    let arm = &a.others[0];
    assert_eq!(manifests[1]["digest"], arm.manifest.digest.prefixed());
    assert_eq!(manifests[1]["platform"]["architecture"], "arm64");
    let config: serde_json::Value = serde_json::from_slice(&arm.config.bytes).unwrap();
    assert_eq!(config["architecture"], "arm64");

    let files = entries(&synth::archive(&[(a, &["localhost/app:1".to_owned()])]));
    let has = |d: &Digest| {
        files
            .iter()
            .any(|f| f.0 == format!("blobs/sha256/{}", d.hex()))
    };
    assert!(has(&index.digest) && has(&a.manifest.digest) && has(&a.config.digest));
    assert!(!has(&arm.manifest.digest) && !has(&arm.config.digest) && !has(&arm.layer.digest));
    let top: serde_json::Value =
        serde_json::from_slice(&files.iter().find(|f| f.0 == "index.json").unwrap().5).unwrap();
    assert_eq!(top["manifests"][0]["digest"], index.digest.prefixed());
    assert_eq!(
        top["manifests"][0]["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );

    // The containerd store has the index, the classic one the amd64 image only.
    let (store, _) = s.to_store(&g, Profile::DockerContainerd28);
    assert_eq!(store.images[0].manifest, index.digest);
    assert_eq!(store.images[0].platforms, vec![amd64.clone()]);
    assert_eq!(store.images[0].index.len(), 2);
    let (classic, _) = s.to_store(&g, Profile::DockerClassic28);
    assert!(classic.images[0].index.is_empty());
    assert_eq!(classic.images[0].config, a.config.digest);

    // By default every platform has its content.
    let all = synth::synthesize(&given(&[("A", spec(None))]));
    let a = all.image("A").unwrap();
    let files = entries(&synth::archive(&[(a, &[])]));
    assert!(files
        .iter()
        .any(|f| f.0 == format!("blobs/sha256/{}", a.others[0].layer.digest.hex())));
}
