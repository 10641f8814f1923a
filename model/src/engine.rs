//! Engines and the versions of them the model knows.

use crate::engines;
use crate::outcome::Outcome;
use crate::request::Request;
use crate::store::{Listing, Store};
use std::fmt;

/// An engine family: one module of rules each, under [`engines`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Engine {
    /// Docker Engine with the classic graphdriver image store (moby `daemon/images`).
    DockerClassic,
    /// Docker Engine with the containerd image store (moby `daemon/containerd`).
    DockerContainerd,
    /// The containerd CRI plugin's `ImageService.RemoveImage`.
    CriContainerd,
    /// Podman 3.2+ on containers/common `libimage`.
    PodmanLibimage,
    /// Podman before libimage (`libpod/image`, 1.x–3.1).
    LibpodLegacy,
}

impl Engine {
    /// Every engine, in the order reports show them.
    pub const ALL: [Engine; 5] = [
        Engine::DockerClassic,
        Engine::DockerContainerd,
        Engine::CriContainerd,
        Engine::PodmanLibimage,
        Engine::LibpodLegacy,
    ];

    /// The engine id used in scenarios, snapshots and on the command line.
    pub fn id(self) -> &'static str {
        match self {
            Engine::DockerClassic => "docker-classic",
            Engine::DockerContainerd => "docker-containerd",
            Engine::CriContainerd => "cri-containerd",
            Engine::PodmanLibimage => "podman-libimage",
            Engine::LibpodLegacy => "libpod-legacy",
        }
    }

    /// The profile at the version that runs live on our machines.
    pub fn default_profile(self) -> Profile {
        match self {
            Engine::DockerClassic => Profile::DockerClassic,
            Engine::DockerContainerd => Profile::DockerContainerd,
            Engine::CriContainerd => Profile::Cri17,
            Engine::PodmanLibimage => Profile::Podman43,
            Engine::LibpodLegacy => Profile::Libpod301,
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// An engine at a version. Versions are separate profiles only where their rules differ
/// (or where they run live and so must be checked separately).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Profile {
    /// Docker Engine 20.10.24, graphdriver store (the same rules hold in 26.1 classic).
    DockerClassic,
    /// Docker Engine 26.1.5 with the containerd image store.
    DockerContainerd,
    /// containerd 1.6.20 CRI plugin.
    Cri16,
    /// containerd 1.7.24 CRI plugin.
    Cri17,
    /// Podman 4.3.1 (containers/common v0.50.1).
    Podman43,
    /// Podman 5.4.2 (containers/common v0.62.3).
    Podman54,
    /// Podman 3.0.1 (`libpod/image`).
    Libpod301,
    /// Podman/libpod 1.9.3 (`libpod/runtime_img.go`): model only, it no longer runs here.
    Libpod19,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 8] = [
        Profile::DockerClassic,
        Profile::DockerContainerd,
        Profile::Cri17,
        Profile::Cri16,
        Profile::Podman43,
        Profile::Podman54,
        Profile::Libpod301,
        Profile::Libpod19,
    ];

    /// The engine family.
    pub fn engine(self) -> Engine {
        match self {
            Profile::DockerClassic => Engine::DockerClassic,
            Profile::DockerContainerd => Engine::DockerContainerd,
            Profile::Cri16 | Profile::Cri17 => Engine::CriContainerd,
            Profile::Podman43 | Profile::Podman54 => Engine::PodmanLibimage,
            Profile::Libpod301 | Profile::Libpod19 => Engine::LibpodLegacy,
        }
    }

    /// The id: the engine id for the default version, `engine@version` for the others.
    pub fn id(self) -> &'static str {
        match self {
            Profile::DockerClassic => "docker-classic",
            Profile::DockerContainerd => "docker-containerd",
            Profile::Cri17 => "cri-containerd",
            Profile::Cri16 => "cri-containerd@1.6",
            Profile::Podman43 => "podman-libimage",
            Profile::Podman54 => "podman-libimage@5.4",
            Profile::Libpod301 => "libpod-legacy",
            Profile::Libpod19 => "libpod-legacy@1.9",
        }
    }

    /// The upstream version whose rules this profile models.
    pub fn version(self) -> &'static str {
        match self {
            Profile::DockerClassic => "20.10.24",
            Profile::DockerContainerd => "26.1.5",
            Profile::Cri16 => "1.6.20",
            Profile::Cri17 => "1.7.24",
            Profile::Podman43 => "4.3.1",
            Profile::Podman54 => "5.4.2",
            Profile::Libpod301 => "3.0.1",
            Profile::Libpod19 => "1.9.3",
        }
    }

    /// Parses an id as [`Profile::id`] prints it.
    pub fn from_id(id: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.id() == id)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// What `profile` does when asked to `request` a removal from `store`.
pub fn remove(profile: Profile, store: &Store, request: &Request) -> Outcome {
    match profile.engine() {
        Engine::DockerClassic => engines::docker_classic::remove(store, request),
        Engine::DockerContainerd => engines::docker_containerd::remove(store, request),
        Engine::CriContainerd => engines::cri_containerd::remove(profile, store, request),
        Engine::PodmanLibimage => engines::podman_libimage::remove(profile, store, request),
        Engine::LibpodLegacy => engines::libpod_legacy::remove(profile, store, request),
    }
}

/// How `profile` lists `store`: the images (with the engine's ID and the names it shows) and
/// the containers. This is what a live adapter can observe, so comparisons go through it.
pub fn listing(profile: Profile, store: &Store) -> Listing {
    match profile.engine() {
        Engine::DockerClassic => engines::docker_classic::listing(store),
        Engine::DockerContainerd => engines::docker_containerd::listing(store),
        Engine::CriContainerd => engines::cri_containerd::listing(store),
        Engine::PodmanLibimage => engines::podman_libimage::listing(store),
        Engine::LibpodLegacy => engines::libpod_legacy::listing(store),
    }
}
