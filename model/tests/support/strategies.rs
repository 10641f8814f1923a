#![allow(unused_imports)]
//! The generators live in the model crate (`rmispec_model::strategies`), shared with the
//! harness's fuzzer.
pub use rmispec_model::strategies::*;
