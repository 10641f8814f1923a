//! rmispec: scenarios of image deletion, run on the reference model and on live engines.
//!
//! - [`scenario`] loads and validates the YAML scenarios;
//! - [`handles`] holds the names a scenario gives its images, containers and layers (the
//!   scenarios and the symbol table are both keyed by them);
//! - [`synth`] turns a scenario's symbolic images into real, deterministic image bytes;
//! - [`symbols`] maps real IDs to the scenario's symbols and back;
//! - [`backend`] is what the runner drives: the model, or a live engine ([`live`]);
//! - [`observation`] is what a backend saw, and its normalized, symbolic form;
//! - [`runner`] and [`report`] compare, and show the results.

pub mod backend;
pub mod bench;
pub mod compare;
pub mod conformance;
pub mod cpu;
pub mod diff;
pub mod fuzz;
pub mod handles;
pub mod live;
pub mod model_backend;
pub mod normalize;
pub mod observation;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod snapshot;
pub mod symbols;
pub mod synth;
