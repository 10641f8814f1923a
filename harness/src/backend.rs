//! Backends: what the runner drives. The model is one, each live engine another.

use crate::observation::Observation;
use crate::scenario::Scenario;
use rmispec_model::Profile;

/// A backend that can run a scenario.
pub trait Backend {
    /// The profile whose semantics this backend has (what it is compared against).
    fn profile(&self) -> Profile;

    /// A short label for reports: `model`, `live docker 20.10.24`.
    fn label(&self) -> String;

    /// Builds the scenario's `given` store, performs its `when` request, and observes. A
    /// live backend starts from an empty store every time.
    fn run(&mut self, scenario: &Scenario) -> anyhow::Result<Observation>;
}
