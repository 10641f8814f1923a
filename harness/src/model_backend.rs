//! The reference model as a [`Backend`], so one runner drives the model and live engines alike.

use crate::backend::Backend;
use crate::observation::{Observation, Race, RaceAnswer, RaceObservation, StepObservation};
use crate::scenario::Given;
use crate::scenario::Scenario;
use crate::synth::{self, Synthesized};
use anyhow::Context;
use rmispec_model::Profile;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// The model of one profile.
#[derive(Clone, Copy, Debug)]
pub struct ModelBackend {
    profile: Profile,
}

impl ModelBackend {
    /// The model of `profile`.
    pub fn new(profile: Profile) -> ModelBackend {
        ModelBackend { profile }
    }
}

impl Backend for ModelBackend {
    fn profile(&self) -> Profile {
        self.profile
    }

    fn label(&self) -> String {
        "model".to_owned()
    }

    /// Synthesizes the scenario's images (the same digests a live engine gets), builds the
    /// model's store from them, expands the requests' symbols with the same table, removes
    /// (step after step, through [`rmispec_model::remove_steps`]), and lists the store after
    /// each step the way the engine lists it.
    fn run(&mut self, scenario: &Scenario) -> anyhow::Result<Observation> {
        let (store, symbols, requests) = self.prepared(scenario)?;
        let mut outcomes = rmispec_model::remove_steps(self.profile, &store, &requests).into_iter();
        let first = outcomes.next().context("a scenario without a request")?;
        let profile = self.profile;
        let listing = |store: &rmispec_model::Store| rmispec_model::engine::listing(profile, store);
        Ok(Observation {
            records: first.records,
            errors: first.errors,
            status: first.status,
            after: listing(&first.after),
            symbols,
            built: None,
            then: outcomes
                .map(|o| StepObservation {
                    after: listing(&o.after),
                    records: o.records,
                    errors: o.errors,
                    status: o.status,
                })
                .collect(),
        })
    }

    fn run_parallel(&mut self, scenario: &Scenario) -> anyhow::Result<RaceObservation> {
        self.races(scenario)
    }
}

impl ModelBackend {
    /// What both request forms start from: the scenario's images synthesized (the same
    /// digests a live engine gets), the model's store built from them, and the requests with
    /// their symbols expanded with the same table.
    fn prepared(
        &self,
        scenario: &Scenario,
    ) -> anyhow::Result<(
        rmispec_model::Store,
        crate::symbols::Symbols,
        Vec<rmispec_model::Request>,
    )> {
        let synthesized = synthesized(scenario);
        let given = scenario
            .given
            .resolved(&synthesized.symbols(self.profile, crate::synth::MODEL_REGISTRY))
            .context("expanding the symbols in the stored names")?;
        let (store, mut symbols) = model_store(&synthesized, &given, self.profile);
        let requests = scenario
            .requests(&mut symbols)
            .context("expanding the requests' symbols")?;
        Ok((store, symbols, requests))
    }

    /// Every outcome the model's rules allow for a `parallel:` scenario's requests
    /// ([`rmispec_model::remove_parallel`]), each as one run, listed the way the engine lists.
    fn races(&self, scenario: &Scenario) -> anyhow::Result<RaceObservation> {
        let (store, symbols, requests) = self.prepared(scenario)?;
        let runs = rmispec_model::remove_parallel(self.profile, &store, &requests)
            .into_iter()
            .map(|i| Race {
                symbols: symbols.clone(),
                built: None,
                after: rmispec_model::engine::listing(self.profile, &i.after),
                answers: i
                    .outcomes
                    .into_iter()
                    .map(|o| RaceAnswer {
                        records: o.records,
                        errors: o.errors,
                        status: o.status,
                    })
                    .collect(),
            })
            .collect();
        Ok(RaceObservation { runs })
    }
}

/// The model's store for `given` and its symbol table: the synthesized images and
/// containers ([`Synthesized::to_store`]) and the manifest lists.
pub(crate) fn model_store(
    synthesized: &Synthesized,
    given: &Given,
    profile: Profile,
) -> (rmispec_model::Store, crate::symbols::Symbols) {
    let (mut store, mut symbols) = synthesized.to_store(given, profile);
    add_manifest_lists(given, synthesized, &mut store, &mut symbols);
    (store, symbols)
}

/// Adds `given.manifests` to the model's store, after the images as the live adapters make
/// them, and binds each list's handle to its model ID (a live engine makes its own up, and
/// its adapter binds that). A list names its images by their manifest digests.
fn add_manifest_lists(
    given: &Given,
    synthesized: &Synthesized,
    store: &mut rmispec_model::Store,
    symbols: &mut crate::symbols::Symbols,
) {
    for (handle, spec) in &given.manifests {
        let id = manifest_list_id(handle.as_str());
        let instances = spec
            .images
            .iter()
            .filter_map(|h| synthesized.image(h.as_str()))
            .map(|i| i.manifest.digest.clone())
            .collect();
        let refs = spec
            .tags
            .iter()
            .map(|t| t.to_reference(synth::MODEL_REGISTRY, &id))
            .collect();
        symbols.add_image(handle.clone(), id.clone(), id.clone());
        store.manifest_lists.push(rmispec_model::ManifestList {
            id,
            refs,
            instances,
        });
    }
}

/// The model's ID for a manifest list: sha256 of `manifest list <handle>` (containers-storage
/// gives a list a random ID).
fn manifest_list_id(handle: &str) -> rmispec_model::Digest {
    use sha2::{Digest as _, Sha256};
    let hex: String = Sha256::digest(format!("manifest list {handle}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    rmispec_model::Digest::parse(&hex).expect("64 hex characters")
}

/// A scenario's images, synthesized once per process and shared by every profile's model and
/// every live engine.
///
/// Synthesis is deterministic but not free: an `id:` prefix is ground out by hashing up to
/// a million candidates, and every scenario runs on eight profiles. Concurrent callers for
/// one scenario wait for the first instead of grinding alongside it. Entries are keyed by
/// file and checked against the `given` they were made from.
pub(crate) fn synthesized(scenario: &Scenario) -> Arc<Synthesized> {
    type Entry = Arc<OnceLock<(Given, Arc<Synthesized>)>>;
    static CACHE: OnceLock<Mutex<HashMap<(PathBuf, String), Entry>>> = OnceLock::new();
    let key = (scenario.path.clone(), scenario.name.clone());
    let entry: Entry = {
        let mut cache = CACHE
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Arc::clone(cache.entry(key).or_default())
    };
    let (given, made) = entry.get_or_init(|| {
        (
            scenario.given.clone(),
            Arc::new(synth::synthesize(&scenario.given)),
        )
    });
    if *given == scenario.given {
        Arc::clone(made)
    } else {
        Arc::new(synth::synthesize(&scenario.given))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_synthesis_serves_every_profile_of_a_scenario() {
        let scenario = crate::scenario::load(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/untag/one-of-two-tags.yaml"
        ))
        .expect("the README's example scenario loads");
        let a = synthesized(&scenario);
        let b = synthesized(&scenario);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(*a, synth::synthesize(&scenario.given));
        let mut changed = scenario.clone();
        changed.given.images.clear();
        assert!(
            synthesized(&changed).images.is_empty(),
            "a different `given` is not served from the cache"
        );
    }

    #[test]
    fn the_model_backend_observes_in_the_scenarios_symbols() {
        let scenario = crate::scenario::load(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/untag/one-of-two-tags.yaml"
        ))
        .expect("loads");
        let mut backend = ModelBackend::new(Profile::DockerClassic);
        assert_eq!(backend.profile(), Profile::DockerClassic);
        let observation = backend.run(&scenario).expect("the model runs");
        // The request named a tag of A: whatever the verdict, every listed image maps to a
        // handle of the scenario, not to an unknown digest.
        assert!(observation
            .after
            .images
            .iter()
            .all(|i| observation.symbols.image_handle(&i.id).is_some()));
    }
}
