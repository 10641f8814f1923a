//! (being written)
use crate::{Listing, Outcome, Profile, Request, Store};
/// Stub.
pub fn remove(_profile: Profile, _store: &Store, _request: &Request) -> Outcome { todo!() }
/// Stub.
pub fn listing(_store: &Store) -> Listing { todo!() }
