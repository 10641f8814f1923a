//! `podman rmi` itself, for requests whose behaviour only the CLI shows.
//!
//! The batch endpoint cannot express three requests faithfully:
//!
//! - no names and no `--all`: the CLI refuses (`image name or ID must be specified`), the
//!   endpoint would remove **every** image (notes §7.12);
//! - names and `--all`: the CLI refuses (`when using the --all switch, you may not pass any
//!   images names or IDs`, `podman@v4.3.1:cmd/podman/images/rm.go#L60-L66`), the endpoint
//!   removes the names;
//! - on 3.0.1, `--ignore` or `--no-prune`: 3.0.1's CLI has neither flag
//!   (`podman@v3.0.1:cmd/podman/images/rm.go#L41-L44`) and its endpoint silently drops the
//!   parameters (`podman@v3.0.1:pkg/api/handlers/libpod/images.go#L677-L698`).
//!
//! - an empty name: the CLI in remote mode would send `images=` with an empty value, which the
//!   server reads as no names, i.e. **every image** (measured on 4.3.1: `DELETE
//!   /libpod/images/remove?images=` removed the whole store); locally the CLI looks the
//!   empty name up and fails with `invalid reference format`.
//!
//! For those the adapter runs the CLI itself. With a sandboxed service it runs it locally
//! (no `--remote`), with the service's flags and environment, inside the service's mount and
//! PID namespaces (`nsenter --mount --pid`), on the same storage: this is `podman rmi` as a user on that
//! machine runs it. With a service the user named (`--socket`) it runs `podman --remote`,
//! and refuses an empty name.

use super::config::{Flavor, Layout};
use anyhow::Context;
use rmispec_model::{Record, Request, Status};
use std::path::Path;
use std::process::{Command, Stdio};

/// What `podman rmi` printed and how it exited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CliOutcome {
    /// `Untagged: …` / `Deleted: …` lines of stdout, in order.
    pub records: Vec<Record>,
    /// Error texts from stderr, without the `Error: ` prefix (several errors print as
    /// `Error: N errors occurred:` and one `\t* …` line each).
    pub errors: Vec<String>,
    /// The exit code.
    pub status: Status,
}

/// Whether `request` needs the CLI on `flavor` (see the module docs).
pub fn needs_cli(flavor: Flavor, request: &Request) -> bool {
    let refused_by_cli = request.names.is_empty() != request.all;
    let legacy_flags = flavor == Flavor::Libpod301 && (request.ignore || !request.prune);
    let empty_name = request.names.iter().any(String::is_empty);
    refused_by_cli || legacy_flags || empty_name
}

/// How the CLI reaches the store.
#[derive(Clone, Copy, Debug)]
pub enum Via<'a> {
    /// Locally, in the mount and PID namespaces of the process whose PID this is.
    Local {
        /// The service's PID.
        service_pid: u32,
    },
    /// `--remote --url unix://<socket>`.
    Remote {
        /// The service's socket.
        socket: &'a Path,
    },
}

/// The arguments after `rmi`.
pub fn rmi_args(request: &Request) -> Vec<String> {
    let mut args = Vec::new();
    for (on, flag) in [
        (request.force, "--force"),
        (request.all, "--all"),
        (request.ignore, "--ignore"),
        (!request.prune, "--no-prune"),
    ] {
        if on {
            args.push(flag.to_owned());
        }
    }
    if !request.names.is_empty() {
        args.push("--".to_owned());
        args.extend(request.names.iter().cloned());
    }
    args
}

/// Runs `podman rmi …` with the instance's environment, locally or remotely.
pub fn rmi(
    flavor: Flavor,
    state: &Path,
    via: Via<'_>,
    request: &Request,
) -> anyhow::Result<CliOutcome> {
    let layout = Layout::new(state);
    let mut cmd = match via {
        Via::Local { service_pid } => {
            let mut c = Command::new("nsenter");
            c.arg("--target")
                .arg(service_pid.to_string())
                .args(["--mount", "--pid"])
                .arg("--")
                .arg(flavor.binary())
                .args(layout.global_flags());
            c
        }
        Via::Remote { socket } => {
            if request.names.iter().any(String::is_empty) {
                anyhow::bail!("refusing to send an empty name through the remote CLI: the service would remove every image");
            }
            let mut url = std::ffi::OsString::from("unix://");
            url.push(socket);
            let mut c = Command::new(flavor.binary());
            c.arg("--remote").arg("--url").arg(url);
            c
        }
    };
    let out = cmd
        .envs(layout.env(flavor))
        .arg("rmi")
        .args(rmi_args(request))
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {} rmi", flavor.binary().display()))?;
    let code = out
        .status
        .code()
        .context("podman rmi was killed by a signal")?;
    Ok(parse(
        &String::from_utf8_lossy(&out.stdout),
        &String::from_utf8_lossy(&out.stderr),
        code,
    ))
}

/// Parses the CLI's output.
pub fn parse(stdout: &str, stderr: &str, code: i32) -> CliOutcome {
    let records = stdout
        .lines()
        .filter_map(|l| {
            if let Some(n) = l.strip_prefix("Untagged: ") {
                Some(Record::Untagged(n.to_owned()))
            } else {
                l.strip_prefix("Deleted: ")
                    .map(|d| Record::Deleted(d.to_owned()))
            }
        })
        .collect();
    let mut errors = Vec::new();
    for line in stderr.lines() {
        if let Some(e) = line.strip_prefix("Error: ") {
            if !e.ends_with("errors occurred:") && !e.ends_with("error occurred:") {
                errors.push(e.to_owned());
            }
        } else if let Some(e) = line.trim_start().strip_prefix("* ") {
            errors.push(e.to_owned());
        }
    }
    CliOutcome {
        records,
        errors,
        status: Status::Exit(u8::try_from(code).unwrap_or(u8::MAX)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(names: &[&str], all: bool) -> Request {
        Request {
            names: names.iter().map(|s| s.to_string()).collect(),
            force: false,
            prune: true,
            ignore: false,
            all,
            platforms: Vec::new(),
        }
    }

    #[test]
    fn only_what_the_endpoint_cannot_express_goes_to_the_cli() {
        assert!(
            needs_cli(Flavor::Podman43, &request(&[], false)),
            "no names, no --all"
        );
        assert!(
            needs_cli(Flavor::Podman43, &request(&["a"], true)),
            "names and --all"
        );
        assert!(!needs_cli(Flavor::Podman43, &request(&["a"], false)));
        assert!(!needs_cli(Flavor::Podman43, &request(&[], true)));
        let mut ignore = request(&["a"], false);
        ignore.ignore = true;
        assert!(needs_cli(Flavor::Libpod301, &ignore));
        assert!(!needs_cli(Flavor::Podman43, &ignore));
        assert!(
            needs_cli(Flavor::Podman43, &request(&["a", ""], false)),
            "an empty name"
        );
    }

    /// An empty name runs locally in the sandbox only: to a service the user brought it would
    /// go through `--remote`, as `images=` with an empty value, which the service reads as no
    /// name, i.e. every image. The refusal comes before any process starts or socket opens.
    #[test]
    fn an_empty_name_is_never_sent_to_a_service_the_user_brought() {
        for flavor in [
            Flavor::Podman43,
            Flavor::Podman54,
            Flavor::Podman58,
            Flavor::Libpod301,
        ] {
            for names in [&[""][..], &["localhost/a:1", ""][..]] {
                let socket = Path::new("/nonexistent/rmispec-user.sock");
                let error = rmi(
                    flavor,
                    Path::new("/nonexistent"),
                    Via::Remote { socket },
                    &request(names, false),
                )
                .expect_err("an empty name is refused before it is sent");
                assert!(
                    error.to_string().contains("refusing to send an empty name"),
                    "{flavor:?} {names:?}: {error:#}"
                );
            }
        }
    }

    #[test]
    fn names_follow_a_double_dash() {
        let mut r = request(&["-x", "a"], false);
        r.force = true;
        r.prune = false;
        assert_eq!(rmi_args(&r), ["--force", "--no-prune", "--", "-x", "a"]);
    }

    #[test]
    fn cli_output_is_parsed() {
        let o = parse(
            "Untagged: localhost/a:1\nDeleted: abc\n",
            "Error: 2 errors occurred:\n\t* x: image not known\n\t* y: image not known\n\n",
            1,
        );
        assert_eq!(
            o.records,
            vec![
                Record::Untagged("localhost/a:1".into()),
                Record::Deleted("abc".into())
            ]
        );
        assert_eq!(o.errors, vec!["x: image not known", "y: image not known"]);
        assert_eq!(o.status, Status::Exit(1));
        let o = parse("", "Error: image name or ID must be specified\n", 125);
        assert_eq!(o.errors, vec!["image name or ID must be specified"]);
    }
}
