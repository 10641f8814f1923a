//! Running one case on a backend and on the model, and judging them; each case body runs
//! once (a shrink goes back to cases it has seen).

use super::case;
use crate::backend::{Backend, Unsupported};
use crate::compare::Diff;
use crate::observation::Normalized;
use crate::runner;
use crate::scenario::Scenario;
use rmispec_model::strategies::Case;
use rmispec_model::Profile;
use std::collections::HashMap;

/// What a case showed.
#[derive(Clone, Debug)]
pub enum Judgement {
    /// The engine did what the model says.
    Agrees,
    /// The engine did something else.
    Differs(Box<Difference>),
    /// The engine's API cannot express the case (the trial would be a skip): not counted
    /// against anyone.
    Unsupported(String),
    /// The case could not be run (the engine failed to build the store, an API call timed
    /// out…): a harness or engine fault, not a disagreement.
    Error(String),
}

/// The two outcomes of a disagreement, in symbols.
#[derive(Clone, Debug)]
pub struct Difference {
    /// What the model says.
    pub model: Normalized,
    /// What the engine did.
    pub live: Normalized,
    /// The fields that differ: `records`, `errors`, `status`, `after.images`, …
    pub fields: Vec<&'static str>,
}

impl Judgement {
    /// The disagreement, if it is one.
    pub fn difference(&self) -> Option<&Difference> {
        match self {
            Judgement::Differs(d) => Some(d),
            _ => None,
        }
    }
}

/// A backend, the profile whose model it is held to, and what it did with each case body.
pub struct Judge {
    backend: Box<dyn Backend>,
    profile: Profile,
    cache: HashMap<String, Judgement>,
    /// Cases sent to the backend.
    pub runs: u64,
    /// Cases answered from the cache.
    pub cached: u64,
}

impl Judge {
    /// `backend` judged against the model of its own profile.
    pub fn new(backend: Box<dyn Backend>) -> Judge {
        let profile = backend.profile();
        Judge::against(backend, profile)
    }

    /// `backend` judged against the model of `profile` (tests hold one model to another's).
    pub fn against(backend: Box<dyn Backend>, profile: Profile) -> Judge {
        Judge {
            backend,
            profile,
            cache: HashMap::new(),
            runs: 0,
            cached: 0,
        }
    }

    /// The profile the backend is held to.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The backend's label: `live docker 28.5.2`.
    pub fn label(&self) -> String {
        self.backend.label()
    }

    /// The judgement on `case`: run once per distinct case body, then from the cache.
    pub fn judge(&mut self, case: &Case) -> Judgement {
        let body = case::body(case);
        if let Some(j) = self.cache.get(&body) {
            self.cached += 1;
            return j.clone();
        }
        let judgement = match case::scenario(case) {
            Ok(s) => self.judge_scenario(&s),
            Err(e) => Judgement::Error(format!("the generated case does not load: {e}")),
        };
        self.cache.insert(body, judgement.clone());
        judgement
    }

    /// The judgement on a scenario (a written finding, replayed): never cached.
    pub fn judge_scenario(&mut self, scenario: &Scenario) -> Judgement {
        self.runs += 1;
        let live = match runner::observe(self.backend.as_mut(), scenario) {
            Ok(live) => live,
            Err(e) => {
                return match Unsupported::find(&e) {
                    Some(u) => Judgement::Unsupported(u.reason.clone()),
                    None => Judgement::Error(format!("{e:#}")),
                }
            }
        };
        let model = match runner::model_outcome(scenario, self.profile) {
            Ok(m) => m,
            Err(e) => return Judgement::Error(format!("{e:#}")),
        };
        match Diff::between(&model, &live) {
            None => Judgement::Agrees,
            Some(diff) => Judgement::Differs(Box::new(Difference {
                fields: diff.fields.iter().map(|f| f.field).collect(),
                model,
                live,
            })),
        }
    }
}
