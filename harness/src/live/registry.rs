//! A local registry (`docker-registry serve`, distribution 2.8) on 127.0.0.1, so scenarios can
//! have digest references (`<reg>/app@sha256:<A.manifest>`): the harness pushes the image's
//! synthesized blobs and manifest byte for byte, then the engine pulls by digest. Engines
//! treat 127.0.0.0/8 as insecure, so plain HTTP works without configuration (docs/engines.md#registry).
//!
//! The push speaks the OCI distribution API itself (no engine, no skopeo): `HEAD` a blob,
//! `POST /v2/<repo>/blobs/uploads/` then `PUT <location>?digest=` with the bytes, and
//! `PUT /v2/<repo>/manifests/<digest>` with the manifest's media type. Pushing an engine's own
//! image instead would not keep the digest: docker-classic gzips layers on push.

use crate::live::sandbox::{free_port, probe, Daemon, DaemonSpec, StateDir};
use anyhow::{bail, Context};
use rmispec_model::Digest;
use sha2::{Digest as _, Sha256};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The registry binary (Debian `docker-registry`).
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// A running local registry. Dropping it stops it.
#[derive(Debug)]
pub struct Registry {
    daemon: Daemon,
    addr: SocketAddr,
    agent: ureq::Agent,
}

impl Registry {
    /// Starts a registry on a free 127.0.0.1 port with its config and storage in
    /// `<dir>/registry/`, and waits until `GET /v2/` answers 200.
    pub fn start(dir: &StateDir) -> anyhow::Result<Registry> {
        Self::start_with(dir, Path::new(REGISTRY_BIN))
    }

    /// [`start`](Self::start) with another binary.
    pub fn start_with(dir: &StateDir, bin: &Path) -> anyhow::Result<Registry> {
        let mut last = None;
        // The port was free when we asked; another process may take it before the registry
        // binds it, so try a few.
        for _ in 0..3 {
            let port = free_port()?;
            match Self::start_on(dir, bin, port) {
                Ok(r) => return Ok(r),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("tried at least once"))
    }

    fn start_on(dir: &StateDir, bin: &Path, port: u16) -> anyhow::Result<Registry> {
        let root = dir.subdir("registry")?;
        let data = root.join("data");
        let config = root.join("config.yml");
        std::fs::write(&config, config_yaml(&data, port))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut daemon = DaemonSpec::new("registry", bin)
            .arg("serve")
            .arg(&config)
            .stop_timeout(Duration::from_secs(5))
            .spawn(dir)?;
        daemon.wait_ready(Duration::from_secs(10), || probe::tcp_http_ok(addr, "/v2/"))?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Ok(Registry {
            daemon,
            addr,
            agent,
        })
    }

    /// `127.0.0.1:<port>`: the `<reg>` of scenarios.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The supervised process.
    pub fn daemon(&mut self) -> &mut Daemon {
        &mut self.daemon
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Uploads `blob` to `repo` unless the registry has it. Returns its digest.
    pub fn push_blob(&self, repo: &str, blob: &[u8]) -> anyhow::Result<Digest> {
        let digest = sha256(blob);
        let head = self
            .agent
            .head(self.url(&format!("/v2/{repo}/blobs/{digest}")))
            .call()?;
        if head.status() == 200 {
            return Ok(digest);
        }
        let start = self
            .agent
            .post(self.url(&format!("/v2/{repo}/blobs/uploads/")))
            .send_empty()?;
        if start.status() != 202 {
            bail!(
                "registry: starting a blob upload to {repo} answered {}",
                start.status()
            );
        }
        let location = start
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .context("registry: blob upload without a Location")?;
        let location = if location.starts_with('/') {
            self.url(location)
        } else {
            location.to_owned()
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let put = self
            .agent
            .put(format!("{location}{sep}digest={digest}"))
            .header("content-type", "application/octet-stream")
            .send(blob)?;
        if put.status() != 201 {
            bail!(
                "registry: uploading blob {digest} to {repo} answered {}",
                put.status()
            );
        }
        Ok(digest)
    }

    /// Uploads `blobs` (config and layers), then `manifest` by its digest with `media_type`.
    /// Returns the manifest digest the registry reports, checked against the bytes' digest.
    pub fn push(
        &self,
        repo: &str,
        media_type: &str,
        manifest: &[u8],
        blobs: &[&[u8]],
    ) -> anyhow::Result<Digest> {
        for b in blobs {
            self.push_blob(repo, b)?;
        }
        let digest = sha256(manifest);
        let mut put = self
            .agent
            .put(self.url(&format!("/v2/{repo}/manifests/{digest}")))
            .header("content-type", media_type)
            .send(manifest)?;
        if put.status() != 201 {
            let body = put.body_mut().read_to_string().unwrap_or_default();
            bail!(
                "registry: putting manifest {digest} in {repo} answered {}: {body}",
                put.status()
            );
        }
        let reported = put
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if reported != digest.to_string() {
            bail!("registry stored manifest {digest} of {repo} as {reported:?}");
        }
        Ok(digest)
    }

    /// Stores `manifest` (already pushed with [`push`](Self::push)) under the tag
    /// `repo:tag` too, so that the engine can pull the tag.
    pub fn tag(
        &self,
        repo: &str,
        tag: &str,
        media_type: &str,
        manifest: &[u8],
    ) -> anyhow::Result<()> {
        let mut put = self
            .agent
            .put(self.url(&format!("/v2/{repo}/manifests/{tag}")))
            .header("content-type", media_type)
            .send(manifest)?;
        if put.status() != 201 {
            let body = put.body_mut().read_to_string().unwrap_or_default();
            bail!(
                "registry: tagging {repo}:{tag} answered {}: {body}",
                put.status()
            );
        }
        Ok(())
    }

    /// The manifest stored under `repo@digest`, as the registry serves it.
    pub fn manifest(
        &self,
        repo: &str,
        digest: &Digest,
        media_type: &str,
    ) -> anyhow::Result<Vec<u8>> {
        let mut r = self
            .agent
            .get(self.url(&format!("/v2/{repo}/manifests/{digest}")))
            .header("accept", media_type)
            .call()?;
        if r.status() != 200 {
            bail!(
                "registry: getting manifest {repo}@{digest} answered {}",
                r.status()
            );
        }
        Ok(r.body_mut().read_to_vec()?)
    }

    /// Stops it (also done on drop).
    pub fn stop(&mut self) -> anyhow::Result<()> {
        self.daemon.stop().map(drop)
    }
}

/// The registry's config: storage below `data` (deletes enabled), HTTP on 127.0.0.1 only.
fn config_yaml(data: &Path, port: u16) -> String {
    format!(
        "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  cache:\n    blobdescriptor: inmemory\nhttp:\n  addr: 127.0.0.1:{port}\n",
        PathBuf::from(data).display()
    )
}

fn sha256(bytes: &[u8]) -> Digest {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Digest::parse(&hex).expect("sha256 hex is a digest")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs the `docker-registry` binary; skipped (with a note) where it is not installed.
    #[test]
    fn pushed_manifest_is_served_byte_for_byte() {
        if !Path::new(REGISTRY_BIN).exists() {
            eprintln!("skipped: {REGISTRY_BIN} not installed");
            return;
        }
        let path =
            std::env::temp_dir().join(format!("rmispec-registry-test-{}", std::process::id()));
        let dir = StateDir::create(&path).unwrap();
        let reg = Registry::start(&dir).unwrap();
        let config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[]}}"#,
            sha256(config),
            config.len()
        );
        let mt = "application/vnd.oci.image.manifest.v1+json";
        let d = reg
            .push("rmispec/test", mt, manifest.as_bytes(), &[config])
            .unwrap();
        assert_eq!(d, sha256(manifest.as_bytes()));
        assert_eq!(
            reg.manifest("rmispec/test", &d, mt).unwrap(),
            manifest.as_bytes()
        );
        // Pushing again finds the blob and is accepted.
        assert_eq!(
            reg.push("rmispec/test", mt, manifest.as_bytes(), &[config])
                .unwrap(),
            d
        );
        drop(reg);
        drop(dir);
        std::fs::remove_dir_all(path).unwrap();
    }
}
