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

use crate::scenario::{ContainerHandle, Given, ImageHandle, LayerName, PodHandle};
use crate::symbols::Symbols;
use indexmap::IndexMap;
use json::Step;
use oci_spec::image::MediaType;
use rmispec_model::{
    Container, Digest, Engine, Image, Platform, PlatformManifest, Pod, Profile, Reference, Store,
};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;

/// The registry `host:port` the model's stores use for `<reg>`.
pub const MODEL_REGISTRY: &str = "127.0.0.1:5000";

/// OCI image manifest media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image config media type.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// OCI image index media type.
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
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
    /// A multi-platform image's OCI index: `linux/amd64` (`config`, `manifest`, `layers`
    /// above) and [`others`](Self::others), in the scenario's order. Its digest is the image
    /// ID on docker-containerd and what `<A.manifest>` names. `None`: a single-platform image.
    pub index: Option<Blob>,
    /// A multi-platform image's platforms, in index order; empty for a single-platform image.
    pub platforms: Vec<Platform>,
    /// A multi-platform image's other platforms, in index order.
    pub others: Vec<SynthPlatform>,
    /// The platforms whose content an engine gets: `linux/amd64` always, and those of
    /// [`others`](Self::others) the scenario says.
    pub content: Vec<Platform>,
    history: Vec<(String, bool)>,
}

/// One platform of a multi-platform image other than `linux/amd64`: a tiny image that says
/// what it is for (nothing runs it): a config naming the platform, and one layer holding
/// `/rmispec/platform` (the handle and the platform, so no two images share it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthPlatform {
    /// The platform.
    pub platform: Platform,
    /// Its config.
    pub config: Blob,
    /// Its manifest: what the index names for it.
    pub manifest: Blob,
    /// Its one layer.
    pub layer: Blob,
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

    /// The index of a multi-platform image, else the manifest: the top of the image, what
    /// an engine's image record targets.
    pub fn top(&self) -> &Blob {
        self.index.as_ref().unwrap_or(&self.manifest)
    }

    /// Every blob the store gets for this image (index, manifests, configs and layers of
    /// the platforms with content), each once.
    pub fn content_blobs(&self) -> Vec<&Blob> {
        let mut blobs: Vec<&Blob> = self.index.iter().collect();
        blobs.push(&self.manifest);
        blobs.extend(self.blobs());
        for o in self
            .others
            .iter()
            .filter(|o| self.content.contains(&o.platform))
        {
            blobs.extend([&o.manifest, &o.config, &o.layer]);
        }
        blobs
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
        let (index, others) = platforms(handle, &spec.platforms, &manifest);
        let image = SynthImage {
            handle: handle.clone(),
            config,
            manifest,
            layers,
            parent: parent.map(|p| p.handle.clone()),
            index,
            platforms: spec.platforms.clone(),
            others,
            content: spec.content(),
            history,
        };
        images.insert(handle.clone(), image);
    }
    Synthesized { images }
}

/// The index and the other platforms' images of a multi-platform image (`platforms` not
/// empty), whose `linux/amd64` image has `amd64` as its manifest.
fn platforms(
    handle: &ImageHandle,
    platforms: &[Platform],
    amd64: &Blob,
) -> (Option<Blob>, Vec<SynthPlatform>) {
    if platforms.is_empty() {
        return (None, Vec::new());
    }
    let host = Platform::linux_amd64();
    let others: Vec<SynthPlatform> = platforms
        .iter()
        .filter(|p| **p != host)
        .map(|p| {
            let text = format!("{handle} {p}\n").into_bytes();
            let layer = Blob::new(
                LAYER_MEDIA_TYPE,
                layer::files_tar(&[
                    ("rmispec/".to_owned(), Vec::new()),
                    ("rmispec/platform".to_owned(), text),
                ]),
            );
            let name = p.to_string();
            let steps = [Step {
                created_by: format!("rmispec platform {name}"),
                empty_layer: false,
            }];
            let config = Blob::new(
                CONFIG_MEDIA_TYPE,
                json::config_for(
                    p,
                    &[
                        ("rmispec.image", handle.as_str()),
                        ("rmispec.platform", &name),
                    ],
                    &steps,
                    std::slice::from_ref(&layer.digest),
                ),
            );
            let manifest = Blob::new(
                MANIFEST_MEDIA_TYPE,
                json::manifest(
                    (MediaType::ImageConfig, &config.digest, config.bytes.len()),
                    &[(MediaType::ImageLayer, &layer.digest, layer.bytes.len())],
                    &[],
                ),
            );
            SynthPlatform {
                platform: p.clone(),
                config,
                manifest,
                layer,
            }
        })
        .collect();
    let entries: Vec<(&Platform, &Digest, usize)> = platforms
        .iter()
        .map(|p| match others.iter().find(|o| &o.platform == p) {
            Some(o) => (p, &o.manifest.digest, o.manifest.bytes.len()),
            None => (p, &amd64.digest, amd64.bytes.len()),
        })
        .collect();
    let index = Blob::new(INDEX_MEDIA_TYPE, json::index(&entries));
    (Some(index), others)
}

fn step_of(layer: &LayerName) -> (String, bool) {
    (format!("rmispec layer {layer}"), false)
}

impl SynthImage {
    /// A multi-platform image's index entries, as the model's store has them.
    pub fn index_entries(&self) -> Vec<PlatformManifest> {
        if self.index.is_none() {
            return Vec::new();
        }
        let mut entries = vec![PlatformManifest {
            platform: Platform::linux_amd64(),
            manifest: self.manifest.digest.clone(),
        }];
        entries.extend(self.others.iter().map(|o| PlatformManifest {
            platform: o.platform.clone(),
            manifest: o.manifest.digest.clone(),
        }));
        // In the index's own order, which the scenario's `platforms` gives.
        let order = |p: &Platform| {
            self.platforms
                .iter()
                .position(|q| q == p)
                .unwrap_or(usize::MAX)
        };
        entries.sort_by_key(|e| order(&e.platform));
        entries
    }
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
                image.top().digest.clone(),
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
        let images: Vec<rmispec_model::Image> = given
            .images
            .iter()
            .map(|(handle, spec)| {
                let image = synth(handle);
                // A multi-platform image is an index on the containerd store; the classic
                // store loads `manifest.json`, which names the `linux/amd64` image only (as
                // the other engines would, which skip such scenarios).
                let (platforms, index) = match &image.index {
                    Some(_) if profile.engine() == Engine::DockerContainerd => {
                        (image.content.clone(), image.index_entries())
                    }
                    _ => (vec![Platform::linux_amd64()], Vec::new()),
                };
                let refs: Vec<Reference> =
                    spec.references(profile.engine(), MODEL_REGISTRY, &image.manifest.digest);
                Image {
                    config: image.config.digest.clone(),
                    manifest: image.top().digest.clone(),
                    layers: image.chain_ids(),
                    parent: image
                        .parent
                        .as_ref()
                        .map(|p| synth(p).config.digest.clone()),
                    // A digest name is made by pushing, then pulling by digest (every
                    // builder: `live/*/build.rs`); `made_by: pull` pulls by a tag.
                    pulled: spec.is_pulled_by_tag() || Image::pulled_by_digest(&refs),
                    history: image.history.len(),
                    refs,
                    // json::config writes amd64/linux into every config but the other
                    // platforms' of an index.
                    platforms,
                    index,
                }
            })
            .collect();
        let pods: Vec<Pod> = given
            .pods
            .iter()
            .map(|(handle, spec)| {
                let id = pod_id(handle);
                symbols.add_pod(handle.clone(), id.clone());
                Pod {
                    id,
                    infra: container_id(&spec.infra),
                }
            })
            .collect();
        let containers = given
            .containers
            .iter()
            .map(|(handle, spec)| {
                let id = container_id(handle);
                symbols.add_container(handle.clone(), id.clone());
                let image = synth(&spec.image).config.digest.clone();
                let layers = images
                    .iter()
                    .find(|i| i.config == image)
                    .map(|i| i.layers.clone())
                    .unwrap_or_default();
                Container {
                    id,
                    image,
                    layers,
                    state: spec.state,
                    mounts: spec
                        .mounts
                        .iter()
                        .map(|m| synth(m).config.digest.clone())
                        .collect(),
                    pod: given.pod_of(handle).map(pod_id),
                }
            })
            .collect();
        (
            Store {
                images,
                containers,
                manifest_lists: Vec::new(),
                pods,
            },
            symbols,
        )
    }
}

/// The model's ID for a pod: sha256 of `pod <handle>` (libpod makes a random one up).
pub fn pod_id(handle: &PodHandle) -> Digest {
    sha256(format!("pod {handle}").as_bytes())
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
