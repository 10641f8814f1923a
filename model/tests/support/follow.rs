//! Profiles whose answer to a request is, by the model's code, another profile's answer: the
//! exhaustive checker computes it once and checks the laws once for both (see
//! `check::fast`), which is sound only as long as what is said here stays true of the code.
//! So the checker also recomputes the follower's answer on a sample of stores and panics if
//! it differs ([`SPOT_CHECK_EVERY`]), and `tests/exhaustive.rs` compares the sharing checker
//! with the baseline, which shares nothing.
//!
//! Why each follows (the model's code at this commit):
//! - docker-classic@28.5 and @20.10: `engines::docker_classic::remove` reads the profile
//!   only through `dialect(profile)`, and the dialect only reaches
//!   `grammar::parse_normalized_in` (directly, through `parse_any_in`, and through
//!   `docker::no_such_foreign` on the part before `@`): equal parses of a request's names
//!   give equal answers;
//! - docker-containerd@28.5 and @26.1: the same, `engines::docker_containerd` (`dialect`,
//!   `Work::new`);
//! - cri-containerd@1.6 and @1.7: `engines::cri_containerd::parse_docker_ref` is the only rule
//!   that differs (the module docs: "the one place the CRI profiles differ"), by dialect;
//! - cri-containerd@2.1 and @1.7: 2.1's one rule, `grpc_answer`, turns a NotFound error of
//!   `remove_image` into success, and `remove_image` returns no NotFound error (the module
//!   docs: "every request the model can express has 1.7.24's outcome");
//! - podman-libimage@5.8 and @5.4: `engines::podman_libimage::remove` reads the profile only
//!   through `Version::of`, which maps both to `V0_62` (R-P-58).
//!
//! A follower's law verdicts are its leader's: every law reads the profile only through its
//! engine (spellings, listing) and through `remove` on the same profile, with the same
//! request names (the forced and pruned variants, the repeated request), which follow alike.
//!
//! Requests follow requests too ([`answered_alike`]): an engine's model reads only some of a
//! request's flags, so two requests that differ in the others get one answer, on any store.
//! What each engine reads (the model's code at this commit, `engines/<engine>.rs` `remove`
//! and what it calls, tests apart), besides `names`, which all read:
//! - docker-classic and docker-containerd: `force`, `prune`, `platforms` (`docker::drive`'s
//!   `Options`); no `all` and no `ignore`, which `docker rmi` does not have;
//! - cri-containerd: `all` (`cri_containerd::remove`); the CRI call has no force, prune or
//!   ignore (the module docs: "`force`, `prune` and `ignore` do not exist in CRI");
//! - libpod-legacy: `all` and `force` (`libpod_legacy::check_arguments`, `rest_3_0`,
//!   `cli_1_9`); the module docs: "It knows no `ignore` and no `noprune`";
//! - podman-libimage: every flag (`podman_libimage::remove`).
//!
//! The verdicts are not shared across such requests (laws read the flags), only the answer
//! and what the laws derive from it alone (`laws::Table`).

use rmispec_model::reference::grammar::{parse_normalized_in, Dialect};
use rmispec_model::{Engine, Profile, Request};
use std::collections::HashMap;

/// Recompute the followers' answers on one store in this many, and compare.
pub const SPOT_CHECK_EVERY: usize = 16;

/// When a follower answers as its leader.
#[derive(Clone, Copy, Debug)]
pub enum When {
    /// On every request.
    Always,
    /// When every name of the request (and its part before `@`) parses alike in both
    /// dialects: same repository, tag and digest, or the same error.
    SameParse(Dialect, Dialect),
}

/// (follower, leader, when). Every leader comes before its followers in `laws::LANDED`
/// and follows no one.
pub const FOLLOWERS: &[(Profile, Profile, When)] = &[
    (
        Profile::DockerClassic28,
        Profile::DockerClassic,
        When::SameParse(Dialect::Reference0_6, Dialect::Distribution2_8),
    ),
    (
        Profile::DockerContainerd28,
        Profile::DockerContainerd,
        When::SameParse(Dialect::Reference0_6, Dialect::Reference0_5),
    ),
    (
        Profile::Cri16,
        Profile::Cri17,
        When::SameParse(Dialect::Distribution2_8, Dialect::Reference0_6),
    ),
    (Profile::Cri21, Profile::Cri17, When::Always),
    (Profile::Podman58, Profile::Podman54, When::Always),
];

/// For each of `requests`, the leader `profile` follows on it, if it does (each name parsed
/// once).
pub fn leaders(profile: Profile, requests: &[Request]) -> Vec<Option<Profile>> {
    let Some(&(_, leader, when)) = FOLLOWERS.iter().find(|(f, _, _)| *f == profile) else {
        return vec![None; requests.len()];
    };
    let When::SameParse(a, b) = when else {
        return vec![Some(leader); requests.len()];
    };
    let mut seen: Vec<(&str, bool)> = Vec::new();
    let mut out = Vec::with_capacity(requests.len());
    for request in requests {
        let mut same = true;
        for name in &request.names {
            let known = seen.iter().find(|(n, _)| n == name).map(|&(_, s)| s);
            let alike = known.unwrap_or_else(|| {
                let alike = same_parse(a, b, name);
                seen.push((name, alike));
                alike
            });
            same &= alike;
        }
        out.push(same.then_some(leader));
    }
    out
}

fn same_parse(a: Dialect, b: Dialect, name: &str) -> bool {
    let alike = |s: &str| parse_normalized_in(a, s) == parse_normalized_in(b, s);
    alike(name)
        && name
            .rsplit_once('@')
            .is_none_or(|(before, _)| alike(before))
}

/// The flags of a request an engine's model reads (see the module docs); `names` and
/// `platforms` are always read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reads {
    /// `force`.
    pub force: bool,
    /// `prune`.
    pub prune: bool,
    /// `ignore`.
    pub ignore: bool,
    /// `all`.
    pub all: bool,
}

/// What `engine`'s model reads of a request (the module docs say where).
pub fn reads(engine: Engine) -> Reads {
    let every = Reads {
        force: true,
        prune: true,
        ignore: true,
        all: true,
    };
    match engine {
        Engine::DockerClassic | Engine::DockerContainerd => Reads {
            ignore: false,
            all: false,
            ..every
        },
        Engine::CriContainerd => Reads {
            force: false,
            prune: false,
            ignore: false,
            all: true,
        },
        Engine::LibpodLegacy => Reads {
            prune: false,
            ignore: false,
            ..every
        },
        Engine::PodmanLibimage => every,
    }
}

/// What an engine reads of a request: its names, its platforms, and the flags of [`Reads`].
type Read<'r> = (&'r [String], &'r [rmispec_model::Platform], [bool; 4]);

/// For each of `requests`, the first of them (by index) that `engine` answers alike by
/// [`reads`]: the same names and platforms, the same flags where the engine reads them. A
/// request answered like no earlier one is its own.
pub fn answered_alike(engine: Engine, requests: &[Request]) -> Vec<usize> {
    let reads = reads(engine);
    let mut first: HashMap<Read<'_>, usize> = HashMap::with_capacity(requests.len());
    requests
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let flags = [
                reads.force && r.force,
                reads.prune && r.prune,
                reads.ignore && r.ignore,
                reads.all && r.all,
            ];
            *first
                .entry((r.names.as_slice(), r.platforms.as_slice(), flags))
                .or_insert(k)
        })
        .collect()
}
