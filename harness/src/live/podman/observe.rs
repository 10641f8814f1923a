//! From what the libpod API answered to the model's vocabulary: records, failures, status,
//! and the store as listed.
//!
//! The surface is the batch remove `DELETE /libpod/images/remove` (what `podman rmi` calls
//! through its bindings), on 4.x and on 3.0.1 alike. Its report carries `Untagged`, `Deleted`,
//! `Errors` (each error's text) and `ExitCode` (what `podman rmi` exits with). The records
//! are the report's lines in the order the CLI prints them: every `Untagged:` first, then every
//! `Deleted:` (`podman@v4.3.1:cmd/podman/images/rm.go#L78-L87`, the same loop in
//! `podman@v3.0.1:cmd/podman/images/rm.go#L57-L66`), and like the CLI the adapter skips the
//! empty `Deleted` entries 3.0.1 reports for a name it only untagged.

use super::api::{ContainerSummary, ImageSummary, RemoveReport};
use super::config::Flavor;
use anyhow::Context;
use rmispec_model::{Digest, Failure, ListedImage, Listing, Record, Status};

/// The records of a report: `Untagged:` lines, then `Deleted:` lines (bare IDs), in the
/// report's order.
pub fn records(report: &RemoveReport) -> Vec<Record> {
    let untagged = report
        .untagged
        .iter()
        .flatten()
        .map(|n| Record::Untagged(n.clone()));
    let deleted = report
        .deleted
        .iter()
        .flatten()
        .filter(|d| !d.is_empty())
        .map(|d| Record::Deleted(d.clone()));
    untagged.chain(deleted).collect()
}

/// One failure per error text, classified.
pub fn failures(flavor: Flavor, report: &RemoveReport) -> Vec<Failure> {
    report
        .errors
        .iter()
        .flatten()
        .map(|e| failure(flavor, e))
        .collect()
}

/// The status of the whole request: the report's `ExitCode`.
pub fn status(report: &RemoveReport) -> anyhow::Result<Status> {
    let code = u8::try_from(report.exit_code)
        .with_context(|| format!("exit code {} out of range", report.exit_code))?;
    Ok(Status::Exit(code))
}

/// One error text as a [`Failure`]: its kind, and as status the exit code this error alone
/// would give (`removeErrorsToExitCode`: 1 for not-found, 2 for in-use, 125 otherwise;
/// `podman@v4.3.1:pkg/domain/infra/abi/images.go#L515-L554`, `podman@v3.0.1:pkg/domain/infra/abi/images.go#L526-L566`).
pub fn failure(flavor: Flavor, text: &str) -> Failure {
    // The model's readings: each the inverse of its engine's message constructors.
    let (kind, class) = match flavor {
        Flavor::Podman43 | Flavor::Podman54 | Flavor::Podman58 => {
            rmispec_model::engines::podman_libimage::classify(text)
        }
        Flavor::Libpod301 => rmispec_model::engines::libpod_legacy::classify(text),
    };
    Failure {
        kind,
        message: text.to_owned(),
        status: Status::Exit(class),
    }
}

/// The store as the API lists it: every image (`all=true`) with its stored `Names` (tags,
/// then digest names, each sorted), and every container with whether it runs.
pub fn listing(
    images: &[ImageSummary],
    containers: &[ContainerSummary],
) -> anyhow::Result<Listing> {
    let images = images
        .iter()
        .map(|i| {
            // Tags first, then digest names, each sorted (as `ListedImage` lists them).
            let (mut names, mut digests): (Vec<String>, Vec<String>) = i
                .names
                .iter()
                .flatten()
                .cloned()
                .partition(|n| !n.contains('@'));
            names.sort();
            digests.sort();
            names.extend(digests);
            Ok(ListedImage {
                id: Digest::parse(&i.id).with_context(|| format!("image ID {:?}", i.id))?,
                names,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let containers = containers
        .iter()
        .map(|c| {
            let state = c.state();
            Ok((
                Digest::parse(&c.id).with_context(|| format!("container ID {:?}", c.id))?,
                state,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Listing { images, containers })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmispec_model::{ConflictReason, ContainerState, ErrorKind};

    fn report(json: &str) -> RemoveReport {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn untagged_lines_come_before_deleted_lines_and_empty_ids_are_skipped() {
        let r = report(
            r#"{"Deleted":["","abc"],"Untagged":["localhost/a:1","localhost/b:1"],"ExitCode":0,"Errors":[]}"#,
        );
        assert_eq!(
            records(&r),
            vec![
                Record::Untagged("localhost/a:1".into()),
                Record::Untagged("localhost/b:1".into()),
                Record::Deleted("abc".into())
            ]
        );
        assert_eq!(status(&r).unwrap(), Status::Exit(0));
    }

    // The texts below are the ones the services answered on these machines.
    #[test]
    fn libimage_errors_are_classified_with_their_exit_class() {
        let f = |t: &str| failure(Flavor::Podman43, t);
        let in_use = f("image used by 119d7bd038fe5b37b26970f05ad8545578ed54ca0205f8f1d7d74325547c7eb4: image is in use by a container: consider listing external containers and force-removing image");
        assert_eq!(
            in_use.kind,
            ErrorKind::Conflict {
                reason: ConflictReason::ContainerInUse,
                forceable: true
            }
        );
        assert_eq!(in_use.status, Status::Exit(2));
        let missing = f("nope: image not known");
        assert_eq!(
            (missing.kind, missing.status),
            (ErrorKind::NotFound, Status::Exit(1))
        );
        let short = f("sha256:4cc2: invalid format: no 64-byte hexadecimal value");
        assert_eq!(
            (short.kind, short.status),
            (ErrorKind::InvalidReference, Status::Exit(125))
        );
        let multi = f("unable to delete image \"4cc2\" by ID with more than one tag ([localhost/a:2 localhost/a:1]): please force removal");
        assert_eq!(
            multi.kind,
            ErrorKind::Conflict {
                reason: ConflictReason::MultipleReferences,
                forceable: true
            }
        );
        assert_eq!(multi.status, Status::Exit(125));
    }

    #[test]
    fn legacy_errors_are_classified_with_their_exit_class() {
        let f = |t: &str| failure(Flavor::Libpod301, t);
        let in_use = f("could not remove image 4cc2daea1c535ae3a040316f3051396e7ec308764d10226c2c74ae6f3535d85a as it is being used by 1 containers: image is being used");
        assert_eq!(
            in_use.kind,
            ErrorKind::Conflict {
                reason: ConflictReason::ContainerInUse,
                forceable: true
            }
        );
        assert_eq!(in_use.status, Status::Exit(2));
        let children = f("unable to delete \"2475e8c2113cd10fb306c002331af4cdb85ebf19b0e98c787f5328db1c719210\" (cannot be forced) - image has dependent child images: image is being used");
        assert_eq!(
            children.kind,
            ErrorKind::Conflict {
                reason: ConflictReason::DependentChildren,
                forceable: false
            }
        );
        let missing = f("unable to find a name and tag match for nope in repotags: no such image");
        assert_eq!(
            (missing.kind, missing.status),
            (ErrorKind::NotFound, Status::Exit(1))
        );
        // What the local CLI answers for `rmi ""` and for a flag 3.0 does not have.
        let blank = f("input name is blank");
        assert_eq!(
            (blank.kind, blank.status),
            (ErrorKind::InvalidReference, Status::Exit(125))
        );
        let flag = f("unknown flag: --ignore");
        assert_eq!(
            (flag.kind, flag.status),
            (ErrorKind::InvalidArgument, Status::Exit(125))
        );
    }

    #[test]
    fn the_listing_reads_stored_names_sorted_and_container_states() {
        let images: Vec<ImageSummary> = serde_json::from_str(
            r#"[{"Id":"4cc2daea1c535ae3a040316f3051396e7ec308764d10226c2c74ae6f3535d85a","ParentId":"","Names":["localhost/app@sha256:8f0e","localhost/app:2","localhost/app:1"],"RepoDigests":["localhost/app@sha256:99"]},
                {"Id":"2475e8c2113cd10fb306c002331af4cdb85ebf19b0e98c787f5328db1c719210","ParentId":"","Names":null}]"#,
        )
        .unwrap();
        let containers: Vec<ContainerSummary> = serde_json::from_str(
            r#"[{"Id":"119d7bd038fe5b37b26970f05ad8545578ed54ca0205f8f1d7d74325547c7eb4","ImageID":"x","State":"running"},
                {"Id":"cfe5b5562a38864d27c4c08fc8d615f203cc0ca7da3a951044c8f7ffa743aa12","ImageID":"x","State":"configured"}]"#,
        )
        .unwrap();
        let l = listing(&images, &containers).unwrap();
        assert_eq!(
            l.images[0].names,
            vec![
                "localhost/app:1",
                "localhost/app:2",
                "localhost/app@sha256:8f0e"
            ]
        );
        assert!(l.images[1].names.is_empty());
        assert_eq!(l.containers[0].1, ContainerState::Running);
        assert_eq!(l.containers[1].1, ContainerState::Created);
    }
}
