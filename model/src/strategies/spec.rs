//! Small, shrinkable descriptions of stores and requests, and what they stand for.
//!
//! A [`StoreSpec`] is a handful of small integers; [`StoreSpec::build`] turns it into a
//! [`Store`] deterministically. Digests are derived from the integers, so a shrunk failure
//! shows IDs like `a10…`, and images share ID prefixes whenever their `id` groups agree:
//! config `<c1><c2><n>000…`, manifest `<c1><c2><n>fff…`, where `c1` ∈ `abc` is the first
//! group, `c2` ∈ `123` the second and `n` the image's position. Two images in the same first
//! group share a 1-character prefix; in the same two groups, a 2-character one.
//!
//! A [`RequestSpec`] names things *in* the store (image 1's second name, spelled familiar;
//! image 0's ID cut to 3 characters), so every generated request means something.

use crate::{Container, ContainerState, Digest, Image, Pod, Reference, Repository, Request, Store};
use std::fmt::{self, Write as _};

/// The registry every digest reference lives in (as the harness's local registry).
pub const REGISTRY: &str = "127.0.0.1:5000";

/// The names an image can carry, by index. A tag belongs to at most one image (the first
/// that asks for it); a digest reference names the image's own manifest.
pub const NAME_POOL: [NameShape; 6] = [
    NameShape::Tag("docker.io", "library/busybox", "latest"),
    NameShape::Tag(REGISTRY, "app", "1"),
    NameShape::Digest(REGISTRY, "app"),
    NameShape::Tag("localhost", "app", "latest"),
    NameShape::Tag("docker.io", "library/busybox", "1"),
    NameShape::Digest("docker.io", "library/busybox"),
];

/// The tag a pulled image is pulled by ([`StoreSpec::pulled_by_tag`]).
pub const PULL_TAG: NameShape = NameShape::Tag(REGISTRY, "app", "1");

/// One entry of [`NAME_POOL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameShape {
    /// `domain/path:tag`.
    Tag(&'static str, &'static str, &'static str),
    /// `domain/path@sha256:<the image's manifest>`.
    Digest(&'static str, &'static str),
}

impl NameShape {
    fn reference(self, manifest: &Digest) -> Reference {
        match self {
            NameShape::Tag(domain, path, tag) => Reference::Tagged {
                repo: Repository::new(domain, path),
                tag: tag.into(),
            },
            NameShape::Digest(domain, path) => Reference::Digested {
                repo: Repository::new(domain, path),
                digest: manifest.clone(),
            },
        }
    }
}

/// A store, as small integers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StoreSpec {
    /// Images, oldest first.
    pub images: Vec<ImageSpec>,
    /// Containers, oldest first.
    pub containers: Vec<ContainerSpec>,
}

/// One image.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageSpec {
    /// ID prefix groups `(first, second)`, each `0..3`.
    pub id: (u8, u8),
    /// Indices into [`NAME_POOL`]; tags already taken by an older image are dropped.
    pub names: Vec<u8>,
    /// The parent, as an index taken modulo this image's position (the first image has none).
    pub parent: Option<u8>,
    /// Whether it adds a layer of its own (a child without one shares all its parent's).
    pub own_layer: bool,
    /// Asks to be pulled from the registry by its tag `<reg>/app:1` (`made_by: pull`) rather
    /// than loaded; [`StoreSpec::pulled_by_tag`] says whether it is.
    pub pull: bool,
    /// Asks to be loaded on top of an older image's layers with no parent recorded (the
    /// index, modulo this image's position); [`StoreSpec::stacked_on`] says whether it is.
    pub on: Option<u8>,
}

/// One container.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ContainerSpec {
    /// The image, taken modulo the image count.
    pub image: u8,
    /// What its process is doing.
    pub state: ContainerState,
    /// Its part in a Podman pod, as asked; [`StoreSpec::pod_of`] says what it becomes.
    pub pod: PodRole,
}

/// A container's part in a Podman pod, as a spec asks for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PodRole {
    /// In no pod.
    #[default]
    Alone,
    /// The infra container of a pod of its own (made with the pod).
    Infra,
    /// A member of the newest pod made before it.
    Member,
}

/// `prefix` padded with `fill` to 64 hex characters.
pub fn digest(prefix: &str, fill: char) -> Digest {
    let mut hex = prefix.to_owned();
    while hex.len() < 64 {
        hex.push(fill);
    }
    Digest::parse(&hex).expect("generated digests are hex")
}

/// Container `k`'s ID.
fn container_id(k: usize) -> Digest {
    digest(&format!("cc{k}"), '0')
}

/// The ID of the pod whose infra container is container `k`.
fn pod_id(k: usize) -> Digest {
    digest(&format!("dd{k}"), '0')
}

/// The shared bottom layer.
pub fn base_layer() -> Digest {
    digest("ba5e", '0')
}

impl StoreSpec {
    /// The parent of image `n`, as an index of an older image: the spec's `parent` taken
    /// modulo `n` (the first image has none).
    pub fn parent_of(&self, n: usize) -> Option<usize> {
        let p = self.images.get(n)?.parent?;
        (n > 0).then(|| p as usize % n)
    }

    /// The older image whose layers image `n` is loaded on top of, without a parent link:
    /// its `on` modulo `n`, when neither of the two has a parent (a committed child's layers
    /// are the engine's, so nothing is stacked on one, and a child's layers are its parent's).
    pub fn stacked_on(&self, n: usize) -> Option<usize> {
        let on = self.images.get(n)?.on?;
        let m = (n > 0).then(|| on as usize % n)?;
        (self.parent_of(n).is_none() && self.parent_of(m).is_none()).then_some(m)
    }

    /// Whether image `n` adds a layer of its own: when asked, and always when it has neither
    /// a parent nor an image it is stacked on (its only layer is then its own).
    pub fn has_own_layer(&self, n: usize) -> bool {
        self.images.get(n).is_some_and(|i| i.own_layer)
            || (self.parent_of(n).is_none() && self.stacked_on(n).is_none())
    }

    /// Whether image `n` is pulled by its tag: when asked, without a parent (a child is
    /// committed), and when it holds the tag `<reg>/app:1` it is pulled by. Its names are then
    /// that tag alone ([`names`](Self::names)): Podman orders a pulled image's later names
    /// otherwise than a loaded one's.
    pub fn pulled_by_tag(&self, n: usize) -> bool {
        self.pull_asked(n) && self.names().get(n).is_some_and(|k| k == &[PULL_TAG])
    }

    /// Whether image `n` asks to be pulled and can be: it has no parent.
    fn pull_asked(&self, n: usize) -> bool {
        self.images.get(n).is_some_and(|i| i.pull) && self.parent_of(n).is_none()
    }

    /// The names each image keeps, in order: its [`NAME_POOL`] entries without repeats, and
    /// without tags an older image holds already (a tag names one image); an image pulled by
    /// its tag keeps that tag alone ([`pulled_by_tag`](Self::pulled_by_tag)).
    pub fn names(&self) -> Vec<Vec<NameShape>> {
        let mut out: Vec<Vec<NameShape>> = Vec::new();
        for spec in &self.images {
            let mut kept: Vec<NameShape> = Vec::new();
            for &name in &spec.names {
                let shape = NAME_POOL[name as usize % NAME_POOL.len()];
                let taken = matches!(shape, NameShape::Tag(..))
                    && out.iter().any(|older| older.contains(&shape));
                if !taken && !kept.contains(&shape) {
                    kept.push(shape);
                }
            }
            if kept.contains(&PULL_TAG) && self.pull_asked(out.len()) {
                kept = vec![PULL_TAG];
            }
            out.push(kept);
        }
        out
    }

    /// The image container `k` is made from: its `image` modulo the image count (no images:
    /// no containers).
    pub fn container_image(&self, k: usize) -> Option<usize> {
        let c = self.containers.get(k)?;
        (!self.images.is_empty()).then(|| c.image as usize % self.images.len())
    }

    /// The pod container `k` is in, as the index of that pod's infra container: `k` itself
    /// for an infra container, the newest older infra container for a member. A role that
    /// could not be built is dropped (the container stands alone): a paused infra container
    /// (scenarios have none), a member with no pod before it, or a started member whose infra
    /// container does not run (starting a member starts its pod's infra container).
    pub fn pod_of(&self, k: usize) -> Option<usize> {
        let c = self.containers.get(k)?;
        let infra_ok = |i: usize| {
            self.containers[i].pod == PodRole::Infra
                && self.containers[i].state != ContainerState::Paused
        };
        match c.pod {
            PodRole::Alone => None,
            PodRole::Infra => infra_ok(k).then_some(k),
            PodRole::Member => {
                let infra = (0..k).rev().find(|&i| infra_ok(i))?;
                let started = c.state != ContainerState::Created;
                (!started || self.containers[infra].state == ContainerState::Running)
                    .then_some(infra)
            }
        }
    }

    /// The store this spec stands for.
    pub fn build(&self) -> Store {
        let names = self.names();
        let mut images: Vec<Image> = Vec::new();
        for (n, spec) in self.images.iter().enumerate() {
            let stem = format!(
                "{}{}{n}",
                ['a', 'b', 'c'][spec.id.0 as usize % 3],
                ['1', '2', '3'][spec.id.1 as usize % 3]
            );
            let config = digest(&stem, '0');
            let manifest = digest(&stem, 'f');
            let parent = self.parent_of(n).map(|p| &images[p]);
            let below = parent.or_else(|| self.stacked_on(n).map(|m| &images[m]));
            let mut layers = below.map_or_else(|| vec![base_layer()], |b| b.layers.clone());
            if self.has_own_layer(n) {
                layers.push(digest(&format!("1a{n}"), '0'));
            }
            let refs: Vec<Reference> = names[n].iter().map(|s| s.reference(&manifest)).collect();
            let history = Image::history_on(parent, layers.len());
            let parent = parent.map(|p| p.config.clone());
            images.push(Image {
                config,
                manifest,
                layers,
                parent,
                pulled: Image::pulled_by_digest(&refs) || self.pulled_by_tag(n),
                history,
                refs,
                platforms: vec![Default::default()],
                index: Vec::new(),
            });
        }
        let containers = (0..self.containers.len())
            .filter_map(|k| {
                let image = self.container_image(k)?;
                Some(Container {
                    id: container_id(k),
                    image: images[image].config.clone(),
                    state: self.containers[k].state,
                    mounts: Vec::new(),
                    pod: self.pod_of(k).map(pod_id),
                    layers: images[image].layers.clone(),
                })
            })
            .collect();
        let pods = (0..self.containers.len())
            .filter(|&k| self.container_image(k).is_some() && self.pod_of(k) == Some(k))
            .map(|k| Pod {
                id: pod_id(k),
                infra: container_id(k),
            })
            .collect();
        Store {
            images,
            containers,
            manifest_lists: Vec::new(),
            pods,
        }
    }
}

/// How a stored name is typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Spelling {
    /// `docker.io/library/busybox:latest`.
    Full,
    /// `busybox:latest`, `localhost/app:latest`.
    Familiar,
    /// `busybox`, `app` (`:latest` and any `docker.io/library/` or `localhost/` dropped).
    Short,
}

/// Which digest of an image an ID form is cut from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdOf {
    /// The config digest (the ID everywhere but docker-containerd).
    Config,
    /// The manifest digest (docker-containerd's ID).
    Manifest,
}

/// How an ID is typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdForm {
    /// `sha256:<64 hex>`.
    Prefixed,
    /// `<64 hex>`.
    Bare,
    /// The first `n` hex characters.
    Prefix(u8),
    /// `sha256:` and the first `n` hex characters.
    PrefixedPrefix(u8),
}

/// Names that resolve to nothing in any generated store.
pub const UNKNOWN: [&str; 4] = [
    "nosuch",
    "docker.io/library/nosuch:latest",
    "localhost/nosuch:1",
    "9",
];

/// Names that are not references at all.
pub const INVALID: [&str; 4] = ["UPPER", "a b", "busybox:", "-x"];

/// One name of a request, relative to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameSpec {
    /// A stored name of an image (falls back to the image's full ID if it has none).
    Stored {
        /// The image, taken modulo the image count.
        image: u8,
        /// Which of its names, taken modulo its name count.
        name: u8,
        /// How it is typed.
        spelling: Spelling,
    },
    /// An ID of an image.
    Id {
        /// The image, taken modulo the image count.
        image: u8,
        /// Which digest.
        of: IdOf,
        /// How it is typed.
        form: IdForm,
    },
    /// `<repo>@sha256:<manifest>` for an image, in a pool repository it may not be stored in.
    DigestIn {
        /// The image, taken modulo the image count.
        image: u8,
        /// The repository, by index (`<reg>/app`, `docker.io/library/busybox`, `localhost/app`).
        repo: u8,
    },
    /// `<reg>/app:9@sha256:<manifest>`: a tag that is not stored, and the image's digest.
    TaggedDigest {
        /// The image, taken modulo the image count.
        image: u8,
    },
    /// One of [`UNKNOWN`].
    Unknown(u8),
    /// One of [`INVALID`].
    Invalid(u8),
}

/// A request, relative to the store.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestSpec {
    /// The names, in order.
    pub names: Vec<NameSpec>,
    /// `--force`.
    pub force: bool,
    /// Prune (`false` is `--no-prune`).
    pub prune: bool,
    /// libimage `--ignore`.
    pub ignore: bool,
    /// libimage `--all`.
    pub all: bool,
}

impl NameSpec {
    /// The string a user types for this name in `store`.
    pub fn typed(self, store: &Store) -> String {
        let image = |i: u8| store.images.get(i as usize % store.images.len().max(1));
        match self {
            NameSpec::Stored {
                image: i,
                name,
                spelling,
            } => match image(i) {
                Some(img) if !img.refs.is_empty() => {
                    spell(&img.refs[name as usize % img.refs.len()], spelling)
                }
                Some(img) => img.config.prefixed(),
                None => UNKNOWN[0].into(),
            },
            NameSpec::Id { image: i, of, form } => match image(i) {
                Some(img) => {
                    let d = if of == IdOf::Config {
                        &img.config
                    } else {
                        &img.manifest
                    };
                    match form {
                        IdForm::Prefixed => d.prefixed(),
                        IdForm::Bare => d.hex().into(),
                        IdForm::Prefix(n) => d.short(n.clamp(1, 64) as usize).into(),
                        IdForm::PrefixedPrefix(n) => {
                            format!("sha256:{}", d.short(n.clamp(1, 64) as usize))
                        }
                    }
                }
                None => UNKNOWN[3].into(),
            },
            NameSpec::DigestIn { image: i, repo } => match image(i) {
                Some(img) => {
                    let repos = [
                        format!("{REGISTRY}/app"),
                        "docker.io/library/busybox".into(),
                        "localhost/app".into(),
                    ];
                    format!("{}@{}", repos[repo as usize % repos.len()], img.manifest)
                }
                None => UNKNOWN[1].into(),
            },
            NameSpec::TaggedDigest { image: i } => match image(i) {
                Some(img) => format!("{REGISTRY}/app:9@{}", img.manifest),
                None => UNKNOWN[2].into(),
            },
            NameSpec::Unknown(k) => UNKNOWN[k as usize % UNKNOWN.len()].into(),
            NameSpec::Invalid(k) => INVALID[k as usize % INVALID.len()].into(),
        }
    }
}

/// `reference` spelled as asked.
pub fn spell(reference: &Reference, spelling: Spelling) -> String {
    match (spelling, reference) {
        (Spelling::Full, r) => r.full(),
        (Spelling::Familiar, r) => r.familiar(),
        (Spelling::Short, Reference::Tagged { repo, tag }) => {
            let name = if &*repo.domain == "localhost" {
                repo.path.to_string()
            } else {
                repo.familiar()
            };
            if &**tag == "latest" {
                name
            } else {
                format!("{name}:{tag}")
            }
        }
        (Spelling::Short, r) => r.familiar(),
    }
}

impl RequestSpec {
    /// The request this spec stands for in `store`.
    pub fn build(&self, store: &Store) -> Request {
        Request {
            names: self.names.iter().map(|n| n.typed(store)).collect(),
            force: self.force,
            prune: self.prune,
            ignore: self.ignore,
            all: self.all,
            platforms: Vec::new(),
        }
    }
}

/// A store and a request, shown the way a scenario file would show them, with IDs replaced
/// by symbols (`<A>` for image A's config digest, `<A.manifest>`, `<c1>`). The third store
/// gives the handles: the store before, when showing the store after.
pub struct Shown<'a>(pub &'a Store, pub Option<&'a Request>, pub &'a Store);

/// Image handles: `A`, `B`, … in creation order.
pub fn handle(n: usize) -> char {
    (b'A' + n as u8) as char
}

/// Replaces every digest of `store` in `s` by its symbol.
pub fn symbolize(store: &Store, s: &str) -> String {
    let mut out = s.to_owned();
    for (n, image) in store.images.iter().enumerate() {
        out = out.replace(image.config.hex(), &format!("<{}>", handle(n)));
        out = out.replace(image.manifest.hex(), &format!("<{}.manifest>", handle(n)));
    }
    for (k, c) in store.containers.iter().enumerate() {
        out = out.replace(c.id.hex(), &format!("<c{}>", k + 1));
    }
    out
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Shown(store, request, handles) = *self;
        let position = |d: &Digest| {
            handles
                .images
                .iter()
                .position(|i| &i.config == d)
                .map_or('?', handle)
        };
        let mut s = String::from(if request.is_some() {
            "given:\n  images:"
        } else {
            "  images:"
        });
        if store.images.is_empty() {
            s.push_str(" {}");
        }
        for image in &store.images {
            let names: Vec<String> = image
                .refs
                .iter()
                .map(|r| symbolize(handles, &r.full()))
                .collect();
            write!(
                s,
                "\n    {}: {{id: \"{}\", tags: [{}]",
                position(&image.config),
                image.config.short(3),
                names.join(", ")
            )?;
            if let Some(p) = &image.parent {
                write!(s, ", parent: {}", position(p))?;
            }
            let layers: Vec<&str> = image.layers.iter().map(|l| l.short(4)).collect();
            write!(s, ", layers: [{}]}}", layers.join(", "))?;
        }
        if !store.containers.is_empty() {
            s.push_str("\n  containers:");
        }
        for c in &store.containers {
            let k = handles
                .containers
                .iter()
                .position(|h| h.id == c.id)
                .map_or(0, |k| k + 1);
            let state = c.state.name();
            write!(
                s,
                "\n    c{k}: {{image: {}, state: {state}}}",
                position(&c.image)
            )?;
        }
        if let Some(r) = request {
            let names: Vec<String> = r
                .names
                .iter()
                .map(|n| format!("{:?}", symbolize(handles, n)))
                .collect();
            write!(s, "\nwhen: {{rmi: [{}]", names.join(", "))?;
            for (flag, on) in [
                ("force", r.force),
                ("noprune", !r.prune),
                ("ignore", r.ignore),
                ("all", r.all),
            ] {
                if on {
                    write!(s, ", {flag}: true")?;
                }
            }
            s.push('}');
        }
        f.write_str(&s)
    }
}
