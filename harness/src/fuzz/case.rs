//! Generated cases, and each case as a scenario: `given` and `when` written in the scenario
//! language and read back by the project's own loader, so a case runs through the same
//! runner, synthesis, symbols and reset as every scenario of the catalogue.

use crate::scenario::{self, LoadError, Scenario};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use rmispec_model::strategies::PodRole;
use rmispec_model::strategies::{
    self, Case, IdForm, IdOf, NameShape, NameSpec, RequestSpec, Spelling, INVALID, REGISTRY,
    UNKNOWN,
};
use rmispec_model::{ContainerState, Engine, Profile};
use sha2::Digest as _;
use std::fmt::Write as _;

/// The container states an engine's builder makes: every [`ContainerState`] but `paused`
/// where the builder cannot make one or the engine cannot remove one it made.
///
/// CRI has no pause (its builder answers a typed skip: `live/cri/build.rs`), and Podman
/// 3.0.1 on a cgroups v1 host cannot force-remove a paused container (it kills, then fails
/// to resume: `containers/podman@v3.0.1:libpod/runtime_ctr.go#L608-L626`): a paused container
/// there would be a skip or a host quirk, not a finding.
pub fn states(engine: Engine) -> &'static [ContainerState] {
    const NO_PAUSE: [ContainerState; 3] = [
        ContainerState::Running,
        ContainerState::Stopped,
        ContainerState::Created,
    ];
    match engine {
        Engine::CriContainerd | Engine::LibpodLegacy => &NO_PAUSE,
        _ => &ContainerState::ALL,
    }
}

/// The `index`-th case of a campaign seeded with `seed`, and the tree that shrinks it.
///
/// Each case has its own random stream, derived from the seed and the index: the same seed
/// gives the same cases in the same order, whatever happened to the cases before it (a
/// shrink runs the engine, never the generator's stream).
///
/// A case is a sequence of one to three requests (mostly one), each typed against the store
/// before the first; its containers are in the states the profile's builder makes
/// ([`states`]). Cases for `profile` leave out the flags its API has no way to send (Docker's
/// and CRI's `--all` and `--ignore`, libimage options; Podman 3.0's `--ignore` and
/// `--no-prune`): each would be a skip or a usage error, and cost a store build.
pub fn generate(seed: u64, index: u64, profile: Profile) -> (Case, impl ValueTree<Value = Case>) {
    let bytes = sha2::Sha256::digest(format!("rmispec fuzz {seed}/{index}").as_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let libimage_flags = matches!(
        profile.engine(),
        Engine::PodmanLibimage | Engine::LibpodLegacy
    );
    let legacy_cli = profile.engine() == Engine::LibpodLegacy;
    let docker = matches!(
        profile.engine(),
        Engine::DockerClassic | Engine::DockerContainerd
    );
    // The engines whose builders commit children (`live/docker/build.rs`, `live/podman/build.rs`).
    let committed = matches!(
        profile.engine(),
        Engine::DockerContainerd | Engine::PodmanLibimage | Engine::LibpodLegacy
    );
    let tree = strategies::case_with(states(profile.engine()))
        .prop_map(move |mut case| {
            case.children_committed = committed;
            if legacy_cli {
                // Podman 3.0.1's CLI has neither `--ignore` nor `--no-prune` (`live/podman/cli.rs`).
                for step in &mut case.steps {
                    step.ignore = false;
                    step.prune = true;
                }
            }
            if docker {
                // Docker names *a* container of the image in its conflict messages, the first
                // its container store's map gives (`container.First`, Go map order:
                // moby/moby@v28.5.2:container/memory_store.go), so with two containers on one
                // image the name varies from run to run. One container per image keeps each
                // case's answer fixed; the catalogue holds the two-container stores.
                let mut seen = std::collections::HashSet::new();
                let images = case.store.images.len().max(1);
                case.store
                    .containers
                    .retain(|c| seen.insert(c.image as usize % images));
            }
            if libimage_flags {
                // An image loaded on another's layers adds none of its own: libimage's layer
                // tree takes an image whose layers and history extend another's by one step
                // for that one's child, link or none (`areParentAndChild`,
                // `containers/common@v0.50.1:libimage/oci.go#L61-L95`), and the builder
                // refuses a store where Podman sees a parent the scenario does not give
                // (`live/podman/build.rs`). On the same layers it is a twin of the other
                // (the model's `podman::Storage::is_parent_of`).
                for n in 0..case.store.images.len() {
                    if case.store.stacked_on(n).is_some() {
                        case.store.images[n].own_layer = false;
                    }
                }
                // An image whose container is a pod's infra container has no other
                // container: libpod removes an image's containers in its state's order, the
                // order of their random IDs in BoltDB (Podman 3.0 stops at the infra
                // container, 4.3 removes the pod first and then meets its member again:
                // `model/src/engines/libpod_legacy.rs`), so two would make the answer vary
                // from run to run. The catalogue pins the one-container cases.
                let images = case.store.images.len().max(1);
                let is_infra: Vec<bool> = (0..case.store.containers.len())
                    .map(|k| case.store.pod_of(k) == Some(k))
                    .collect();
                let infra_images: std::collections::HashSet<usize> = case
                    .store
                    .containers
                    .iter()
                    .zip(&is_infra)
                    .filter(|(_, &infra)| infra)
                    .map(|(c, _)| c.image as usize % images)
                    .collect();
                // The first infra container of each such image stays, and nothing else on it.
                let mut kept = std::collections::HashSet::new();
                let mut k = 0;
                case.store.containers.retain(|c| {
                    let image = c.image as usize % images;
                    let keep =
                        !infra_images.contains(&image) || (is_infra[k] && kept.insert(image));
                    k += 1;
                    keep
                });
            } else {
                // Only Podman has pods.
                for c in &mut case.store.containers {
                    c.pod = PodRole::Alone;
                }
            }
            if !libimage_flags {
                for step in &mut case.steps {
                    step.ignore = false;
                    // `--all` stays only where it is the whole request (no names).
                    step.all &= step.names.is_empty();
                }
            }
            case
        })
        .new_tree(&mut runner)
        .expect("the case strategy never rejects");
    (tree.current(), tree)
}

/// Image `n`'s handle: `A`, `B`, …
pub fn handle(n: usize) -> String {
    strategies::handle(n).to_string()
}

/// The `id:` prefix of an image: its two prefix groups as two hex digits, so that images in
/// one first group collide on a 1-character prefix and in both groups on 2 (the synthesizer
/// grinds 2 hex digits in a few hundred hashes).
fn id_prefix(id: (u8, u8)) -> String {
    let first = ['a', 'b', 'c'][id.0 as usize % 3];
    let second = ['1', '2', '3'][id.1 as usize % 3];
    format!("{first}{second}")
}

fn q(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// A stored name, fully qualified, as the scenario language writes it; `of` is the image's
/// handle (a digest reference names its own manifest, in the local registry).
fn stored(shape: NameShape, of: &str) -> String {
    match shape {
        NameShape::Tag(domain, path, tag) => format!("{}/{path}:{tag}", domain_of(domain)),
        NameShape::Digest(_, path) => format!("<reg>/{path}@sha256:<{of}.manifest>"),
    }
}

fn domain_of(domain: &str) -> &str {
    if domain == REGISTRY {
        "<reg>"
    } else {
        domain
    }
}

/// A stored name typed as `spelling` asks (as the laws' `spell` types a reference).
fn spell(shape: NameShape, of: &str, spelling: Spelling) -> String {
    let full = stored(shape, of);
    let NameShape::Tag(domain, path, tag) = shape else {
        return full;
    };
    let familiar_path = match domain {
        "docker.io" => path.strip_prefix("library/").unwrap_or(path).to_owned(),
        d => format!("{}/{path}", domain_of(d)),
    };
    match spelling {
        Spelling::Full => full,
        Spelling::Familiar => format!("{familiar_path}:{tag}"),
        Spelling::Short => {
            let name = if domain == "localhost" {
                path.to_owned()
            } else {
                familiar_path
            };
            if tag == "latest" {
                name
            } else {
                format!("{name}:{tag}")
            }
        }
    }
}

/// The names each image of `case` keeps: the store's, less digest references on children
/// when children are committed.
fn names(case: &Case) -> Vec<Vec<NameShape>> {
    let mut names = case.store.names();
    if case.children_committed {
        for (n, kept) in names.iter_mut().enumerate() {
            if case.store.parent_of(n).is_some() {
                kept.retain(|s| matches!(s, NameShape::Tag(..)));
            }
        }
    }
    names
}

/// Whether image `n` of `case` is a committed child.
fn committed(case: &Case, n: usize) -> bool {
    case.children_committed && case.store.parent_of(n).is_some()
}

/// Whether any image of `case` is a committed child (one needs a parent, so the store has two
/// images or more).
fn any_committed(case: &Case) -> bool {
    (0..case.store.images.len()).any(|n| committed(case, n))
}

/// The symbol of image `n`'s manifest digest: `manifest`, or `config` for a committed child,
/// whose manifest only the engine knows (the live symbol table gives it the ID for both, the
/// model the synthesized manifest: a request naming it would compare two different names).
fn manifest(case: &Case, n: usize) -> &'static str {
    if committed(case, n) {
        "config"
    } else {
        "manifest"
    }
}

/// The name a request types for `spec` in `case`'s store, with symbols (`<A.config:3>`).
pub fn typed(spec: NameSpec, case: &Case) -> String {
    let store = &case.store;
    let count = store.images.len();
    let image = |i: u8| (count > 0).then(|| i as usize % count);
    match spec {
        NameSpec::Stored {
            image: i,
            name,
            spelling,
        } => match image(i) {
            Some(n) => {
                let names = &names(case)[n];
                match names.get(name as usize % names.len().max(1)) {
                    Some(&shape) => spell(shape, &handle(n), spelling),
                    None => format!("sha256:<{}.config>", handle(n)),
                }
            }
            None => UNKNOWN[0].into(),
        },
        NameSpec::Id { image: i, of, form } => match image(i) {
            Some(n) => {
                let digest = match of {
                    IdOf::Manifest if !committed(case, n) => "manifest",
                    _ => "config",
                };
                let h = handle(n);
                // A committed child's ID is the engine's (random) on the live side and the
                // synthesized one in the model, so a short prefix of any ID may name it on
                // one side only (`a` is ambiguous where the child's ID starts with `a`);
                // 12 characters make that a 16⁻¹² chance.
                let shortest = if any_committed(case) { 12 } else { 1 };
                let width = |k: u8| k.clamp(shortest, 64);
                match form {
                    IdForm::Prefixed => format!("sha256:<{h}.{digest}>"),
                    IdForm::Bare => format!("<{h}.{digest}>"),
                    IdForm::Prefix(k) => format!("<{h}.{digest}:{}>", width(k)),
                    IdForm::PrefixedPrefix(k) => format!("sha256:<{h}.{digest}:{}>", width(k)),
                }
            }
            None => UNKNOWN[3].into(),
        },
        NameSpec::DigestIn { image: i, repo } => match image(i) {
            Some(n) => {
                let repos = ["<reg>/app", "docker.io/library/busybox", "localhost/app"];
                format!(
                    "{}@sha256:<{}.{}>",
                    repos[repo as usize % repos.len()],
                    handle(n),
                    manifest(case, n)
                )
            }
            None => UNKNOWN[1].into(),
        },
        NameSpec::TaggedDigest { image: i } => match image(i) {
            Some(n) => format!("<reg>/app:9@sha256:<{}.{}>", handle(n), manifest(case, n)),
            None => UNKNOWN[2].into(),
        },
        NameSpec::Unknown(k) => {
            let name = UNKNOWN[k as usize % UNKNOWN.len()];
            // A hex name (`9`) is unknown because every ID starts with a chosen `a`-`c`; a
            // committed child's ID is the engine's (random) and the model's (synthesized), so
            // the same hex could name it on one side only.
            if any_committed(case) && rmispec_model::digest::is_hex(name) {
                UNKNOWN[0].into()
            } else {
                name.into()
            }
        }
        NameSpec::Invalid(k) => INVALID[k as usize % INVALID.len()].into(),
    }
}

/// `given:` in the scenario language.
fn given(case: &Case) -> String {
    let store = &case.store;
    let names = names(case);
    let mut s = String::from("given:\n");
    if store.images.is_empty() {
        s.push_str("  images: {}\n");
        return s;
    }
    s.push_str("  images:\n");
    for (n, image) in store.images.iter().enumerate() {
        let h = handle(n);
        let tags: Vec<String> = names[n].iter().map(|&t| q(&stored(t, &h))).collect();
        let _ = writeln!(s, "    {h}:");
        if !committed(case, n) {
            let _ = writeln!(s, "      id: {}", q(&id_prefix(image.id)));
        }
        let _ = writeln!(s, "      tags: [{}]", tags.join(", "));
        if let Some(p) = store.parent_of(n) {
            let _ = writeln!(s, "      parent: {}", handle(p));
        }
        if store.pulled_by_tag(n) {
            s.push_str("      made_by: pull\n");
        }
        // A child lists the layers it adds to its parent's; any other image its whole stack
        // above the base, so an image stacked on another lists that one's stack first.
        let layers = if store.parent_of(n).is_some() {
            Vec::from_iter(store.has_own_layer(n).then(|| format!("l{n}")))
        } else {
            stack(store, n)
        };
        if !layers.is_empty() {
            let _ = writeln!(s, "      layers: [{}]", layers.join(", "));
        }
    }
    let pods: Vec<String> = (0..store.containers.len())
        .filter(|&k| store.container_image(k).is_some() && store.pod_of(k) == Some(k))
        .map(|k| format!("    p{}: {{infra: c{}}}\n", k + 1, k + 1))
        .collect();
    if !pods.is_empty() {
        s.push_str("  pods:\n");
        s.extend(pods);
    }
    let containers: Vec<String> = (0..store.containers.len())
        .filter_map(|k| {
            let image = store.container_image(k)?;
            let state = store.containers[k].state.name();
            let pod = match store.pod_of(k) {
                Some(i) if i != k => format!(", pod: p{}", i + 1),
                _ => String::new(),
            };
            Some(format!(
                "    c{}: {{image: {}, state: {state}{pod}}}\n",
                k + 1,
                handle(image)
            ))
        })
        .collect();
    if !containers.is_empty() {
        s.push_str("  containers:\n");
        s.extend(containers);
    }
    s
}

/// The layers above the base of parentless image `n`, bottom first: those of the image it is
/// stacked on, then its own.
fn stack(store: &strategies::StoreSpec, n: usize) -> Vec<String> {
    let mut layers = store
        .stacked_on(n)
        .map_or_else(Vec::new, |m| stack(store, m));
    if store.has_own_layer(n) {
        layers.push(format!("l{n}"));
    }
    layers
}

/// `when:` in the scenario language.
fn when(step: &RequestSpec, case: &Case) -> String {
    let mut s = String::from("when:\n");
    if !step.names.is_empty() {
        let names: Vec<String> = step.names.iter().map(|&n| q(&typed(n, case))).collect();
        let _ = writeln!(s, "  rmi: [{}]", names.join(", "));
    }
    for (flag, on) in [
        ("force", step.force),
        ("noprune", !step.prune),
        ("ignore", step.ignore),
        ("all", step.all),
    ] {
        if on {
            let _ = writeln!(s, "  {flag}: true");
        }
    }
    s
}

/// `text`'s lines, each indented by `by` spaces.
fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// The case as a scenario file holds it, less its `summary`: `given`, then `when` and
/// `expect` for one step, or `steps:` for several. `expect(k)` gives step `k`'s entries
/// (`default:` and the rest), indented as directly under `expect:`.
pub fn text(case: &Case, expect: impl Fn(usize) -> String) -> String {
    let mut s = given(case);
    let all = RequestSpec {
        names: Vec::new(),
        force: false,
        prune: true,
        ignore: false,
        all: true,
    };
    match case.steps.as_slice() {
        [] => {
            s.push_str(&when(&all, case));
            s.push_str("expect:\n");
            s.push_str(&expect(0));
        }
        [one] => {
            s.push_str(&when(one, case));
            s.push_str("expect:\n");
            s.push_str(&expect(0));
        }
        steps => {
            s.push_str("steps:\n");
            for (k, step) in steps.iter().enumerate() {
                let request = indent(&when(step, case), 4);
                let _ = write!(s, "  - {}", &request[4..]);
                s.push_str("    expect:\n");
                s.push_str(&indent(&expect(k), 4));
            }
        }
    }
    s
}

/// What a running case expects: nothing yet. The fuzzer compares the engine with the model
/// itself; a written finding gets the engine's observation instead (`write`).
const PENDING: &str =
    "  default:\n    skip: \"a generated case: the fuzzer compares the engine with the model\"\n";

/// The case's `given` and its requests (`when`, or `steps`), with pending expectations.
/// Equal cases give equal text: the run cache is keyed by it.
pub fn body(case: &Case) -> String {
    text(case, |_| PENDING.to_owned())
}

/// A short, stable name for a case body: `fuzz/` and 16 hex digits of its hash.
pub fn name(body: &str) -> String {
    let digest = sha2::Sha256::digest(body.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("fuzz/{hex}")
}

/// The case as a scenario, loaded by the project's loader (a case the loader refuses is a
/// bug of the generator, reported with the loader's own message).
pub fn scenario(case: &Case) -> Result<Scenario, LoadError> {
    let body = body(case);
    let name = name(&body);
    let text = format!("summary: a generated case\n{body}");
    let mut s = scenario::load_bytes(format!("{name}.yaml"), text)?;
    s.name = name;
    Ok(s)
}

/// One line about a case's size, for the shrink history: `3 images, 4 names, 1 container;
/// rmi 2 names, force`.
pub fn describe(case: &Case) -> String {
    let store = &case.store;
    let names: usize = names(case).iter().map(Vec::len).sum();
    let containers = (0..store.containers.len())
        .filter(|&k| store.container_image(k).is_some())
        .count();
    let mut s = format!(
        "{} image{}, {names} name{}, {containers} container{}",
        store.images.len(),
        plural(store.images.len()),
        plural(names),
        plural(containers)
    );
    for step in &case.steps {
        let _ = write!(
            s,
            "; rmi {} name{}",
            step.names.len(),
            plural(step.names.len())
        );
        for (flag, on) in [
            ("force", step.force),
            ("noprune", !step.prune),
            ("ignore", step.ignore),
            ("all", step.all),
        ] {
            if on {
                let _ = write!(s, ", {flag}");
            }
        }
    }
    s
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Profile = Profile::Podman43;

    #[test]
    fn the_same_seed_gives_the_same_cases() {
        for index in 0..50 {
            assert_eq!(
                generate(7, index, P).0,
                generate(7, index, P).0,
                "case {index}"
            );
        }
        let differ = (0..50).filter(|&i| generate(7, i, P).0 != generate(8, i, P).0);
        assert!(differ.count() > 40, "another seed, other cases");
    }

    #[test]
    fn cases_are_sequences_mostly_of_one_step_the_same_for_a_seed() {
        let mut counts = [0usize; 4];
        for index in 0..400 {
            let (case, _) = generate(11, index, P);
            assert_eq!(case, generate(11, index, P).0, "case {index}");
            assert!((1..=3).contains(&case.steps.len()), "case {index}");
            counts[case.steps.len()] += 1;
        }
        // 60/30/10 % of 400, give or take.
        assert!((190..=290).contains(&counts[1]), "{counts:?}");
        assert!((80..=160).contains(&counts[2]), "{counts:?}");
        assert!((15..=70).contains(&counts[3]), "{counts:?}");
    }

    #[test]
    fn a_case_with_steps_loads_as_a_sequence_typed_against_the_first_store() {
        let mut seen = 0;
        for index in 0..200 {
            let (case, _) = generate(5, index, P);
            if case.steps.len() < 2 {
                continue;
            }
            seen += 1;
            let text = body(&case);
            let s = scenario(&case).unwrap_or_else(|e| panic!("case {index}:\n{text}\n{e}"));
            assert_eq!(s.then.len(), case.steps.len() - 1, "{text}");
            for ((when, expect), step) in s.steps().zip(&case.steps) {
                let names: Vec<String> = step.names.iter().map(|&n| typed(n, &case)).collect();
                assert_eq!(when.rmi.len(), names.len(), "{text}");
                assert_eq!(when.force, step.force, "{text}");
                assert_eq!(when.all, step.all, "{text}");
                assert!(expect.for_profile(P).skip.is_some(), "{text}");
            }
            // The same case, the same text: what the run cache is keyed by.
            assert_eq!(body(&case), text);
        }
        assert!(seen > 40, "{seen} cases with steps in 200");
    }

    #[test]
    fn containers_come_in_every_state_the_engine_builds() {
        for (profile, paused) in [
            (Profile::DockerClassic28, true),
            (Profile::Podman58, true),
            (Profile::Cri21, false),
        ] {
            let mut seen = std::collections::BTreeSet::new();
            for index in 0..300 {
                let (case, _) = generate(9, index, profile);
                seen.extend(case.store.containers.iter().map(|c| c.state.name()));
            }
            let mut want = vec!["created", "running", "stopped"];
            if paused {
                want.push("paused");
            }
            want.sort_unstable();
            assert_eq!(seen.into_iter().collect::<Vec<_>>(), want, "{profile}");
        }
    }

    #[test]
    fn docker_cases_give_an_image_one_container_and_podman_cases_more() {
        let most = |profile: Profile| {
            (0..300)
                .map(|index| {
                    let (case, _) = generate(9, index, profile);
                    let store = &case.store;
                    let mut per_image = std::collections::HashMap::new();
                    for k in 0..store.containers.len() {
                        if let Some(n) = store.container_image(k) {
                            *per_image.entry(n).or_insert(0) += 1;
                        }
                    }
                    per_image.into_values().max().unwrap_or(0)
                })
                .max()
                .unwrap_or(0)
        };
        assert_eq!(most(Profile::DockerClassic28), 1);
        assert_eq!(most(Profile::DockerContainerd28), 1);
        assert!(most(Profile::Podman58) > 1);
    }

    #[test]
    fn only_podman_cases_have_pods_and_an_infra_image_has_one_container() {
        let pods = |profile: Profile| {
            let mut pods = 0;
            let mut members = 0;
            for index in 0..300 {
                let (case, _) = generate(9, index, profile);
                let store = &case.store;
                for k in 0..store.containers.len() {
                    match store.pod_of(k) {
                        Some(i) if i == k => {
                            pods += 1;
                            let image = store.container_image(k);
                            let on_it = (0..store.containers.len())
                                .filter(|&j| store.container_image(j) == image)
                                .count();
                            assert_eq!(on_it, 1, "{profile} case {index}: {:?}", store);
                        }
                        Some(_) => members += 1,
                        None => {}
                    }
                }
                // The case is a scenario that loads, pods and all.
                if index < 40 {
                    scenario(&case).unwrap();
                }
            }
            (pods, members)
        };
        assert_eq!(pods(Profile::DockerClassic28), (0, 0));
        assert_eq!(pods(Profile::Cri21), (0, 0));
        for profile in [Profile::Podman43, Profile::Libpod301] {
            let (p, m) = pods(profile);
            assert!(p > 0 && m > 0, "{profile}: {p} pods, {m} members");
        }
    }

    #[test]
    fn docker_cases_carry_no_libimage_flags() {
        for index in 0..200 {
            let (case, _) = generate(2, index, Profile::DockerClassic28);
            for step in &case.steps {
                assert!(!step.ignore && (!step.all || step.names.is_empty()));
            }
        }
    }

    #[test]
    fn every_generated_case_loads_as_a_scenario() {
        for index in 0..500 {
            let (case, _) = generate(1, index, P);
            if let Err(e) = scenario(&case) {
                panic!("case {index} does not load:\n{}\n{e}", body(&case));
            }
        }
    }

    #[test]
    fn images_are_pulled_by_tag_and_stacked_on_others_without_a_parent() {
        let (mut pulled, mut stacked, mut chains) = (0, 0, 0);
        for index in 0..1000 {
            let (case, _) = generate(9, index, Profile::Podman58);
            let store = &case.store;
            let text = body(&case);
            for n in 0..store.images.len() {
                if store.pulled_by_tag(n) {
                    pulled += 1;
                    assert!(store.parent_of(n).is_none(), "{text}");
                }
                if let Some(m) = store.stacked_on(n) {
                    stacked += 1;
                    assert!(m < n && store.parent_of(m).is_none(), "{text}");
                    chains += usize::from(store.stacked_on(m).is_some());
                }
            }
            if store
                .images
                .iter()
                .enumerate()
                .any(|(n, _)| store.pulled_by_tag(n))
            {
                assert!(text.contains("made_by: pull"), "{text}");
            }
            // The store the loader makes of the text has the layers the spec stands for:
            // an image stacked on another shares that one's layers, with no parent.
            if index < 80 {
                let model = store.build();
                let loaded = scenario(&case).unwrap();
                for (n, image) in model.images.iter().enumerate() {
                    let spec = &loaded.given.images[handle(n).as_str()];
                    assert_eq!(spec.parent.is_some(), image.parent.is_some(), "{text}");
                    let own = spec.layers.len();
                    let above_parent = match store.parent_of(n) {
                        Some(p) => image.layers.len() - model.images[p].layers.len(),
                        None => image.layers.len() - 1,
                    };
                    assert_eq!(own, above_parent, "image {n}:\n{text}");
                }
            }
        }
        assert!(
            pulled > 20 && stacked > 20 && chains > 0,
            "{pulled} pulled, {stacked} stacked, {chains} chains"
        );
    }

    #[test]
    fn names_are_typed_in_symbols() {
        let store = strategies::StoreSpec {
            images: vec![strategies::ImageSpec {
                id: (0, 0),
                names: vec![0, 2],
                parent: None,
                own_layer: true,
                pull: false,
                on: None,
            }],
            containers: Vec::new(),
        };
        let case = Case {
            store,
            steps: Vec::new(),
            children_committed: false,
        };
        let typed_as = |spec| typed(spec, &case);
        assert_eq!(
            typed_as(NameSpec::Stored {
                image: 0,
                name: 0,
                spelling: Spelling::Short
            }),
            "busybox"
        );
        assert_eq!(
            typed_as(NameSpec::Stored {
                image: 0,
                name: 1,
                spelling: Spelling::Full
            }),
            "<reg>/app@sha256:<A.manifest>"
        );
        assert_eq!(
            typed_as(NameSpec::Id {
                image: 3,
                of: IdOf::Config,
                form: IdForm::PrefixedPrefix(3)
            }),
            "sha256:<A.config:3>"
        );
        assert!(given(&case).contains("id: \"a1\""));
    }
}
