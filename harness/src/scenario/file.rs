//! A scenario file as written, before it is checked: what serde reads, and nothing more.

use super::expect::{Divergence, Expect, Target};
use super::{Given, Step, When};
use indexmap::IndexMap;
use serde::Deserialize;

/// A scenario file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    pub summary: String,
    #[serde(default)]
    pub notes: Option<String>,
    pub given: Given,
    /// One request (with `expect`), or `steps` instead of both.
    #[serde(default)]
    pub when: Option<When>,
    #[serde(default)]
    pub expect: Option<Expect>,
    #[serde(default)]
    pub steps: Option<Vec<Step>>,
    /// Requests sent at once, with `expect` (its entries give `one_of`).
    #[serde(default)]
    pub parallel: Option<Vec<When>>,
    /// With `parallel`: how many times a live engine races them.
    #[serde(default)]
    pub runs: Option<u32>,
    #[serde(default)]
    pub divergence: IndexMap<Target, Divergence>,
}

impl File {
    /// The steps as written: `steps`, or `when` with `expect` as one step. The validator
    /// reports a file that has both forms, or neither.
    pub(super) fn steps(&self) -> Vec<std::borrow::Cow<'_, Step>> {
        use std::borrow::Cow;
        match (&self.steps, &self.when, &self.expect) {
            (Some(steps), _, _) => steps.iter().map(Cow::Borrowed).collect(),
            (None, when, expect) => vec![Cow::Owned(Step {
                when: when.clone().unwrap_or_default(),
                expect: expect.clone().unwrap_or_default(),
            })],
        }
    }
}
