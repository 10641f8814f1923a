//! Backends: what the runner drives. The model is one, each live engine another.

use crate::observation::{Observation, RaceObservation};
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

    /// Builds a `parallel:` scenario's `given` store, sends its requests at once, and lists
    /// what is left; `runs` times from an empty store on a live engine, once per outcome its
    /// rules allow on the model. A backend that can only send one request at a time says
    /// so ([`Unsupported`]).
    fn run_parallel(&mut self, scenario: &Scenario) -> anyhow::Result<RaceObservation> {
        let _ = scenario;
        Err(Unsupported::new(format!(
            "{} sends one request at a time: it cannot race requests",
            self.label()
        ))
        .into())
    }
}

/// What a backend's API cannot express: a store it cannot build, or a request it cannot
/// send. Not an error: the trial is reported skipped, with this reason.
///
/// Backends return it inside `anyhow::Error` (`Err(Unsupported::new(..).into())`); the runner
/// finds it with [`Unsupported::find`], so context added on the way does not hide it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Unsupported {
    /// Why, in a sentence that names the API and what it lacks.
    pub reason: String,
}

impl Unsupported {
    /// An unsupported store or request, and why.
    pub fn new(reason: impl Into<String>) -> Unsupported {
        Unsupported {
            reason: reason.into(),
        }
    }

    /// The [`Unsupported`] inside `error`, if that is what it is.
    pub fn find(error: &anyhow::Error) -> Option<&Unsupported> {
        error.chain().find_map(|e| e.downcast_ref::<Unsupported>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_survives_context() {
        let e = anyhow::Error::from(Unsupported::new("no such API")).context("building");
        assert_eq!(
            Unsupported::find(&e).map(|u| u.reason.as_str()),
            Some("no such API")
        );
        assert!(Unsupported::find(&anyhow::anyhow!("plain")).is_none());
    }
}
