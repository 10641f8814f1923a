//! The libpod REST API adapter: `podman-libimage` (Podman 4.3.1, and 5.4.2 as
//! `podman-libimage@5.4`) and `libpod-legacy` (Podman 3.0.1).

pub mod api;
pub mod config;
pub mod service;
