//! (being written)
use crate::{Listing, Outcome, Request, Store};
/// Stub.
pub fn remove(_store: &Store, _request: &Request) -> Outcome { todo!() }
/// Stub.
pub fn listing(_store: &Store) -> Listing { todo!() }
