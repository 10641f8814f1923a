//! Which Podman runs, and the files and flags that keep it inside its state directory.
//!
//! Measured on these machines (the notes' backends study, §2 and §7): Podman reads its
//! configuration from `containers.conf`, `storage.conf` and `registries.conf`, found through
//! environment variables, plus global flags that override the storage paths. Every path below
//! is under the instance's state directory; what Podman still writes outside it (the blob-info
//! cache in `/var/lib/containers/cache`, the short-name alias lock in `/var/cache/containers`,
//! 4.3.1's `/var/tmp/ociNNN` during a load) is caught by the private mount namespace the
//! service runs in ([`super::service`]).

use rmispec_model::Profile;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The Podman builds the adapter runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Podman 4.3.1 (Debian bookworm, `/usr/bin/podman`): containers/common v0.50.1 libimage.
    Podman43,
    /// Podman 5.4.2 (Debian trixie, with trixie's libraries: see `scripts/install-engines`).
    Podman54,
    /// Podman 5.8.6 (Debian forky, with forky's libraries, conmon 2.1.13 and netavark 1.17.2:
    /// see `scripts/install-forky`).
    Podman58,
    /// Podman 3.0.1 (Debian bullseye, unpacked under the engines prefix): `libpod/image`.
    Libpod301,
}

impl Flavor {
    /// The flavour that runs `profile`, if any runs it.
    pub fn for_profile(profile: Profile) -> Option<Flavor> {
        match profile {
            Profile::Podman43 => Some(Flavor::Podman43),
            Profile::Podman54 => Some(Flavor::Podman54),
            Profile::Podman58 => Some(Flavor::Podman58),
            Profile::Libpod301 => Some(Flavor::Libpod301),
            _ => None,
        }
    }

    /// The profile whose semantics it has.
    pub fn profile(self) -> Profile {
        match self {
            Flavor::Podman43 => Profile::Podman43,
            Flavor::Podman54 => Profile::Podman54,
            Flavor::Podman58 => Profile::Podman58,
            Flavor::Libpod301 => Profile::Libpod301,
        }
    }

    /// The libpod API version in request paths. Servers accept any version up to their own;
    /// 3.0 knows nothing past `3.0.0`.
    pub fn api_version(self) -> &'static str {
        match self {
            Flavor::Podman43 | Flavor::Podman54 | Flavor::Podman58 => "4.0.0",
            Flavor::Libpod301 => "3.0.0",
        }
    }

    /// The major version a server's `Libpod-Api-Version` header must start with.
    pub fn api_major(self) -> &'static str {
        match self {
            Flavor::Podman43 => "4.",
            Flavor::Podman54 | Flavor::Podman58 => "5.",
            Flavor::Libpod301 => "3.",
        }
    }

    /// The `podman` binary: the system's for 4.3, the one unpacked under the engines prefix
    /// for the others.
    pub fn binary(self) -> PathBuf {
        match self {
            Flavor::Podman43 => PathBuf::from("/usr/bin/podman"),
            Flavor::Podman54 | Flavor::Podman58 | Flavor::Libpod301 => {
                self.prefix().join("usr/bin/podman")
            }
        }
    }

    /// Where the flavour's packages are unpacked (`/` for the system's Podman 4.3).
    pub fn prefix(self) -> PathBuf {
        match self {
            Flavor::Podman43 => PathBuf::from("/"),
            Flavor::Podman54 => engines_dir().join("trixie-podman"),
            Flavor::Podman58 => engines_dir().join("forky"),
            Flavor::Libpod301 => engines_dir().join("bullseye"),
        }
    }

    /// The environment variable the registries configuration is read from: Podman 3.0.1
    /// (containers/image v5.10) ignores `CONTAINERS_REGISTRIES_CONF` and reads only
    /// `REGISTRIES_CONFIG_PATH` (measured; backends notes §4).
    pub fn registries_env(self) -> &'static str {
        match self {
            Flavor::Libpod301 => "REGISTRIES_CONFIG_PATH",
            Flavor::Podman43 | Flavor::Podman54 | Flavor::Podman58 => "CONTAINERS_REGISTRIES_CONF",
        }
    }

    /// Whether it is a Podman 5 (5.4 and 5.8 build and name images alike).
    pub fn is_podman5(self) -> bool {
        matches!(self, Flavor::Podman54 | Flavor::Podman58)
    }
}

/// Where `scripts/install-engines` unpacks the engines Debian bookworm does not ship (one
/// definition for every adapter: [`crate::live::engines_dir`]).
pub fn engines_dir() -> PathBuf {
    crate::live::engines_dir()
}

/// Where every instance's cgroups go, instead of Podman's default `/libpod_parent`, shared
/// with whatever else runs Podman on the host. containers.conf has no key for it in common
/// v0.50.1, so it goes in each create request.
pub const CGROUP_ROOT: &str = "/rmispec-podman";

/// The run root, as the service's mount namespace sees it ([`Layout::run_root`]).
pub const RUN_ROOT: &str = "/run/rmispec-podman";

/// The layout of one instance's state directory.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout below `state`.
    pub fn new(state: &Path) -> Layout {
        Layout {
            root: state.to_path_buf(),
        }
    }

    /// `<state>/<rel>`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// The cgroup parent of this instance's containers (and their conmons):
    /// `/rmispec-podman/<state dir name>`, so that stopping removes exactly its own.
    pub fn cgroup_parent(&self) -> String {
        let name = self
            .root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!(
            "{CGROUP_ROOT}/{}",
            name.replace(
                |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
                "_"
            )
        )
    }

    /// The API socket.
    pub fn socket(&self) -> PathBuf {
        self.path("podman.sock")
    }

    /// The storage run root: a path **inside the service's mount namespace**, where `/run`
    /// is an overlay whose upper layer is `<state>/host/_run` ([`super::service`]). Podman
    /// refuses a run root longer than 50 characters (`the specified runroot is longer than
    /// 50 characters`: conmon's attach socket lives below it and unix socket paths are
    /// short), which `<state>/runroot` exceeds as soon as the state directory's path is
    /// longer than about 40; everything that uses the run root (the service, conmon, the
    /// cleanup command conmon runs, the CLI through `nsenter`) runs in that namespace.
    pub fn run_root(&self) -> PathBuf {
        PathBuf::from(RUN_ROOT)
    }

    /// The storage graph root: the one directory wiped for a fresh store.
    pub fn graph_root(&self) -> PathBuf {
        self.path("root")
    }

    /// Directories that hold a store's state: wiped, with the graph root, between scenarios.
    pub fn store_dirs() -> &'static [&'static str] {
        &[
            "root",
            "runc",
            "libpod-tmp",
            "tmp",
            "net",
            "events.log",
            "host",
        ]
    }

    /// Directories created before the service starts.
    fn dirs() -> &'static [&'static str] {
        &[
            "etc",
            "root",
            "runc",
            "libpod-tmp",
            "tmp",
            "net",
            "xdg/config",
            "xdg/data",
            "xdg/run",
            "xdg/cache",
            "home",
        ]
    }

    /// Creates the directories and writes the configuration files.
    pub fn write(&self, flavor: Flavor, registry: Option<&str>) -> std::io::Result<()> {
        for d in Self::dirs() {
            std::fs::create_dir_all(self.path(d))?;
        }
        std::fs::write(
            self.path("etc/containers.conf"),
            self.containers_conf(flavor),
        )?;
        std::fs::write(self.path("etc/storage.conf"), self.storage_conf())?;
        std::fs::write(self.path("etc/registries.conf"), registries_conf(registry))?;
        // `podman run`/create fails with `stat …/auth.json: no such file` if it is missing.
        std::fs::write(self.path("etc/auth.json"), "{\"auths\":{}}\n")?;
        Ok(())
    }

    /// `containers.conf`. `default_ulimits` is required on these machines (no
    /// CAP_SYS_RESOURCE: runc cannot raise rlimits to the defaults), `netns = "none"` keeps
    /// containers off CNI, `lock_type = "file"` replaces the `/dev/shm/libpod_lock` all Podman
    /// instances share, and the rest moves each path Podman would put in `/run` or
    /// `/var/lib` under the state directory. Podman 5.4 runs with trixie's conmon and finds
    /// netavark (which it needs even with `netns = "none"`) only through `helper_binaries_dir`;
    /// 5.8 likewise with forky's conmon and netavark, plus forky's runc (patched to forky's
    /// libc) and the netavark backend named, its network config under the state dir.
    pub fn containers_conf(&self, flavor: Flavor) -> String {
        let p = |r: &str| toml_str(&self.path(r));
        let prefix = flavor.prefix();
        let extra = match flavor {
            Flavor::Podman54 => {
                format!(
                    "conmon_path = [{}]\nhelper_binaries_dir = [{}]\n",
                    toml_str(&prefix.join("usr/bin/conmon")),
                    toml_str(&prefix.join("usr/lib/podman"))
                )
            }
            Flavor::Podman58 => format!(
                "conmon_path = [{}]\nhelper_binaries_dir = [{}, {}]\n",
                toml_str(&prefix.join("usr/bin/conmon")),
                toml_str(&prefix.join("usr/lib/podman")),
                toml_str(&prefix.join("usr/libexec/podman"))
            ),
            Flavor::Podman43 | Flavor::Libpod301 => String::new(),
        };
        let (runtimes, network) = match flavor {
            Flavor::Podman58 => (
                format!(
                    "[engine.runtimes]\nrunc = [{}]\n",
                    toml_str(&prefix.join("usr/sbin/runc"))
                ),
                "network_backend = \"netavark\"\n",
            ),
            Flavor::Podman43 | Flavor::Podman54 | Flavor::Libpod301 => (String::new(), ""),
        };
        format!(
            "[containers]\n\
             default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
             log_driver = \"k8s-file\"\n\
             netns = \"none\"\n\
             [engine]\n\
             {extra}\
             cgroup_manager = \"cgroupfs\"\n\
             events_logger = \"file\"\n\
             events_logfile_path = {events}\n\
             runtime = \"runc\"\n\
             static_dir = {static_dir}\n\
             tmp_dir = {tmp_dir}\n\
             image_copy_tmp_dir = {copy_tmp}\n\
             lock_type = \"file\"\n\
             volume_path = {volumes}\n\
             {runtimes}\
             [network]\n\
             {network}\
             network_config_dir = {net}\n",
            events = p("events.log"),
            static_dir = p("root/libpod"),
            tmp_dir = p("libpod-tmp"),
            copy_tmp = p("tmp"),
            volumes = p("root/volumes"),
            net = p("net"),
        )
    }

    /// `storage.conf`: overlay on the graph root, the run root beside it.
    pub fn storage_conf(&self) -> String {
        format!(
            "[storage]\ndriver = \"overlay\"\nrunroot = {}\ngraphroot = {}\n",
            toml_str(&self.run_root()),
            toml_str(&self.graph_root())
        )
    }

    /// The environment the service runs with.
    pub fn env(&self, flavor: Flavor) -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> = [
            ("CONTAINERS_CONF", "etc/containers.conf"),
            ("CONTAINERS_STORAGE_CONF", "etc/storage.conf"),
            (flavor.registries_env(), "etc/registries.conf"),
            ("REGISTRY_AUTH_FILE", "etc/auth.json"),
            ("XDG_CONFIG_HOME", "xdg/config"),
            ("XDG_DATA_HOME", "xdg/data"),
            ("XDG_RUNTIME_DIR", "xdg/run"),
            ("XDG_CACHE_HOME", "xdg/cache"),
            // Per-user registries.conf(.d) and auth files are looked up under $HOME.
            ("HOME", "home"),
            ("TMPDIR", "tmp"),
        ]
        .into_iter()
        .map(|(k, v)| (OsString::from(k), self.path(v).into_os_string()))
        .collect();
        if flavor.is_podman5() {
            // 5.x warns on every call that cgroups v1 is deprecated.
            env.push(("PODMAN_IGNORE_CGROUPSV1_WARNING".into(), "1".into()));
        }
        env
    }

    /// The global flags before the subcommand. `--runtime-flag root=…` moves runc's state out
    /// of `/run/runc` (Podman passes no `--root` otherwise).
    pub fn global_flags(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = Vec::new();
        let mut push = |k: &str, val: OsString| {
            v.push(k.into());
            v.push(val);
        };
        push("--root", self.graph_root().into_os_string());
        push("--runroot", self.run_root().into_os_string());
        push("--storage-driver", "overlay".into());
        push("--cgroup-manager", "cgroupfs".into());
        push("--events-backend", "file".into());
        push("--runtime", "runc".into());
        push("--tmpdir", self.path("libpod-tmp").into_os_string());
        let mut root = OsString::from("root=");
        root.push(self.path("runc"));
        push("--runtime-flag", root);
        v
    }
}

/// `registries.conf`: no search registries and short names disabled (so a short name can
/// never reach a network), and the local registry, if any, over plain HTTP.
pub fn registries_conf(registry: Option<&str>) -> String {
    let mut s =
        String::from("unqualified-search-registries = []\nshort-name-mode = \"disabled\"\n");
    if let Some(r) = registry {
        s.push_str(&format!(
            "\n[[registry]]\nlocation = \"{r}\"\ninsecure = true\n"
        ));
    }
    s
}

/// A TOML basic string.
fn toml_str(p: &Path) -> String {
    let s = p.to_string_lossy();
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_configured_path_is_under_the_state_dir() {
        let l = Layout::new(Path::new("/s/podman"));
        let text = format!(
            "{}{}",
            l.containers_conf(Flavor::Podman43),
            l.storage_conf()
        );
        let paths: Vec<&str> = text.split('"').filter(|t| t.starts_with('/')).collect();
        assert!(paths.len() >= 8, "{text}");
        for p in paths {
            // The run root is in the service's namespace, on the overlay whose upper layer
            // is in the state dir.
            assert!(
                p.starts_with("/s/podman/") || p == RUN_ROOT,
                "{p} escapes the state dir"
            );
        }
        assert!(RUN_ROOT.len() <= 50, "podman refuses a longer run root");
        for (k, v) in l.env(Flavor::Podman43) {
            assert!(Path::new(&v).starts_with("/s/podman"), "{k:?}={v:?}");
        }
        assert_eq!(l.cgroup_parent(), "/rmispec-podman/podman");
        assert_eq!(
            Layout::new(Path::new("/s/podman-libimage@5.4-7")).cgroup_parent(),
            "/rmispec-podman/podman-libimage_5_4-7"
        );
        let flags = l.global_flags();
        assert!(
            flags.iter().any(|f| f == "root=/s/podman/runc"),
            "{flags:?}"
        );
    }

    #[test]
    fn libpod_301_reads_its_registries_from_another_variable() {
        let l = Layout::new(Path::new("/s"));
        let keys = |f| l.env(f).into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert!(keys(Flavor::Libpod301).contains(&"REGISTRIES_CONFIG_PATH".into()));
        assert!(!keys(Flavor::Libpod301).contains(&"CONTAINERS_REGISTRIES_CONF".into()));
        assert!(keys(Flavor::Podman43).contains(&"CONTAINERS_REGISTRIES_CONF".into()));
    }

    #[test]
    fn required_settings_are_present() {
        let c = Layout::new(Path::new("/s")).containers_conf(Flavor::Podman43);
        for needle in [
            "default_ulimits",
            "netns = \"none\"",
            "lock_type = \"file\"",
            "events_logger = \"file\"",
            "cgroupfs",
        ] {
            assert!(c.contains(needle), "containers.conf lacks {needle}:\n{c}");
        }
        let r = registries_conf(Some("127.0.0.1:5000"));
        assert!(
            r.contains("unqualified-search-registries = []")
                && r.contains("short-name-mode = \"disabled\"")
        );
        assert!(
            r.contains("location = \"127.0.0.1:5000\"\ninsecure = true"),
            "{r}"
        );
    }
}
