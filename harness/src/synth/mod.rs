//! Deterministic images: a scenario's symbolic images as real bytes, the same on every
//! machine and every run, so an image's digests are known before any engine sees it.
//!
//! Pure but for one cache: no clock, and the only I/O is the on-disk cache of ground nonces
//! (`grind_cache`), which can save time but never change a byte (a hit is re-hashed). Every image starts from the layer `base` (it holds `/bin/pause`,
//! the containers' process, see [`PAUSE_ELF`]); an extra layer `x` holds `/rmispec/x`; a
//! child has its parent's layers and history plus one build step of its own. Configs and
//! manifests are canonical JSON (keys sorted, no whitespace); layers are uncompressed, so a
//! layer's digest is its diff ID. An `id: "7f"` prefix is ground with a nonce: a config label
//! `rmispec.nonce`, then a manifest annotation `rmispec.nonce`.
//!
//! The media types are OCI's (config `application/vnd.oci.image.config.v1+json`, layers
//! `application/vnd.oci.image.layer.v1.tar`, manifest `application/vnd.oci.image.manifest.v1+json`):
//! an archive of them loads on Docker 20.10 and 26.1, Podman and `ctr import` alike.

mod archive;
mod grind;
mod grind_cache;
mod json;
mod layer;

pub use archive::archive;
pub use json::canonical;
pub use layer::PAUSE_ELF;

use crate::scenario::{ContainerHandle, Given, ImageHandle, LayerName};
use crate::symbols::Symbols;
use indexmap::IndexMap;
use json::Step;
use oci_spec::image::MediaType;
use rmispec_model::{Container, Digest, Image, Platform, Profile, Store};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;

/// The registry `host:port` the model's stores use for `<reg>`.
pub const MODEL_REGISTRY: &str = "127.0.0.1:5000";

/// OCI image manifest media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image config media type.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// OCI uncompressed layer media type.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";

/// Some bytes, their digest and what they are.
#[derive(Clone, PartialEq, Eq)]
pub struct Blob {
    /// The media type a registry or an index names them by.
    pub media_type: &'static str,
    /// sha256 of `bytes`.
    pub digest: Digest,
    /// The content.
    pub bytes: Vec<u8>,
}

impl Blob {
    fn new(media_type: &'static str, bytes: Vec<u8>) -> Blob {
        Blob {
            media_type,
            digest: sha256(&bytes),
            bytes,
        }
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Blob({}, {:?}, {} bytes)",
            self.media_type,
            self.digest,
            self.bytes.len()
        )
    }
}

/// One layer of an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthLayer {
    /// Its name in the scenario.
    pub name: LayerName,
    /// The uncompressed tar; its digest is the layer's diff ID.
    pub blob: Blob,
    /// `chainID(1) = diffID(1)`, `chainID(n) = sha256(chainID(n-1) + " " + diffID(n))`
    /// (the `sha256:`-prefixed spellings), as image-spec's config.md defines it.
    pub chain_id: Digest,
}

/// One synthesized image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthImage {
    /// Its handle.
    pub handle: ImageHandle,
    /// The image config; its digest is the image ID on every engine but docker-containerd.
    pub config: Blob,
    /// The OCI manifest; its digest is the image ID on docker-containerd, and the digest of
    /// every digest reference to the image.
    pub manifest: Blob,
    /// Its layers, bottom (`base`) first.
    pub layers: Vec<SynthLayer>,
    /// The image it is built from.
    pub parent: Option<ImageHandle>,
    history: Vec<(String, bool)>,
}

impl SynthImage {
    /// The diff IDs, bottom first.
    pub fn diff_ids(&self) -> Vec<Digest> {
        self.layers.iter().map(|l| l.blob.digest.clone()).collect()
    }

    /// The chain IDs, bottom first.
    pub fn chain_ids(&self) -> Vec<Digest> {
        self.layers.iter().map(|l| l.chain_id.clone()).collect()
    }

    /// The blobs a manifest refers to (config, then layers): what a registry push uploads
    /// before the manifest.
    pub fn blobs(&self) -> impl Iterator<Item = &Blob> {
        std::iter::once(&self.config).chain(self.layers.iter().map(|l| &l.blob))
    }
}

/// A scenario's images, synthesized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Synthesized {
    /// Per handle, in creation order.
    pub images: IndexMap<ImageHandle, SynthImage>,
}

/// Synthesizes the images of `given`. A parent that is not (yet) in `given` is ignored:
/// the loader rejects such scenarios before they get here.
pub fn synthesize(given: &Given) -> Synthesized {
    let mut tars: HashMap<LayerName, Blob> = HashMap::new();
    let mut tar_of = |name: &LayerName| {
        tars.entry(name.clone())
            .or_insert_with(|| Blob::new(LAYER_MEDIA_TYPE, layer::layer_tar(name)))
            .clone()
    };
    let mut images: IndexMap<ImageHandle, SynthImage> = IndexMap::new();
    for (handle, spec) in &given.images {
        let parent = spec.parent.as_ref().and_then(|p| images.get(p));
        let (mut names, mut history): (Vec<LayerName>, Vec<(String, bool)>) = match parent {
            Some(p) => (
                p.layers.iter().map(|l| l.name.clone()).collect(),
                p.history.clone(),
            ),
            None => (vec![LayerName::base()], vec![step_of(&LayerName::base())]),
        };
        names.extend(spec.layers.iter().cloned());
        match (parent, spec.layers.as_slice()) {
            // A child is one build step on its parent: Docker's `load` links the two only
            // when the child's history is the parent's plus one entry
            // (moby/moby@v20.10.24:image/tarexport/load.go#L400-L413).
            (Some(_), []) => history.push((format!("rmispec image {handle}"), true)),
            _ => history.extend(spec.layers.iter().map(step_of)),
        }
        let mut layers: Vec<SynthLayer> = Vec::with_capacity(names.len());
        for name in names {
            let blob = tar_of(&name);
            let chain_id = match layers.last() {
                None => blob.digest.clone(),
                Some(below) => sha256(
                    format!("{} {}", below.chain_id.prefixed(), blob.digest.prefixed()).as_bytes(),
                ),
            };
            layers.push(SynthLayer {
                name,
                blob,
                chain_id,
            });
        }
        let steps: Vec<Step> = history
            .iter()
            .map(|(by, empty)| Step {
                created_by: by.clone(),
                empty_layer: *empty,
            })
            .collect();
        let diff_ids: Vec<Digest> = layers.iter().map(|l| l.blob.digest.clone()).collect();
        let image_label = ("rmispec.image", handle.as_str());
        let config_bytes = match &spec.id {
            None => json::config(&[image_label], &steps, &diff_ids),
            Some(prefix) => grind::grind(
                &json::config(
                    &[image_label, ("rmispec.nonce", grind::PLACEHOLDER)],
                    &steps,
                    &diff_ids,
                ),
                prefix,
            ),
        };
        let config = Blob::new(CONFIG_MEDIA_TYPE, config_bytes);
        let layer_descs: Vec<json::Desc<'_>> = layers
            .iter()
            .map(|l| (MediaType::ImageLayer, &l.blob.digest, l.blob.bytes.len()))
            .collect();
        let config_desc = (MediaType::ImageConfig, &config.digest, config.bytes.len());
        let manifest_bytes = match &spec.id {
            None => json::manifest(config_desc, &layer_descs, &[]),
            Some(prefix) => grind::grind(
                &json::manifest(
                    config_desc,
                    &layer_descs,
                    &[("rmispec.nonce", grind::PLACEHOLDER)],
                ),
                prefix,
            ),
        };
        let manifest = Blob::new(MANIFEST_MEDIA_TYPE, manifest_bytes);
        let image = SynthImage {
            handle: handle.clone(),
            config,
            manifest,
            layers,
            parent: parent.map(|p| p.handle.clone()),
            history,
        };
        images.insert(handle.clone(), image);
    }
    Synthesized { images }
}

fn step_of(layer: &LayerName) -> (String, bool) {
    (format!("rmispec layer {layer}"), false)
}

impl Synthesized {
    /// The synthesized image of `handle`.
    pub fn image(&self, handle: &str) -> Option<&SynthImage> {
        self.images.get(handle)
    }

    /// The symbol table of these images for `profile`, with `registry` for `<reg>`: image
    /// digests and layer chain IDs. Containers are for the backend to add (their IDs are
    /// the engine's).
    pub fn symbols(&self, profile: Profile, registry: &str) -> Symbols {
        let mut symbols = Symbols::new(profile, registry);
        for (handle, image) in &self.images {
            symbols.add_image(
                handle.clone(),
                image.config.digest.clone(),
                image.manifest.digest.clone(),
            );
            for layer in &image.layers {
                if symbols.layer(layer.name.as_str()).is_none() {
                    symbols.add_layer(layer.name.clone(), layer.chain_id.clone());
                }
            }
        }
        symbols
    }

    /// The model's store for `given` (which these images were synthesized from), and its
    /// symbol table for `profile`. `<reg>` is [`MODEL_REGISTRY`]; container IDs are
    /// [`container_id`]s.
    ///
    /// # Panics
    /// If `given` names an image these were not synthesized from.
    pub fn to_store(&self, given: &Given, profile: Profile) -> (Store, Symbols) {
        let mut symbols = self.symbols(profile, MODEL_REGISTRY);
        let synth = |h: &ImageHandle| {
            self.image(h.as_str())
                .unwrap_or_else(|| panic!("image {h} was not synthesized"))
        };
        let images = given
            .images
            .iter()
            .map(|(handle, spec)| {
                let image = synth(handle);
                Image {
                    config: image.config.digest.clone(),
                    manifest: image.manifest.digest.clone(),
                    layers: image.chain_ids(),
                    parent: image
                        .parent
                        .as_ref()
                        .map(|p| synth(p).config.digest.clone()),
                    refs: spec
                        .tags
                        .iter()
                        .map(|t| t.to_reference(MODEL_REGISTRY, &image.manifest.digest))
                        .collect(),
                    // json::config writes amd64/linux into every config.
                    platforms: vec![Platform::linux_amd64()],
                }
            })
            .collect();
        let containers = given
            .containers
            .iter()
            .map(|(handle, spec)| {
                let id = container_id(handle);
                symbols.add_container(handle.clone(), id.clone());
                Container {
                    id,
                    image: synth(&spec.image).config.digest.clone(),
                    state: spec.state,
                    mounts: spec
                        .mounts
                        .iter()
                        .map(|m| synth(m).config.digest.clone())
                        .collect(),
                }
            })
            .collect();
        (
            Store {
                images,
                containers,
                manifest_lists: Vec::new(),
            },
            symbols,
        )
    }
}

/// The model's ID for a container: sha256 of its handle.
pub fn container_id(handle: &ContainerHandle) -> Digest {
    sha256(handle.as_str().as_bytes())
}

fn sha256(bytes: &[u8]) -> Digest {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Digest::parse(&hex).expect("64 hex characters")
}
