//! What an engine reports back.

use crate::store::Store;
use std::fmt;

/// The result of one remove request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The records, in the order the engine reports them, spelled as the engine spells them.
    pub records: Vec<Record>,
    /// The errors, in order. Engines that take one name per call collect one per failed call
    /// (as their CLIs do); libimage reports a batch.
    pub errors: Vec<Failure>,
    /// The status of the request as a whole: the HTTP status of a Docker API call (or the CLI
    /// exit code when several names were given), the gRPC code of a CRI call, the exit code
    /// libpod reports.
    pub status: Status,
    /// The store after the request.
    pub after: Store,
}

/// One line of a remove report.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Record {
    /// A name was removed: `Untagged: <name>`.
    Untagged(String),
    /// An image (or on docker-classic, a layer) was deleted: `Deleted: <id>`.
    Deleted(String),
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::Untagged(s) => write!(f, "Untagged: {s}"),
            Record::Deleted(s) => write!(f, "Deleted: {s}"),
        }
    }
}

/// One error, as the engine reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// What kind of failure, engine-neutral.
    pub kind: ErrorKind,
    /// The engine's exact message.
    pub message: String,
    /// The status of the call that failed (per name on Docker/CRI; the error's exit-code
    /// class on Podman).
    pub status: Status,
}

/// The engine-neutral kind of a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// No image by that name or ID.
    NotFound,
    /// An ID prefix matches several images, and the engine says so.
    Ambiguous,
    /// The name does not parse.
    InvalidReference,
    /// The request itself is malformed (e.g. `--all` with names).
    InvalidArgument,
    /// The image cannot be removed as asked.
    Conflict {
        /// Why.
        reason: ConflictReason,
        /// Whether `force` could have overridden it.
        forceable: bool,
    },
    /// Anything else.
    Other,
}

/// Why a removal conflicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConflictReason {
    /// A running container uses the image.
    RunningContainer,
    /// A stopped container uses the image.
    StoppedContainer,
    /// A container uses the image; the engine does not say whether it runs (Podman).
    ContainerInUse,
    /// The image has several names and was named by ID (or digest).
    MultipleReferences,
    /// Other images were built from it.
    DependentChildren,
}

/// The status a surface reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// An HTTP status (Docker Engine API, libpod per-image endpoint).
    Http(u16),
    /// A gRPC status code (CRI), by its canonical number: 0 OK, 2 Unknown, 5 NotFound…
    Grpc(u8),
    /// A process / batch exit code (Docker CLI, libpod batch `ExitCode`).
    Exit(u8),
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Http(c) => write!(f, "http {c}"),
            Status::Grpc(c) => write!(f, "grpc {}", grpc_name(*c)),
            Status::Exit(c) => write!(f, "exit {c}"),
        }
    }
}

const GRPC_CODES: [&str; 17] = [
    "OK",
    "Cancelled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];

/// The canonical name of a gRPC code (`2` → `Unknown`).
pub fn grpc_name(code: u8) -> &'static str {
    GRPC_CODES.get(code as usize).copied().unwrap_or("?")
}

impl std::str::FromStr for Status {
    type Err = String;
    /// Parses `http 409`, `grpc Unknown` (or `grpc 2`), `exit 2`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("invalid status {s:?}: expected `http <code>`, `grpc <Code>` or `exit <code>`")
        };
        let (surface, value) = s.trim().split_once(' ').ok_or_else(bad)?;
        let value = value.trim();
        match surface {
            "http" => value.parse().map(Status::Http).map_err(|_| bad()),
            "exit" => value.parse().map(Status::Exit).map_err(|_| bad()),
            "grpc" => value
                .parse()
                .ok()
                .or_else(|| GRPC_CODES.iter().position(|n| *n == value).map(|p| p as u8))
                .map(Status::Grpc)
                .ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

impl Outcome {
    /// Whether the request succeeded as a whole.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}
