//! Building a scenario's `given` store in a Docker engine, through the Engine API.
//!
//! - **Images** come from one synthesized archive (`POST /images/load`), each with its tags as
//!   `RepoTags` (a tag in `<reg>` is only a name: nothing is pushed for it) and no other name; an image without names loads dangling on both engines
//!   (docker-classic: `<none>:<none>`; docker-containerd: a `moby-dangling@` record).
//! - **Pulled images** (`made_by: pull`) are pushed to the local registry and pulled by their
//!   tag before the archive is loaded, so that a loaded child of one finds its parent.
//! - **Digest references** (`<reg>/repo@sha256:<A.manifest>`): the image's synthesized blobs
//!   and manifest are pushed to the local registry byte for byte, then pulled by digest
//!   (`POST /images/create?fromImage=<reg>/repo&tag=sha256:…`, as `docker pull` sends it).
//!   The engine already has the content, so the pull only adds the name.
//! - **Children** (`parent: P`), the way each engine links them:
//!   - docker-classic: in the same archive as their parent, whose `manifest.json` entry names
//!     the parent (`Parent`); `docker load` links them (`moby/moby@v20.10.24:
//!     image/tarexport/load.go#L145-L156`, `setParentID` → `is.SetParent`, the same link
//!     `docker commit` and the classic builder make), as long as the child's history is the
//!     parent's plus one entry (`checkValidParent`, L400-L412). The child's ID is then the
//!     synthesized config digest.
//!   - docker-containerd: `load` sets no parent there (the link is the containerd image label
//!     `org.mobyproject.image.parent`, written only by commit and the classic builder:
//!     `moby/moby@v26.1.5:daemon/containerd/image_builder.go#L511-L520`), so a child is a
//!     commit (`POST /commit`, changes `LABEL rmispec.image=<B>`) of a stopped container
//!     created from the parent, with the child's extra layer copied in first
//!     (`PUT /containers/{id}/archive`); the helper container is removed. The child's ID is
//!     the engine's own: the symbol table learns it from the commit.
//! - **Containers**: `POST /containers/create` from the image's ID (no pull, network none,
//!   the daemon's `cgroup-parent`), then `start` if running.
//!
//! After building, in a sandbox (`strict`), every image is checked against the scenario: it
//! exists with exactly its names (as docker lists them), and nothing else does; a build that
//! does not reproduce `given` there is the harness's bug and fails loudly. An engine the user
//! brings may store the same build differently (Podman's compat API records a digest name for
//! a loaded image): that is not checked here but observed, as the backend's built store.

use super::api::Api;
use super::engine::Flavor;
use crate::live::registry::Registry;
use crate::live::source::Source;
use crate::scenario::{Given, ImageHandle, StoredName};
use crate::symbols::Symbols;
use anyhow::{bail, Context};
use rmispec_model::{ContainerState, Digest};
use std::collections::{BTreeSet, HashMap};

/// Builds `given` through `api`, and completes `symbols` with the IDs only the engine knows
/// (committed children, containers). `strict`: check the result (see the module docs).
pub fn build(
    flavor: Flavor,
    api: &Api,
    given: &Given,
    source: &Source<'_>,
    registry: Option<&Registry>,
    symbols: &mut Symbols,
    strict: bool,
) -> anyhow::Result<()> {
    let reg_host = registry.map(Registry::host).unwrap_or_default();
    // The engine's ID of each image (`sha256:<hex>`).
    let mut ids: HashMap<&ImageHandle, String> = HashMap::new();
    let committed = |h: &ImageHandle| flavor.containerd_store() && given.images[h].parent.is_some();

    // 1. Pulled images (`made_by: pull`): pushed, tag and all, and pulled by that tag; their
    // other tags are tagged. Before the archive is loaded, which holds a pulled parent of a
    // loaded child again, without names: `docker load` links a child only to a `Parent` in
    // the same archive (`validatedParentLinks` drops the others:
    // `moby/moby@v20.10.24:image/tarexport/load.go#L145-L156`), and loading an image the
    // store has changes nothing of it but the names the archive gives (the fuzzer found a
    // child of a pulled image loaded unlinked).
    for (h, spec) in given.images.iter().filter(|(_, s)| s.is_pulled_by_tag()) {
        let (config, manifest) = source.digests(h)?;
        let registry = registry.context("a pulled image needs the local registry")?;
        let pull = spec.pull_tag().context("a pulled image has a <reg> tag")?;
        let StoredName::Tagged { path, tag, .. } = pull else {
            bail!("{h}: pulled by a digest reference");
        };
        let pushed = source.push_tagged(registry, h, path, tag)?;
        if pushed != manifest {
            bail!("{h}: the registry stored manifest {pushed}, not {manifest}");
        }
        api.pull(&pull.expand(&reg_host, &manifest))?;
        let id = image_id(flavor, config, manifest);
        for n in spec.tags.iter().filter(|n| n.is_tag() && *n != pull) {
            api.tag(&id.to_string(), &n.expand(&reg_host, &zero()))?;
        }
        ids.insert(h, id.to_string());
    }

    // 1b. One archive with every image that is neither committed nor pulled, and the pulled
    // parents of those, nameless.
    let pulled_parent = |h: &ImageHandle| {
        given.images.values().any(|c| {
            c.parent.as_ref() == Some(h) && !c.is_pulled_by_tag() && !flavor.containerd_store()
        })
    };
    let loaded: Vec<(&ImageHandle, Vec<String>)> = given
        .images
        .iter()
        .filter(|(h, spec)| !committed(h) && (!spec.is_pulled_by_tag() || pulled_parent(h)))
        .map(|(h, spec)| {
            let tags = spec
                .tags
                .iter()
                .filter(|n| n.is_tag() && !spec.is_pulled_by_tag())
                .map(|n| n.expand(&reg_host, &zero()))
                .collect();
            (h, tags)
        })
        .collect();
    if !loaded.is_empty() {
        api.load(source.archive(&loaded)?)
            .context("loading the synthesized archive")?;
    }
    for (h, _) in &loaded {
        let (config, manifest) = source.digests(h)?;
        let id = image_id(flavor, config, manifest);
        ids.insert(h, id.to_string());
    }

    // 2. Children on docker-containerd: commits, in creation order (a parent comes first).
    for (h, spec) in given.images.iter().filter(|(h, _)| committed(h)) {
        let parent = spec
            .parent
            .as_ref()
            .expect("committed images have a parent");
        let parent_id = ids
            .get(parent)
            .with_context(|| format!("{h}: parent {parent} not built"))?
            .clone();
        if spec.id.is_some() {
            bail!("{h}: an ID prefix on a committed child cannot be honoured (its ID depends on the commit time)");
        }
        if spec.tags.iter().any(|n| !n.is_tag()) {
            bail!(
                "{h}: a digest reference on a committed child is not supported on {}",
                flavor.profile()
            );
        }
        let helper = api.create_container(&parent_id, ContainerState::Created)?;
        if let Some(layer) = source.own_layer(h)? {
            api.put_archive(&helper, "/", layer)?;
        }
        let id = api.commit(&helper, None, &format!("LABEL rmispec.image={h}"));
        api.remove_container(&helper)?;
        let id = id?;
        for n in &spec.tags {
            api.tag(&id, &n.expand(&reg_host, &zero()))?;
        }
        let digest = Digest::parse(&id).with_context(|| format!("committed ID {id:?}"))?;
        let config = api.config_digest(&id)?;
        symbols.add_image(h.clone(), config, digest);
        ids.insert(h, id);
    }

    // 3. Digest references: push the synthesized image, pull it by digest.
    for (h, spec) in &given.images {
        for n in spec.tags.iter().filter(|n| !n.is_tag()) {
            let (_, manifest) = source.digests(h)?;
            let registry = registry.context("a digest reference needs the local registry")?;
            let pushed = source.push(registry, h, n.path())?;
            if pushed != manifest {
                bail!("{h}: the registry stored manifest {pushed}, not {manifest}");
            }
            api.pull(&n.expand(&reg_host, &manifest))?;
        }
    }

    // 4. Containers.
    for (c, spec) in &given.containers {
        let image = ids
            .get(&spec.image)
            .with_context(|| format!("container {c}: image {} not built", spec.image))?;
        let mounts = spec
            .mounts
            .iter()
            .map(|m| {
                ids.get(m)
                    .cloned()
                    .with_context(|| format!("container {c}: mounted image {m} not built"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let id = api.create_container_mounting(image, &mounts, spec.state)?;
        symbols.add_container(
            c.clone(),
            Digest::parse(&id).with_context(|| format!("container ID {id:?}"))?,
        );
    }

    if strict {
        check(flavor, api, given, &ids, symbols)
    } else {
        Ok(())
    }
}

/// A loaded or pulled image's ID on `flavor`: the manifest digest on the containerd store,
/// the config digest on the classic one.
fn image_id(flavor: Flavor, config: Digest, manifest: Digest) -> Digest {
    if flavor.containerd_store() {
        manifest
    } else {
        config
    }
}

/// Tags do not use the manifest digest; `expand` wants one.
fn zero() -> Digest {
    Digest::parse(&"0".repeat(64)).expect("valid")
}

/// Every image exists with exactly the scenario's names, and nothing else is listed.
fn check(
    flavor: Flavor,
    api: &Api,
    given: &Given,
    ids: &HashMap<&ImageHandle, String>,
    symbols: &Symbols,
) -> anyhow::Result<()> {
    let listed = api.images()?;
    for (h, spec) in &given.images {
        let id = &ids[h];
        let Some(image) = listed.iter().find(|i| &i.id == id) else {
            bail!("built {h} ({id}), but the engine does not list it");
        };
        let manifest = symbols
            .image(h.as_str())
            .map(|d| d.manifest.clone())
            .unwrap_or_else(zero);
        let want: BTreeSet<String> = spec
            .references(flavor.profile().engine(), symbols.registry(), &manifest)
            .iter()
            .map(|r| r.full())
            .collect();
        // docker-containerd lists digest records among RepoTags, and computes RepoDigests.
        let got: BTreeSet<String> = image
            .repo_tags
            .iter()
            .chain(if flavor.containerd_store() {
                [].iter()
            } else {
                image.repo_digests.iter()
            })
            .filter(|n| !n.starts_with("<none>"))
            .map(|n| super::fully_qualified(n))
            .collect();
        if got != want {
            bail!("built {h} with names {got:?}, wanted {want:?}");
        }
        // The classic store links a child to its parent (`ParentId`); a child loaded before
        // its parent was there would be an image of its own, and a different store.
        if !flavor.containerd_store() {
            let want = spec.parent.as_ref().map_or("", |p| ids[p].as_str());
            if image.parent_id != want {
                bail!(
                    "built {h} with parent {:?}, wanted {want:?}",
                    image.parent_id
                );
            }
        }
    }
    if listed.len() != given.images.len() {
        let extra: Vec<_> = listed
            .iter()
            .filter(|i| !ids.values().any(|id| id == &i.id))
            .map(|i| &i.id)
            .collect();
        bail!("the store holds images the scenario does not: {extra:?}");
    }
    let containers = api.containers()?;
    if containers.len() != given.containers.len() {
        bail!(
            "the store holds {} containers, the scenario {}",
            containers.len(),
            given.containers.len()
        );
    }
    for (c, spec) in &given.containers {
        let id = symbols.container(c.as_str()).map(|d| d.hex());
        let state = containers
            .iter()
            .find(|(listed, _)| Some(listed.as_str()) == id)
            .map(|(_, s)| *s);
        if state != Some(spec.state) {
            bail!(
                "container {c} is {:?} after building, not {}",
                state.map(ContainerState::name),
                spec.state.name()
            );
        }
    }
    Ok(())
}
