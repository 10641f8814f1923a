//! An [`Observation`] in symbols: the [`Normalized`] form snapshots hold and verdicts compare.

use crate::observation::{
    Normalized, NormalizedAnswer, NormalizedError, NormalizedRace, NormalizedStep, NormalizedStore,
    Observation, RaceObservation,
};
use crate::symbols::Symbols;
use rmispec_model::{ConflictReason, ContainerState, ErrorKind, Listing};
use std::collections::BTreeMap;

/// Turns what a backend saw into symbols, with the backend's own table.
///
/// Digests the table does not know (an ID a live engine made up) are numbered `<?1>`,
/// `<?2>`… in order of appearance: records, then errors, then the listing. Listed images
/// go under their handle (matched by config or manifest digest, so either spelling of an ID
/// works), containers under theirs; names are sorted after symbolizing, since symbols sort
/// differently from the hex they replace.
pub fn normalize(obs: &Observation) -> Normalized {
    let mut symbols = obs.symbols.clone();
    let records: Vec<String> = obs.records.iter().map(ToString::to_string).collect();
    for r in &records {
        symbols.add_unknowns_in(r);
    }
    for e in &obs.errors {
        symbols.add_unknowns_in(&e.message);
    }
    add_listing_unknowns(&mut symbols, &obs.after);
    if let Some(built) = &obs.built {
        add_listing_unknowns(&mut symbols, built);
    }
    // Later steps number their unknowns after the first step's, in step order, so that one
    // made-up ID keeps its `<?N>` from the step that first shows it on.
    for step in &obs.then {
        for r in &step.records {
            symbols.add_unknowns_in(&r.to_string());
        }
        for e in &step.errors {
            symbols.add_unknowns_in(&e.message);
        }
        add_listing_unknowns(&mut symbols, &step.after);
    }
    Normalized {
        records: records.iter().map(|r| symbols.symbolize(r)).collect(),
        errors: errors_in(&obs.errors, &symbols),
        status: obs.status.to_string(),
        after: store_in(&obs.after, &symbols),
        built: obs.built.as_ref().map(|b| store_in(b, &symbols)),
        then: obs
            .then
            .iter()
            .map(|step| NormalizedStep {
                records: step
                    .records
                    .iter()
                    .map(|r| symbols.symbolize(&r.to_string()))
                    .collect(),
                errors: errors_in(&step.errors, &symbols),
                status: step.status.to_string(),
                after: store_in(&step.after, &symbols),
            })
            .collect(),
        one_of: Vec::new(),
    }
}

/// Requests sent at once, in symbols: each run normalized on its own (an engine's made-up IDs
/// numbered `<?N>` within the run), the set of distinct outcomes.
pub fn normalize_races(obs: &RaceObservation) -> Normalized {
    // How the store was built is shown once: the first run that built it otherwise.
    let built = obs.runs.iter().find_map(|race| {
        race.built.as_ref().map(|b| {
            let mut symbols = race.symbols.clone();
            add_listing_unknowns(&mut symbols, b);
            store_in(b, &symbols)
        })
    });
    let races = obs
        .runs
        .iter()
        .map(|race| {
            let mut symbols = race.symbols.clone();
            for a in &race.answers {
                for r in &a.records {
                    symbols.add_unknowns_in(&r.to_string());
                }
                for e in &a.errors {
                    symbols.add_unknowns_in(&e.message);
                }
            }
            add_listing_unknowns(&mut symbols, &race.after);
            NormalizedRace {
                answers: race
                    .answers
                    .iter()
                    .map(|a| NormalizedAnswer {
                        records: a
                            .records
                            .iter()
                            .map(|r| symbols.symbolize(&r.to_string()))
                            .collect(),
                        errors: errors_in(&a.errors, &symbols),
                        status: a.status.to_string(),
                    })
                    .collect(),
                after: store_in(&race.after, &symbols),
            }
        })
        .collect();
    Normalized {
        built,
        ..Normalized::races(races)
    }
}

fn errors_in(errors: &[rmispec_model::Failure], symbols: &Symbols) -> Vec<NormalizedError> {
    errors
        .iter()
        .map(|e| {
            let (kind, reason, forceable) = error_fields(e.kind);
            NormalizedError {
                kind: kind.to_owned(),
                reason: reason.map(str::to_owned),
                forceable,
                message: symbols.symbolize(&e.message),
                status: e.status.to_string(),
            }
        })
        .collect()
}

/// A listing in symbols, with `symbols` alone (digests it does not know are numbered in
/// listing order, as [`normalize`] does).
pub fn normalize_store(listing: &Listing, symbols: &Symbols) -> NormalizedStore {
    let mut symbols = symbols.clone();
    add_listing_unknowns(&mut symbols, listing);
    store_in(listing, &symbols)
}

fn add_listing_unknowns(symbols: &mut Symbols, listing: &Listing) {
    for image in &listing.images {
        if symbols.image_handle(&image.id).is_none() {
            symbols.add_unknown(&image.id);
        }
        for n in &image.names {
            symbols.add_unknowns_in(n);
        }
    }
    for (id, _) in &listing.containers {
        if symbols.container_handle(id).is_none() {
            symbols.add_unknown(id);
        }
    }
}

fn store_in(listing: &Listing, symbols: &Symbols) -> NormalizedStore {
    let mut images: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for image in &listing.images {
        let key = match symbols.image_handle(&image.id) {
            Some(h) => h.to_string(),
            None => symbols.symbolize(image.id.hex()),
        };
        let names = images.entry(key).or_default();
        names.extend(image.names.iter().map(|n| symbols.symbolize(n)));
        names.sort();
        names.dedup();
    }
    let containers = listing
        .containers
        .iter()
        .map(|(id, state)| {
            let key = match symbols.container_handle(id) {
                Some(h) => h.to_string(),
                None => symbols.symbolize(id.hex()),
            };
            (key, state_name(*state).to_owned())
        })
        .collect();
    NormalizedStore { images, containers }
}

/// The scenario format's spelling of an error kind: `kind`, and for a conflict its
/// `reason` and `forceable`.
pub fn error_fields(kind: ErrorKind) -> (&'static str, Option<&'static str>, Option<bool>) {
    match kind {
        ErrorKind::NotFound => ("not-found", None, None),
        ErrorKind::Ambiguous => ("ambiguous", None, None),
        ErrorKind::InvalidReference => ("invalid-reference", None, None),
        ErrorKind::InvalidArgument => ("invalid-argument", None, None),
        ErrorKind::Other => ("other", None, None),
        ErrorKind::Conflict { reason, forceable } => {
            let reason = match reason {
                ConflictReason::RunningContainer => "running-container",
                ConflictReason::StoppedContainer => "stopped-container",
                ConflictReason::ContainerInUse => "container-in-use",
                ConflictReason::MultipleReferences => "multiple-references",
                ConflictReason::DependentChildren => "dependent-children",
            };
            ("conflict", Some(reason), Some(forceable))
        }
    }
}

/// `running`, `stopped`, `created`, `paused`.
pub fn state_name(state: ContainerState) -> &'static str {
    state.name()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{ContainerHandle, ImageHandle};
    use crate::symbols::Symbols;
    use rmispec_model::{Digest, Failure, ListedImage, Listing, Profile, Record, Status};

    fn d(c: char) -> Digest {
        Digest::parse(&c.to_string().repeat(64)).unwrap()
    }

    #[test]
    fn observation_in_symbols() {
        let mut symbols = Symbols::new(Profile::DockerContainerd, "127.0.0.1:40000");
        symbols.add_image(ImageHandle::new("A").unwrap(), d('a'), d('b'));
        symbols.add_image(ImageHandle::new("B").unwrap(), d('c'), d('d'));
        symbols.add_container(ContainerHandle::new("c1").unwrap(), d('e'));
        let f = "f".repeat(64);
        let obs = Observation {
            records: vec![
                Record::Untagged("127.0.0.1:40000/app:1".into()),
                Record::Deleted(format!("sha256:{f}")),
            ],
            errors: vec![Failure {
                kind: ErrorKind::Conflict {
                    reason: ConflictReason::RunningContainer,
                    forceable: false,
                },
                message: format!(
                    "image is being used by running container {}",
                    &"e".repeat(64)[..12]
                ),
                status: Status::Http(409),
            }],
            status: Status::Exit(1),
            after: Listing {
                images: vec![
                    ListedImage {
                        id: d('b'),
                        names: vec![
                            "localhost/z:1".into(),
                            format!("localhost/a@sha256:{}", "b".repeat(64)),
                        ],
                    },
                    ListedImage {
                        id: d('9'),
                        names: vec![],
                    },
                    ListedImage {
                        id: d('c'),
                        names: vec![],
                    },
                ],
                containers: vec![
                    (d('e'), ContainerState::Running),
                    (d('8'), ContainerState::Stopped),
                ],
            },
            symbols,
            built: None,
            then: Vec::new(),
        };
        let n = normalize(&obs);
        assert_eq!(n.records, ["Untagged: <reg>/app:1", "Deleted: sha256:<?1>"]);
        assert_eq!(n.errors.len(), 1);
        assert_eq!(n.errors[0].kind, "conflict");
        assert_eq!(n.errors[0].reason.as_deref(), Some("running-container"));
        assert_eq!(n.errors[0].forceable, Some(false));
        assert_eq!(
            n.errors[0].message,
            "image is being used by running container <c1:12>"
        );
        assert_eq!(n.errors[0].status, "http 409");
        assert_eq!(n.status, "exit 1");
        let images: Vec<(&str, Vec<&str>)> = n
            .after
            .images
            .iter()
            .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            images,
            [
                ("<?2>", vec![]),
                ("A", vec!["localhost/a@sha256:<A>", "localhost/z:1"]),
                ("B", vec![]),
            ]
        );
        let containers: Vec<(&str, &str)> = n
            .after
            .containers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(containers, [("<?3>", "stopped"), ("c1", "running")]);
    }
}
