//! Engines and the versions of them the model knows.

use crate::engines;
use crate::outcome::{ErrorKind, Outcome, Status};
use crate::request::Request;
use crate::store::{Listing, Store};
use crate::{Digest, Reference};
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

    /// The engine id used in scenarios and on the command line (a bare id there means the
    /// engine's newest live profile, [`Engine::default_profile`]).
    pub fn id(self) -> &'static str {
        match self {
            Engine::DockerClassic => "docker-classic",
            Engine::DockerContainerd => "docker-containerd",
            Engine::CriContainerd => "cri-containerd",
            Engine::PodmanLibimage => "podman-libimage",
            Engine::LibpodLegacy => "libpod-legacy",
        }
    }

    /// The engine's profiles, oldest first.
    pub fn profiles(self) -> impl Iterator<Item = Profile> {
        let mut v: Vec<Profile> = Profile::ALL
            .into_iter()
            .filter(move |p| p.engine() == self)
            .collect();
        v.sort_by_key(|p| p.info().order);
        v.into_iter()
    }

    /// The newest profile that runs live on our machines: what a bare engine id means on the
    /// command line and in `RMISPEC_LIVE`, and the default set of `rmispec run`.
    pub fn default_profile(self) -> Profile {
        PROFILES
            .iter()
            .find(|i| i.engine == self && i.newest)
            .map(|i| i.profile)
            .expect("every engine has a newest live profile")
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// An engine at a version. Every profile has an explicit version id (`docker-classic@20.10`);
/// versions are separate profiles where their rules differ or where they run live here (and so
/// must be checked separately). The facts of each are one row of [`PROFILES`].
///
/// Variant names predate the version ids: `DockerClassic` is `docker-classic@20.10`,
/// `DockerContainerd` is `docker-containerd@26.1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Profile {
    /// Docker Engine 20.10.24, graphdriver store (the same rules hold in 26.1 classic).
    DockerClassic,
    /// Docker Engine 28.5.2, graphdriver store: 20.10's rules with distribution/reference
    /// v0.6.0's grammar and messages.
    DockerClassic28,
    /// Docker Engine 26.1.5 with the containerd image store.
    DockerContainerd,
    /// Docker Engine 28.5.2 with the containerd image store: 26.1's rules with
    /// distribution/reference v0.6.0's grammar.
    DockerContainerd28,
    /// containerd 1.6.20 CRI plugin.
    Cri16,
    /// containerd 1.7.24 CRI plugin.
    Cri17,
    /// containerd 2.1.9 CRI plugin (`internal/cri/server/images`).
    Cri21,
    /// Podman 4.3.1 (containers/common v0.50.1).
    Podman43,
    /// Podman 5.4.2 (containers/common v0.62.3).
    Podman54,
    /// Podman 5.8.6 (containers/common v0.67.1).
    Podman58,
    /// Podman 3.0.1 (`libpod/image`).
    Libpod301,
    /// Podman/libpod 1.9.3 (`libpod/runtime_img.go`): model only, it no longer runs here.
    Libpod19,
}

/// What an engine reports as an image's ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImageIdKind {
    /// The config digest (classic Docker, CRI, Podman).
    ConfigDigest,
    /// The manifest (or index) digest (Docker's containerd store).
    ManifestDigest,
}

/// The facts of one profile: one row of [`PROFILES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProfileInfo {
    /// The profile.
    pub profile: Profile,
    /// `engine@version`, as scenarios, snapshot folders, trial and JUnit names spell it (the
    /// package build is never part of it).
    pub id: &'static str,
    /// The engine family.
    pub engine: Engine,
    /// The version in the id (`28.5`).
    pub short: &'static str,
    /// The upstream release whose rules the profile models and whose build runs live
    /// (`28.5.2`).
    pub version: &'static str,
    /// Whether it runs live on our machines (`scripts/install-engines` installs it).
    pub live: bool,
    /// What it reports as an image's ID.
    pub image_id: ImageIdKind,
    /// The newest live profile of its engine.
    pub newest: bool,
    /// Position on its engine's version line (0 oldest).
    pub order: u8,
    /// A short column label for reports.
    pub label: &'static str,
}

macro_rules! row {
    ($p:ident, $id:literal, $e:ident, $v:literal, $up:literal, live: $live:literal, $kind:ident, newest: $newest:literal, $order:literal, $label:literal) => {
        ProfileInfo {
            profile: Profile::$p,
            id: $id,
            engine: Engine::$e,
            short: $v,
            version: $up,
            live: $live,
            image_id: ImageIdKind::$kind,
            newest: $newest,
            order: $order,
            label: $label,
        }
    };
}

/// Every profile, one row each, in [`Profile::ALL`] order (reports' order).
#[rustfmt::skip]
pub const PROFILES: [ProfileInfo; 12] = [
    row!(DockerClassic,      "docker-classic@20.10",   DockerClassic,    "20.10", "20.10.24", live: true,  ConfigDigest,   newest: false, 0, "DC"),
    row!(DockerClassic28,    "docker-classic@28.5",    DockerClassic,    "28.5",  "28.5.2",   live: true,  ConfigDigest,   newest: true,  1, "DC28"),
    row!(DockerContainerd,   "docker-containerd@26.1", DockerContainerd, "26.1",  "26.1.5",   live: true,  ManifestDigest, newest: false, 0, "DK"),
    row!(DockerContainerd28, "docker-containerd@28.5", DockerContainerd, "28.5",  "28.5.2",   live: true,  ManifestDigest, newest: true,  1, "DK28"),
    row!(Cri17,              "cri-containerd@1.7",     CriContainerd,    "1.7",   "1.7.24",   live: true,  ConfigDigest,   newest: false, 1, "CRI"),
    row!(Cri16,              "cri-containerd@1.6",     CriContainerd,    "1.6",   "1.6.20",   live: true,  ConfigDigest,   newest: false, 0, "CRI1.6"),
    row!(Cri21,              "cri-containerd@2.1",     CriContainerd,    "2.1",   "2.1.9",    live: true,  ConfigDigest,   newest: true,  2, "CRI2.1"),
    row!(Podman43,           "podman-libimage@4.3",    PodmanLibimage,   "4.3",   "4.3.1",    live: true,  ConfigDigest,   newest: false, 0, "P4"),
    row!(Podman54,           "podman-libimage@5.4",    PodmanLibimage,   "5.4",   "5.4.2",    live: true,  ConfigDigest,   newest: false, 1, "P5"),
    row!(Podman58,           "podman-libimage@5.8",    PodmanLibimage,   "5.8",   "5.8.6",    live: true,  ConfigDigest,   newest: true,  2, "P5.8"),
    row!(Libpod301,          "libpod-legacy@3.0",      LibpodLegacy,     "3.0",   "3.0.1",    live: true,  ConfigDigest,   newest: true,  1, "P3"),
    row!(Libpod19,           "libpod-legacy@1.9",      LibpodLegacy,     "1.9",   "1.9.3",    live: false, ConfigDigest,   newest: false, 0, "P1"),
];

impl Profile {
    /// Every profile, in [`PROFILES`] order.
    pub const ALL: [Profile; 12] = {
        let mut all = [Profile::DockerClassic; 12];
        let mut i = 0;
        while i < PROFILES.len() {
            all[i] = PROFILES[i].profile;
            i += 1;
        }
        all
    };

    /// Every profile that runs live on our machines.
    pub fn live() -> impl Iterator<Item = Profile> {
        PROFILES.iter().filter(|i| i.live).map(|i| i.profile)
    }

    /// The profile's row of [`PROFILES`].
    pub fn info(self) -> &'static ProfileInfo {
        PROFILES
            .iter()
            .find(|i| i.profile == self)
            .expect("every profile has a row")
    }

    /// The engine family.
    pub fn engine(self) -> Engine {
        self.info().engine
    }

    /// The id, `engine@version`.
    pub fn id(self) -> &'static str {
        self.info().id
    }

    /// The upstream version whose rules this profile models (`28.5.2`).
    pub fn version(self) -> &'static str {
        self.info().version
    }

    /// What the engine reports as an image's ID.
    pub fn image_id(self) -> ImageIdKind {
        self.info().image_id
    }

    /// A short column label for reports (`DC`, `DK28`, `CRI2.1`, `P5.8`…).
    pub fn label(self) -> &'static str {
        self.info().label
    }

    /// Parses a profile id as [`Profile::id`] prints it; a bare engine id means that engine's
    /// newest live profile ([`Engine::default_profile`]).
    pub fn from_id(id: &str) -> Option<Profile> {
        if let Some(e) = Engine::ALL.into_iter().find(|e| e.id() == id) {
            return Some(e.default_profile());
        }
        Profile::from_exact_id(id)
    }

    /// Parses a full profile id (`engine@version`) only.
    pub fn from_exact_id(id: &str) -> Option<Profile> {
        PROFILES.iter().find(|i| i.id == id).map(|i| i.profile)
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
        Engine::DockerClassic => engines::docker_classic::remove(profile, store, request),
        Engine::DockerContainerd => engines::docker_containerd::remove(profile, store, request),
        Engine::CriContainerd => engines::cri_containerd::remove(profile, store, request),
        Engine::PodmanLibimage => engines::podman_libimage::remove(profile, store, request),
        Engine::LibpodLegacy => engines::libpod_legacy::remove(profile, store, request),
    }
}

/// [`remove`] of each of `requests` on the same `store`, in order: the same outcomes, with
/// what does not depend on the request found once for all of them (libimage looks every name
/// up before it removes anything, so each name is looked up once). For a caller that asks many
/// requests of one store: the exhaustive check.
pub fn remove_each<'r>(
    profile: Profile,
    store: &Store,
    requests: impl IntoIterator<Item = &'r Request>,
) -> Vec<Outcome> {
    match profile.engine() {
        Engine::PodmanLibimage => engines::podman_libimage::remove_each(profile, store, requests),
        _ => requests
            .into_iter()
            .map(|request| remove(profile, store, request))
            .collect(),
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

/// The names an image gets from a pull by `tag` whose manifest is `manifest`: what each
/// engine's pull records beside the tag (`made_by: pull` in scenarios). Each engine's rule
/// lives in its module.
pub fn pulled_names(engine: Engine, tag: &Reference, manifest: &Digest) -> Vec<Reference> {
    match engine {
        Engine::DockerClassic => engines::docker_classic::pulled_names(tag, manifest),
        Engine::CriContainerd => engines::cri_containerd::pulled_names(tag, manifest),
        Engine::DockerContainerd | Engine::PodmanLibimage | Engine::LibpodLegacy => {
            vec![tag.clone()]
        }
    }
}

/// What kind of error `profile`'s engine reported, read back from the failed call's status and
/// message as a live adapter sees them. Each engine's reading lives in its module, beside the
/// constructors of the messages it reads; `tests/laws.rs` checks on generated stores that it
/// gives back the kind of every failure the model makes.
pub fn classify(profile: Profile, status: Status, message: &str) -> ErrorKind {
    match (profile.engine(), status) {
        (Engine::DockerClassic | Engine::DockerContainerd, Status::Http(code)) => {
            engines::docker::classify(code, message)
        }
        (Engine::CriContainerd, Status::Grpc(code)) => {
            engines::cri_containerd::classify(code, message)
        }
        (Engine::PodmanLibimage, _) => engines::podman_libimage::classify(message).0,
        (Engine::LibpodLegacy, _) => engines::libpod_legacy::classify(message).0,
        // Docker's CLI refused the request itself: its exit code, not an HTTP status.
        (Engine::DockerClassic | Engine::DockerContainerd, _) => {
            engines::docker::classify_cli(message)
        }
        (Engine::CriContainerd, _) => engines::cri_containerd::classify(u8::MAX, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_all_order_with_one_row_each() {
        for (i, p) in Profile::ALL.into_iter().enumerate() {
            assert_eq!(PROFILES[i].profile, p);
            assert_eq!(p.info().profile, p);
            assert_eq!(Profile::from_exact_id(p.id()), Some(p));
            assert_eq!(Profile::from_id(p.id()), Some(p));
            let (engine, version) = p.id().split_once('@').expect("engine@version");
            assert_eq!(engine, p.engine().id());
            assert_eq!(version, p.info().short);
            assert!(p.version().starts_with(version), "{p}");
        }
    }

    #[test]
    fn each_engine_has_one_newest_live_profile_the_last_live_of_its_line() {
        for e in Engine::ALL {
            let newest: Vec<_> = e.profiles().filter(|p| p.info().newest).collect();
            assert_eq!(newest.len(), 1, "{e}");
            assert!(newest[0].info().live);
            let last_live = e.profiles().filter(|p| p.info().live).last();
            assert_eq!(last_live, Some(newest[0]), "{e}");
            assert_eq!(Profile::from_id(e.id()), Some(newest[0]));
            assert_eq!(Profile::from_exact_id(e.id()), None);
        }
        assert_eq!(
            Profile::from_id("docker-classic"),
            Some(Profile::DockerClassic28)
        );
        assert_eq!(Profile::from_id("libpod-legacy"), Some(Profile::Libpod301));
    }

    #[test]
    fn only_the_containerd_store_reports_manifest_digests() {
        for p in Profile::ALL {
            assert_eq!(
                p.image_id() == ImageIdKind::ManifestDigest,
                p.engine() == Engine::DockerContainerd,
                "{p}"
            );
        }
    }
}
