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

//!
//! The reading is the model's own `classify` (one function for both engines: the texts come
//! from the same upstream constructors, and `ambiguous reference` only exists on 26.1), which
//! the model checks against every error it builds; the tests here check it against texts the
//! live engines really printed.

pub use rmispec_model::engines::docker::classify;

#[cfg(test)]
mod tests {
    use super::*;
    use rmispec_model::ConflictReason::{self, *};
    use rmispec_model::ErrorKind;

    fn classic(status: u16, message: &str) -> ErrorKind {
        classify(status, message)
    }
    use classic as containerd;

    fn c(reason: ConflictReason, forceable: bool) -> ErrorKind {
        ErrorKind::Conflict { reason, forceable }
    }

    #[test]
    fn conflict_texts_seen_on_docker_classic() {
        // the probes summarised in docs/engines.md#docker-classic, verbatim from the engine.
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
        assert_eq!(
            classic(400, "invalid name reference"),
            ErrorKind::InvalidReference
        );
        assert_eq!(containerd(404, "ambiguous reference"), ErrorKind::Ambiguous);
        assert_eq!(containerd(409, "conflict: unable to delete localhost/a:1 (must be forced) - container 842df8d8d584 is using its referenced image 025f1de4e206"), c(ContainerInUse, true));
        assert_eq!(classic(500, "boom"), ErrorKind::Other);
        assert_eq!(classic(409, "conflict: something new"), ErrorKind::Other);
    }
}
