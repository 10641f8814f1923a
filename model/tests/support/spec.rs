#![allow(unused_imports)]
//! The store and request descriptions live in the model crate (`rmispec_model::strategies::spec`),
//! shared with the harness's fuzzer.
pub use rmispec_model::strategies::spec::*;
