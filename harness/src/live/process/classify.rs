//! An error a program reported, as a [`Failure`] of the semantics it is judged against.
//!
//! The program reports what its engine said (the message, and the status of the failed call
//! when the engine gives one per error); the kind is read from them by the classifier of the
//! claimed semantics, the same one the harness's own adapter for that engine uses, so a
//! program is judged exactly as the harness's adapter would be. Where that classifier lives
//! behind another adapter's feature, this build needs the feature too.

use anyhow::{bail, Context};
use rmispec_model::{Engine, Failure, Profile, Status};

/// One error of `profile`'s engine: `message`, and `status` if the program gave one.
pub fn failure(profile: Profile, message: &str, status: Option<&str>) -> anyhow::Result<Failure> {
    let status: Option<Status> = status
        .map(|s| s.parse().map_err(anyhow::Error::msg))
        .transpose()
        .with_context(|| format!("the status of the error {message:?}"))?;
    match profile.engine() {
        Engine::DockerClassic | Engine::DockerContainerd => {
            let Some(Status::Http(code)) = status else {
                bail!("a Docker API error needs its HTTP status (`\"status\": \"http 409\"`): {message:?}");
            };
            Ok(Failure {
                kind: rmispec_model::engines::docker::classify(code, message),
                message: message.to_owned(),
                status: Status::Http(code),
            })
        }
        Engine::CriContainerd => {
            let Some(Status::Grpc(code)) = status else {
                bail!("a CRI error needs its gRPC status (`\"status\": \"grpc NotFound\"`): {message:?}");
            };
            cri(code, message)
        }
        Engine::PodmanLibimage | Engine::LibpodLegacy => {
            let mut f = podman(profile, message)?;
            if let Some(s) = status {
                f.status = s;
            }
            Ok(f)
        }
    }
}

#[cfg(feature = "live-podman")]
fn podman(profile: Profile, message: &str) -> anyhow::Result<Failure> {
    use crate::live::podman::config::Flavor;
    // Libpod 1.9 is model only; its messages are read as 3.0.1's.
    let flavor = Flavor::for_profile(profile).unwrap_or(match profile.engine() {
        Engine::LibpodLegacy => Flavor::Libpod301,
        _ => Flavor::Podman43,
    });
    Ok(crate::live::podman::observe::failure(flavor, message))
}

#[cfg(not(feature = "live-podman"))]
fn podman(profile: Profile, _message: &str) -> anyhow::Result<Failure> {
    bail!("reading {profile}'s error messages needs the live-podman feature (its classifier is the Podman adapter's)")
}

#[cfg(feature = "live-cri")]
fn cri(code: u8, message: &str) -> anyhow::Result<Failure> {
    let status = tonic::Status::new(tonic::Code::from(i32::from(code)), message);
    Ok(crate::live::cri::observe::failure(&status))
}

#[cfg(not(feature = "live-cri"))]
fn cri(_code: u8, _message: &str) -> anyhow::Result<Failure> {
    bail!("reading CRI error messages needs the live-cri feature (its classifier is the CRI adapter's)")
}
