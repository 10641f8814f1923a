//! The Docker Engine API calls the adapter makes, over the daemon's unix socket (bollard),
//! blocking on a runtime of our own, with the time spent waiting on the engine accounted.
//!
//! Every call has a time limit ([`call_timeout`], `--timeout`): a daemon that stops answering
//! (SIGSTOP, a deadlock) fails the call with a message naming the daemon, the call and the
//! wait, instead of hanging the run; and once a signal has begun the shutdown, every call
//! fails at once ([`Interrupted`]).

use crate::live::call_stats::CallStats;
use crate::live::options::call_timeout;
use crate::live::sandbox::signals::{check_interrupted, Interrupted};
use anyhow::{bail, Context};
use bollard::models::{
    ContainerCreateBody, ContainerSummaryStateEnum, HostConfig, ImageSummary, Mount, MountType,
};
use bollard::query_parameters::{
    CommitContainerOptions, CreateContainerOptions, CreateImageOptions, ListContainersOptions,
    ListImagesOptions, RemoveContainerOptions, RemoveImageOptions, StopContainerOptions,
    TagImageOptions, UploadToContainerOptions, WaitContainerOptions,
};
use bollard::Docker;
use futures_util::TryStreamExt;
use rmispec_model::{ContainerState, Digest, Platform, Record};
use std::cell::RefCell;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// bollard's own per-request limit: far above [`call_timeout`], which governs.
const BOLLARD_TIMEOUT_SECS: u64 = 24 * 3600;

/// Why a call brought no answer from dockerd.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The daemon answered with an error, or the transport failed.
    #[error(transparent)]
    Engine(#[from] bollard::errors::Error),
    /// No answer within the per-call timeout.
    #[error(
        "dockerd at {socket} did not answer {what} within {waited:?} (the per-call timeout: --timeout or \
         RMISPEC_TIMEOUT); is it stopped or hung?"
    )]
    Timeout {
        /// The daemon's socket.
        socket: PathBuf,
        /// The call (`DELETE /images/{name}`).
        what: &'static str,
        /// How long it waited.
        waited: Duration,
    },
    /// A signal stopped the engines.
    #[error(transparent)]
    Interrupted(#[from] Interrupted),
}

/// A connection to one dockerd.
#[derive(Debug)]
pub struct Api {
    rt: tokio::runtime::Runtime,
    socket: PathBuf,
    docker: Docker,
    /// The negotiated API version, `1.41`.
    pub api_version: String,
    /// The daemon's version, `20.10.24`.
    pub server_version: String,
    /// What the daemon says it is: its first component's name in `GET /version` (`Engine` for
    /// dockerd, `Podman Engine` for Podman's compat API).
    pub server_name: String,
    per_call: CallStats,
    /// What the last `GET /images/json` answered, until any call that is not a `GET` (or
    /// [`forget_images`](Self::forget_images)): a scenario listed the images six times, three
    /// of them with nothing changed since the one before (the build's check and the built
    /// store's listing; the listing after the request and the reset's first look; the reset's
    /// last look and its check that the engine is empty). On docker-containerd a list takes
    /// 10 ms; its catalogue made 926 lists, now 475.
    images: RefCell<Option<Vec<ImageSummary>>>,
}

/// One `DELETE /images/{name}?force=&noprune=&platforms=` to make.
#[derive(Clone, Copy, Debug)]
pub struct Delete<'a> {
    /// The name, as typed.
    pub name: &'a str,
    /// `force`.
    pub force: bool,
    /// `noprune`.
    pub noprune: bool,
    /// `platforms` (Docker 28.2+; older daemons ignore it).
    pub platforms: &'a [Platform],
}

/// What one `DELETE /images/{name}` answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteAnswer {
    /// 200, with the records in order.
    Ok(Vec<Record>),
    /// An error status with the daemon's message.
    Err {
        /// The HTTP status.
        status: u16,
        /// The `message` of the JSON error body.
        message: String,
    },
}

impl Api {
    /// Connects to `socket` and negotiates the API version the way the docker CLI does (the
    /// lower of the client's and the daemon's).
    pub fn connect(socket: &Path) -> anyhow::Result<Api> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let path = socket.to_str().context("socket path is not UTF-8")?;
        check_interrupted()?;
        let docker =
            Docker::connect_with_unix(path, BOLLARD_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
                .with_context(|| format!("connecting to {}", socket.display()))?;
        let limit = call_timeout();
        let (docker, version) = rt
            .block_on(async move {
                tokio::time::timeout(limit, async move {
                    let docker = docker.negotiate_version().await?;
                    let version = docker.version().await?;
                    Ok::<_, bollard::errors::Error>((docker, version))
                })
                .await
            })
            .map_err(|_| CallError::Timeout {
                socket: socket.to_path_buf(),
                what: "GET /version",
                waited: limit,
            })??;
        let v = docker.client_version();
        Ok(Api {
            rt,
            socket: socket.to_path_buf(),
            api_version: format!("{}.{}", v.major_version, v.minor_version),
            server_name: version
                .components
                .as_ref()
                .and_then(|c| c.first())
                .map(|c| c.name.clone())
                .unwrap_or_else(|| "Engine".to_owned()),
            server_version: version.version.unwrap_or_default(),
            docker,
            per_call: CallStats::default(),
            images: RefCell::new(None),
        })
    }

    /// Time spent waiting on the engine since the last call of this method.
    pub fn take_engine_time(&self) -> Duration {
        self.per_call.take_time()
    }

    /// Runs one call to completion or [`call_timeout`], counting its time.
    fn call<T>(
        &self,
        what: &'static str,
        f: impl Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, CallError> {
        check_interrupted()?;
        if !what.starts_with("GET ") {
            self.forget_images();
        }
        let limit = call_timeout();
        let t0 = Instant::now();
        let out = match self
            .rt
            .block_on(async { tokio::time::timeout(limit, f).await })
        {
            Ok(answer) => answer.map_err(CallError::Engine),
            Err(_) => Err(CallError::Timeout {
                socket: self.socket.clone(),
                what,
                waited: limit,
            }),
        };
        self.per_call.record(what, t0.elapsed());
        out
    }

    /// Every call made so far by endpoint: how many, their median and their total.
    pub fn call_stats(&self) -> Vec<String> {
        self.per_call.lines()
    }

    /// `GET /images/json?all=1`, or what it last answered if no call since could have
    /// changed the images.
    pub fn images(&self) -> anyhow::Result<Vec<ImageSummary>> {
        if let Some(images) = self.images.borrow().as_ref() {
            return Ok(images.clone());
        }
        let opts = ListImagesOptions {
            all: true,
            ..Default::default()
        };
        let images = self.call("GET /images/json", self.docker.list_images(Some(opts)))?;
        *self.images.borrow_mut() = Some(images.clone());
        Ok(images)
    }

    /// Drops the remembered image list: the images may have changed without a call of ours
    /// (the daemon restarted on a fresh root).
    pub fn forget_images(&self) {
        self.images.take();
    }

    /// `GET /containers/json?all=1`: `(id, state)` in the daemon's order.
    pub fn containers(&self) -> anyhow::Result<Vec<(String, ContainerState)>> {
        let opts = ListContainersOptions {
            all: true,
            ..Default::default()
        };
        let list = self.call(
            "GET /containers/json",
            self.docker.list_containers(Some(opts)),
        )?;
        Ok(list
            .into_iter()
            .map(|c| {
                // `exited`, and what a scenario never makes (`dead`, `restarting`,
                // `removing`), are stopped.
                let state = match c.state {
                    Some(ContainerSummaryStateEnum::RUNNING) => ContainerState::Running,
                    Some(ContainerSummaryStateEnum::PAUSED) => ContainerState::Paused,
                    Some(ContainerSummaryStateEnum::CREATED) => ContainerState::Created,
                    _ => ContainerState::Stopped,
                };
                (c.id.unwrap_or_default(), state)
            })
            .collect())
    }

    /// `POST /images/load` of a tar; returns the stream's lines (`Loaded image: …`).
    pub fn load(&self, tar: Vec<u8>) -> anyhow::Result<Vec<String>> {
        let opts = bollard::query_parameters::ImportImageOptions {
            quiet: true,
            ..Default::default()
        };
        let stream = self
            .docker
            .import_image(opts, bollard::body_full(tar.into()), None);
        let infos: Vec<_> = self
            .call("POST /images/load", stream.try_collect())
            .context("POST /images/load")?;
        Ok(infos
            .into_iter()
            .filter_map(|i| i.stream.or(i.status))
            .map(|s| s.trim().to_owned())
            .collect())
    }

    /// `POST /images/{source}/tag?repo=&tag=`: adds the name `target` (`repo:tag`).
    pub fn tag(&self, source: &str, target: &str) -> anyhow::Result<()> {
        let (repo, tag) =
            split_tag(target).with_context(|| format!("{target:?} is not repo:tag"))?;
        let opts = TagImageOptions {
            repo: Some(repo.into()),
            tag: Some(tag.into()),
        };
        self.call(
            "POST /images/{name}/tag",
            self.docker.tag_image(&escape_path(source), Some(opts)),
        )
        .with_context(|| format!("tagging {source} as {target}"))
    }

    /// `POST /images/create?fromImage=<repo>&tag=<digest or tag>`, as `docker pull` sends it.
    /// Refuses anything not on 127.0.0.1: a scenario never pulls from outside loopback.
    pub fn pull(&self, reference: &str) -> anyhow::Result<()> {
        if !reference.starts_with("127.0.0.1:") {
            bail!("refusing to pull {reference}: only the local registry on 127.0.0.1 is allowed");
        }
        let (repo, tag) = match reference.split_once('@') {
            Some((repo, digest)) => (repo, digest),
            None => split_tag(reference)
                .with_context(|| format!("{reference:?} has no tag or digest"))?,
        };
        let opts = CreateImageOptions {
            from_image: Some(repo.into()),
            tag: Some(tag.into()),
            ..Default::default()
        };
        let _: Vec<_> = self
            .call(
                "POST /images/create",
                self.docker
                    .create_image(Some(opts), None, None)
                    .try_collect(),
            )
            .with_context(|| format!("pulling {reference}"))?;
        Ok(())
    }

    /// `POST /containers/create` (network none, no pull), then what brings it to `state`:
    /// nothing for `created`, `start` for `running`, `start` and `stop` (`t=0`; the image's
    /// `StopSignal` is SIGKILL) for `stopped` (exited), `start` and `pause` for `paused`.
    /// Returns the container's ID.
    pub fn create_container(&self, image: &str, state: ContainerState) -> anyhow::Result<String> {
        self.create_container_mounting(image, &[], state)
    }

    /// The same, with each of `mounts` (image IDs) mounted as an image mount (Docker 28.0+,
    /// `HostConfig.Mounts` of type `image`) at `/rmispec/mounts/<n>`.
    pub fn create_container_mounting(
        &self,
        image: &str,
        mounts: &[String],
        state: ContainerState,
    ) -> anyhow::Result<String> {
        let mounts: Vec<Mount> = mounts
            .iter()
            .enumerate()
            .map(|(i, source)| Mount {
                typ: Some(MountType::IMAGE),
                source: Some(source.clone()),
                target: Some(format!("/rmispec/mounts/{i}")),
                ..Default::default()
            })
            .collect();
        let body = ContainerCreateBody {
            image: Some(image.into()),
            host_config: Some(HostConfig {
                network_mode: Some("none".into()),
                mounts: (!mounts.is_empty()).then_some(mounts),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self
            .call(
                "POST /containers/create",
                self.docker
                    .create_container(None::<CreateContainerOptions>, body),
            )
            .with_context(|| format!("creating a container from {image}"))?;
        let id = created.id;
        if state == ContainerState::Created {
            return Ok(id);
        }
        self.call(
            "POST /containers/{id}/start",
            self.docker.start_container(&id, None),
        )
        .with_context(|| format!("starting container {id} from {image}"))?;
        match state {
            ContainerState::Created | ContainerState::Running => {}
            ContainerState::Stopped => {
                let opts = StopContainerOptions {
                    t: Some(0),
                    ..Default::default()
                };
                self.call(
                    "POST /containers/{id}/stop",
                    self.docker.stop_container(&id, Some(opts)),
                )
                .with_context(|| format!("stopping container {id}"))?;
                // 26.1 can answer the stop while the container is still listed `running`:
                // wait until it is not (the wait answers the exit code, SIGKILL's 137, as a
                // bollard error).
                let opts = WaitContainerOptions {
                    condition: "not-running".into(),
                };
                let wait = self.docker.wait_container(&id, Some(opts));
                match self.call("POST /containers/{id}/wait", wait.try_collect::<Vec<_>>()) {
                    Ok(_)
                    | Err(CallError::Engine(bollard::errors::Error::DockerContainerWaitError {
                        ..
                    })) => {}
                    Err(e) => return Err(e).with_context(|| format!("waiting for container {id}")),
                }
            }
            ContainerState::Paused => self
                .call(
                    "POST /containers/{id}/pause",
                    self.docker.pause_container(&id),
                )
                .with_context(|| format!("pausing container {id}"))?,
        }
        Ok(id)
    }

    /// `POST /commit?container=&changes=` (and `repo=&tag=` when `target` is given): the new
    /// image's ID.
    pub fn commit(
        &self,
        container: &str,
        target: Option<&str>,
        changes: &str,
    ) -> anyhow::Result<String> {
        let (repo, tag) = match target {
            Some(t) => {
                let (r, t) = split_tag(t).with_context(|| format!("{t:?} is not repo:tag"))?;
                (Some(r.to_owned()), Some(t.to_owned()))
            }
            None => (None, None),
        };
        let opts = CommitContainerOptions {
            container: Some(container.into()),
            repo,
            tag,
            changes: Some(changes.into()),
            pause: false,
            ..Default::default()
        };
        let id = self
            .call(
                "POST /commit",
                self.docker
                    .commit_container(opts, bollard::models::ContainerConfig::default()),
            )
            .with_context(|| format!("committing {container}"))?;
        Ok(id.id)
    }

    /// `PUT /containers/{id}/archive?path=`: extracts `tar` into the container's filesystem.
    pub fn put_archive(&self, container: &str, path: &str, tar: Vec<u8>) -> anyhow::Result<()> {
        let opts = UploadToContainerOptions {
            path: path.into(),
            ..Default::default()
        };
        self.call(
            "PUT /containers/{id}/archive",
            self.docker
                .upload_to_container(container, Some(opts), bollard::body_full(tar.into())),
        )
        .with_context(|| format!("copying a layer into container {container}"))
    }

    /// The config digest of an image, from its `docker save` archive (`GET /images/{id}/get`):
    /// `index.json` → the manifest → its config descriptor. docker-containerd's API shows
    /// only the manifest digest (its image ID) otherwise.
    pub fn config_digest(&self, id: &str) -> anyhow::Result<Digest> {
        let chunks: Vec<_> = self
            .call(
                "GET /images/{name}/get",
                self.docker.export_image(&escape_path(id)).try_collect(),
            )
            .with_context(|| format!("saving {id}"))?;
        let tar: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        let file = |name: &str| {
            tar_entry(&tar, name)
                .with_context(|| format!("{name} not in the saved archive of {id}"))
        };
        let blob = |d: &str| file(&format!("blobs/sha256/{}", d.trim_start_matches("sha256:")));
        let index: serde_json::Value = serde_json::from_slice(file("index.json")?)?;
        let mut desc = index["manifests"][0].clone();
        // An index may point at another index (docker-containerd saves the target as is).
        for _ in 0..4 {
            let digest = desc["digest"]
                .as_str()
                .context("descriptor without a digest")?
                .to_owned();
            let doc: serde_json::Value = serde_json::from_slice(blob(&digest)?)?;
            if let Some(config) = doc["config"]["digest"].as_str() {
                return Ok(Digest::parse(config)?);
            }
            desc = doc["manifests"][0].clone();
        }
        bail!("no image config found in the saved archive of {id}")
    }

    /// `GET /images/{name}/json`: the image's ID, or `None` when it does not exist.
    pub fn image_id(&self, name: &str) -> anyhow::Result<Option<String>> {
        match self.call(
            "GET /images/{name}/json",
            self.docker.inspect_image(&escape_path(name)),
        ) {
            Ok(i) => Ok(i.id),
            Err(CallError::Engine(bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                ..
            })) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("inspecting {name}")),
        }
    }

    /// `DELETE /containers/{id}?force=1`.
    pub fn remove_container(&self, id: &str) -> anyhow::Result<()> {
        let opts = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        Ok(self.call(
            "DELETE /containers/{id}",
            self.docker.remove_container(id, Some(opts)),
        )?)
    }

    /// `DELETE /images/{name}?force=&noprune=&platforms=…`, the name escaped as the Go
    /// client escapes a URL path. An error answer is data here, not a failure; a transport
    /// error is.
    ///
    /// `platforms` (Docker 28.2+, API 1.50+) is one query value per platform, each a JSON OCI
    /// platform, as the docker CLI sends them (`docker/cli@v28.5.2:cli/command/image/remove.go`
    /// → `client/image_remove.go`). bollard 0.21's `RemoveImageOptions::platforms` is a
    /// `Vec<String>` that its query encoder (`serde_urlencoded`) cannot write, so the values
    /// are added to the request's URI by a per-call request modifier on a clone of the client
    /// (the same connection). Daemons that speak an older API version ignore them.
    pub fn delete_image(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
        platforms: &[Platform],
    ) -> anyhow::Result<DeleteAnswer> {
        let call = Delete {
            name,
            force,
            noprune,
            platforms,
        };
        self.call("DELETE /images/{name}", self.delete(&call))
            .with_context(|| format!("DELETE /images/{name}"))
    }

    /// Several `DELETE /images/{name}` sequences at once: each inner list is one client's
    /// calls, made one after the other; the lists run concurrently, each on its own
    /// connection of bollard's pool, under one time limit. The answers, list by list.
    pub fn delete_images_at_once(
        &self,
        lists: &[Vec<Delete<'_>>],
    ) -> anyhow::Result<Vec<Vec<DeleteAnswer>>> {
        // Each call's future owns what it sends, so a list is its futures, awaited in turn.
        let all = futures_util::future::join_all(lists.iter().map(|list| {
            let calls: Vec<_> = list.iter().map(|call| self.delete(call)).collect();
            async move {
                let mut answers = Vec::with_capacity(calls.len());
                for call in calls {
                    answers.push(call.await?);
                }
                Ok::<_, bollard::errors::Error>(answers)
            }
        }));
        self.call("DELETE /images/{name} (at once)", async move {
            all.await.into_iter().collect()
        })
        .context("DELETE /images/{name}, several at once")
    }

    /// One `DELETE /images/{name}`: its records, or the daemon's error status and message.
    fn delete(
        &self,
        call: &Delete<'_>,
    ) -> impl Future<Output = Result<DeleteAnswer, bollard::errors::Error>> + 'static {
        let opts = RemoveImageOptions {
            force: call.force,
            noprune: call.noprune,
            platforms: None,
        };
        let docker = if call.platforms.is_empty() {
            self.docker.clone()
        } else {
            let query: String = call
                .platforms
                .iter()
                .map(|p| format!("&platforms={}", escape_query(&platform_json(p))))
                .collect();
            self.docker.clone().with_request_modifier(move |mut req| {
                let uri = req.uri().to_string();
                let sep = if uri.contains('?') { "" } else { "?" };
                if let Ok(with) = format!("{uri}{sep}{query}").parse() {
                    *req.uri_mut() = with;
                }
                req
            })
        };
        let name = escape_path(call.name);
        async move {
            match docker.remove_image(&name, Some(opts), None).await {
                Ok(items) => Ok(DeleteAnswer::Ok(
                    items
                        .into_iter()
                        .flat_map(|i| {
                            i.untagged
                                .map(Record::Untagged)
                                .into_iter()
                                .chain(i.deleted.map(Record::Deleted))
                        })
                        .collect(),
                )),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code,
                    message,
                }) => Ok(DeleteAnswer::Err {
                    status: status_code,
                    message,
                }),
                Err(e) => Err(e),
            }
        }
    }

    /// Empties the engine through the API: force-removes every container, then every image,
    /// children before parents (docker-classic refuses to delete a parent, even forced), until
    /// nothing is listed.
    pub fn remove_everything(&self) -> anyhow::Result<()> {
        for (id, _) in self.containers()? {
            self.remove_container(&id)?;
        }
        for _round in 0..16 {
            let images = self.images()?;
            if images.is_empty() {
                return Ok(());
            }
            let parents: std::collections::HashSet<&str> =
                images.iter().map(|i| i.parent_id.as_str()).collect();
            let leaves = images.iter().filter(|i| !parents.contains(i.id.as_str()));
            for i in leaves {
                // A leaf can already be gone (pruned with its child); anything else is reported
                // when the loop gives up.
                let _ = self.delete_image(&i.id, true, false, &[])?;
            }
        }
        bail!(
            "images left after removing everything: {:?}",
            self.images()?.iter().map(|i| &i.id).collect::<Vec<_>>()
        )
    }
}

/// The contents of `name` in an uncompressed tar (ustar or GNU headers, as Go's
/// `archive/tar` writes them for short names).
fn tar_entry<'a>(tar: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let mut off = 0;
    while off + 512 <= tar.len() {
        let h = &tar[off..off + 512];
        if h.iter().all(|&b| b == 0) {
            return None;
        }
        let field = |r: std::ops::Range<usize>| {
            let f = &h[r];
            std::str::from_utf8(&f[..f.iter().position(|&b| b == 0).unwrap_or(f.len())])
                .unwrap_or("")
        };
        let size = usize::from_str_radix(field(124..136).trim(), 8).ok()?;
        let prefix = field(345..500);
        let full = if prefix.is_empty() {
            field(0..100).to_owned()
        } else {
            format!("{prefix}/{}", field(0..100))
        };
        let data = off + 512;
        if full.trim_start_matches("./") == name {
            return tar.get(data..data + size);
        }
        off = data + size.div_ceil(512) * 512;
    }
    None
}

/// `repo:tag` → (`repo`, `tag`), the tag after the last `:` that follows the last `/`.
fn split_tag(name: &str) -> Option<(&str, &str)> {
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    let colon = name[slash..].rfind(':')? + slash;
    Some((&name[..colon], &name[colon + 1..]))
}

/// The JSON OCI platform the Engine API's `platforms` query value carries
/// (`{"architecture":"arm64","os":"linux"}`, `variant` when set).
pub fn platform_json(p: &Platform) -> String {
    let mut v = serde_json::json!({"os": p.os, "architecture": p.architecture});
    if let Some(variant) = &p.variant {
        v["variant"] = serde_json::Value::String(variant.clone());
    }
    v.to_string()
}

/// Escapes a query value as Go's `url.QueryEscape` does: unreserved characters stay, space
/// is `+`, everything else `%XX`.
pub fn escape_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Escapes a path segment the way Go's `url.URL.EscapedPath` does (`net/url`, `shouldEscape`
/// in `encodePath` mode), which is how the docker CLI's client puts a name in
/// `/images/{name}`: unreserved characters and `$&+,/:;=@` stay, everything else (`?`, `#`,
/// `%`, space, non-ASCII) becomes `%XX`.
pub fn escape_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_are_json_query_values() {
        let arm: Platform = "linux/arm64/v8".parse().unwrap();
        assert_eq!(
            platform_json(&arm),
            r#"{"architecture":"arm64","os":"linux","variant":"v8"}"#
        );
        assert_eq!(
            escape_query(&platform_json(&Platform::linux_amd64())),
            "%7B%22architecture%22%3A%22amd64%22%2C%22os%22%3A%22linux%22%7D"
        );
    }

    #[test]
    fn tags_split_after_the_port() {
        assert_eq!(
            split_tag("127.0.0.1:5000/app:1"),
            Some(("127.0.0.1:5000/app", "1"))
        );
        assert_eq!(
            split_tag("localhost/app:latest"),
            Some(("localhost/app", "latest"))
        );
        assert_eq!(split_tag("127.0.0.1:5000/app"), None);
    }

    #[test]
    fn paths_are_escaped_like_go() {
        assert_eq!(escape_path("localhost/app:1"), "localhost/app:1");
        assert_eq!(escape_path("a b?c#d%"), "a%20b%3Fc%23d%25");
        assert_eq!(escape_path("x@sha256:ab"), "x@sha256:ab");
        assert_eq!(escape_path("é"), "%C3%A9");
    }
}
