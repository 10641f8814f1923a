//! One image archive that every engine loads: Docker's `manifest.json` and an OCI layout
//! (`oci-layout`, `index.json`) over the same `blobs/sha256/` (the "both" form Docker 25+
//! `docker save` writes).
//!
//! Docker 20.10 reads `manifest.json` (it cannot load an OCI-only archive); Docker 26.1
//! with the containerd store, Podman and `ctr import` read `index.json`.
//!
//! A multi-platform image is an index in `index.json` (the name annotations on the index's
//! descriptor) and its `linux/amd64` image in `manifest.json`; the blobs of a platform
//! without content are left out. The containerd store imports every platform it finds and
//! skips the missing ones (`containerd.WithSkipMissing`,
//! moby/moby@v28.5.2:daemon/containerd/image_exporter.go#L239-L272, and v26.1.5 L242-L246
//! with `platforms.All`); the classic store reads `manifest.json` only.

use super::json::canonical;
use super::layer::files_tar;
use super::SynthImage;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A tar holding `images`, each under the fully qualified tags given with it (digest
/// references are skipped: an engine gets those by pulling from the registry). An image
/// with no tags is listed with none (Docker loads it untagged).
///
/// A child whose parent is in the same archive carries `Parent` in `manifest.json`, so
/// Docker 20.10 links the two (moby/moby@v20.10.24:image/tarexport/load.go#L145-L155: only
/// links to images of the same archive count). Entries are in the order given; files are
/// sorted; the bytes depend on nothing but the arguments.
pub fn archive(images: &[(&SynthImage, &[String])]) -> Vec<u8> {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    files.insert("blobs/".into(), Vec::new());
    files.insert("blobs/sha256/".into(), Vec::new());
    let path = |d: &rmispec_model::Digest| format!("blobs/sha256/{}", d.hex());
    let mut docker: Vec<Value> = Vec::new();
    let mut index: Vec<Value> = Vec::new();
    for (image, names) in images {
        for blob in image.content_blobs() {
            files.insert(path(&blob.digest), blob.bytes.clone());
        }
        let tags: Vec<&String> = names.iter().filter(|n| !n.contains('@')).collect();
        let mut entry = json!({
            "Config": path(&image.config.digest),
            "RepoTags": tags,
            "Layers": image.layers.iter().map(|l| path(&l.blob.digest)).collect::<Vec<_>>(),
        });
        let parent = image
            .parent
            .as_ref()
            .and_then(|p| images.iter().find(|(i, _)| &i.handle == p));
        if let Some((parent, _)) = parent {
            entry["Parent"] = json!(parent.config.digest.prefixed());
        }
        docker.push(entry);
        let descriptor = |annotations: Option<Value>| {
            let mut d = json!({
                "mediaType": image.top().media_type,
                "digest": image.top().digest.prefixed(),
                "size": image.top().bytes.len(),
            });
            if let Some(a) = annotations {
                d["annotations"] = a;
            }
            d
        };
        if tags.is_empty() {
            index.push(descriptor(None));
        }
        for tag in tags {
            let short = tag.rsplit_once(':').map_or(tag.as_str(), |(_, t)| t);
            index.push(descriptor(Some(json!({
                "io.containerd.image.name": tag,
                "org.opencontainers.image.ref.name": short,
            }))));
        }
    }
    files.insert(
        "manifest.json".into(),
        canonical(&Value::Array(docker)).into_bytes(),
    );
    files.insert(
        "oci-layout".into(),
        canonical(&json!({"imageLayoutVersion": "1.0.0"})).into_bytes(),
    );
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": index,
    });
    files.insert("index.json".into(), canonical(&index).into_bytes());
    files_tar(&files.into_iter().collect::<Vec<_>>())
}
