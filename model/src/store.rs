//! An image store: images, their names, containers.

use crate::digest::Digest;
use crate::platform::{Platform, PlatformManifest};
use crate::reference::Reference;

/// An image store, engine-neutral.
///
/// Each engine keeps its own bookkeeping (docker-containerd keeps one record per name and a
/// `moby-dangling@` record for kept untagged images; Podman keeps a `names` list); this is
/// the common shape they all map onto. How an engine *lists* it is [`Listing`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Store {
    /// Images in creation order (oldest first).
    pub images: Vec<Image>,
    /// Containers in creation order.
    pub containers: Vec<Container>,
    /// Manifest lists (image indexes) stored beside the images, in creation order: only
    /// Podman's containers-storage holds them this way (see [`ManifestList`]).
    pub manifest_lists: Vec<ManifestList>,
    /// Podman pods, in creation order (see [`Pod`]). Only Podman has them.
    pub pods: Vec<Pod>,
}

/// A Podman pod: an ID, and the infra container libpod made for it when the pod was made
/// (`podman pod create` with an infra image). The pod's other containers say so in their
/// [`Container::pod`]; so does the infra container.
///
/// A pod matters to image removal only through its infra container, which libpod never
/// removes alone: Podman 4.0+ removes the whole pod, its other containers with it, where a
/// forced removal meets the infra container (`containers/podman@v4.3.1:libpod/runtime_img.go#L26-L53`),
/// and Podman 3.0 refuses (`containers/podman@v3.0.1:libpod/runtime_ctr.go#L579-L582`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pod {
    /// The pod's ID (64 hex; the engine makes it up).
    pub id: Digest,
    /// Its infra container's ID.
    pub infra: Digest,
}

/// A manifest list as containers-storage keeps it: an image record of its own, with its own
/// ID and names, no layers, no config, no parent, whose one manifest is an index naming other
/// images' manifests (`podman manifest create` + `manifest add containers-storage:…`).
///
/// It is a kind of its own rather than an [`Image`] because nothing an image has beyond an ID
/// and names (layers, a config, a platform, a parent) exists for it, and what it has that an
/// image has not (its instances) is what the rules read: Podman 5.5+ does not prune a dangling
/// image a local list names (`podman_libimage`), and a lookup by a list's name or ID resolves
/// to the instance for the local platform when that is stored. Docker and CRI stores hold no
/// lists through the APIs the harness drives, so their models never meet one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestList {
    /// Its image ID in containers-storage (the engine makes it up at creation).
    pub id: Digest,
    /// Its stored names (tags, in the order given).
    pub refs: Vec<Reference>,
    /// The manifest digests of its instances, in the list's order. Every instance of a list
    /// the harness makes is `linux/amd64`. An instance may name an image no longer stored:
    /// removing an image leaves the lists that name it as they were.
    pub instances: Vec<Digest>,
}

/// One image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Config digest: the image ID on docker-classic, CRI and Podman.
    pub config: Digest,
    /// Manifest digest: the image ID on docker-containerd, and the digest of every
    /// `repo@sha256:…` reference to this image.
    pub manifest: Digest,
    /// Layer chain IDs, bottom first.
    pub layers: Vec<Digest>,
    /// The image this one was built from (classic builder or commit), by config digest.
    pub parent: Option<Digest>,
    /// Stored names, in the order they were given. Empty: a dangling image.
    pub refs: Vec<Reference>,
    /// The platforms whose content (manifest, config, layer blobs) the store has, as their
    /// configs name them. An image built or loaded here has one; it has none once Docker
    /// 28.2's `platforms` delete removed that content from the containerd store (the image
    /// record stays).
    pub platforms: Vec<Platform>,
    /// A multi-platform image's index entries, in index order; `manifest` is then the index
    /// digest (the image's target on the containerd store). Empty for a single-platform image,
    /// whose target is its one manifest. The entries whose platform is in
    /// [`platforms`](Self::platforms) have their content in the store; the others were never
    /// fetched, or were deleted (Docker 28.2's `platforms` delete).
    pub index: Vec<PlatformManifest>,
    /// Pulled from a registry, rather than loaded or committed: by digest (how a store gets a
    /// digest name: the harness pushes, then pulls by digest), or by tag (a scenario's
    /// `made_by: pull`). It stays true when the digest
    /// name is untagged: containers-storage keeps the manifest digest in the image record's
    /// `Digests`, recomputed from its manifests, not its names
    /// (`containers/storage@v1.24.6:images.go#L36-L43`, `#L216-L245`), and Podman 3.0's lookup
    /// still finds the image by `repo@digest` through it (`ImagesByDigest`).
    pub pulled: bool,
    /// How many history entries its config has: one per layer for an image loaded or pulled
    /// (the harness's archives, `harness/src/synth`), its parent's plus one for a child (one
    /// build step or commit). Podman finds parents by comparing histories
    /// (`podman::Storage::is_parent_of`), and a child's config keeps its own after the parent
    /// is gone; the other engines keep explicit links and do not read it.
    pub history: usize,
}

impl Image {
    /// The [`history`](Self::history) length of an image made as the harness makes one, on
    /// `parent` or loaded with `layers` layers: its parent's plus one build step, else one
    /// entry per layer.
    pub fn history_on(parent: Option<&Image>, layers: usize) -> usize {
        parent.map_or(layers, |p| p.history + 1)
    }

    /// Whether an image holding `refs` was pulled ([`Image::pulled`]) in a store made as the
    /// harness makes one: a digest name is only ever made by pulling by digest.
    pub fn pulled_by_digest(refs: &[Reference]) -> bool {
        refs.iter().any(|r| !r.is_tag())
    }
}

/// What a container's process is doing, as every engine's container list tells it apart.
///
/// Engines that check containers before removing an image (Docker, Podman) differ in which
/// states count: Docker asks only whether the process exists ([`runs`](Self::runs)), Podman
/// counts every container whatever its state. The states are kept apart anyway, because each
/// engine lists them apart and a removal leaves them as they were.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContainerState {
    /// Exited: started once, its process gone.
    Stopped,
    /// Its process runs.
    Running,
    /// Created and never started: no process ever existed (Docker's `created`, Podman's
    /// `created` or, on 3.0, `configured`, CRI's `CONTAINER_CREATED`).
    Created,
    /// Started, then frozen (Docker's and Podman's pause); its process still exists. CRI has
    /// no pause.
    Paused,
}

impl ContainerState {
    /// Every state, in the order the scenario format documents them.
    pub const ALL: [ContainerState; 4] = [
        ContainerState::Running,
        ContainerState::Stopped,
        ContainerState::Created,
        ContainerState::Paused,
    ];

    /// The state's name in scenarios, snapshots and reports.
    pub fn name(self) -> &'static str {
        match self {
            ContainerState::Running => "running",
            ContainerState::Stopped => "stopped",
            ContainerState::Created => "created",
            ContainerState::Paused => "paused",
        }
    }

    /// The state [`name`](Self::name) spells.
    pub fn from_name(name: &str) -> Option<ContainerState> {
        ContainerState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether the container's process exists: running or paused. This is Docker's
    /// `IsRunning`, the `Running` flag a pause leaves set
    /// (moby/moby@v20.10.24:container/state.go#L238-L244,
    /// moby/moby@v20.10.24:daemon/pause.go#L27-L45), which its image removal asks of every
    /// container (moby/moby@v20.10.24:daemon/images/image_delete.go#L369-L402).
    pub fn runs(self) -> bool {
        matches!(self, ContainerState::Running | ContainerState::Paused)
    }
}

/// A container, created from an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// The container ID (64 hex).
    pub id: Digest,
    /// The image it was created from, by config digest. It may name an image that is gone
    /// (docker-classic deletes an image under a stopped container with force; CRI never checks).
    pub image: Digest,
    /// What its process is doing.
    pub state: ContainerState,
    /// Images it mounts (Docker 28+ `HostConfig.Mounts` of type `image`), by config digest.
    pub mounts: Vec<Digest>,
    /// The layers its read-write layer stands on: the chain of its image when it was made,
    /// bottom first. docker-classic's `CreateRWLayer` takes a reference on that chain
    /// (`moby/moby@v28.5.2:layer/layer_store.go#L466-L500`), which outlives a forced delete
    /// of the image, so the store must remember it when the image is gone.
    pub layers: Vec<Digest>,
    /// The Podman pod it belongs to, by pod ID (the infra container's too).
    pub pod: Option<Digest>,
}

impl Store {
    /// The pod whose infra container is `container`.
    pub fn pod_of_infra(&self, container: &Digest) -> Option<&Pod> {
        self.pods.iter().find(|p| &p.infra == container)
    }

    /// Removes the pod `id` with every container in it (`podman pod rm --force`).
    pub fn remove_pod(&mut self, id: &Digest) {
        self.containers.retain(|c| c.pod.as_ref() != Some(id));
        self.pods.retain(|p| &p.id != id);
    }

    /// The manifest list with this ID.
    pub fn manifest_list(&self, id: &Digest) -> Option<&ManifestList> {
        self.manifest_lists.iter().find(|l| &l.id == id)
    }

    /// Whether some stored manifest list names the manifest `digest` as an instance.
    pub fn in_manifest_list(&self, digest: &Digest) -> bool {
        self.manifest_lists
            .iter()
            .any(|l| l.instances.contains(digest))
    }

    /// The image with this config digest.
    pub fn image(&self, config: &Digest) -> Option<&Image> {
        self.images.iter().find(|i| &i.config == config)
    }

    /// Images built from `config` (classic-builder / commit children).
    pub fn children<'a>(&'a self, config: &'a Digest) -> impl Iterator<Item = &'a Image> + 'a {
        self.images
            .iter()
            .filter(move |i| i.parent.as_ref() == Some(config))
    }

    /// Containers created from `config`.
    pub fn containers_of<'a>(
        &'a self,
        config: &'a Digest,
    ) -> impl Iterator<Item = &'a Container> + 'a {
        self.containers.iter().filter(move |c| &c.image == config)
    }
}

impl Listing {
    /// The listing of an engine that shows every image by its config digest with its stored
    /// names, tags first then digest references, each sorted (CRI's `ListImages` repoTags +
    /// repoDigests; libpod's `Names`), and every container with its state.
    pub fn by_config_tags_then_digests(store: &Store) -> Listing {
        let images = store
            .images
            .iter()
            .map(|image| {
                let sorted = |tags: bool| {
                    let mut names: Vec<String> = image
                        .refs
                        .iter()
                        .filter(|r| r.is_tag() == tags)
                        .map(|r| r.full())
                        .collect();
                    names.sort();
                    names
                };
                let mut names = sorted(true);
                names.extend(sorted(false));
                ListedImage {
                    id: image.config.clone(),
                    names,
                }
            })
            .collect();
        Listing {
            images,
            containers: store.container_states(),
        }
    }
}

impl Store {
    /// Every container with its state, in creation order: what every engine's container list
    /// shows of them.
    pub fn container_states(&self) -> Vec<(Digest, ContainerState)> {
        self.containers
            .iter()
            .map(|c| (c.id.clone(), c.state))
            .collect()
    }
}

/// A store as an engine's list APIs show it: what the harness can observe on a live engine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// Every image the engine lists (including untagged ones), with the names it shows.
    pub images: Vec<ListedImage>,
    /// Every container left, with its state.
    pub containers: Vec<(Digest, ContainerState)>,
}

/// One listed image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedImage {
    /// The engine's image ID (config digest, or manifest digest on docker-containerd).
    pub id: Digest,
    /// The names listed for it, fully qualified (tags, then digest references), sorted.
    pub names: Vec<String>,
}
