//! What Podman's two families share: how containers/storage keeps and finds images, the
//! reference helpers both use, the exit-code classes, the spelling of reports, and the
//! listing.
//!
//! Both libimage (Podman 4.3.1, 5.4.2: [`podman_libimage`](super::podman_libimage)) and the
//! legacy `libpod/image` code (Podman 3.0.1, 1.9.3: [`libpod_legacy`](super::libpod_legacy))
//! sit on containers/storage and containers/image, so the store lookups, the storage
//! transport's name resolution, the short-name candidates and the exit-code mapping are the
//! same code underneath; each family's own rules stay in its module.
//!
//! # What the model's store stands for here
//!
//! - An image's **names** are containers/storage's `Image.Names`: its tags and its
//!   `repo@sha256:…` digest names, stored fully qualified ([`names`]).
//! - Its **digests** (`Image.Digests`) are the digests of its manifests: the one
//!   [`Image::manifest`] here.
//! - Its **parent** is the layer-tree parent Podman computes from layers and history
//!   (`containers/common@v0.50.1:libimage/layer_tree.go#L233-L299`, `areParentAndChild` in
//!   `libimage/oci.go#L61-L95`; the same in `containers/podman@v3.0.1:libpod/image/layer_tree.go`
//!   and `libpod/image/image.go#L1466-L1500`): an image is the child of every image whose
//!   diff IDs it starts with and whose history it extends by exactly one entry. The model
//!   takes the store's [`Image::parent`] for that link, and widens it by the one thing the
//!   tree sees that a parent link does not: **twins**, two images without a parent and with
//!   the same layers. Every loaded or pulled image has one history entry per layer (the
//!   harness's archives, `harness/src/synth`; [`Image::history`] counts them), so twins have
//!   equal histories, and a child of one is a child of both: the other twin has children too
//!   (it is not dangling, and its removal is not reported), and the child's parent is the
//!   oldest of the twins (the tree takes the first image on the parent layer, in store
//!   order). See [`Storage::is_parent_of`].
//! - Every container is a libpod container (created through Podman). Containers that exist
//!   only in containers/storage (Buildah's, CRI-O's: "external") are not modelled, and
//!   neither are read-only images of additional stores, manifest lists, pods, image-backed
//!   volumes, or transport prefixes (`containers-storage:`, `oci:`, …) on names.

use crate::digest::{find_prefix, Digest, PrefixMatch};
use crate::outcome::{ErrorKind, Failure, Record, Status};
use crate::reference::grammar::{self, Dialect, GrammarError, Parsed};
use crate::store::{Image, ListedImage, Listing, Store};
use std::fmt;

/// The exit code of a batch without errors.
pub(crate) const OK: Status = Status::Exit(0);

/// The error classes Podman maps to exit codes (`removeErrorsToExitCode`,
/// `containers/podman@v4.3.1:pkg/domain/infra/abi/images.go#L515-L554`, unchanged in
/// `@v5.4.2#L602-L640`; the same shape in `@v3.0.1#L526-L565`). `podman-rmi(1)` documents
/// them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// No such image (`storage.ErrImageUnknown`, `ErrLayerUnknown`; 3.0.1
    /// `define.ErrNoSuchImage`): exit 1.
    NotFound,
    /// The image is in use (`storage.ErrImageUsedByContainer`; 3.0.1 also
    /// `define.ErrImageInUse`, which it uses for children and "must force" too): exit 2.
    InUse,
    /// Anything else: exit 125.
    Other,
}

impl Class {
    /// The exit code of the class.
    pub(crate) fn code(self) -> u8 {
        match self {
            Class::NotFound => 1,
            Class::InUse => 2,
            Class::Other => 125,
        }
    }
}

/// A failure of `class`, whose status is the class's exit code.
pub(crate) fn fail(kind: ErrorKind, class: Class, message: impl Into<String>) -> Failure {
    Failure {
        kind,
        message: message.into(),
        status: Status::Exit(class.code()),
    }
}

/// `removeErrorsToExitCode`: no errors → 0; any in-use error → 2; only not-found errors → 1;
/// else 125. The classes are read back from each failure's status ([`fail`]).
pub(crate) fn batch_status(errors: &[Failure]) -> Status {
    let has = |class: Class| {
        errors
            .iter()
            .any(|f| f.status == Status::Exit(class.code()))
    };
    if errors.is_empty() {
        OK
    } else if has(Class::InUse) {
        Status::Exit(Class::InUse.code())
    } else if has(Class::NotFound) && !has(Class::Other) {
        Status::Exit(Class::NotFound.code())
    } else {
        Status::Exit(Class::Other.code())
    }
}

/// A batch report as the libpod endpoints build it: every `Untagged` name, then every
/// `Deleted` ID (`entities.ImageRemoveReport`, two lists), IDs spelled as Podman spells them,
/// bare 64 hex.
pub(crate) fn records(untagged: Vec<String>, deleted: Vec<Digest>) -> Vec<Record> {
    untagged
        .into_iter()
        .map(Record::Untagged)
        .chain(
            deleted
                .into_iter()
                .map(|d| Record::Deleted(d.hex().to_owned())),
        )
        .collect()
}

/// The image's names in containers/storage's order: the store's order.
///
/// `Image::refs` is the order the engine keeps the names in, and the harness builds a live
/// store so that the order holds. How names arrive decides that order on a real Podman:
/// a pull or load commits each name with `AddNames`
/// (`containers/image@v5.23.0:storage/storage_dest.go#L868-L872`), which prepends
/// (`containers/storage@v1.43.0:utils.go#L66-L69`; Podman 3.0.1's older copy calls
/// `SetNames(new + old)`, `containers/image@v5.10.2:storage/storage_image.go#L806-L816`), so
/// an image loaded with the tags `a`, `b` has `Names = [b a]` (docs/engines.md#podman); `podman tag`
/// appends in 4.3.1 (`containers/common@v0.50.1:libimage/image.go#L539-L541`) and 3.0.1
/// (`containers/podman@v3.0.1:libpod/image/image.go#L760-L783`). The order shows in the
/// "more than one tag ([…])" message and in the order of `Untagged:` records.
pub(crate) fn names(image: &Image) -> Vec<String> {
    image.refs.iter().map(|r| r.full()).collect()
}

/// Go's `fmt` spelling of a `[]string` with `%s`/`%v`: `[a b]`.
pub(crate) fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// Go's `%q` for the strings the model quotes (names, IDs): printable ASCII, so only `"` and
/// `\` need escaping.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A reference as containers/image's `docker/reference` package holds one: a name (as typed,
/// or normalized), a tag, a digest. The digest is kept as written (`algorithm:hex`) because a
/// valid sha384/sha512 digest parses but can never match a stored (sha256) image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ref {
    /// The domain as `reference.Domain` reports it, if any.
    pub domain: Option<String>,
    /// The path below the domain (`reference.Path`).
    pub path: String,
    /// The tag, if any.
    pub tag: Option<String>,
    /// The digest as written, if any.
    pub digest: Option<String>,
}

impl Ref {
    /// `reference.Parse`: no normalization. The domain is the one the grammar's own split gives
    /// (`Domain(named)` on a parsed reference). A valid digest of an algorithm the model does
    /// not store (sha384, sha512) parses too.
    pub(crate) fn parse(s: &str) -> Result<Ref, GrammarError> {
        let (name, tag, digest) = match grammar::parse(s) {
            Ok(p) => (p.name, p.tag, p.digest.map(|d| d.to_string())),
            Err(GrammarError::ForeignDigest { name, tag, digest }) => (name, tag, Some(digest)),
            Err(e) => return Err(e),
        };
        let probe = Parsed {
            name,
            tag: None,
            digest: None,
        };
        let (domain, path) = probe.domain_and_path(Dialect::Distribution2_8);
        Ok(Ref {
            domain: domain.map(str::to_owned),
            path: path.to_owned(),
            tag,
            digest,
        })
    }

    /// `reference.ParseNormalizedNamed`: `docker.io` and `library/` filled in.
    pub(crate) fn parse_normalized(s: &str) -> Result<Ref, GrammarError> {
        let (repo, tag, digest) = match grammar::parse_normalized(s) {
            Ok((repo, tag, digest)) => (repo, tag, digest.map(|d| d.to_string())),
            Err(GrammarError::ForeignDigest { name, tag, digest }) => {
                let (repo, _, _) = grammar::parse_normalized(&name)?;
                (repo, tag, Some(digest))
            }
            Err(e) => return Err(e),
        };
        Ok(Ref {
            domain: Some(repo.domain.to_string()).filter(|d| !d.is_empty()),
            path: repo.path.to_string(),
            tag,
            digest,
        })
    }

    /// `reference.ParseDockerRef` (`containers/image@v5.23.0:docker/reference/normalize.go#L58-L85`):
    /// normalized, the tag dropped when a digest is present, `latest` added when neither is.
    pub(crate) fn parse_docker(s: &str) -> Result<Ref, GrammarError> {
        Ok(Ref::parse_normalized(s)?
            .without_tag_if_digested()
            .tag_name_only())
    }

    /// `Named.Name()`: the domain and path.
    pub(crate) fn name(&self) -> String {
        match &self.domain {
            Some(domain) => format!("{domain}/{}", self.path),
            None => self.path.clone(),
        }
    }

    /// Whether it is a short name: its domain (if any) is not a registry, i.e. has no `.` or
    /// `:` and is not `localhost` (`containers/image@v5.23.0:pkg/shortnames/shortnames.go#L33-L56`,
    /// the same test as libpod 3.0.1's `isRegistry`, `libpod/image/parts.go#L16-L20`).
    pub(crate) fn is_short(&self) -> bool {
        !self.domain.as_deref().is_some_and(is_registry)
    }

    /// `reference.TagNameOnly`: `latest` when there is neither tag nor digest.
    pub(crate) fn tag_name_only(mut self) -> Ref {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(grammar::DEFAULT_TAG.to_owned());
        }
        self
    }

    /// libimage's `normalizeTaggedDigestedNamed`: drop the tag of a tagged and digested
    /// reference (`containers/common@v0.50.1:libimage/normalize.go#L121-L143`).
    pub(crate) fn without_tag_if_digested(mut self) -> Ref {
        if self.digest.is_some() {
            self.tag = None;
        }
        self
    }

    /// `reference.TrimNamed`: the name alone.
    pub(crate) fn trimmed(&self) -> Ref {
        Ref {
            tag: None,
            digest: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for Ref {
    /// `String()`: `name[:tag][@digest]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Whether a domain names a registry: it has `.` or `:`, or is `localhost`.
pub(crate) fn is_registry(domain: &str) -> bool {
    domain.contains(['.', ':']) || domain == "localhost"
}

/// The registries the live engines search for short names:
/// `unqualified-search-registries = []` in our `registries.conf` (and
/// `short-name-mode = "disabled"`, which only matters for pulls).
pub(crate) const SEARCH_REGISTRIES: [&str; 0] = [];

/// The short-name aliases the live engines read: Debian's
/// `/etc/containers/registries.conf.d/shortnames.conf` (package
/// `golang-github-containers-common` 0.50.1+ds1-4 on bookworm, a copy of
/// containers/shortnames). Podman on these machines points `CONTAINERS_REGISTRIES_CONF` (3.0.1:
/// `REGISTRIES_CONFIG_PATH`) at its own `registries.conf`, but containers/image keeps reading
/// the system drop-in directory whenever only the file is chosen
/// (`containers/image@v5.23.0:pkg/sysregistriesv2/system_registries_v2.go#L541-L579`), so
/// these aliases are in force for every Podman version run here (checked: `podman rmi busybox`
/// with both `localhost/busybox:latest` and `docker.io/library/busybox:latest` stored untags
/// the docker.io one).
pub(crate) const ALIASES: [(&str, &str); 60] = [
    ("almalinux", "docker.io/library/almalinux"),
    ("almalinux-minimal", "docker.io/library/almalinux-minimal"),
    ("centos", "quay.io/centos/centos"),
    ("skopeo", "quay.io/skopeo/stable"),
    ("buildah", "quay.io/buildah/stable"),
    ("podman", "quay.io/podman/stable"),
    ("alpine", "docker.io/library/alpine"),
    ("docker", "docker.io/library/docker"),
    ("registry", "docker.io/library/registry"),
    ("hello-world", "docker.io/library/hello-world"),
    ("swarm", "docker.io/library/swarm"),
    (
        "fedora-minimal",
        "registry.fedoraproject.org/fedora-minimal",
    ),
    ("fedora", "registry.fedoraproject.org/fedora"),
    (
        "opensuse/tumbleweed",
        "registry.opensuse.org/opensuse/tumbleweed",
    ),
    (
        "opensuse/tumbleweed-dnf",
        "registry.opensuse.org/opensuse/tumbleweed-dnf",
    ),
    (
        "opensuse/tumbleweed-microdnf",
        "registry.opensuse.org/opensuse/tumbleweed-microdnf",
    ),
    ("opensuse/leap", "registry.opensuse.org/opensuse/leap"),
    ("opensuse/busybox", "registry.opensuse.org/opensuse/busybox"),
    ("tumbleweed", "registry.opensuse.org/opensuse/tumbleweed"),
    (
        "tumbleweed-dnf",
        "registry.opensuse.org/opensuse/tumbleweed-dnf",
    ),
    (
        "tumbleweed-microdnf",
        "registry.opensuse.org/opensuse/tumbleweed-microdnf",
    ),
    ("leap", "registry.opensuse.org/opensuse/leap"),
    ("leap-dnf", "registry.opensuse.org/opensuse/leap-dnf"),
    (
        "leap-microdnf",
        "registry.opensuse.org/opensuse/leap-microdnf",
    ),
    ("tw-busybox", "registry.opensuse.org/opensuse/busybox"),
    ("suse/sle15", "registry.suse.com/suse/sle15"),
    ("suse/sles12sp5", "registry.suse.com/suse/sles12sp5"),
    ("suse/sles12sp4", "registry.suse.com/suse/sles12sp4"),
    ("suse/sles12sp3", "registry.suse.com/suse/sles12sp3"),
    ("sle15", "registry.suse.com/suse/sle15"),
    ("sles12sp5", "registry.suse.com/suse/sles12sp5"),
    ("sles12sp4", "registry.suse.com/suse/sles12sp4"),
    ("sles12sp3", "registry.suse.com/suse/sles12sp3"),
    ("rhel", "registry.access.redhat.com/rhel"),
    ("rhel6", "registry.access.redhat.com/rhel6"),
    ("rhel7", "registry.access.redhat.com/rhel7"),
    ("ubi7", "registry.access.redhat.com/ubi7"),
    ("ubi7-init", "registry.access.redhat.com/ubi7-init"),
    ("ubi7-minimal", "registry.access.redhat.com/ubi7-minimal"),
    ("ubi8", "registry.access.redhat.com/ubi8"),
    ("ubi8-minimal", "registry.access.redhat.com/ubi8-minimal"),
    ("ubi8-init", "registry.access.redhat.com/ubi8-init"),
    ("ubi8-micro", "registry.access.redhat.com/ubi8-micro"),
    ("ubi8/ubi", "registry.access.redhat.com/ubi8/ubi"),
    (
        "ubi8/ubi-minimal",
        "registry.access.redhat.com/ubi8-minimal",
    ),
    ("ubi8/ubi-init", "registry.access.redhat.com/ubi8-init"),
    ("ubi8/ubi-micro", "registry.access.redhat.com/ubi8-micro"),
    ("rockylinux", "docker.io/library/rockylinux"),
    ("debian", "docker.io/library/debian"),
    (
        "kali-bleeding-edge",
        "docker.io/kalilinux/kali-bleeding-edge",
    ),
    ("kali-dev", "docker.io/kalilinux/kali-dev"),
    ("kali-experimental", "docker.io/kalilinux/kali-experimental"),
    ("kali-last-release", "docker.io/kalilinux/kali-last-release"),
    ("kali-rolling", "docker.io/kalilinux/kali-rolling"),
    ("ubuntu", "docker.io/library/ubuntu"),
    (
        "oraclelinux",
        "container-registry.oracle.com/os/oraclelinux",
    ),
    ("busybox", "docker.io/library/busybox"),
    ("php", "docker.io/library/php"),
    ("python", "docker.io/library/python"),
    ("node", "docker.io/library/node"),
];

/// `shortnames.ResolveLocally` (`containers/image@v5.23.0:pkg/shortnames/shortnames.go#L414-L477`;
/// the same in `@v5.10.2#L400-L463`, used by Podman 3.0.1): a name with a registry is its
/// own single candidate (normalized, `latest` added); a short name gives its alias first
/// (tag or digest carried over, [`ALIASES`]), then `localhost/<name>`, then one candidate per
/// unqualified-search registry ([`SEARCH_REGISTRIES`]).
pub(crate) fn resolve_locally(input: &str) -> Result<Vec<Ref>, GrammarError> {
    let parsed = Ref::parse(input)?;
    if !parsed.is_short() {
        return Ok(vec![Ref::parse_normalized(input)?.tag_name_only()]);
    }
    let mut candidates = Vec::new();
    let short = parsed.trimmed().to_string();
    if let Some((_, target)) = ALIASES.iter().find(|(alias, _)| *alias == short) {
        let alias = Ref::parse_normalized(target)?;
        candidates.push(
            Ref {
                tag: parsed.tag.clone(),
                digest: parsed.digest.clone(),
                ..alias
            }
            .tag_name_only(),
        );
    }
    for registry in std::iter::once("localhost").chain(SEARCH_REGISTRIES) {
        candidates.push(Ref::parse_normalized(&format!("{registry}/{input}"))?.tag_name_only());
    }
    Ok(candidates)
}

/// Why containers/storage's `DeleteImage` refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DeleteError {
    /// No image has that ID (any more): `ErrNotAnImage`.
    NotAnImage,
    /// A container uses it: `image used by <cid>: image is in use by a container`.
    UsedBy(Digest),
}

/// containers/storage as one request changes it: the images (with their names) and the
/// containers, plus the lookups every Podman version makes on them.
#[derive(Clone, Debug)]
pub(crate) struct Storage(pub(crate) Store);

impl Storage {
    /// The image with this ID.
    pub(crate) fn image(&self, id: &Digest) -> Option<&Image> {
        self.0.image(id)
    }

    /// Its names, in containers/storage's order ([`names`]); none if it is gone.
    pub(crate) fn names(&self, id: &Digest) -> Vec<String> {
        match self.image(id) {
            Some(image) => names(image),
            None => self
                .0
                .manifest_list(id)
                .map(|l| l.refs.iter().map(|r| r.full()).collect())
                .unwrap_or_default(),
        }
    }

    /// The image a manifest list resolves to on a lookup by its name or ID: the instance
    /// for the local platform (every instance the harness adds is `linux/amd64`, so
    /// `ChooseInstance` takes the first), if an image with that manifest digest is stored;
    /// else the list itself (`returnManifestIfNoInstance`, which `RemoveImages` sets), and
    /// any other ID is itself. libimage only
    /// (`containers/podman@v5.8.2:vendor/go.podman.io/common/libimage/runtime.go#L397-L437`,
    /// `manifest_list.go#L274-L312`, `runtime.go#L767-L775`; the same rules in common
    /// v0.50.1 and v0.62.3). Checked live on 5.8.6: `rmi <list name>` removed the image.
    pub(crate) fn through_manifest_list(&self, id: Digest) -> Digest {
        let Some(list) = self.0.manifest_list(&id) else {
            return id;
        };
        list.instances
            .first()
            .and_then(|first| self.0.images.iter().find(|i| &i.manifest == first))
            .map_or(id, |i| i.config.clone())
    }

    /// Every image ID, in containers/storage's order (`Images()`: creation order; `Delete`
    /// keeps the others in order, `containers/storage@v1.43.0:images.go#L559-L602`).
    pub(crate) fn ids(&self) -> Vec<Digest> {
        // The harness creates the manifest lists after every image.
        self.0
            .images
            .iter()
            .map(|i| i.config.clone())
            .chain(self.0.manifest_lists.iter().map(|l| l.id.clone()))
            .collect()
    }

    /// `store.Image(id)` → `imageStore.lookup` (`containers/storage@v1.43.0:images.go#L376-L386`,
    /// `@v1.57.2#L652-L662`; the same in the versions under Podman 3.0.1 and 1.9.3): a full ID,
    /// else an exact stored name, else an ID prefix through the truncindex
    /// (`pkg/truncindex/truncindex.go#L100-L126`): any length but empty, and a prefix shared by
    /// several IDs finds nothing.
    /// A manifest list is an image record there too, so its ID and names are found alike.
    pub(crate) fn lookup(&self, key: &str) -> Option<Digest> {
        let images = &self.0.images;
        let lists = &self.0.manifest_lists;
        if let Some(image) = images.iter().find(|i| i.config.hex() == key) {
            return Some(image.config.clone());
        }
        if let Some(list) = lists.iter().find(|l| l.id.hex() == key) {
            return Some(list.id.clone());
        }
        if let Some(image) = images
            .iter()
            .find(|i| i.refs.iter().any(|r| r.is_full(key)))
        {
            return Some(image.config.clone());
        }
        if let Some(list) = lists.iter().find(|l| l.refs.iter().any(|r| r.is_full(key))) {
            return Some(list.id.clone());
        }
        if key.is_empty() {
            return None;
        }
        let ids = images
            .iter()
            .map(|i| &i.config)
            .chain(lists.iter().map(|l| &l.id));
        match find_prefix(ids, key) {
            PrefixMatch::One(id) => Some(id.clone()),
            PrefixMatch::None | PrefixMatch::Many => None,
        }
    }

    /// The storage transport's `resolveImage` for a named reference
    /// (`containers/image@v5.34.3:storage/storage_reference.go#L113-L190`; the same in
    /// `@v5.10.2#L140-L200` and `@v5.4.3`): the image that has the reference as a stored name;
    /// else, for a digested reference, the first image (store order) whose manifest has that
    /// digest **and** that has some name in the same repository (`imageMatchesRepo`, L54-L63).
    pub(crate) fn resolve(&self, named: &Ref) -> Option<Digest> {
        let repo = named.name();
        let in_repo = |image: &Image| image.refs.iter().any(|r| r.repo().is_full(&repo));
        if let Some(id) = self.lookup(&named.to_string()) {
            if let Some(list) = self.0.manifest_list(&id) {
                let in_repo = list.refs.iter().any(|r| r.repo().is_full(&repo));
                return in_repo.then_some(id);
            }
            return self
                .image(&id)
                .filter(|i| in_repo(i))
                .map(|i| i.config.clone());
        }
        let digest = named.digest.as_deref()?;
        self.0
            .images
            .iter()
            .find(|i| i.manifest.is_prefixed(digest) && in_repo(i))
            .map(|i| i.config.clone())
    }

    /// Whether any other image is a child of this one in the layer tree
    /// ([`is_parent_of`](Self::is_parent_of)).
    pub(crate) fn has_children(&self, id: &Digest) -> bool {
        let Some(image) = self.image(id) else {
            return false;
        };
        self.0
            .images
            .iter()
            .any(|child| &child.config != id && self.is_parent_of(image, child))
    }

    /// The layer-tree parent of this image: the oldest stored image that
    /// [`is_parent_of`](Self::is_parent_of) it (`layerTree.parent` returns the first match
    /// among the images on the parent layer, which are in store order).
    pub(crate) fn parent(&self, id: &Digest) -> Option<Digest> {
        let child = self.image(id)?;
        self.0
            .images
            .iter()
            .find(|p| &p.config != id && self.is_parent_of(p, child))
            .map(|p| p.config.clone())
    }

    /// Whether libimage's layer tree takes `candidate` for a parent of `child`
    /// (`areParentAndChild`: the child starts with the candidate's diff IDs and has its
    /// history plus one entry). That is the child's recorded [`Image::parent`], and any image
    /// without a parent that the child's layers start with and whose [`Image::history`] is
    /// one entry shorter: a loaded image's entries are one per layer, so it has the same
    /// entries as the recorded parent exactly when that parent was loaded on the same layers
    /// (a **twin**). The child's config keeps its history when the recorded parent is gone,
    /// so a twin still counts then (seed 1, case 78 of the fuzzer on podman-libimage@4.3,
    /// @5.4 and @5.8), and a grandparent on the same layers does not, its history being two
    /// entries shorter (case 74). A child without a recorded parent is nobody's here: a
    /// store built for Podman never has an image that extends a parentless one's layers by one
    /// without the link (`harness/src/live/podman/build.rs` refuses it).
    pub(crate) fn is_parent_of(&self, candidate: &Image, child: &Image) -> bool {
        let Some(recorded) = child.parent.as_ref() else {
            return false;
        };
        &candidate.config == recorded
            || (candidate.parent.is_none()
                && child.history == candidate.history + 1
                && child.layers.starts_with(&candidate.layers))
    }

    /// Dangling: no names and no children (`containers/common@v0.50.1:libimage/image.go#L154-L165`;
    /// libpod 3.0.1 prunes on the same test, `libpod/image/image.go#L640-L643`).
    pub(crate) fn is_dangling(&self, id: &Digest) -> bool {
        self.image(id).is_some_and(|i| i.refs.is_empty()) && !self.has_children(id)
    }

    /// The containers created from this image, in creation order. A container that only
    /// mounts the image (an image volume, `--mount type=image`) is not one: libimage asks the
    /// store for containers whose `ImageID` is the image's
    /// (`containers/common@v0.50.1:libimage/image.go#L256-L269`, `@v0.62.3:…#L304-L317`), and
    /// libpod keeps image volumes in its own container config, never in the store's record
    /// (`containers/podman@v3.0.1:libpod/options.go#L1440-L1455`); the volume is mounted only
    /// while the container runs (`@v5.8.2:libpod/container_internal_common.go#L503-L513`) and
    /// nothing in the remove path counts that mount. Measured on 3.0.1, 4.3.1, 5.4.2 and 5.8.6:
    /// the mounted image is untagged and deleted, by name or ID, forced or not, under a running
    /// container (scenarios `mounts/*`).
    pub(crate) fn users(&self, id: &Digest) -> Vec<Digest> {
        self.0.containers_of(id).map(|c| c.id.clone()).collect()
    }

    /// The pod whose infra container is `container`, by pod ID.
    pub(crate) fn infra_of(&self, container: &Digest) -> Option<Digest> {
        self.0.pod_of_infra(container).map(|p| p.id.clone())
    }

    /// Removes one container (`Runtime.removeContainer` with force): its process is killed.
    pub(crate) fn remove_container(&mut self, id: &Digest) {
        self.0.containers.retain(|c| &c.id != id);
    }

    /// Removes a pod with every container in it (`Runtime.removePod` with `removeCtrs` and
    /// force).
    pub(crate) fn remove_pod(&mut self, pod: &Digest) {
        self.0.remove_pod(pod);
    }

    /// containers/storage's `DeleteImage(id, commit=true)`
    /// (`containers/storage@v1.43.0:store.go#L2396-L2521`): refuses while a container uses the
    /// image, naming the **last** such container (a map from image ID to container ID is filled
    /// in container order, L2436-L2442; checked on podman 4.3.1 with two containers);
    /// children do not stop it (their layers stay).
    pub(crate) fn delete_image(&mut self, id: &Digest) -> Result<(), DeleteError> {
        if self.0.manifest_list(id).is_some() {
            self.0.manifest_lists.retain(|l| &l.id != id);
            return Ok(());
        }
        if self.image(id).is_none() {
            return Err(DeleteError::NotAnImage);
        }
        if let Some(last) = self.users(id).pop() {
            return Err(DeleteError::UsedBy(last));
        }
        self.0.images.retain(|i| &i.config != id);
        Ok(())
    }

    /// Deletes the image although containers still use it: what is left when their storage
    /// was deleted behind libpod's back (see `libpod_legacy`).
    pub(crate) fn delete_image_under_containers(&mut self, id: &Digest) {
        self.0.images.retain(|i| &i.config != id);
    }

    /// Removes one stored name (`SetNames` / `RemoveNames` without it); whether it was there.
    pub(crate) fn remove_name(&mut self, id: &Digest, name: &str) -> bool {
        let refs = match self.0.images.iter_mut().find(|i| &i.config == id) {
            Some(image) => &mut image.refs,
            None => match self.0.manifest_lists.iter_mut().find(|l| &l.id == id) {
                Some(list) => &mut list.refs,
                None => return false,
            },
        };
        let before = refs.len();
        refs.retain(|r| !r.is_full(name));
        refs.len() != before
    }
}

/// How both Podman families list a store (`GET /libpod/images/json?all=true`, and
/// `/libpod/containers/json?all=true`): every image, intermediate ones included, by its config
/// digest, with its stored names (`Names`: tags and `repo@sha256:…` digest names, fully
/// qualified; tags first, then digest names, each sorted); and every container with its state.
///
/// This is `Names`, not the `RepoDigests` column: Podman shows every name crossed with every
/// manifest digest there (docs/engines.md#registry), which says nothing about what a removal changed.
///
/// A manifest list is listed too, by its own ID with its stored names (checked live on
/// 5.8.6, 5.4.2, 4.3.1 and 3.0.1).
pub(crate) fn listing(store: &Store) -> Listing {
    let mut listing = Listing::by_config_tags_then_digests(store);
    listing
        .images
        .extend(store.manifest_lists.iter().map(|list| {
            let mut names: Vec<String> = list.refs.iter().map(|r| r.full()).collect();
            names.sort();
            ListedImage {
                id: list.id.clone(),
                names,
            }
        }));
    listing
}

/// Small stores for the Podman engines' tests.
#[cfg(test)]
pub(crate) mod fixture {
    use crate::digest::Digest;
    use crate::reference::{grammar, Reference};
    use crate::store::{Container, ContainerState, Image, Store};

    /// A digest whose hex starts with `prefix`, padded with `0`.
    pub(crate) fn d(prefix: &str) -> Digest {
        Digest::parse(&format!("{prefix:0<64}")).unwrap()
    }

    /// A stored name from its fully qualified spelling.
    pub(crate) fn name(full: &str) -> Reference {
        let (repo, tag, digest) = grammar::parse_normalized(full).unwrap();
        match digest {
            Some(digest) => Reference::Digested { repo, digest },
            None => Reference::Tagged {
                repo,
                tag: tag.unwrap().into(),
            },
        }
    }

    /// An image with config digest `id…`, manifest digest `e<id>…`, names given in this order.
    pub(crate) fn image(id: &str, names: &[&str]) -> Image {
        let refs: Vec<Reference> = names.iter().map(|n| name(n)).collect();
        Image {
            config: d(id),
            manifest: d(&format!("e{id}")),
            layers: vec![d("1a")],
            parent: None,
            pulled: Image::pulled_by_digest(&refs),
            history: 1,
            refs,
            platforms: vec![Default::default()],
            index: Vec::new(),
        }
    }

    /// The same, built on `parent` (its history is its parent's plus one: [`store`] counts it).
    pub(crate) fn child(id: &str, parent: &str, names: &[&str]) -> Image {
        Image {
            parent: Some(d(parent)),
            history: 2,
            ..image(id, names)
        }
    }

    /// A container `id…` of image `image…`.
    pub(crate) fn container(id: &str, image: &str, state: ContainerState) -> Container {
        Container {
            id: d(id),
            image: d(image),
            state,
            mounts: Vec::new(),
            pod: None,
            layers: Vec::new(),
        }
    }

    /// A store where pod `ff…` runs its infra container `11…` on P `aa…`
    /// (`localhost/pause:1`), with container `22…` on Q `bb…` (`localhost/app:1`) in it, and
    /// container `33…` on Q outside any pod.
    pub(crate) fn pod_store() -> Store {
        let mut s = store(vec![
            image("aa", &["localhost/pause:1"]),
            image("bb", &["localhost/app:1"]),
        ]);
        let in_pod = |c: Container| Container {
            pod: Some(d("ff")),
            ..c
        };
        s.containers = vec![
            in_pod(container("11", "aa", ContainerState::Running)),
            in_pod(container("22", "bb", ContainerState::Running)),
            container("33", "bb", ContainerState::Stopped),
        ];
        s.pods = vec![crate::store::Pod {
            id: d("ff"),
            infra: d("11"),
        }];
        s
    }

    /// A store of these images and no containers.
    pub(crate) fn store(mut images: Vec<Image>) -> Store {
        // A child's history is its parent's plus one (a chain is G: 1, P: 2, C: 3).
        for n in 0..images.len() {
            let parent = images[..n]
                .iter()
                .find(|p| images[n].parent.as_ref() == Some(&p.config));
            images[n].history = Image::history_on(parent, images[n].layers.len());
        }
        Store {
            images,
            containers: Vec::new(),
            manifest_lists: Vec::new(),
            pods: Vec::new(),
        }
    }

    /// The images left, as `id4:name,name` (names in the store's order), space separated.
    pub(crate) fn left(store: &Store) -> String {
        store
            .images
            .iter()
            .map(|i| {
                let names: Vec<String> = i.refs.iter().map(|r| r.full()).collect();
                format!("{}:{}", i.config.short(4), names.join(","))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The records as `Untagged: x` / `Deleted: <4 hex>` lines.
    pub(crate) fn lines(records: &[crate::Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| match r {
                crate::Record::Untagged(n) => format!("Untagged: {n}"),
                crate::Record::Deleted(id) => format!("Deleted: {}", &id[..4]),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{child, container, d, image, name, store};
    use super::*;
    use crate::store::ContainerState::{Running, Stopped};
    use rstest::rstest;

    fn exit(code: u8) -> Status {
        Status::Exit(code)
    }

    #[rstest]
    #[case::none(&[], 0)]
    #[case::not_found(&[Class::NotFound], 1)]
    #[case::two_not_found(&[Class::NotFound, Class::NotFound], 1)]
    #[case::in_use(&[Class::InUse], 2)]
    #[case::in_use_beats_all(&[Class::NotFound, Class::Other, Class::InUse], 2)]
    #[case::other(&[Class::Other], 125)]
    #[case::not_found_and_other(&[Class::NotFound, Class::Other], 125)]
    fn the_batch_exit_code_ranks_in_use_then_only_not_found(
        #[case] classes: &[Class],
        #[case] code: u8,
    ) {
        let errors: Vec<Failure> = classes
            .iter()
            .map(|c| fail(ErrorKind::Other, *c, "x"))
            .collect();
        assert_eq!(batch_status(&errors), exit(code));
    }

    #[test]
    fn names_are_kept_in_the_stores_order() {
        let img = image(
            "aa",
            &["quay.io/x/y:1", "localhost/app:b", "localhost/app:a"],
        );
        assert_eq!(
            names(&img),
            ["quay.io/x/y:1", "localhost/app:b", "localhost/app:a"]
        );
        assert_eq!(
            go_list(&names(&img)[1..]),
            "[localhost/app:b localhost/app:a]"
        );
    }

    fn lookup_store() -> Storage {
        Storage(store(vec![
            image("ab12", &["localhost/app:1"]),
            image("ab34", &["docker.io/library/busybox:latest"]),
            image("cd", &[]),
        ]))
    }

    #[rstest]
    #[case::full_id(&d("cd").hex().to_owned(), Some("cd00"))]
    #[case::stored_name("localhost/app:1", Some("ab12"))]
    #[case::unique_prefix("ab3", Some("ab34"))]
    #[case::one_char_prefix("c", Some("cd00"))]
    #[case::ambiguous_prefix("ab", None)]
    #[case::empty(" ", None)]
    #[case::really_empty("", None)]
    #[case::short_name_is_no_stored_name("busybox", None)]
    #[case::unnormalized_name_is_no_stored_name("localhost/app", None)]
    #[case::uppercase_hex("AB3", None)]
    #[case::sha256_prefix_is_not_stripped("sha256:ab3", None)]
    fn storage_lookup_is_id_then_name_then_unique_prefix(
        #[case] key: &str,
        #[case] found: Option<&str>,
    ) {
        let storage = lookup_store();
        assert_eq!(
            storage.lookup(key).map(|id| id.short(4).to_owned()),
            found.map(str::to_owned)
        );
    }

    #[rstest]
    #[case::stored_tag("docker.io/library/app:1", Some("aa00"))]
    #[case::stored_digest_name(&format!("127.0.0.1:5000/pin@{}", d("eb")), Some("bb00"))]
    #[case::digest_of_a_tagged_repository(&format!("docker.io/library/app@{}", d("eaa")), Some("aa00"))]
    #[case::digest_of_another_repository(&format!("docker.io/library/other@{}", d("eaa")), None)]
    #[case::unknown_digest(&format!("docker.io/library/app@{}", d("ff")), None)]
    #[case::other_tag("docker.io/library/app:2", None)]
    fn the_storage_transport_resolves_names_and_digests_within_a_repository(
        #[case] reference: &str,
        #[case] found: Option<&str>,
    ) {
        let storage = Storage(store(vec![
            image("aa", &["docker.io/library/app:1"]),
            image(
                "bb",
                &[
                    &format!("127.0.0.1:5000/pin@{}", d("eb")),
                    "127.0.0.1:5000/pin:2",
                ],
            ),
        ]));
        let named = Ref::parse_normalized(reference).unwrap();
        assert_eq!(
            storage.resolve(&named).map(|id| id.short(4).to_owned()),
            found.map(str::to_owned)
        );
    }

    #[test]
    fn an_image_volume_is_not_use() {
        let mut s = store(vec![
            image("aa", &["localhost/app:1"]),
            image("bb", &["localhost/data:1"]),
        ]);
        let mut c1 = container("c1", "aa", Running);
        c1.mounts.push(d("bb"));
        s.containers = vec![c1];
        let mut storage = Storage(s);
        assert!(storage.users(&d("bb")).is_empty());
        assert_eq!(storage.delete_image(&d("bb")), Ok(()));
        assert_eq!(storage.users(&d("aa")), [d("c1")]);
    }

    /// libimage's layer tree on three stores: twins A and B with C committed from A; the same
    /// once A is deleted; and a chain G, P from G, C from P, none adding a layer, once P is
    /// deleted (C then sits on G's layers, two history entries on).
    #[test]
    fn the_layer_tree_shares_a_twins_children_and_skips_a_generation() {
        let twins = Storage(store(vec![
            image("aa", &[]),
            image("bb", &[]),
            child("cc", "aa", &[]),
        ]));
        assert!(twins.has_children(&d("aa")) && twins.has_children(&d("bb")));
        assert_eq!(twins.parent(&d("cc")), Some(d("aa")));
        let mut gone = twins.clone();
        gone.0.images.retain(|i| i.config != d("aa"));
        assert!(gone.has_children(&d("bb")));
        assert_eq!(gone.parent(&d("cc")), Some(d("bb")));

        let mut chain = Storage(store(vec![
            image("aa", &[]),
            child("bb", "aa", &[]),
            child("cc", "bb", &[]),
        ]));
        assert!(!chain.has_children(&d("cc")) && chain.has_children(&d("aa")));
        chain.0.images.retain(|i| i.config != d("bb"));
        assert!(!chain.has_children(&d("aa")));
        assert_eq!(chain.parent(&d("cc")), None);
    }

    #[test]
    fn delete_image_names_the_last_container_using_it() {
        let mut s = store(vec![image("aa", &["localhost/app:1"]), image("bb", &[])]);
        s.containers = vec![
            container("c1", "aa", Stopped),
            container("c2", "aa", Running),
            container("c3", "bb", Stopped),
        ];
        let mut storage = Storage(s);
        assert_eq!(
            storage.delete_image(&d("aa")),
            Err(DeleteError::UsedBy(d("c2")))
        );
        assert_eq!(storage.delete_image(&d("ff")), Err(DeleteError::NotAnImage));
        storage.remove_container(&d("c1"));
        storage.remove_container(&d("c2"));
        assert_eq!(storage.delete_image(&d("aa")), Ok(()));
        assert_eq!(storage.0.images.len(), 1);
        assert_eq!(storage.0.containers.len(), 1, "only c3 is left");
    }

    #[rstest]
    #[case::short("app", &["localhost/app:latest"])]
    #[case::short_tagged("app:1", &["localhost/app:1"])]
    #[case::short_path("library/busybox", &["localhost/library/busybox:latest"])]
    #[case::short_digested("app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        &["localhost/app@sha256:0000000000000000000000000000000000000000000000000000000000000000"])]
    #[case::alias_first("busybox:1", &["docker.io/library/busybox:1", "localhost/busybox:1"])]
    #[case::alias_elsewhere("centos", &["quay.io/centos/centos:latest", "localhost/centos:latest"])]
    #[case::alias_with_path("opensuse/leap", &["registry.opensuse.org/opensuse/leap:latest", "localhost/opensuse/leap:latest"])]
    #[case::qualified_is_its_own_candidate("docker.io/busybox", &["docker.io/library/busybox:latest"])]
    #[case::localhost("localhost/app", &["localhost/app:latest"])]
    #[case::registry_with_port("127.0.0.1:5000/app:1", &["127.0.0.1:5000/app:1"])]
    fn short_names_resolve_to_their_alias_then_localhost(
        #[case] input: &str,
        #[case] candidates: &[&str],
    ) {
        let got: Vec<String> = resolve_locally(input)
            .unwrap()
            .iter()
            .map(Ref::to_string)
            .collect();
        assert_eq!(got, candidates);
    }

    #[rstest]
    #[case::plain("busybox", None, "busybox", true)]
    #[case::path_with_pseudo_domain("library/busybox:1", Some("library"), "busybox", true)]
    #[case::localhost("localhost/app", Some("localhost"), "app", false)]
    #[case::dotted("quay.io/a/b@sha512:00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000", Some("quay.io"), "a/b", false)]
    #[case::port("host:5000/app", Some("host:5000"), "app", false)]
    fn parse_keeps_the_name_as_typed(
        #[case] input: &str,
        #[case] domain: Option<&str>,
        #[case] path: &str,
        #[case] short: bool,
    ) {
        let r = Ref::parse(input).unwrap();
        assert_eq!((r.domain.as_deref(), r.path.as_str()), (domain, path));
        assert_eq!(r.is_short(), short);
        assert_eq!(r.to_string(), input, "String() gives the input back");
    }

    #[test]
    fn the_listing_shows_every_image_with_tags_then_digest_names_sorted() {
        let digest_name = format!("quay.io/a/b@{}", d("ea"));
        let mut s = store(vec![
            image(
                "aa",
                &[
                    "quay.io/a/b:2",
                    &digest_name,
                    "localhost/z:1",
                    "localhost/a:9",
                ],
            ),
            image("bb", &[]),
        ]);
        s.containers = vec![container("c1", "bb", Running)];
        let listing = listing(&s);
        assert_eq!(listing.images.len(), 2, "dangling images are listed too");
        assert_eq!(listing.images[0].id, d("aa"));
        assert_eq!(
            listing.images[0].names,
            [
                "localhost/a:9",
                "localhost/z:1",
                "quay.io/a/b:2",
                digest_name.as_str()
            ]
        );
        assert!(listing.images[1].names.is_empty());
        assert_eq!(listing.containers, [(d("c1"), Running)]);
    }

    #[rstest]
    #[case::plain("abc", "\"abc\"")]
    #[case::quote("a\"b", "\"a\\\"b\"")]
    fn go_quote_escapes_quotes(#[case] input: &str, #[case] quoted: &str) {
        assert_eq!(go_quote(input), quoted);
    }

    #[test]
    fn the_fixture_spells_names_fully() {
        assert_eq!(name("localhost/app:1").full(), "localhost/app:1");
    }
}

/// Texts that mean a name does not parse, on every version.
fn invalid_reference_text(text: &str) -> bool {
    [
        "invalid reference format",
        "invalid format: no 64-byte hexadecimal value",
        "repository name must be lowercase",
        // `ErrNameTooLong` of containers/image's `docker/reference`.
        "repository name must not be more than 255 characters",
        "unsupported transport",
        "repository name must be canonical",
        "repository name must have at least one component",
        "input name is blank",
    ]
    .iter()
    .any(|n| text.contains(n))
}

/// Texts the CLI itself rejects before calling the service (`cmd/podman/images/rm.go`).
fn invalid_argument_text(text: &str) -> bool {
    text.contains("when using the --all switch")
        || text.contains("image name or ID must be specified")
        // A flag this version does not have (3.0.1: `--ignore`, `--no-prune`).
        || text.starts_with("unknown flag: ")
}

/// What both Podman generations read alike once no sentinel error matched: a name that does
/// not parse, a request the CLI refuses, anything else; all exit class 125.
pub(crate) fn classify_class_125(text: &str) -> (ErrorKind, u8) {
    let kind = if invalid_reference_text(text) {
        ErrorKind::InvalidReference
    } else if invalid_argument_text(text) {
        ErrorKind::InvalidArgument
    } else {
        ErrorKind::Other
    };
    (kind, 125)
}
