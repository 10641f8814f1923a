//! The image config and manifest, as canonical JSON.
//!
//! Built with oci-spec's image types, then written by [`canonical`]: keys sorted, no
//! whitespace. oci-spec's types serialize their fields in declaration order (and labels from
//! a `HashMap`, in no order at all), so their own `to_string` is not stable; going through a
//! `serde_json::Value` and writing it ourselves is, whatever features other crates turn on
//! in serde_json (`preserve_order` would keep insertion order in `Value` maps).

use oci_spec::image::{
    Arch, ConfigBuilder, DescriptorBuilder, HistoryBuilder, ImageConfigurationBuilder,
    ImageManifestBuilder, MediaType, Os, RootFsBuilder,
};
use rmispec_model::{Digest, Platform};
use serde_json::Value;
use std::collections::HashMap;

/// The fixed creation time of every image and history entry.
pub(super) const CREATED: &str = "2000-01-01T00:00:00Z";

/// One history entry: what made a layer, or an empty build step.
pub(super) struct Step {
    pub created_by: String,
    pub empty_layer: bool,
}

/// The config of an image: amd64/linux, `/bin/pause`, its labels, history and diff IDs.
pub(super) fn config(labels: &[(&str, &str)], history: &[Step], diff_ids: &[Digest]) -> Vec<u8> {
    canonical(&config_value(labels, history, diff_ids)).into_bytes()
}

/// [`config`] for another platform: its `os`, `architecture` and `variant` in place of
/// amd64/linux (nothing runs it: it only has to say what it is for).
pub(super) fn config_for(
    platform: &Platform,
    labels: &[(&str, &str)],
    history: &[Step],
    diff_ids: &[Digest],
) -> Vec<u8> {
    let mut value = config_value(labels, history, diff_ids);
    value["os"] = Value::from(platform.os.as_str());
    value["architecture"] = Value::from(platform.architecture.as_str());
    if let Some(v) = &platform.variant {
        value["variant"] = Value::from(v.as_str());
    }
    canonical(&value).into_bytes()
}

/// An OCI image index of per-platform manifests (`(platform, digest, size)`, in order), each
/// descriptor with its `platform`, as `docker buildx` and registries write them.
pub(super) fn index(manifests: &[(&Platform, &Digest, usize)]) -> Vec<u8> {
    let manifests: Vec<Value> = manifests
        .iter()
        .map(|(p, digest, size)| {
            let mut platform = serde_json::json!({
                "architecture": p.architecture,
                "os": p.os,
            });
            if let Some(v) = &p.variant {
                platform["variant"] = Value::from(v.as_str());
            }
            serde_json::json!({
                "mediaType": super::MANIFEST_MEDIA_TYPE,
                "digest": digest.prefixed(),
                "size": size,
                "platform": platform,
            })
        })
        .collect();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": super::INDEX_MEDIA_TYPE,
        "manifests": manifests,
    });
    canonical(&index).into_bytes()
}

fn config_value(labels: &[(&str, &str)], history: &[Step], diff_ids: &[Digest]) -> Value {
    let labels: HashMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let runtime = ConfigBuilder::default()
        .cmd(vec!["/bin/pause".to_owned()])
        .env(vec!["PATH=/bin".to_owned()])
        .labels(labels)
        .stop_signal("SIGKILL")
        .build()
        .expect("all fields set");
    let history = history
        .iter()
        .map(|s| {
            let b = HistoryBuilder::default()
                .created(CREATED)
                .created_by(s.created_by.clone());
            let b = if s.empty_layer {
                b.empty_layer(true)
            } else {
                b
            };
            b.build().expect("all fields set")
        })
        .collect::<Vec<_>>();
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(diff_ids.iter().map(Digest::prefixed).collect::<Vec<_>>())
        .build()
        .expect("all fields set");
    let config = ImageConfigurationBuilder::default()
        .created(CREATED)
        .architecture(Arch::Amd64)
        .os(Os::Linux)
        .config(runtime)
        .history(history)
        .rootfs(rootfs)
        .build()
        .expect("all fields set");
    serde_json::to_value(&config).expect("serializable")
}

/// A descriptor's parts: media type, digest, size.
pub(super) type Desc<'a> = (MediaType, &'a Digest, usize);

/// The OCI image manifest of a config and its layers, with annotations if any.
pub(super) fn manifest(
    config: Desc<'_>,
    layers: &[Desc<'_>],
    annotations: &[(&str, &str)],
) -> Vec<u8> {
    let descriptor = |(media_type, digest, size): &Desc<'_>| {
        DescriptorBuilder::default()
            .media_type(media_type.clone())
            .digest(
                digest
                    .prefixed()
                    .parse::<oci_spec::image::Digest>()
                    .expect("a sha256 digest"),
            )
            .size(*size as u64)
            .build()
            .expect("all fields set")
    };
    let builder = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(&config))
        .layers(layers.iter().map(descriptor).collect::<Vec<_>>());
    let builder = if annotations.is_empty() {
        builder
    } else {
        builder.annotations(
            annotations
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<HashMap<_, _>>(),
        )
    };
    let manifest = builder.build().expect("all fields set");
    canonical(&serde_json::to_value(&manifest).expect("serializable")).into_bytes()
}

/// `value` as canonical JSON: object keys sorted by their bytes, no insignificant
/// whitespace, strings escaped as serde_json escapes them.
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).expect("a string serializes"));
                out.push(':');
                write(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_sorts_keys_at_every_level() {
        let v: Value =
            serde_json::from_str(r#"{"b": [ {"z": 1, "a": "x\"y"} ], "a": null}"#).unwrap();
        assert_eq!(canonical(&v), r#"{"a":null,"b":[{"a":"x\"y","z":1}]}"#);
    }

    #[test]
    fn config_is_the_documented_shape() {
        let d = Digest::parse(&"a".repeat(64)).unwrap();
        let bytes = config(
            &[("rmispec.image", "A")],
            &[Step {
                created_by: "rmispec layer base".into(),
                empty_layer: false,
            }],
            &[d],
        );
        let text = String::from_utf8(bytes).unwrap();
        let want = format!(
            concat!(
                r#"{{"architecture":"amd64","config":{{"Cmd":["/bin/pause"],"Env":["PATH=/bin"],"#,
                r#""Labels":{{"rmispec.image":"A"}},"StopSignal":"SIGKILL"}},"created":"2000-01-01T00:00:00Z","#,
                r#""history":[{{"created":"2000-01-01T00:00:00Z","created_by":"rmispec layer base"}}],"#,
                r#""os":"linux","rootfs":{{"diff_ids":["sha256:{}"],"type":"layers"}}}}"#
            ),
            "a".repeat(64)
        );
        assert_eq!(text, want);
    }
}
