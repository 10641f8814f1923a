//! (being written)
/// Stub.
#[derive(Clone, Debug)]
pub struct Symbols;
