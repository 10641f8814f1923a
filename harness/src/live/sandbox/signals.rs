//! What the signal handler cleans, and what the process does after a signal.
//!
//! Every daemon, state directory and cgroup parent registers itself here while it lives. On
//! SIGINT, SIGTERM or SIGHUP a handler thread stops the daemons (newest first), cleans the
//! directories and removes the cgroups ([`shutdown_all`]), then either exits with 128 + the
//! signal number (the default) or, if the process asked for it with
//! [`defer_exit_on_signal`], marks the run [`interrupted`] and lets the caller finish (print
//! the partial report of what ran); every live call made after that fails at once with
//! [`Interrupted`]. A second signal exits at once.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};

/// One thing to clean up on a signal: a daemon to stop, a state directory to clean, a
/// cgroup to remove. Its owner says how (`daemon.rs`, `state_dir.rs`, `cgroups.rs`), so this
/// module knows none of them and none of them is imported here.
pub(crate) struct Entry(Box<dyn Fn() + Send>);

impl Entry {
    /// An entry that runs `cleanup` once, on a signal or at [`shutdown_all`].
    pub(crate) fn new(cleanup: impl Fn() + Send + 'static) -> Entry {
        Entry(Box::new(cleanup))
    }
}

/// A handle on an entry in the cleanup list; unregistering twice is harmless.
#[derive(Debug)]
pub(crate) struct Registration(u64);

fn live() -> &'static Mutex<Vec<(u64, Entry)>> {
    static LIVE: OnceLock<Mutex<Vec<(u64, Entry)>>> = OnceLock::new();
    LIVE.get_or_init(|| Mutex::new(Vec::new()))
}

pub(crate) fn register(e: Entry) -> Registration {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    live()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((id, e));
    Registration(id)
}

pub(crate) fn unregister(r: &Registration) {
    live()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|(id, _)| *id != r.0);
}

/// Whether [`shutdown_all`] has finished (with a condition variable to wait for it).
fn done() -> &'static (Mutex<bool>, Condvar) {
    static DONE: OnceLock<(Mutex<bool>, Condvar)> = OnceLock::new();
    DONE.get_or_init(|| (Mutex::new(false), Condvar::new()))
}

thread_local! {
    /// Set on the thread that runs [`shutdown_all`]: it never waits for itself.
    static IN_SHUTDOWN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Once a signal has begun the shutdown, blocks any other thread until it has finished, so
/// that the main thread (whose calls start failing as the daemons go) neither exits the
/// process halfway through the cleanup nor writes into a state dir after it was emptied.
/// Every entry point of this module that touches a daemon, a directory or an engine calls it.
pub(crate) fn wait_for_shutdown() {
    if !shutting_down() || IN_SHUTDOWN.with(|c| c.get()) {
        return;
    }
    let (lock, cvar) = done();
    let mut finished = lock.lock().unwrap_or_else(|p| p.into_inner());
    while !*finished {
        finished = cvar.wait(finished).unwrap_or_else(|p| p.into_inner());
    }
}

/// Set once [`shutdown_all`] has begun: no daemon starts after it.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);
/// Set by [`defer_exit_on_signal`].
static DEFER_EXIT: AtomicBool = AtomicBool::new(false);
/// The signal that interrupted the run (0: none), set once everything is stopped.
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

/// Whether the harness is shutting down (a signal arrived): adapters stop restarting things
/// and stay quiet about the errors that follow.
pub fn shutting_down() -> bool {
    SHUTTING_DOWN.load(Ordering::SeqCst)
}

/// Asks the signal handler not to exit after a SIGINT, SIGTERM or SIGHUP: it still stops
/// every daemon and cleans every state directory first, then sets [`interrupted`] and
/// returns control to the program, so a CLI can print the partial report of the trials that
/// ran and exit with 128 + [`interrupted_by`] itself. Every live call after that fails at once
/// ([`Interrupted`]); a second signal exits at once. Installs the handler. Call it once, at
/// start, from a program that checks [`interrupted`]; without it a signal exits with
/// 128 + its number once everything is stopped.
pub fn defer_exit_on_signal() {
    DEFER_EXIT.store(true, Ordering::SeqCst);
    install_signal_handler();
}

/// Whether a signal interrupted the run and the live engines have been stopped and cleaned
/// (only ever true after [`defer_exit_on_signal`]). A runner checks it between trials and
/// stops, reporting what ran.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst) != 0
}

/// The signal that [`interrupted`] the run, for the exit status (128 + it).
pub fn interrupted_by() -> Option<i32> {
    match INTERRUPTED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// The error of a live call made once a signal has begun the shutdown: the engines are
/// stopped (or stopping), nothing is asked of them any more.
#[derive(Clone, Copy, Debug, thiserror::Error)]
#[error("interrupted: a signal stopped the live engines")]
pub struct Interrupted;

/// `Err(Interrupted)` once a signal has begun the shutdown; every engine API call checks it
/// first, so a run that goes on after a signal fails fast instead of waiting on dead sockets.
pub fn check_interrupted() -> Result<(), Interrupted> {
    wait_for_shutdown();
    if shutting_down() {
        Err(Interrupted)
    } else {
        Ok(())
    }
}

/// Stops every daemon the harness still runs (newest first) and cleans every state directory
/// still in use. The signal handler calls it; a runner that leaves through
/// [`std::process::exit`] while backends are alive (destructors do not run then) should too.
pub fn shutdown_all() {
    shutdown_entries();
    mark_done();
}

/// What [`shutdown_all`] does before it lets waiting threads go.
fn shutdown_entries() {
    if IN_SHUTDOWN.with(|c| c.replace(true)) {
        return;
    }
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
    // Twice: whatever registered while the first pass ran (a directory created just before
    // the flag was seen) is cleaned too.
    for _pass in 0..2 {
        let entries: Vec<(u64, Entry)> =
            std::mem::take(&mut *live().lock().unwrap_or_else(|p| p.into_inner()));
        for (_, e) in entries.iter().rev() {
            shutdown_one(e);
        }
    }
}

/// Lets the threads blocked in [`wait_for_shutdown`] go on.
fn mark_done() {
    let (lock, cvar) = done();
    *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
    cvar.notify_all();
}

fn shutdown_one(e: &Entry) {
    (e.0)();
}

/// Installs (once) a handler thread for SIGINT, SIGTERM and SIGHUP that runs
/// [`shutdown_all`] and then exits with 128 + the signal number, or, after
/// [`defer_exit_on_signal`], marks the run [`interrupted`]. Spawning a daemon installs it.
pub fn install_signal_handler() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            Ok(mut signals) => {
                std::thread::Builder::new()
                    .name("rmispec-signals".into())
                    .spawn(move || {
                        let mut signals = signals.forever();
                        let Some(sig) = signals.next() else { return };
                        let _ = writeln!(
                            std::io::stderr(),
                            "rmispec: signal {sig}, stopping live engines"
                        );
                        shutdown_entries();
                        if !DEFER_EXIT.load(Ordering::SeqCst) {
                            // The other threads stay blocked: nothing runs after the cleanup.
                            std::process::exit(128 + sig);
                        }
                        INTERRUPTED.store(sig, Ordering::SeqCst);
                        mark_done();
                        // The program finishes its report; a second signal does not wait.
                        if let Some(again) = signals.next() {
                            std::process::exit(128 + again);
                        }
                    })
                    .map(drop)
                    .unwrap_or_else(|e| eprintln!("rmispec: no signal handler thread: {e}"));
            }
            Err(e) => eprintln!("rmispec: could not install the signal handler: {e}"),
        }
    });
}
