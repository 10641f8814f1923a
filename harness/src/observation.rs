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
}
