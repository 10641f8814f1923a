//! Blocking clients for the two gRPC APIs the adapter speaks over a unix socket: the CRI v1
//! `RuntimeService` + `ImageService` (what a kubelet speaks; any CRI runtime) and containerd's
//! own `Images` service in namespace `k8s.io` (only for a containerd the harness runs itself:
//! it names images in ways a pull cannot).
//!
//! Each call runs on a private current-thread tokio runtime with a time limit
//! ([`call_timeout`], `--timeout`), and its time is added to [`Cri::take_engine_time`] (what
//! the engine took, apart from the harness). A call that gets no answer in time fails with
//! `DEADLINE_EXCEEDED` and a message naming the socket, the method and the wait; once a signal
//! has begun the shutdown, every call fails at once with `CANCELLED` ("interrupted").

use anyhow::{bail, Context};
use containerd_client::services::v1::images_client::ImagesClient;
use containerd_client::services::v1::leases_client::LeasesClient;
use containerd_client::services::v1::{
    CreateImageRequest, CreateRequest as CreateLeaseRequest, DeleteImageRequest,
    DeleteRequest as DeleteLeaseRequest, Image as RecordImage,
    ListImagesRequest as ListRecordsRequest,
};
use k8s_cri::v1 as cri;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// The containerd namespace the CRI plugin keeps its images and containers in: the only one
/// CRI sees (`containerd/containerd@v1.7.24:pkg/cri/constants/constants.go#L21-L22`).
pub const K8S_NAMESPACE: &str = "k8s.io";

use crate::live::options::call_timeout;
use crate::live::sandbox::signals::check_interrupted;

/// A connection to a CRI runtime's socket.
pub struct Cri {
    rt: tokio::runtime::Runtime,
    channel: Channel,
    socket: PathBuf,
    engine_time: Cell<Duration>,
}

impl std::fmt::Debug for Cri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cri")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

/// A CRI call that failed, as the runtime answered: the gRPC code and message.
pub type CallResult<T> = Result<T, tonic::Status>;

impl Cri {
    /// Connects to the gRPC server on `socket` (nothing is called yet).
    pub fn connect(socket: &Path) -> anyhow::Result<Cri> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("a tokio runtime for the CRI client")?;
        check_interrupted()?;
        let limit = call_timeout();
        let channel = rt
            .block_on(async {
                tokio::time::timeout(limit, containerd_client::connect(socket)).await
            })
            .map_err(|_| {
                anyhow::anyhow!(
                    "connecting to {}: no answer within {limit:?}",
                    socket.display()
                )
            })?
            .with_context(|| format!("connecting to {}", socket.display()))?;
        Ok(Cri {
            rt,
            channel,
            socket: socket.to_path_buf(),
            engine_time: Cell::new(Duration::ZERO),
        })
    }

    /// The socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The time spent waiting on the engine since the last call to this.
    pub fn take_engine_time(&self) -> Duration {
        self.engine_time.replace(Duration::ZERO)
    }

    /// Runs one call to completion (or [`call_timeout`]), counting its time.
    fn call<T, F>(&self, f: impl FnOnce(Channel) -> F) -> CallResult<T>
    where
        F: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        if let Err(e) = check_interrupted() {
            return Err(tonic::Status::cancelled(e.to_string()));
        }
        let limit = call_timeout();
        let t0 = Instant::now();
        let fut = f(self.channel.clone());
        let answer = self
            .rt
            .block_on(async { tokio::time::timeout(limit, fut).await });
        self.engine_time.set(self.engine_time.get() + t0.elapsed());
        match answer {
            Ok(r) => r.map(tonic::Response::into_inner),
            Err(_) => Err(tonic::Status::deadline_exceeded(format!(
                "the CRI runtime at {} did not answer {} within {limit:?} (the per-call timeout: --timeout or \
                 RMISPEC_TIMEOUT); is it stopped or hung?",
                self.socket.display(),
                method_name::<T>()
            ))),
        }
    }

    fn runtime(c: Channel) -> RuntimeServiceClient<Channel> {
        RuntimeServiceClient::new(c)
    }

    fn images(c: Channel) -> ImageServiceClient<Channel> {
        ImageServiceClient::new(c)
    }

    // -----------------------------------------------------------------------------------------
    // RuntimeService

    /// `Version`: the runtime's name and version (`containerd`, `v1.7.24`).
    pub fn version(&self) -> CallResult<cri::VersionResponse> {
        self.call(|c| async move {
            Self::runtime(c)
                .version(cri::VersionRequest {
                    version: "v1".into(),
                })
                .await
        })
    }

    /// `Status` (verbose: containerd adds its CRI config as JSON under `info["config"]`).
    pub fn status(&self, verbose: bool) -> CallResult<cri::StatusResponse> {
        self.call(|c| async move {
            Self::runtime(c)
                .status(cri::StatusRequest { verbose })
                .await
        })
    }

    /// Whether `Status` reports the condition `RuntimeReady` true (`NetworkReady` is false
    /// here: no CNI, pods use the host network).
    pub fn runtime_ready(&self) -> bool {
        self.status(false).is_ok_and(|s| {
            s.status.is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.r#type == "RuntimeReady" && c.status)
            })
        })
    }

    /// `RunPodSandbox`; returns the sandbox ID.
    pub fn run_pod_sandbox(&self, config: cri::PodSandboxConfig) -> CallResult<String> {
        self.call(|c| async move {
            Self::runtime(c)
                .run_pod_sandbox(cri::RunPodSandboxRequest {
                    config: Some(config),
                    runtime_handler: String::new(),
                })
                .await
        })
        .map(|r| r.pod_sandbox_id)
    }

    /// `StopPodSandbox` then `RemovePodSandbox`.
    pub fn remove_pod_sandbox(&self, id: &str) -> CallResult<()> {
        let id = id.to_owned();
        let again = id.clone();
        self.call(|c| async move {
            Self::runtime(c)
                .stop_pod_sandbox(cri::StopPodSandboxRequest { pod_sandbox_id: id })
                .await
        })?;
        self.call(|c| async move {
            Self::runtime(c)
                .remove_pod_sandbox(cri::RemovePodSandboxRequest {
                    pod_sandbox_id: again,
                })
                .await
        })
        .map(drop)
    }

    /// `ListPodSandbox` with a label selector.
    pub fn pod_sandboxes(
        &self,
        labels: &HashMap<String, String>,
    ) -> CallResult<Vec<cri::PodSandbox>> {
        let filter = cri::PodSandboxFilter {
            label_selector: labels.clone(),
            ..Default::default()
        };
        self.call(|c| async move {
            Self::runtime(c)
                .list_pod_sandbox(cri::ListPodSandboxRequest {
                    filter: Some(filter),
                })
                .await
        })
        .map(|r| r.items)
    }

    /// `CreateContainer` in a sandbox; returns the container ID.
    pub fn create_container(
        &self,
        sandbox: &str,
        config: cri::ContainerConfig,
        sandbox_config: cri::PodSandboxConfig,
    ) -> CallResult<String> {
        let pod_sandbox_id = sandbox.to_owned();
        self.call(|c| async move {
            Self::runtime(c)
                .create_container(cri::CreateContainerRequest {
                    pod_sandbox_id,
                    config: Some(config),
                    sandbox_config: Some(sandbox_config),
                })
                .await
        })
        .map(|r| r.container_id)
    }

    /// `ContainerStatus`: the container's mounts as the runtime made them (an image mount shows
    /// with the host path the runtime mounted the image at).
    pub fn container_mounts(&self, id: &str) -> CallResult<Vec<cri::Mount>> {
        let container_id = id.to_owned();
        self.call(|c| async move {
            Self::runtime(c)
                .container_status(cri::ContainerStatusRequest {
                    container_id,
                    verbose: false,
                })
                .await
        })
        .map(|r| r.status.map(|s| s.mounts).unwrap_or_default())
    }

    /// `StartContainer`.
    pub fn start_container(&self, id: &str) -> CallResult<()> {
        let container_id = id.to_owned();
        self.call(|c| async move {
            Self::runtime(c)
                .start_container(cri::StartContainerRequest { container_id })
                .await
        })
        .map(drop)
    }

    /// `StopContainer` with `timeout` seconds (0: SIGKILL at once).
    pub fn stop_container(&self, id: &str, timeout: i64) -> CallResult<()> {
        let container_id = id.to_owned();
        self.call(|c| async move {
            Self::runtime(c)
                .stop_container(cri::StopContainerRequest {
                    container_id,
                    timeout,
                })
                .await
        })
        .map(drop)
    }

    /// `RemoveContainer` (a running one is killed first, as CRI specifies).
    pub fn remove_container(&self, id: &str) -> CallResult<()> {
        let container_id = id.to_owned();
        self.call(|c| async move {
            Self::runtime(c)
                .remove_container(cri::RemoveContainerRequest { container_id })
                .await
        })
        .map(drop)
    }

    /// `ListContainers` with a label selector.
    pub fn containers(&self, labels: &HashMap<String, String>) -> CallResult<Vec<cri::Container>> {
        let filter = cri::ContainerFilter {
            label_selector: labels.clone(),
            ..Default::default()
        };
        self.call(|c| async move {
            Self::runtime(c)
                .list_containers(cri::ListContainersRequest {
                    filter: Some(filter),
                })
                .await
        })
        .map(|r| r.containers)
    }

    // -----------------------------------------------------------------------------------------
    // ImageService

    /// `PullImage`; returns the image reference the runtime answers (the image ID).
    pub fn pull(&self, image: &str) -> CallResult<String> {
        let image = spec(image);
        self.call(|c| async move {
            Self::images(c)
                .pull_image(cri::PullImageRequest {
                    image: Some(image),
                    auth: None,
                    sandbox_config: None,
                })
                .await
        })
        .map(|r| r.image_ref)
    }

    /// `RemoveImage{image: ImageSpec{image: name}}`, as kubelet and `crictl rmi` send it.
    pub fn remove_image(&self, name: &str) -> CallResult<()> {
        let image = spec(name);
        self.call(|c| async move {
            Self::images(c)
                .remove_image(cri::RemoveImageRequest { image: Some(image) })
                .await
        })
        .map(drop)
    }

    /// Several `RemoveImage` sequences at once: each list is one client's calls, made one
    /// after the other; the lists run concurrently (each call its own HTTP/2 stream on the
    /// channel, served by a goroutine of its own, as calls from separate `crictl rmi` are),
    /// under one time limit. Each call's result, list by list.
    pub fn remove_images_at_once(
        &self,
        lists: &[Vec<String>],
    ) -> CallResult<Vec<Vec<CallResult<()>>>> {
        if let Err(e) = check_interrupted() {
            return Err(tonic::Status::cancelled(e.to_string()));
        }
        let limit = call_timeout();
        let t0 = Instant::now();
        let all = futures_util::future::join_all(lists.iter().map(|list| {
            let calls: Vec<_> = list
                .iter()
                .map(|name| {
                    let image = spec(name);
                    let channel = self.channel.clone();
                    async move {
                        Self::images(channel)
                            .remove_image(cri::RemoveImageRequest { image: Some(image) })
                            .await
                            .map(drop)
                    }
                })
                .collect();
            async move {
                let mut results = Vec::with_capacity(calls.len());
                for call in calls {
                    results.push(call.await);
                }
                results
            }
        }));
        let answer = self
            .rt
            .block_on(async { tokio::time::timeout(limit, all).await });
        self.engine_time.set(self.engine_time.get() + t0.elapsed());
        answer.map_err(|_| {
            tonic::Status::deadline_exceeded(format!(
                "the CRI runtime at {} did not answer RemoveImage calls sent at once within {limit:?} (the per-call \
                 timeout: --timeout or RMISPEC_TIMEOUT); is it stopped or hung?",
                self.socket.display()
            ))
        })
    }

    /// `ListImages` (no filter).
    pub fn list_images(&self) -> CallResult<Vec<cri::Image>> {
        self.call(|c| async move {
            Self::images(c)
                .list_images(cri::ListImagesRequest { filter: None })
                .await
        })
        .map(|r| r.images)
    }

    /// `ImageStatus` of a name: the image, if the runtime resolves the name to one.
    pub fn image_status(&self, name: &str) -> CallResult<Option<cri::Image>> {
        let image = spec(name);
        self.call(|c| async move {
            Self::images(c)
                .image_status(cri::ImageStatusRequest {
                    image: Some(image),
                    verbose: false,
                })
                .await
        })
        .map(|r| r.image)
    }

    // -----------------------------------------------------------------------------------------
    // containerd's Images service, namespace k8s.io

    fn records(c: Channel) -> ImagesClient<Channel> {
        ImagesClient::new(c)
    }

    /// Creates the image record `name` → the manifest `target` (an OCI image manifest of
    /// `size` bytes), without labels: the CRI plugin marks it as managed itself when the
    /// `/images/create` event reaches it.
    pub fn create_record(
        &self,
        name: &str,
        target: &str,
        media_type: &str,
        size: usize,
    ) -> anyhow::Result<()> {
        let image = RecordImage {
            name: name.to_owned(),
            target: Some(containerd_client::types::Descriptor {
                media_type: media_type.to_owned(),
                digest: target.to_owned(),
                size: i64::try_from(size)?,
                annotations: HashMap::new(),
            }),
            ..Default::default()
        };
        self.call(|c| async move {
            Self::records(c)
                .create(namespaced(CreateImageRequest {
                    image: Some(image),
                    source_date_epoch: None,
                }))
                .await
        })
        .map(drop)
        .map_err(|s| anyhow::anyhow!("containerd Images.Create {name}: {}", s.message()))
    }

    /// Deletes the image record `name` (no garbage collection wait: other records keep the
    /// content).
    pub fn delete_record(&self, name: &str) -> anyhow::Result<()> {
        let request = DeleteImageRequest {
            name: name.to_owned(),
            sync: false,
            target: None,
        };
        self.call(|c| async move { Self::records(c).delete(namespaced(request)).await })
            .map(drop)
            .map_err(|s| anyhow::anyhow!("containerd Images.Delete {name}: {}", s.message()))
    }

    /// Runs containerd's garbage collection to the end before returning: a lease made and
    /// deleted with `sync` (`containerd/containerd@v1.6.20:api/services/leases/v1/leases.proto`
    /// `DeleteRequest.sync`, "the delete and cleanup should be done synchronously"; the
    /// metadata store then runs `GarbageCollect` itself, `metadata/db.go`).
    ///
    /// Why: a removal only schedules the collection of the content and snapshots it
    /// unreferenced. If the next scenario pulls the same synthesized layers while that
    /// collection is pending, the pull finds them present and skips them, and the collection
    /// can still take them: a container created next then fails with `failed to extract
    /// layer …: content digest … not found` (seen once in a few thousand builds on
    /// cri-containerd@1.6). Collected before the next build, nothing is pending.
    pub fn collect_garbage(&self) -> anyhow::Result<()> {
        let lease = self
            .call(|c| async move {
                LeasesClient::new(c)
                    .create(namespaced(CreateLeaseRequest {
                        id: String::new(),
                        labels: HashMap::new(),
                    }))
                    .await
            })
            .map_err(|s| anyhow::anyhow!("containerd Leases.Create: {}", s.message()))?
            .lease
            .context("containerd Leases.Create answered no lease")?;
        let id = lease.id;
        self.call(|c| async move {
            LeasesClient::new(c)
                .delete(namespaced(DeleteLeaseRequest { id, sync: true }))
                .await
        })
        .map(drop)
        .map_err(|s| anyhow::anyhow!("containerd Leases.Delete (sync): {}", s.message()))
    }

    /// The names of every image record, with the digest each targets.
    pub fn records_list(&self) -> anyhow::Result<Vec<(String, String)>> {
        self.records_matching(Vec::new())
    }

    /// The names of the image records that match containerd's `filters` (any one of them),
    /// with the digest each targets.
    pub fn records_matching(&self, filters: Vec<String>) -> anyhow::Result<Vec<(String, String)>> {
        let images = self
            .call(|c| async move {
                Self::records(c)
                    .list(namespaced(ListRecordsRequest { filters }))
                    .await
            })
            .map_err(|s| anyhow::anyhow!("containerd Images.List: {}", s.message()))?
            .images;
        Ok(images
            .into_iter()
            .map(|i| (i.name, i.target.map(|t| t.digest).unwrap_or_default()))
            .collect())
    }
}

/// The gRPC method a response type answers (`RemoveImageResponse` → `RemoveImage`; the
/// Images service's `DeleteImage` answers with `()`, said as such).
fn method_name<T>() -> String {
    let full = std::any::type_name::<T>();
    let last = full.rsplit("::").next().unwrap_or(full);
    match last.strip_suffix("Response") {
        Some(m) => m.to_owned(),
        None => format!("a call answering {last}"),
    }
}

fn spec(image: &str) -> cri::ImageSpec {
    cri::ImageSpec {
        image: image.to_owned(),
        ..Default::default()
    }
}

/// A request in containerd namespace `k8s.io` (the `containerd-namespace` header).
fn namespaced<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "containerd-namespace",
        tonic::metadata::MetadataValue::from_static(K8S_NAMESPACE),
    );
    request
}

/// Fails with the runtime's answer when a setup call fails (not the request under test).
pub fn ok<T>(what: &str, r: CallResult<T>) -> anyhow::Result<T> {
    match r {
        Ok(v) => Ok(v),
        Err(s) => bail!("{what}: {:?}: {}", s.code(), s.message()),
    }
}
