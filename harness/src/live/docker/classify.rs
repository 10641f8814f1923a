//! What kind of error a Docker engine's `DELETE /images/{name}` answer is, from its HTTP status
//! and message. One function per engine; the texts they share come from the same upstream
//! constructors, so the shared parsing is shared code.
//!
//! Texts (Docker 20.10.24, `moby/moby@v20.10.24:daemon/images/image_delete.go`):
//! - `conflict: unable to delete <id12> (cannot be forced) - <reason>` / `(must be forced)`
//!   (`imageDeleteConflict.Error`, L275-284), reasons from `checkImageDeleteConflict`
//!   (L358-406): `image has dependent child images`, `image is being used by running container
//!   <c>`, `image is referenced in multiple repositories`, `image is being used by stopped
//!   container <c>`;
//! - by reference, a single-reference image used by any container:
//!   `conflict: unable to remove repository reference "<ref>" (must force) - container <c> is
//!   using its referenced image <id>` (L87-96): it does not say whether the container runs;
//! - `No such image: <ref>` (404, `daemon/images/image.go` `ErrImageDoesNotExist`);
//! - 400 from the reference grammar (`invalid reference format…`) or the router
//!   (`image name cannot be blank`, `api/server/router/image/image_routes.go`).
//!
//! Docker 26.1.5 with the containerd store (`moby/moby@v26.1.5:daemon/containerd/image_delete.go`)
//! adds `conflict: unable to delete <ref> (must be forced) - container <c> is using its
//! referenced image <id>` (L161-173, any container) and `ambiguous reference` (404,
//! `daemon/containerd/image.go` L464-472), and has no dependent-children conflict.

use rmispec_model::{ConflictReason, ErrorKind};

/// docker-classic (20.10.24): status + message → kind.
pub fn classic(status: u16, message: &str) -> ErrorKind {
    shared(status, message)
}

/// docker-containerd (26.1.5): status + message → kind. `ambiguous reference` is a 404 (the
/// CLI's exit-code rule counts it as not found) but says it is ambiguous.
pub fn containerd(status: u16, message: &str) -> ErrorKind {
    if status == 404 && message.starts_with("ambiguous reference") {
        return ErrorKind::Ambiguous;
    }
    shared(status, message)
}

fn shared(status: u16, message: &str) -> ErrorKind {
    match status {
        404 => ErrorKind::NotFound,
        409 => conflict(message).unwrap_or(ErrorKind::Other),
        400 if is_reference_error(message) => ErrorKind::InvalidReference,
        400 => ErrorKind::InvalidArgument,
        _ => ErrorKind::Other,
    }
}

/// The grammar's and the router's texts for a name that is not a reference.
fn is_reference_error(message: &str) -> bool {
    const TEXTS: &[&str] = &[
        "invalid reference format",
        "repository name must",
        "invalid repository name",
        "invalid checksum digest",
        "unsupported digest algorithm",
        "image name cannot be blank",
    ];
    TEXTS.iter().any(|t| message.contains(t))
}

/// Parses a conflict text into its reason and whether force could override it.
fn conflict(message: &str) -> Option<ErrorKind> {
    let rest = message.strip_prefix("conflict: ")?;
    let (head, reason) = rest.split_once(" - ")?;
    let forceable = if head.ends_with("(must be forced)") || head.ends_with("(must force)") {
        true
    } else if head.ends_with("(cannot be forced)") {
        false
    } else {
        return None;
    };
    let reason = if reason.starts_with("image has dependent child images") {
        ConflictReason::DependentChildren
    } else if reason.starts_with("image is being used by running container") {
        ConflictReason::RunningContainer
    } else if reason.starts_with("image is being used by stopped container") {
        ConflictReason::StoppedContainer
    } else if reason.starts_with("image is referenced in multiple repositories") {
        ConflictReason::MultipleReferences
    } else if reason.starts_with("container ") && reason.contains(" is using its referenced image ")
    {
        ConflictReason::ContainerInUse
    } else {
        return None;
    };
    Some(ErrorKind::Conflict { reason, forceable })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmispec_model::ConflictReason::*;

    fn c(reason: ConflictReason, forceable: bool) -> ErrorKind {
        ErrorKind::Conflict { reason, forceable }
    }

    #[test]
    fn conflict_texts_seen_on_docker_classic() {
        // backends.md §6 and §5(b), verbatim from the engine.
        let cases = [
            ("conflict: unable to delete 82550cbbb81f (cannot be forced) - image is being used by running container b5dbbf51097f", c(RunningContainer, false)),
            ("conflict: unable to delete 82550cbbb81f (must be forced) - image is referenced in multiple repositories", c(MultipleReferences, true)),
            ("conflict: unable to delete 760b39f649d2 (cannot be forced) - image has dependent child images", c(DependentChildren, false)),
            ("conflict: unable to delete 82550cbbb81f (must be forced) - image is being used by stopped container 2fcce57bde5b", c(StoppedContainer, true)),
            ("conflict: unable to remove repository reference \"localhost/a:1\" (must force) - container 2fcce57bde5b is using its referenced image 82550cbbb81f", c(ContainerInUse, true)),
        ];
        for (text, kind) in cases {
            assert_eq!(classic(409, text), kind, "{text}");
        }
    }

    #[test]
    fn not_found_invalid_and_ambiguous() {
        assert_eq!(
            classic(404, "No such image: nosuch:latest"),
            ErrorKind::NotFound
        );
        assert_eq!(
            classic(
                400,
                "invalid reference format: repository name must be lowercase"
            ),
            ErrorKind::InvalidReference
        );
        assert_eq!(
            classic(400, "image name cannot be blank"),
            ErrorKind::InvalidReference
        );
        assert_eq!(classic(400, "something else"), ErrorKind::InvalidArgument);
        assert_eq!(
            classic(404, "ambiguous reference"),
            ErrorKind::NotFound,
            "docker-classic has no ambiguity error"
        );
        assert_eq!(containerd(404, "ambiguous reference"), ErrorKind::Ambiguous);
        assert_eq!(containerd(409, "conflict: unable to delete localhost/a:1 (must be forced) - container 842df8d8d584 is using its referenced image 025f1de4e206"), c(ContainerInUse, true));
        assert_eq!(classic(500, "boom"), ErrorKind::Other);
        assert_eq!(classic(409, "conflict: something new"), ErrorKind::Other);
    }
}
