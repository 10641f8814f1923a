//! The protocol's messages, as they go over the pipes (`docs/protocol.md` is the reference):
//! one JSON object a line, the harness's requests on the program's stdin, one answer each on
//! its stdout.
//!
//! Every answer may instead be `{"unsupported": "reason"}` (the program's engine cannot
//! express this store or request: the trial is skipped with the reason) or
//! `{"error": "message"}` (it tried and failed: the trial is an error).

use crate::backend::Unsupported;
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The protocol version this harness speaks.
pub const VERSION: u32 = 1;

/// A request to the program.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// The first line: the protocol version and the semantics the harness judges against.
    Hello {
        /// [`VERSION`].
        protocol: u32,
        /// The profile id (`podman-libimage`).
        semantics: String,
    },
    /// Build this store, starting from an empty engine.
    Build(BuildStore),
    /// One remove request.
    Remove {
        /// The names, as a user types them (may be empty, may hold an empty string).
        names: Vec<String>,
        /// `--force`.
        force: bool,
        /// `--no-prune`.
        noprune: bool,
        /// `--ignore`.
        ignore: bool,
        /// `--all`.
        all: bool,
    },
    /// Every image and container.
    List,
    /// Remove every container.
    RemoveContainers,
    /// Remove every image.
    RemoveImages,
    /// The last line: the program cleans up and exits.
    Bye,
}

impl Request {
    /// The `op`, for messages.
    pub fn op(&self) -> &'static str {
        match self {
            Request::Hello { .. } => "hello",
            Request::Build(_) => "build",
            Request::Remove { .. } => "remove",
            Request::List => "list",
            Request::RemoveContainers => "remove-containers",
            Request::RemoveImages => "remove-images",
            Request::Bye => "bye",
        }
    }
}

/// The store to build.
#[derive(Clone, Debug, Serialize)]
pub struct BuildStore {
    /// The directory the archives are in (the harness's; removed after the answer).
    pub dir: String,
    /// The local registry's `host:port` (plain HTTP), when a name is a digest reference: the
    /// harness has pushed those images there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Images in creation order (a parent before its children).
    pub images: Vec<BuildImage>,
    /// Containers in creation order.
    pub containers: Vec<BuildContainer>,
}

/// One image to build.
#[derive(Clone, Debug, Serialize)]
pub struct BuildImage {
    /// The scenario's handle (`A`).
    pub handle: String,
    /// Its ID when loaded from `archive` (`sha256:<config digest>`).
    pub id: String,
    /// A `docker save` archive holding the image (both `manifest.json` and an OCI
    /// `index.json`), with no names.
    pub archive: String,
    /// The names it must store, in this order (tags, and digest references
    /// `<registry>/repo@sha256:…` that can only come from a pull).
    pub names: Vec<String>,
    /// The handle of the image it is built from (earlier in `images`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// One container to create.
#[derive(Clone, Debug, Serialize)]
pub struct BuildContainer {
    /// The scenario's handle (`c1`).
    pub handle: String,
    /// The handle of its image.
    pub image: String,
    /// `running`, `stopped`, `created` or `paused` ([`ContainerState::name`]).
    ///
    /// [`ContainerState::name`]: rmispec_model::ContainerState::name
    pub state: &'static str,
}

/// The answer to `hello`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    /// The protocol version the program speaks.
    pub protocol: u32,
    /// The semantics the program claims.
    pub semantics: String,
    /// What it drives, for reports (`podman 4.3.1 (CLI)`).
    #[serde(default)]
    pub engine: Option<String>,
}

/// The answer to `build`: the IDs the engine gave.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Built {
    /// Image handle → its ID.
    #[serde(default)]
    pub images: BTreeMap<String, String>,
    /// Container handle → its ID.
    #[serde(default)]
    pub containers: BTreeMap<String, String>,
}

/// The answer to `remove`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Removed {
    /// `Untagged: <name>` / `Deleted: <id>`, in order.
    #[serde(default)]
    pub records: Vec<String>,
    /// The errors, in order.
    #[serde(default)]
    pub errors: Vec<WireError>,
    /// The status of the whole request: `exit 1`, `http 409`, `grpc NotFound`.
    pub status: String,
}

/// One error of a `remove`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireError {
    /// The engine's exact message.
    pub message: String,
    /// The status of the call that failed, when the engine says it (an HTTP status per name);
    /// else the harness derives it from the message as the claimed semantics do.
    #[serde(default)]
    pub status: Option<String>,
}

/// The answer to `list`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listed {
    /// Every image, untagged ones included.
    pub images: Vec<ListedImage>,
    /// Every container.
    #[serde(default)]
    pub containers: Vec<ListedContainer>,
}

/// One listed image.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListedImage {
    /// Its ID.
    pub id: String,
    /// Its names (tags and digest references).
    #[serde(default)]
    pub names: Vec<String>,
}

/// One listed container.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListedContainer {
    /// Its ID.
    pub id: String,
    /// `running`, or anything else (stopped, created, exited).
    pub state: String,
}

/// An empty answer (`{}`), for the calls that return nothing.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Done {}

/// Reads one answer line of the call `op`: `T`, or the `unsupported` / `error` forms.
/// `n` is the line's number among the program's answers, for messages.
pub fn decode<T: serde::de::DeserializeOwned>(op: &str, n: usize, line: &str) -> anyhow::Result<T> {
    let shown = shorten(line);
    let value: serde_json::Value = serde_json::from_str(line).with_context(|| {
        format!("the answer to `{op}` (line {n} of the program's output, `{shown}`) is not JSON")
    })?;
    let Some(object) = value.as_object() else {
        bail!("the answer to `{op}` (line {n} of the program's output, `{shown}`) is not a JSON object");
    };
    if let Some(reason) = object.get("unsupported") {
        let reason = reason
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| reason.to_string());
        return Err(Unsupported::new(reason).into());
    }
    if let Some(message) = object.get("error") {
        let message = message
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| message.to_string());
        bail!("the program failed `{op}`: {message}");
    }
    serde_json::from_value(value).with_context(|| {
        format!("the answer to `{op}` (line {n} of the program's output, `{shown}`) is not what `{op}` answers")
    })
}

/// A line cut to a readable length.
fn shorten(line: &str) -> String {
    const MAX: usize = 200;
    if line.chars().count() <= MAX {
        return line.to_owned();
    }
    let cut: String = line.chars().take(MAX).collect();
    format!("{cut}…")
}
