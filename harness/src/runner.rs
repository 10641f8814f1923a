//! The runner: every scenario on every chosen backend, each outcome judged.

use crate::compare::Verdict;
use crate::observation::Normalized;
use rmispec_model::Profile;

/// What one backend did with one scenario, and the verdict on it.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The profile the backend has the semantics of.
    pub profile: Profile,
    /// The backend's label: `model`, `live docker 20.10.24`.
    pub backend: String,
    /// The verdict.
    pub verdict: Verdict,
    /// What the backend did, in symbols; `None` when it was skipped or could not run.
    pub outcome: Option<Normalized>,
    /// The upstream code the expectation cites, if it does.
    pub source: Option<String>,
}

/// One scenario's results across backends, with what reports need to show them.
#[derive(Clone, Debug)]
pub struct ScenarioRuns {
    /// The scenario's name: `untag/one-of-two-tags`.
    pub name: String,
    /// Its one-line summary.
    pub summary: String,
    /// The image handles in its `given` store, in creation order: reports tell deleted
    /// images from the listing afterwards, so engines that report no records (CRI) compare.
    pub images: Vec<String>,
    /// One result per backend, in the order the backends were given.
    pub results: Vec<RunResult>,
}
