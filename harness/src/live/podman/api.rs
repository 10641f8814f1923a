//! A small client for the libpod REST API, over the unix socket of `podman system service`.
//!
//! Only the endpoints the adapter needs, at the API version of the flavour it talks to
//! (`/v4.0.0/libpod/…` on 4.x and 5.x, `/v3.0.0/libpod/…` on 3.0). HTTP/1.1 is hyper's
//! (one connection per request: on a unix socket that costs microseconds, and a streaming
//! answer such as a pull's cannot leave a half-read connection behind for the next call).
//!
//! The one call that can destroy a store by mistake is the batch remove: with no `images`
//! parameter it removes **every** image (`podman@v4.3.1:pkg/api/handlers/libpod/images.go#L541-L564`
//! passes the empty list to `libimage.RemoveImages`, whose empty-names branch selects every
//! image, `containers/common@v0.50.1:libimage/runtime.go#L625-L748`). [`RemoveTarget`] makes
//! that unrepresentable unless the caller asked for `--all` in so many words.

use anyhow::{anyhow, bail, Context};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rmispec_model::ContainerState;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::live::call_stats::CallStats;
use crate::live::options::call_timeout;
use crate::live::sandbox::signals::check_interrupted;

/// How long the readiness ping may take: the service either answers at once or is not up.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// A libpod API endpoint: a socket and the versioned path prefix its server speaks.
#[derive(Debug)]
pub struct Libpod {
    socket: PathBuf,
    prefix: String,
    rt: tokio::runtime::Runtime,
    /// The sandboxed service's own cgroup parent, if this client is bound to one.
    cgroup_parent: Option<String>,
    /// Every call's time, by endpoint (`RMISPEC_TIMINGS`).
    stats: CallStats,
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Answer {
    /// Its status code.
    pub status: u16,
    /// Its body.
    pub body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, if the status is one of `ok`; otherwise an error with the body.
    fn json<T: for<'de> Deserialize<'de>>(&self, what: &str, ok: &[u16]) -> anyhow::Result<T> {
        if !ok.contains(&self.status) {
            bail!("{what}: HTTP {}: {}", self.status, self.text().trim());
        }
        serde_json::from_slice(&self.body)
            .with_context(|| format!("{what}: unexpected answer {:?}", self.text()))
    }

    fn expect(&self, what: &str, ok: &[u16]) -> anyhow::Result<()> {
        if ok.contains(&self.status) {
            Ok(())
        } else {
            bail!("{what}: HTTP {}: {}", self.status, self.text().trim())
        }
    }
}

/// What `GET /_ping` says about the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ping {
    /// The `Libpod-Api-Version` header (`4.3.1`, `3.0.0`), absent on a Docker daemon.
    pub libpod_api: Option<String>,
    /// The `Server` header (`Libpod/4.3.1 (linux)`).
    pub server: Option<String>,
}

/// One image as `GET /libpod/images/json?all=true` lists it.
///
/// `Names` is the image's stored names list in containers/storage (tags and the digest names
/// a pull by digest stores), in stored order, on 3.0.1 and 4.3.1 alike. `RepoTags` drops the
/// digest names, and `RepoDigests` is computed: every repository of the image × every
/// manifest digest it knows (a loaded image gets a converted manifest's digest too), so it
/// lists names nobody stored. The adapter therefore reads `Names`.
/// (`podman@v4.3.1:pkg/domain/infra/abi/images_list.go`, `podman@v3.0.1:pkg/domain/infra/abi/images_list.go`.)
#[derive(Clone, Debug, Deserialize)]
pub struct ImageSummary {
    /// The image ID: the config digest, bare hex.
    #[serde(rename = "Id")]
    pub id: String,
    /// The parent by the layer tree (bare hex), empty if none.
    #[serde(rename = "ParentId", default)]
    pub parent_id: String,
    /// The stored names; absent (null) for a dangling image.
    #[serde(rename = "Names", default)]
    pub names: Option<Vec<String>>,
}

/// One container as `GET /libpod/containers/json?all=true` lists it.
#[derive(Clone, Debug, Deserialize)]
pub struct ContainerSummary {
    /// The container ID, 64 hex.
    #[serde(rename = "Id")]
    pub id: String,
    /// The image's ID.
    #[serde(rename = "ImageID", default)]
    pub image_id: String,
    /// `running`, `created` (4.x) / `configured` (3.0), `exited`, …
    #[serde(rename = "State", default)]
    pub state: String,
}

impl ContainerSummary {
    /// The state as the model names it: `running`, `paused`, `created` (4.x and later) or
    /// `configured` (3.0: created, never initialized) are themselves; `exited`, `stopped`
    /// (exited, cleanup pending) and anything else a scenario never makes are stopped
    /// (containers/podman@v3.0.1:libpod/define/containerstate.go#L38-L60).
    pub fn state(&self) -> ContainerState {
        match self.state.as_str() {
            "running" => ContainerState::Running,
            "paused" => ContainerState::Paused,
            "created" | "configured" => ContainerState::Created,
            _ => ContainerState::Stopped,
        }
    }
}

/// The batch remove's answer: `DELETE /libpod/images/remove` always answers HTTP 200 and
/// carries the outcome in this body (`podman@v4.3.1:pkg/api/handlers/libpod/images.go#L541-L564`,
/// `podman@v3.0.1:pkg/api/handlers/libpod/images.go#L677-L698`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct RemoveReport {
    /// IDs of the images removed, bare hex. 3.0.1 adds an empty string for a name it only
    /// untagged (`podman@v3.0.1:pkg/domain/infra/abi/images.go#L578-L585`).
    #[serde(rename = "Deleted", default)]
    pub deleted: Option<Vec<String>>,
    /// The names removed, fully qualified.
    #[serde(rename = "Untagged", default)]
    pub untagged: Option<Vec<String>>,
    /// The exit code `podman rmi` would use (`removeErrorsToExitCode`).
    #[serde(rename = "ExitCode", default)]
    pub exit_code: i64,
    /// Every error's text, in order; `null` or `[]` when there are none.
    #[serde(rename = "Errors", default)]
    pub errors: Option<Vec<String>>,
}

/// Where a container's `i`-th image volume is mounted.
pub fn image_volume_destination(i: usize) -> String {
    format!("/rmispec/mount{i}")
}

/// Names to remove, never none: see [`RemoveTarget`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names(Vec<String>);

impl Names {
    /// At least one name, none of them empty (an empty `images=` value may decode to no
    /// name at all, which the server reads as "every image").
    pub fn new(names: Vec<String>) -> anyhow::Result<Names> {
        if names.is_empty() {
            bail!("refusing a batch remove with no names: libpod would remove every image");
        }
        if names.iter().any(String::is_empty) {
            bail!("refusing a batch remove with an empty name: libpod could read it as no name, i.e. every image");
        }
        Ok(Names(names))
    }

    /// The names.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// What a batch remove targets: named images, or every image (`--all`, said explicitly).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoveTarget {
    /// These names (`images=a&images=b`).
    Names(Names),
    /// `all=true` and no names: every image.
    All,
}

/// Options of a batch remove besides its target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RemoveFlags {
    /// `force=true`.
    pub force: bool,
    /// `ignore=true` (libimage's `--ignore`; 3.0 has none and ignores the parameter).
    pub ignore: bool,
    /// `noprune=true` (3.0 has none and ignores the parameter).
    pub noprune: bool,
}

impl Libpod {
    /// A client for the server on `socket` speaking API `version` (`4.0.0`, `3.0.0`).
    pub fn new(socket: impl Into<PathBuf>, version: &str) -> anyhow::Result<Libpod> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .context("starting the libpod client's runtime")?;
        Ok(Libpod {
            socket: socket.into(),
            prefix: format!("/v{version}/libpod"),
            rt,
            cgroup_parent: None,
            stats: CallStats::default(),
        })
    }

    /// Binds the client to a sandboxed service whose containers go under `cgroup_parent`
    /// (unique per instance, [`super::service::cgroup_parent_for`]): a
    /// [`create_container`](Self::create_container) that asks for a cgroup parent gets this
    /// one, whatever name it passed, so every container of the instance lands where its stop
    /// and the sweeps look.
    pub fn with_cgroup_parent(mut self, cgroup_parent: String) -> Libpod {
        self.cgroup_parent = Some(cgroup_parent);
        self
    }

    /// Every call made so far by endpoint: how many, their median and their total.
    pub fn call_stats(&self) -> Vec<String> {
        self.stats.lines()
    }

    /// Time spent waiting on the service since the last call of this method.
    pub fn take_engine_time(&self) -> Duration {
        self.stats.take_time()
    }

    /// The socket it talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// One request to `path` (absolute, with its query), the whole answer read, within
    /// [`call_timeout`] (`--timeout`; force-removing a running container whose image has no
    /// `StopSignal SIGKILL` waits out a 10 s stop timeout, a pull or load of a small image
    /// takes well under a second). Fails at once after a signal began the shutdown.
    pub fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> anyhow::Result<Answer> {
        check_interrupted()?;
        let limit = call_timeout();
        let what = format!("{method} {path}");
        let body = body.map(|(t, b)| (t.to_owned(), b));
        let endpoint = CallStats::endpoint(method.as_str(), path);
        let fut = exchange(self.socket.clone(), method, path.to_owned(), body);
        let started = std::time::Instant::now();
        let answer = self
            .rt
            .block_on(async { tokio::time::timeout(limit, fut).await });
        self.stats.record(&endpoint, started.elapsed());
        answer
            .map_err(|_| {
                anyhow!(
                    "the Podman service at {} did not answer {what} within {limit:?} (the per-call timeout: \
                     --timeout or RMISPEC_TIMEOUT); is it stopped or hung?",
                    self.socket.display()
                )
            })?
            .with_context(|| what.clone())
    }

    /// Bodiless calls to libpod paths (`/images/remove?…`) at once, each on a connection of
    /// its own (as separate `podman --remote` clients make them), under one time limit. Each
    /// call's answer, in order.
    fn libpod_at_once(
        &self,
        method: Method,
        rests: &[String],
    ) -> anyhow::Result<Vec<anyhow::Result<Answer>>> {
        check_interrupted()?;
        let limit = call_timeout();
        let all = futures_util::future::join_all(rests.iter().map(|rest| {
            let path = format!("{}{rest}", self.prefix);
            exchange(self.socket.clone(), method.clone(), path, None)
        }));
        self.rt
            .block_on(async { tokio::time::timeout(limit, all).await })
            .map_err(|_| {
                anyhow!(
                    "the Podman service at {} did not answer {} {method} calls sent at once within {limit:?} \
                     (the per-call timeout: --timeout or RMISPEC_TIMEOUT); is it stopped or hung?",
                    self.socket.display(),
                    rests.len()
                )
            })
    }

    fn libpod(
        &self,
        method: Method,
        rest: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> anyhow::Result<Answer> {
        self.call(method, &format!("{}{rest}", self.prefix), body)
    }

    /// `GET /_ping`: whether the server answers, and which libpod API it speaks.
    pub fn ping(&self) -> anyhow::Result<Ping> {
        check_interrupted()?;
        let socket = self.socket.clone();
        let fut = async move {
            let stream = tokio::net::UnixStream::connect(&socket).await?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            let conn = tokio::spawn(conn);
            let req = Request::builder()
                .method(Method::GET)
                .uri("/_ping")
                .header("Host", "d")
                .body(Full::new(Bytes::new()))?;
            let resp = sender.send_request(req).await?;
            if resp.status() != StatusCode::OK {
                bail!("GET /_ping: HTTP {}", resp.status());
            }
            let header = |n: &str| {
                resp.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let ping = Ping {
                libpod_api: header("Libpod-Api-Version"),
                server: header("Server"),
            };
            drop(resp);
            drop(sender);
            let _ = conn.await;
            Ok(ping)
        };
        self.rt
            .block_on(async { tokio::time::timeout(PING_TIMEOUT, fut).await })
            .map_err(|_| {
                anyhow!(
                    "the Podman service at {} did not answer GET /_ping within {PING_TIMEOUT:?}",
                    self.socket.display()
                )
            })?
    }

    /// `GET /version`: the server's Podman version (`3.0.1`; its API version says `3.0.0`).
    pub fn version(&self) -> anyhow::Result<String> {
        #[derive(Deserialize)]
        struct Version {
            #[serde(rename = "Version")]
            version: String,
        }
        Ok(self
            .call(Method::GET, "/version", None)?
            .json::<Version>("asking the version", &[200])?
            .version)
    }

    /// `POST /libpod/images/load` of a `docker save`-style archive; returns the names loaded.
    ///
    /// Podman 4.3.1 tries the archive as an OCI archive first and extracts it into
    /// `/var/tmp/ociNNN` to find out (containers/image's big-files directory, which this
    /// path does not point at `TMPDIR`); the service runs in a mount namespace whose
    /// `/var/tmp` is private, see [`super::service`].
    pub fn load(&self, archive: Vec<u8>) -> anyhow::Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Loaded {
            #[serde(rename = "Names", default)]
            names: Vec<String>,
        }
        let a = self.libpod(
            Method::POST,
            "/images/load",
            Some(("application/x-tar", archive)),
        )?;
        // 3.0.1 joins the names with ", " and splits on ",": trim what that leaves.
        Ok(a.json::<Loaded>("loading images", &[200])?
            .names
            .into_iter()
            .map(|n| n.trim().to_owned())
            .collect())
    }

    /// `POST /libpod/images/{image}/tag`: adds `name` (`repo:tag`) to the image's names.
    pub fn tag(&self, image: &str, name: &str) -> anyhow::Result<()> {
        let (repo, tag) = split_tag(name)?;
        let q = query(&[("repo", repo), ("tag", tag)]);
        self.post(
            &format!("/images/{}/tag?{q}", encode(image)),
            &format!("tagging {image} as {name}"),
            &[200, 201],
        )
    }

    /// `POST /libpod/images/{image}/untag`: removes `name` (`repo:tag`) from the image's names.
    pub fn untag(&self, image: &str, name: &str) -> anyhow::Result<()> {
        let (repo, tag) = split_tag(name)?;
        let q = query(&[("repo", repo), ("tag", tag)]);
        self.post(
            &format!("/images/{}/untag?{q}", encode(image)),
            &format!("untagging {name} from {image}"),
            &[200, 201],
        )
    }

    /// `POST /libpod/images/pull?reference=…&tlsVerify=false`: pulls one image from a
    /// registry and returns its ID. The answer is a stream of JSON objects: progress, then
    /// `{"images":[…]}` / `{"id":…}`, or `{"error":…}`.
    pub fn pull(&self, reference: &str) -> anyhow::Result<String> {
        let q = query(&[
            ("reference", reference),
            ("tlsVerify", "false"),
            ("policy", "always"),
        ]);
        let a = self.libpod(Method::POST, &format!("/images/pull?{q}"), None)?;
        a.expect(&format!("pulling {reference}"), &[200])?;
        let mut id = None;
        for v in serde_json::Deserializer::from_slice(&a.body).into_iter::<serde_json::Value>() {
            let v = v.with_context(|| {
                format!("pulling {reference}: unexpected answer {:?}", a.text())
            })?;
            if let Some(e) = v
                .get("error")
                .and_then(|e| e.as_str())
                .filter(|e| !e.is_empty())
            {
                bail!("pulling {reference}: {e}");
            }
            if let Some(i) = v.get("id").and_then(|i| i.as_str()) {
                id = Some(i.to_owned());
            }
        }
        id.ok_or_else(|| anyhow!("pulling {reference}: no image ID in {:?}", a.text()))
    }

    /// `POST /libpod/containers/create`: a container from `image` (an ID), not started.
    /// `cgroup_parent`, if given, keeps its cgroups (and conmon's) out of the default
    /// `/libpod_parent` (a client bound to a sandboxed service uses that service's own,
    /// [`with_cgroup_parent`](Self::with_cgroup_parent)); empty leaves the service's default.
    pub fn create_container(
        &self,
        image: &str,
        name: &str,
        cgroup_parent: &str,
    ) -> anyhow::Result<String> {
        self.create_container_mounting(image, name, cgroup_parent, &[], None)
    }

    /// [`Libpod::create_container`] with image volumes: each image of `mounts` (an ID) is
    /// mounted read-only at [`image_volume_destination`]. The spec's `image_volumes`
    /// (`[{Source, Destination, ReadWrite}]`, no JSON tags, so Go's case-insensitive decoding
    /// takes these lower-case keys) exists at every version we run
    /// (`containers/podman@v3.0.1:pkg/specgen/specgen.go#L219`, `pkg/specgen/volumes.go#L39-L46`;
    /// `@v5.8.2:pkg/specgen/specgen.go#L307`, `pkg/specgen/volumes.go#L48-L59`). It is what
    /// `podman run --mount type=image,source=…,destination=…` sends.
    pub fn create_container_mounting(
        &self,
        image: &str,
        name: &str,
        cgroup_parent: &str,
        mounts: &[String],
        pod: Option<&str>,
    ) -> anyhow::Result<String> {
        #[derive(Deserialize)]
        struct Created {
            #[serde(rename = "Id")]
            id: String,
        }
        // SIGKILL, set on the container rather than left to the image's `StopSignal`: on
        // Podman 5.8.6 that did not always reach the container, whose process (PID 1, no
        // handler) ignores SIGTERM, so its stop or forced removal waited out the 10 s timeout
        // (fuzz seed 5, 160 cases: 17 stops and 2 forced removals of 10 s each, 84 cases a
        // minute; with the container's own signal none, 172 a minute, the same outcomes).
        // `stop_signal` is specgen's since 2.0 (`containers/podman@v3.0.1:pkg/specgen/specgen.go`
        // `ContainerBasicConfig.StopSignal`).
        let mut spec = serde_json::json!({ "image": image, "name": name, "stop_signal": 9 });
        if let Some(pod) = pod {
            spec["pod"] = pod.into();
        }
        if !mounts.is_empty() {
            spec["image_volumes"] = mounts
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    serde_json::json!({
                        "source": m,
                        "destination": image_volume_destination(i),
                        "rw": false,
                    })
                })
                .collect::<Vec<_>>()
                .into();
        }
        self.put_cgroup_parent(&mut spec, cgroup_parent);
        let a = self.libpod(
            Method::POST,
            "/containers/create",
            Some(("application/json", serde_json::to_vec(&spec)?)),
        )?;
        Ok(
            a.json::<Created>(&format!("creating container {name} from {image}"), &[201])?
                .id,
        )
    }

    /// Puts the cgroup parent into a create spec: the instance's, if the client is bound to
    /// one, else `cgroup_parent`; none if that is empty (the service's default).
    fn put_cgroup_parent(&self, spec: &mut serde_json::Value, cgroup_parent: &str) {
        if !cgroup_parent.is_empty() {
            spec["cgroup_parent"] = self
                .cgroup_parent
                .as_deref()
                .unwrap_or(cgroup_parent)
                .into();
        }
    }

    /// `POST /libpod/<path>` without a body, answered with one of `ok`: a change to a
    /// container's or pod's state or to an image's names; `what` names it in the error.
    fn post(&self, path: &str, what: &str, ok: &[u16]) -> anyhow::Result<()> {
        self.libpod(Method::POST, path, None)?.expect(what, ok)
    }

    /// `POST /libpod/containers/{id}/start`.
    pub fn start_container(&self, id: &str) -> anyhow::Result<()> {
        self.post(
            &format!("/containers/{}/start", encode(id)),
            &format!("starting container {id}"),
            &[204, 304],
        )
    }

    /// `POST /libpod/containers/{id}/stop`: the image's `StopSignal` is SIGKILL, so the default
    /// timeout is never waited for.
    pub fn stop_container(&self, id: &str) -> anyhow::Result<()> {
        self.post(
            &format!("/containers/{}/stop", encode(id)),
            &format!("stopping container {id}"),
            &[204, 304],
        )
    }

    /// `POST /libpod/containers/{id}/pause`: freezes its cgroup.
    pub fn pause_container(&self, id: &str) -> anyhow::Result<()> {
        self.post(
            &format!("/containers/{}/pause", encode(id)),
            &format!("pausing container {id}"),
            &[204],
        )
    }

    /// `POST /libpod/containers/{id}/unpause`.
    pub fn unpause_container(&self, id: &str) -> anyhow::Result<()> {
        self.post(
            &format!("/containers/{}/unpause", encode(id)),
            &format!("resuming container {id}"),
            &[204],
        )
    }

    /// `POST /libpod/containers/{id}/kill?signal=SIGKILL`. A container not running (409) or
    /// gone (404) is fine.
    pub fn kill_container(&self, id: &str) -> anyhow::Result<()> {
        self.post(
            &format!("/containers/{}/kill?signal=SIGKILL", encode(id)),
            &format!("killing container {id}"),
            &[204, 404, 409],
        )
    }

    /// `DELETE /libpod/containers/{id}?force=true`: removes it, killing it if it runs.
    pub fn remove_container(&self, id: &str) -> anyhow::Result<()> {
        // `t=0` (4.x) skips the stop timeout; 3.0 has no such parameter and ignores it.
        self.libpod(
            Method::DELETE,
            &format!("/containers/{}?force=true&t=0", encode(id)),
            None,
        )?
        .expect(&format!("removing container {id}"), &[200, 204, 404])
    }

    /// `POST /libpod/commit?container=…`: a new image from the container, no name. Podman
    /// records the container's (empty) diff as one more layer and one more history entry, so
    /// the source image becomes the new one's parent in libimage's layer tree.
    pub fn commit(&self, container: &str) -> anyhow::Result<String> {
        #[derive(Deserialize)]
        struct Committed {
            #[serde(rename = "Id")]
            id: String,
        }
        let q = query(&[("container", container), ("pause", "false")]);
        let a = self.libpod(Method::POST, &format!("/commit?{q}"), None)?;
        Ok(
            a.json::<Committed>(&format!("committing container {container}"), &[200, 201])?
                .id,
        )
    }

    /// A manifest list named `name` listing `images` (each a `containers-storage:@<id>`
    /// reference: `manifest add` of a local image needs that transport, and by ID it names
    /// the image whatever its names). Returns the list's ID, which the engine makes up.
    ///
    /// 4.x and 5.x: `POST /libpod/manifests/{name}?images=…` (since podman v4.0.0,
    /// `containers/podman@v4.3.1:pkg/api/server/register_manifest.go#L11-L63`); 3.0 has only
    /// `POST /libpod/manifests/create?name=…&image=…`, one image, the others added with
    /// `POST /libpod/manifests/{name}/add` (`containers/podman@v3.0.1:pkg/api/server/register_manifest.go`).
    pub fn create_manifest(
        &self,
        legacy: bool,
        name: &str,
        images: &[String],
    ) -> anyhow::Result<String> {
        #[derive(Deserialize)]
        struct Created {
            #[serde(rename = "Id")]
            id: String,
        }
        let what = format!("creating manifest list {name}");
        let refs: Vec<String> = images
            .iter()
            .map(|id| format!("containers-storage:@{id}"))
            .collect();
        if !legacy {
            let q: Vec<(&str, &str)> = refs.iter().map(|r| ("images", r.as_str())).collect();
            let path = format!("/manifests/{}?{}", encode(name), query(&q));
            let a = self.libpod(Method::POST, &path, None)?;
            return Ok(a.json::<Created>(&what, &[200, 201])?.id);
        }
        let (first, rest) = refs
            .split_first()
            .context("a manifest list without images")?;
        let q = query(&[("name", name), ("image", first)]);
        let a = self.libpod(Method::POST, &format!("/manifests/create?{q}"), None)?;
        let id = a.json::<Created>(&what, &[200, 201])?.id;
        for r in rest {
            let body = serde_json::json!({ "images": [r] })
                .to_string()
                .into_bytes();
            self.libpod(
                Method::POST,
                &format!("/manifests/{}/add", encode(&id)),
                Some(("application/json", body)),
            )?
            .expect(&format!("adding {r} to manifest list {name}"), &[200, 201])?;
        }
        Ok(id)
    }

    /// `POST /libpod/pods/create`: a pod named `name` whose infra container runs `infra_image`
    /// (an image ID) with `/bin/pause`, no network namespace (as every container here), under
    /// the instance's cgroup parent. Returns the pod's ID and its infra container's ID (from
    /// the pod's inspect, `InfraContainerID`).
    pub fn create_pod(
        &self,
        name: &str,
        infra_image: &str,
        cgroup_parent: &str,
    ) -> anyhow::Result<(String, String)> {
        #[derive(Deserialize)]
        struct Created {
            #[serde(rename = "Id")]
            id: String,
        }
        #[derive(Deserialize)]
        struct Inspect {
            #[serde(rename = "InfraContainerID", default)]
            infra: String,
        }
        let mut spec = serde_json::json!({
            "name": name,
            "infra_image": infra_image,
            "infra_command": ["/bin/pause"],
            "netns": {"nsmode": "none"},
        });
        self.put_cgroup_parent(&mut spec, cgroup_parent);
        let a = self.libpod(
            Method::POST,
            "/pods/create",
            Some(("application/json", serde_json::to_vec(&spec)?)),
        )?;
        let id = a
            .json::<Created>(&format!("creating pod {name} on {infra_image}"), &[201])?
            .id;
        let a = self.libpod(Method::GET, &format!("/pods/{}/json", encode(&id)), None)?;
        let infra = a
            .json::<Inspect>(&format!("inspecting pod {name}"), &[200])?
            .infra;
        if infra.is_empty() {
            bail!("pod {name} ({id}) was created without an infra container");
        }
        Ok((id, infra))
    }

    /// `POST /libpod/pods/{id}/start` (made before its other containers, it starts the infra
    /// container alone).
    pub fn start_pod(&self, id: &str) -> anyhow::Result<()> {
        self.post(
            &format!("/pods/{}/start", encode(id)),
            &format!("starting pod {id}"),
            &[200, 304],
        )
    }

    /// `POST /libpod/pods/{id}/stop?t=1`: an infra container's `/bin/pause` is its
    /// namespace's PID 1 and ignores SIGTERM, so the stop timeout is waited out in full; one
    /// second, as Podman 3.0 reads `t=0` as none given (ten seconds:
    /// `containers/podman@v3.0.1:pkg/api/handlers/libpod/pods.go#L91-L100`).
    pub fn stop_pod(&self, id: &str) -> anyhow::Result<()> {
        self.post(
            &format!("/pods/{}/stop?t=1", encode(id)),
            &format!("stopping pod {id}"),
            &[200, 304],
        )
    }

    /// `GET /libpod/pods/json`: every pod's ID.
    pub fn pods(&self) -> anyhow::Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Pod {
            #[serde(rename = "Id")]
            id: String,
        }
        let a = self.libpod(Method::GET, "/pods/json", None)?;
        Ok(a.json::<Option<Vec<Pod>>>("listing pods", &[200])?
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.id)
            .collect())
    }

    /// `DELETE /libpod/pods/{id}?force=true`: the pod with its containers, infra included,
    /// killed first (`POST …/kill`, SIGKILL): an infra container's `/bin/pause` is its
    /// namespace's PID 1 and ignores SIGTERM, and Podman 3.0's removal and stop wait ten
    /// seconds for it (3.0 reads a stop's `t=0` as no timeout given). A pod already gone is
    /// gone.
    pub fn remove_pod(&self, id: &str) -> anyhow::Result<()> {
        self.post(
            &format!("/pods/{}/kill?signal=SIGKILL", encode(id)),
            &format!("killing pod {id}"),
            &[200, 304, 404, 409],
        )?;
        self.libpod(
            Method::DELETE,
            &format!("/pods/{}?force=true", encode(id)),
            None,
        )?
        .expect(&format!("removing pod {id}"), &[200, 404])
    }

    /// `GET /libpod/images/json?all=true`: every image, intermediate ones included.
    pub fn images(&self) -> anyhow::Result<Vec<ImageSummary>> {
        let a = self.libpod(Method::GET, "/images/json?all=true", None)?;
        Ok(
            a.json::<Option<Vec<ImageSummary>>>("listing images", &[200])?
                .unwrap_or_default(),
        )
    }

    /// `GET /libpod/containers/{id}/json`: the container's `Mounts` of type `image`, as
    /// (source, destination); libpod lists each image volume as it was given
    /// (`containers/podman@v3.0.1:libpod/container_inspect.go#L227-L235`,
    /// `@v5.8.2:libpod/container_inspect.go#L281-L290`).
    pub fn container_image_mounts(&self, id: &str) -> anyhow::Result<Vec<(String, String)>> {
        #[derive(Deserialize)]
        struct Mount {
            #[serde(rename = "Type", default)]
            kind: String,
            #[serde(rename = "Source", default)]
            source: String,
            #[serde(rename = "Destination", default)]
            destination: String,
        }
        #[derive(Deserialize)]
        struct Inspect {
            #[serde(rename = "Mounts", default)]
            mounts: Option<Vec<Mount>>,
        }
        let a = self.libpod(
            Method::GET,
            &format!("/containers/{}/json", encode(id)),
            None,
        )?;
        Ok(
            a.json::<Inspect>(&format!("inspecting container {id}"), &[200])?
                .mounts
                .unwrap_or_default()
                .into_iter()
                .filter(|m| m.kind == "image")
                .map(|m| (m.source, m.destination))
                .collect(),
        )
    }

    /// `GET /libpod/containers/json?all=true`: every container, running or not.
    pub fn containers(&self) -> anyhow::Result<Vec<ContainerSummary>> {
        let a = self.libpod(Method::GET, "/containers/json?all=true", None)?;
        Ok(
            a.json::<Option<Vec<ContainerSummary>>>("listing containers", &[200])?
                .unwrap_or_default(),
        )
    }

    /// `DELETE /libpod/images/remove?images=a&images=b&force=…`: the batch remove
    /// `podman rmi` itself uses (through its bindings). Always HTTP 200; the outcome is in
    /// the report.
    pub fn remove_images(
        &self,
        target: &RemoveTarget,
        flags: RemoveFlags,
    ) -> anyhow::Result<RemoveReport> {
        let a = self.libpod(
            Method::DELETE,
            &format!("/images/remove?{}", remove_query(target, flags)),
            None,
        )?;
        a.json("removing images", &[200])
    }

    /// Several batch removes at once (`DELETE /libpod/images/remove`), each on its own
    /// connection: their reports, in order.
    pub fn remove_images_at_once(
        &self,
        batches: &[(RemoveTarget, RemoveFlags)],
    ) -> anyhow::Result<Vec<RemoveReport>> {
        let rests: Vec<String> = batches
            .iter()
            .map(|(t, f)| format!("/images/remove?{}", remove_query(t, *f)))
            .collect();
        self.libpod_at_once(Method::DELETE, &rests)?
            .into_iter()
            .map(|a| a?.json("removing images", &[200]))
            .collect()
    }
}

/// One HTTP/1.1 exchange on a new connection to `socket`: the request, and the whole answer.
async fn exchange(
    socket: PathBuf,
    method: Method,
    path: String,
    body: Option<(String, Vec<u8>)>,
) -> anyhow::Result<Answer> {
    let stream = tokio::net::UnixStream::connect(&socket)
        .await
        .with_context(|| format!("connecting to {}", socket.display()))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let conn = tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("Host", "d");
    let bytes = match body {
        Some((content_type, bytes)) => {
            req = req.header("Content-Type", content_type);
            Bytes::from(bytes)
        }
        None => Bytes::new(),
    };
    let resp = sender.send_request(req.body(Full::new(bytes))?).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes().to_vec();
    drop(sender);
    let _ = conn.await;
    Ok(Answer {
        status: status.as_u16(),
        body,
    })
}

/// The batch remove's query string. Never without `images=` unless the target is `All`.
pub fn remove_query(target: &RemoveTarget, flags: RemoveFlags) -> String {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    match target {
        RemoveTarget::Names(names) => {
            pairs.extend(names.as_slice().iter().map(|n| ("images", n.as_str())))
        }
        RemoveTarget::All => pairs.push(("all", "true")),
    }
    let b = |v: bool| if v { "true" } else { "false" };
    pairs.extend([
        ("force", b(flags.force)),
        ("ignore", b(flags.ignore)),
        ("noprune", b(flags.noprune)),
    ]);
    query(&pairs)
}

/// `repo:tag` → (`repo`, `tag`); the tag is what follows the last `:` after the last `/`
/// (a registry's `host:port` is not a tag).
fn split_tag(name: &str) -> anyhow::Result<(&str, &str)> {
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[slash..].rfind(':') {
        Some(i) if !name.contains('@') => Ok((&name[..slash + i], &name[slash + i + 1..])),
        _ => bail!("{name:?} is not a repo:tag name"),
    }
}

/// `k=v&k=v`, percent-encoded.
fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
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
    fn an_empty_name_list_cannot_be_built() {
        assert!(Names::new(vec![]).is_err());
        assert!(Names::new(vec!["a".into(), String::new()]).is_err());
        assert!(Names::new(vec!["a".into()]).is_ok());
    }

    #[test]
    fn a_names_query_always_names_images_and_never_all() {
        let names = Names::new(vec![
            "localhost/app:1".into(),
            "127.0.0.1:5000/app@sha256:ab".into(),
        ])
        .unwrap();
        let q = remove_query(
            &RemoveTarget::Names(names),
            RemoveFlags {
                force: true,
                ..Default::default()
            },
        );
        assert_eq!(
            q,
            "images=localhost%2Fapp%3A1&images=127.0.0.1%3A5000%2Fapp%40sha256%3Aab&force=true&ignore=false&noprune=false"
        );
        assert!(!q.contains("all="));
        let all = remove_query(&RemoveTarget::All, RemoveFlags::default());
        assert!(
            all.starts_with("all=true&") && !all.contains("images="),
            "{all}"
        );
    }

    #[test]
    fn tags_split_after_the_registry_port() {
        assert_eq!(
            split_tag("127.0.0.1:5000/app:1").unwrap(),
            ("127.0.0.1:5000/app", "1")
        );
        assert_eq!(
            split_tag("localhost/a/b:latest").unwrap(),
            ("localhost/a/b", "latest")
        );
        assert!(split_tag("127.0.0.1:5000/app").is_err());
        assert!(split_tag("localhost/app@sha256:ab").is_err());
    }

    #[test]
    fn reports_parse_on_both_versions() {
        // 4.3.1: `Errors: null` on success, `Deleted` absent when nothing was deleted.
        let r: RemoveReport =
            serde_json::from_str(r#"{"Untagged":["localhost/app:1"],"ExitCode":0,"Errors":null}"#)
                .unwrap();
        assert_eq!(
            r.untagged.as_deref(),
            Some(&["localhost/app:1".to_owned()][..])
        );
        assert_eq!(r.deleted, None);
        // 3.0.1: `Deleted: [""]` for an untag, `Errors: []`.
        let r: RemoveReport = serde_json::from_str(
            r#"{"Deleted":[""],"Untagged":["localhost/app:1"],"ExitCode":0,"Errors":[]}"#,
        )
        .unwrap();
        assert_eq!(r.deleted.as_deref(), Some(&[String::new()][..]));
        let r: RemoveReport =
            serde_json::from_str(r#"{"ExitCode":1,"Errors":["nope: image not known"]}"#).unwrap();
        assert_eq!((r.exit_code, r.errors.unwrap().len()), (1, 1));
    }
}
