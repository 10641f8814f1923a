//! Differential fuzzing: generated stores and requests run on a live engine and on the
//! model; each disagreement is shrunk (on the engine) to the smallest case that still
//! disagrees and written out as a scenario that loads as it is (`docs/fuzzing.md`).
//!
//! - [`case`]: the cases (the model crate's strategies, seeded per case) and each case as a
//!   scenario, read by the project's loader;
//! - [`run`]: one case on the backend and the model, judged, cached by case;
//! - [`shrink`]: proptest's value trees driven by hand, re-running the engine at each step;
//! - [`write`]: a finding as a scenario file;
//! - [`campaign`]: the loop, the known divergences of the catalogue;
//! - [`report`]: the progress bar and the summary (text or JSON).

pub mod campaign;
pub mod case;
pub mod report;
pub mod run;
pub mod shrink;
pub mod write;

pub use campaign::{Limit, Options};
pub use report::Summary;
pub use run::{Judge, Judgement};
