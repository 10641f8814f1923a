//! The engine half of the live seam: what one engine's adapter must do, and nothing else.
//!
//! The split follows proptest-state-machine (the reference machine apart from the system under
//! test, the runner owning the loop) and toml-test (one small adapter, the verification
//! provided): an [`Adapter`] knows how to start or attach to its engine, build a store with the
//! engine's own primitives, send one request, list, and empty the engine. The generic
//! [`LiveBackend`](super::backend::LiveBackend) owns everything else, once for every engine:
//! the safety refusals, the registry, resets and the check that they emptied the engine, the
//! check that the built store lists as the model says `given` lists, timings, the order things
//! stop in, synthesis and symbols.

use super::reset::Reset;
use super::sandbox::{DaemonExit, StateDir};
use super::source::Source;
use crate::live::registry::Registry;
use crate::scenario::Scenario;
use crate::symbols::Symbols;
use rmispec_model::{Failure, Listing, Profile, Record, Request, Status};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::backend::Unsupported;

/// What one request gave: the records, the errors (classified), the status of the whole.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The records, in order, as the engine spelled them.
    pub records: Vec<Record>,
    /// The errors, in order.
    pub errors: Vec<Failure>,
    /// The status of the request as a whole.
    pub status: Status,
}

/// Where the engine comes from: what the generic backend needs to know of it to decide what it
/// may do (fresh roots only in a sandbox; the host's default sockets only when told).
#[derive(Debug)]
pub enum Origin<'a> {
    /// Started by the harness, in this state directory.
    Sandboxed(&'a StateDir),
    /// Someone else's daemon, at this socket.
    External(&'a Path),
}

/// What an adapter gets to build one scenario's `given` store.
pub struct Build<'a> {
    /// The scenario (its `given` and its name, for messages).
    pub scenario: &'a Scenario,
    /// The synthesized images, ready to load, push or archive.
    pub source: Source<'a>,
    /// The backend's local registry, when the scenario names `<reg>`. An adapter with a
    /// registry of its own ([`Adapter::own_registry`]) uses that one instead.
    pub registry: Option<&'a Registry>,
    /// The scenario's symbols for this engine; the adapter adds the IDs only the engine knows
    /// (committed children, containers).
    pub symbols: &'a mut Symbols,
}

/// One live engine's adapter. Required: start or attach, build, one request, list, and the two
/// halves of emptying the engine (containers, then images). Everything else is provided by
/// [`LiveBackend`](super::backend::LiveBackend).
pub trait Adapter {
    /// The environment variable that chooses the reset (`api` or `fresh-root`).
    const RESET_VAR: &'static str;
    /// The reset used when the variable is not set (each adapter says what was measured).
    const DEFAULT_RESET: Reset;
    /// Whether every store is built through the local registry (not only those that name
    /// `<reg>`): the backend then starts it before the first scenario.
    const NEEDS_REGISTRY: bool = false;

    /// Starts the engine sandboxed for `profile`, in `state_dir` (or a fresh directory).
    fn start(profile: Profile, state_dir: Option<&Path>) -> anyhow::Result<Self>
    where
        Self: Sized;

    /// Attaches to the daemon at `socket`, checked as `profile`. Nothing is refused here (the
    /// backend refuses default sockets before, and a non-empty engine after).
    fn attach(profile: Profile, socket: &Path) -> anyhow::Result<Self>
    where
        Self: Sized;

    /// The sockets this kind of engine listens on by default on a host: never used unless the
    /// user says they know it deletes images.
    fn default_sockets() -> Vec<PathBuf>
    where
        Self: Sized;

    /// The profile whose semantics this engine is checked against.
    fn profile(&self) -> Profile;

    /// A short label for reports, from what the engine says it is: `live dockerd 20.10.24`.
    fn label(&self) -> String;

    /// Where the engine comes from.
    fn origin(&self) -> Origin<'_>;

    /// A registry the engine's own start needed (CRI's sandbox image comes from one). Without
    /// one, the backend starts a registry when a scenario needs it.
    fn own_registry(&self) -> Option<&Registry> {
        None
    }

    /// Builds `b.scenario.given` with the engine's own primitives. A store the API cannot
    /// build is [`Unsupported`], never a different store.
    fn build(&mut self, b: Build<'_>) -> anyhow::Result<()>;

    /// Whether the engine can be sent `request` as it is (else [`Unsupported`]). Called
    /// after the store is built, with the symbols it ended with.
    fn check_request(&self, _request: &Request, _symbols: &Symbols) -> anyhow::Result<()> {
        Ok(())
    }

    /// Whether the engine can be sent `requests`, one after the other on the same store (a
    /// scenario's steps; else [`Unsupported`]). Called once, before the first is sent, so a
    /// sequence is never cut short halfway. By default each is checked alone.
    fn check_requests(&self, requests: &[Request], symbols: &Symbols) -> anyhow::Result<()> {
        requests
            .iter()
            .try_for_each(|r| self.check_request(r, symbols))
    }

    /// Sends `request` the way the engine's own client does.
    fn remove(&mut self, request: &Request) -> anyhow::Result<Answer>;

    /// Sends `requests` at the same time, each the way [`remove`](Self::remove) sends it (on a
    /// connection of its own, so the engine serves them concurrently), and gives each one's
    /// answer in the order given. An adapter that cannot says so ([`Unsupported`]).
    fn remove_at_once(&mut self, requests: &[Request]) -> anyhow::Result<Vec<Answer>> {
        let _ = requests;
        Err(Unsupported::new(format!(
            "{} sends one request at a time: it cannot race requests",
            self.profile()
        ))
        .into())
    }

    /// The store as the engine lists it (its infrastructure, such as CRI's sandbox image,
    /// left out).
    fn listing(&mut self) -> anyhow::Result<Listing>;

    /// Removes the containers (and pods) the harness made: first in every reset, and before
    /// the engine stops, so that their shims exit cleanly.
    fn remove_containers(&mut self) -> anyhow::Result<()>;

    /// Removes every image (infrastructure excepted).
    fn remove_images(&mut self) -> anyhow::Result<()>;

    /// What the engine still holds that its listing does not show (storage records, say):
    /// a reset that leaves any of it starts over from a fresh root.
    fn leftovers(&self) -> Vec<String> {
        Vec::new()
    }

    /// Stops the engine, wipes its roots, starts it again (sandboxed engines only).
    fn fresh_root(&mut self) -> anyhow::Result<()>;

    /// Whether the engine's daemons still run and can answer (sandboxed engines: from the
    /// harness's own wait; an engine the user brings cannot be told apart from a bad answer,
    /// so it is taken as alive). Called after a call failed.
    fn check_alive(&mut self) -> Result<(), DaemonExit> {
        Ok(())
    }

    /// The time spent waiting on the engine since the last call.
    fn take_engine_time(&mut self) -> Duration {
        Duration::ZERO
    }

    /// Extra lines for `RMISPEC_TIMINGS` (per-call statistics, say).
    fn timing_lines(&self) -> Vec<String> {
        Vec::new()
    }
}
