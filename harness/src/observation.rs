//! What a backend saw when it ran a scenario's request.

use crate::symbols::Symbols;
use rmispec_model::{Failure, Listing, Record, Status};

/// A raw observation: real IDs, as the backend reported them.
///
/// Live adapters fill it from the engine's API answers and list calls; the model adapter from
/// [`rmispec_model::remove`] and [`rmispec_model::engine::listing`]. Either way it carries the
/// symbol table that maps this backend's real IDs to the scenario's symbols (a live engine can
/// give a child image an ID the model cannot predict).
#[derive(Clone, Debug)]
pub struct Observation {
    /// The records, in order, as the engine spelled them.
    pub records: Vec<Record>,
    /// The errors, in order, with their kind as classified from what the engine said.
    pub errors: Vec<Failure>,
    /// The status of the request as a whole.
    pub status: Status,
    /// The store afterwards, as the engine lists it.
    pub after: Listing,
    /// Real IDs ↔ symbols for this backend.
    pub symbols: Symbols,
    /// The store as the engine listed it right after building `given`, when that differs
    /// from what the model says `given` lists as (an engine that records an extra digest
    /// name, or its names in another order). `None` when they agree, and always on the model.
    pub built: Option<Listing>,
    /// The later steps of a sequence, in order, each sent to the store the one before it left
    /// (no reset between steps). Empty for a one-request scenario.
    pub then: Vec<StepObservation>,
}

/// What a backend saw for one later step of a sequence: its answer and the store after it.
#[derive(Clone, Debug)]
pub struct StepObservation {
    /// The records, in order, as the engine spelled them.
    pub records: Vec<Record>,
    /// The errors, in order, classified.
    pub errors: Vec<Failure>,
    /// The status of the step's request as a whole.
    pub status: Status,
    /// The store after this step, as the engine lists it.
    pub after: Listing,
}

/// What a backend saw when it sent requests at once (`parallel:`), over every run. On the
/// model a "run" is one outcome its rules allow ([`rmispec_model::remove_parallel`]); on a
/// live engine, one build of the store and one race of the requests.
#[derive(Clone, Debug)]
pub struct RaceObservation {
    /// The runs, in the order they were made.
    pub runs: Vec<Race>,
}

/// One run of requests sent at once.
#[derive(Clone, Debug)]
pub struct Race {
    /// Each request's answer, in the order the requests are given (not served).
    pub answers: Vec<RaceAnswer>,
    /// The store after all of them, as the engine lists it.
    pub after: Listing,
    /// Real IDs ↔ symbols of this run (a live engine makes up new IDs for committed children
    /// and containers each time it builds the store).
    pub symbols: Symbols,
    /// The store as the engine listed it right after building `given`, when that differs
    /// from what the model says `given` lists as (see [`Observation::built`]).
    pub built: Option<Listing>,
}

/// What one of the requests sent at once answered.
#[derive(Clone, Debug)]
pub struct RaceAnswer {
    /// The records, in order, as the engine spelled them.
    pub records: Vec<Record>,
    /// The errors, in order, classified.
    pub errors: Vec<Failure>,
    /// The status of the request as a whole.
    pub status: Status,
}

/// An observation in symbols: what snapshots hold, what expectations are canonicalized to,
/// and what every comparison compares. Real IDs never appear in it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalized {
    /// `"Untagged: localhost/app:1"`, `"Deleted: sha256:<A>"`, in order.
    pub records: Vec<String>,
    /// The errors, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<NormalizedError>,
    /// `http 409`, `grpc OK`, `exit 2`.
    pub status: String,
    /// The store afterwards, as the engine lists it.
    pub after: NormalizedStore,
    /// The store as the engine listed it after building `given`, only when that differs from
    /// the model's listing of `given`: the request still ran, and this is judged like the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub built: Option<NormalizedStore>,
    /// A sequence's later steps (the second on), in order; the fields above are its first
    /// step's. Absent for a one-request scenario, so its snapshots keep their shape.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub then: Vec<NormalizedStep>,
    /// Of requests sent at once (`parallel:`): the outcomes, each once, sorted (a set). The
    /// model's are every outcome its rules allow, a live engine's those its runs showed. The
    /// fields above are then empty: there is no one answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub one_of: Vec<NormalizedRace>,
}

/// One outcome of requests sent at once, in symbols.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct NormalizedRace {
    /// Each request's answer, in the order the requests are given.
    pub answers: Vec<NormalizedAnswer>,
    /// The store after all of them.
    pub after: NormalizedStore,
}

/// One request's answer, in symbols.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct NormalizedAnswer {
    /// The records, in order.
    pub records: Vec<String>,
    /// The errors, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<NormalizedError>,
    /// The status.
    pub status: String,
}

impl Normalized {
    /// A set of outcomes of requests sent at once, sorted, each once.
    pub fn races(mut races: Vec<NormalizedRace>) -> Normalized {
        races.sort();
        races.dedup();
        Normalized {
            one_of: races,
            ..Normalized::default()
        }
    }

    /// Whether this is the outcome of requests sent at once.
    pub fn is_race(&self) -> bool {
        !self.one_of.is_empty()
    }
}

/// One later step of a sequence, in symbols.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizedStep {
    /// The step's records, in order.
    pub records: Vec<String>,
    /// The step's errors, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<NormalizedError>,
    /// The step's status.
    pub status: String,
    /// The store after the step.
    pub after: NormalizedStore,
}

impl Normalized {
    /// Every step's answer and store, first to last (one for a one-request scenario).
    pub fn steps(&self) -> Vec<NormalizedStep> {
        std::iter::once(NormalizedStep {
            records: self.records.clone(),
            errors: self.errors.clone(),
            status: self.status.clone(),
            after: self.after.clone(),
        })
        .chain(self.then.iter().cloned())
        .collect()
    }
}

/// One error, in symbols.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizedError {
    /// `not-found`, `ambiguous`, `invalid-reference`, `invalid-argument`, `other`, or
    /// `conflict` (with `reason` and `forceable`).
    pub kind: String,
    /// For conflicts: `running-container`, `stopped-container`, `container-in-use`,
    /// `multiple-references`, `dependent-children`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For conflicts: whether force could override it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forceable: Option<bool>,
    /// The engine's exact message, in symbols.
    pub message: String,
    /// The status of the failed call.
    pub status: String,
}

/// A store as listed, in symbols.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct NormalizedStore {
    /// Image handle → the names listed for it, sorted. An image with no handle in the
    /// scenario shows as `<?N>`, numbered in listing order.
    #[serde(default)]
    pub images: std::collections::BTreeMap<String, Vec<String>>,
    /// Container handle → `running`, `stopped`, `created` or `paused`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub containers: std::collections::BTreeMap<String, String>,
}
