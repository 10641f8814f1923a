//! A sandboxed containerd: its own config, root, state, sockets, opt dir and `TMPDIR` below a
//! [`StateDir`] (docs/engines.md#containerd). Docker's engines run it with the CRI plugin disabled; the CRI
//! adapter runs it with the plugin and its own `[plugins."io.containerd.grpc.v1.cri"]` section.
//!
//! containerd 2.x ([`Generation::V2`]) gets a format-version-3 config: the CRI plugin is split
//! into `io.containerd.cri.v1.images` (the sandbox image is `pinned_images.sandbox`) and
//! `io.containerd.cri.v1.runtime` (CNI `bin_dirs`), NRI is disabled (enabled by default, it
//! creates `/var/run/nri/nri.sock`, outside the sandbox, shared by every containerd 2 on the
//! host and left after exit), and the image verifier's `bin_dir` (default
//! `/opt/containerd/image-verifier/bin`) is moved into the state dir.

use crate::live::sandbox::{probe, Daemon, DaemonSpec, StateDir};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The directories below the state dir a containerd writes (what a fresh root wipes).
pub const ROOTS: &[&str] = &["ctd-root", "ctd-state", "opt", "tmp"];

/// Which containerd config format a binary takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generation {
    /// containerd 1.6 and 1.7: config `version = 2`.
    V1,
    /// containerd 2.x: config `version = 3`.
    V2,
}

/// NRI's plugin id: disabled on containerd 2.x (it would open `/var/run/nri/nri.sock`).
const NRI: &str = "io.containerd.nri.v1.nri";

/// How to start one containerd.
#[derive(Clone, Debug)]
pub struct Containerd {
    /// The `containerd` binary.
    pub bin: PathBuf,
    /// Its config format.
    pub generation: Generation,
    /// Plugins to disable (`io.containerd.grpc.v1.cri` for Docker's engines).
    pub disabled_plugins: Vec<String>,
    /// TOML appended to the generated config (the CRI plugin's section, for instance).
    pub extra_toml: String,
}

impl Containerd {
    /// containerd at `bin`, with the CRI plugin disabled (what dockerd needs).
    pub fn for_docker(bin: impl Into<PathBuf>) -> Self {
        Containerd {
            bin: bin.into(),
            generation: Generation::V1,
            disabled_plugins: vec!["io.containerd.grpc.v1.cri".into()],
            extra_toml: String::new(),
        }
    }

    /// containerd 2.x at `bin` for dockerd: the CRI plugins (2.x has three) and NRI disabled.
    pub fn for_docker_2(bin: impl Into<PathBuf>) -> Self {
        Containerd {
            bin: bin.into(),
            generation: Generation::V2,
            disabled_plugins: [
                "io.containerd.grpc.v1.cri",
                "io.containerd.cri.v1.images",
                "io.containerd.cri.v1.runtime",
                NRI,
            ]
            .map(String::from)
            .to_vec(),
            extra_toml: String::new(),
        }
    }

    /// containerd 2.x at `bin` with CRI on: [`for_cri`](Self::for_cri)'s settings in the
    /// version-3 layout (`io.containerd.cri.v1.images` / `io.containerd.cri.v1.runtime`,
    /// `pinned_images.sandbox`, `bin_dirs`), NRI disabled.
    pub fn for_cri_2(bin: impl Into<PathBuf>, dir: &Path, sandbox_image: &str) -> Self {
        let d = dir.display();
        let images = r#"plugins."io.containerd.cri.v1.images""#;
        let runtime = r#"plugins."io.containerd.cri.v1.runtime""#;
        Containerd {
            bin: bin.into(),
            generation: Generation::V2,
            disabled_plugins: vec![NRI.into()],
            extra_toml: format!(
                r#"[{images}]
  snapshotter = "overlayfs"
  [{images}.pinned_images]
    sandbox = "{sandbox_image}"
  [{images}.registry]
    config_path = "{d}/certs.d"
[{runtime}]
  enable_selinux = false
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_cdi = false
  cdi_spec_dirs = ["{d}/cdi"]
  [{runtime}.cni]
    bin_dirs = ["{d}/cni/bin"]
    conf_dir = "{d}/cni/net.d"
  [{runtime}.containerd]
    default_runtime_name = "runc"
    [{runtime}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{runtime}.containerd.runtimes.runc.options]
        Root = "{d}/runc"
        SystemdCgroup = false
"#
            ),
        }
    }

    /// containerd at `bin` with the CRI plugin on, sandboxed in `dir` (docs/engines.md#cri-containerd, "cri17 /
    /// cri16"): `sandbox_image` must be made present by the caller (a missing one is pulled,
    /// from wherever it names), no OOM score changes (the harness lacks CAP_SYS_RESOURCE), no
    /// AppArmor, empty CNI and certs.d directories (pods use the host network; loopback
    /// registries are plain HTTP without a hosts.toml), runc's state in `dir`, cgroupfs.
    pub fn for_cri(bin: impl Into<PathBuf>, dir: &Path, sandbox_image: &str) -> Self {
        let d = dir.display();
        Containerd {
            bin: bin.into(),
            generation: Generation::V1,
            disabled_plugins: Vec::new(),
            extra_toml: format!(
                r#"[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d}/cni/bin"
    conf_dir = "{d}/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{d}/certs.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "{d}/runc"
        SystemdCgroup = false
"#
            ),
        }
    }

    /// The directories [`for_cri`](Self::for_cri) names that must exist (empty) before start.
    pub const CRI_DIRS: &'static [&'static str] = &["cni/bin", "cni/net.d", "certs.d", "cdi"];

    /// The gRPC socket it listens on in `dir`.
    pub fn socket(dir: &StateDir) -> PathBuf {
        dir.join("containerd.sock")
    }

    /// The config file's text for `dir`.
    pub fn config(&self, dir: &Path) -> String {
        let d = dir.display();
        let disabled: Vec<String> = self
            .disabled_plugins
            .iter()
            .map(|p| format!("{p:?}"))
            .collect();
        let (version, verifier) = match self.generation {
            Generation::V1 => (2, String::new()),
            Generation::V2 => (
                3,
                format!("[plugins.\"io.containerd.image-verifier.v1.bindir\"]\n  bin_dir = \"{d}/iv\"\n"),
            ),
        };
        format!(
            r#"version = {version}
root = "{d}/ctd-root"
state = "{d}/ctd-state"
temp = "{d}/tmp"
disabled_plugins = [{disabled}]
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
{verifier}{extra}"#,
            disabled = disabled.join(", "),
            extra = self.extra_toml,
        )
    }

    /// Writes `containerd.toml` in `dir` and starts containerd, with the binary's directory
    /// first in `PATH` (containerd finds `containerd-shim-runc-v2` through `PATH`) and
    /// `TMPDIR` in the state dir. Waits until its socket accepts connections.
    pub fn start(&self, dir: &StateDir) -> anyhow::Result<Daemon> {
        let config = dir.join("containerd.toml");
        std::fs::write(&config, self.config(dir.path()))?;
        let tmp = dir.subdir("tmp")?;
        let mut daemon = DaemonSpec::new("containerd", &self.bin)
            .arg("--config")
            .arg(&config)
            .env("PATH", path_with(self.bin.parent()))
            .env("TMPDIR", tmp)
            .stop_timeout(Duration::from_secs(10))
            .spawn(dir)?;
        let socket = Self::socket(dir);
        daemon.wait_ready(Duration::from_secs(30), || probe::unix_listening(&socket))?;
        Ok(daemon)
    }
}

/// `PATH` with `first` (and its `../sbin`, `../bin` siblings) in front of the inherited one.
pub fn path_with(first: Option<&Path>) -> std::ffi::OsString {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(f) = first {
        dirs.push(f.to_path_buf());
        if let Some(usr) = f.parent() {
            for sib in ["bin", "sbin"] {
                let p = usr.join(sib);
                if p != f && p.is_dir() {
                    dirs.push(p);
                }
            }
        }
    }
    let inherited = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into());
    dirs.extend(std::env::split_paths(&inherited));
    std::env::join_paths(dirs).unwrap_or(inherited)
}
