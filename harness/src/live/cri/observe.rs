//! Performing a request as kubelet and `crictl rmi` do, and reading the store afterwards.

use super::client::{ok, Cri};
use anyhow::Context;
use rmispec_model::{ContainerState, Digest, Failure, ListedImage, Listing, Request, Status};
use std::collections::HashMap;

/// gRPC `OK`.
const OK: Status = Status::Grpc(0);

/// What a request did: records (CRI has none: `RemoveImageResponse` is empty), the failed
/// calls, and the status of the request as a whole (the first failure's code, else OK).
pub use crate::live::adapter::Answer;

/// One `RemoveImage{image: ImageSpec{image: name}}` per name, in order, each failure
/// collected; with `all`, then one per image left, by ID, as `crictl rmi --all` does
/// (`kubernetes-sigs/cri-tools@v1.30.1:cmd/crictl/image.go#L383-L401`), but never the
/// sandbox image. `force`, `prune` and `ignore` have no CRI counterpart and are not sent.
pub fn remove(
    cri: &Cri,
    request: &Request,
    sandbox_image: Option<&Digest>,
) -> anyhow::Result<Answer> {
    let mut results: Vec<_> = request.names.iter().map(|n| cri.remove_image(n)).collect();
    if request.all {
        // Listed after the names are removed, so that they are not removed twice.
        for id in all_ids(cri, sandbox_image)? {
            results.push(cri.remove_image(&id));
        }
    }
    Ok(answer_of(results))
}

/// Each of `requests` as [`remove`] sends it, all at once, as several `crictl rmi` run side
/// by side do. With `all`, the images are listed before any request is sent, so every
/// request's calls are known before the first goes (a name given beside `all` is then
/// removed by name and by ID, and the second finds nothing).
pub fn remove_at_once(
    cri: &Cri,
    requests: &[Request],
    sandbox_image: Option<&Digest>,
) -> anyhow::Result<Vec<Answer>> {
    let lists = requests
        .iter()
        .map(|r| names_to_remove(cri, r, sandbox_image))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let results = ok(
        "RemoveImage, several at once",
        cri.remove_images_at_once(&lists),
    )?;
    Ok(results.into_iter().map(answer_of).collect())
}

/// The names a request's `RemoveImage` calls carry, in order: its names, then with `all`
/// every image left by ID but the sandbox image.
fn names_to_remove(
    cri: &Cri,
    request: &Request,
    sandbox_image: Option<&Digest>,
) -> anyhow::Result<Vec<String>> {
    let mut names = request.names.clone();
    if request.all {
        names.extend(all_ids(cri, sandbox_image)?);
    }
    Ok(names)
}

/// Every image's ID but the sandbox image's.
fn all_ids(cri: &Cri, sandbox_image: Option<&Digest>) -> anyhow::Result<Vec<String>> {
    Ok(ok("ListImages", cri.list_images())?
        .into_iter()
        .map(|i| i.id)
        .filter(|id| sandbox_image.is_none_or(|s| *id != s.prefixed()))
        .collect())
}

/// A request's answer from its calls' results: no records, each failure, and the status of
/// the first failure (else OK).
fn answer_of(results: Vec<Result<(), tonic::Status>>) -> Answer {
    let errors: Vec<Failure> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(failure)
        .collect();
    let status = errors.first().map_or(OK, |f| f.status);
    Answer {
        records: Vec::new(),
        errors,
        status,
    }
}

/// A failed call, classified. containerd's CRI plugin maps its errors with
/// `errdefs.ToGRPC`: an errdefs class becomes its code, anything else (the wrapped go-digest
/// `ErrDigestAmbiguous` of an ambiguous ID prefix) `Unknown`
/// (`containerd/containerd@v1.7.24:errdefs/grpc.go#L36-L66`).
pub fn failure(status: &tonic::Status) -> Failure {
    let code = status.code();
    let message = status.message().to_owned();
    Failure {
        kind: rmispec_model::engines::cri_containerd::classify(code as u8, &message),
        status: Status::Grpc(code as u8),
        message,
    }
}

/// A CRI container state as the model's: `CONTAINER_RUNNING` runs, `CONTAINER_CREATED` was
/// never started; `CONTAINER_EXITED` (what [`super::build`] leaves a stopped container in) and
/// `CONTAINER_UNKNOWN` are stopped.
pub fn container_state(state: i32) -> ContainerState {
    use k8s_cri::v1::ContainerState as S;
    match S::try_from(state) {
        Ok(S::ContainerRunning) => ContainerState::Running,
        Ok(S::ContainerCreated) => ContainerState::Created,
        _ => ContainerState::Stopped,
    }
}

/// `ListImages` and `ListContainers` (the harness's own, by label) as a [`Listing`]: IDs are
/// config digests, names `repoTags` then `repoDigests` as the runtime spells them (fully
/// qualified). The sandbox image is not listed: it is the runtime's, not the scenario's.
pub fn listing(
    cri: &Cri,
    sandbox_image: Option<&Digest>,
    labels: &HashMap<String, String>,
) -> anyhow::Result<Listing> {
    let mut images = Vec::new();
    for i in ok("ListImages", cri.list_images())? {
        let id = digest(&i.id)?;
        if Some(&id) == sandbox_image {
            continue;
        }
        let mut names = i.repo_tags;
        names.sort();
        let mut digests = i.repo_digests;
        digests.sort();
        names.extend(digests);
        images.push(ListedImage { id, names });
    }
    let containers = ok("ListContainers", cri.containers(labels))?
        .into_iter()
        .map(|c| Ok((digest(&c.id)?, container_state(c.state))))
        .collect::<anyhow::Result<_>>()?;
    Ok(Listing { images, containers })
}

fn digest(s: &str) -> anyhow::Result<Digest> {
    Digest::parse(s).with_context(|| format!("an ID {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmispec_model::ErrorKind;

    #[test]
    fn ambiguous_prefixes_are_told_from_other_unknown_errors() {
        let f = failure(&tonic::Status::unknown(
            "can not resolve \"ab\" locally: ambiguous digest string",
        ));
        assert_eq!((f.kind, f.status), (ErrorKind::Ambiguous, Status::Grpc(2)));
        let f = failure(&tonic::Status::unknown("failed to delete image reference"));
        assert_eq!(f.kind, ErrorKind::Other);
        assert_eq!(
            failure(&tonic::Status::not_found("x")).kind,
            ErrorKind::NotFound
        );
    }

    #[test]
    fn states_map_to_the_models() {
        use k8s_cri::v1::ContainerState as S;
        assert_eq!(
            container_state(S::ContainerRunning as i32),
            ContainerState::Running
        );
        assert_eq!(
            container_state(S::ContainerCreated as i32),
            ContainerState::Created
        );
        for s in [S::ContainerExited as i32, S::ContainerUnknown as i32, 99] {
            assert_eq!(container_state(s), ContainerState::Stopped);
        }
    }
}
