//! One module per engine: each holds that engine's rules, citing upstream at the tag modelled.
//! Steps several engines share live in the shared modules beside them.

pub mod cri_containerd;
pub mod docker;
pub mod docker_classic;
pub mod docker_containerd;
pub mod libpod_legacy;
mod podman;
pub mod podman_libimage;
