//! (being written)
/// Stub.
#[derive(Debug)]
pub struct Scenario;
