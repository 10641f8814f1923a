//! The harness's own CPU time: what `rmispec bench` sets against wall time to say how much of
//! a live run is the harness's work rather than waiting on an engine.
//!
//! CPU time, not wall time minus the engine's: the daemons are other processes, so every
//! nanosecond on the harness's clock is its own work (synthesis, archives, JSON, the HTTP and
//! gRPC clients, judging), whichever adapter measures its calls and however many engines run
//! at once.

use std::time::Duration;

/// The CPU time (user + system) the calling thread has used so far; `None` without the live
/// adapters (nothing to measure against) or where the clock is not available.
pub fn thread_time() -> Option<Duration> {
    #[cfg(feature = "live")]
    {
        use nix::time::{clock_gettime, ClockId};
        clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
            .ok()
            .map(Duration::from)
    }
    #[cfg(not(feature = "live"))]
    None
}

/// The CPU time (user + system) the whole process (every thread, no children) has used.
pub fn process_time() -> Option<Duration> {
    #[cfg(feature = "live")]
    {
        use nix::sys::resource::{getrusage, UsageWho};
        use nix::sys::time::{TimeVal, TimeValLike};
        let micros = |t: TimeVal| Duration::from_micros(t.num_microseconds().max(0).unsigned_abs());
        getrusage(UsageWho::RUSAGE_SELF)
            .ok()
            .map(|u| micros(u.user_time()) + micros(u.system_time()))
    }
    #[cfg(not(feature = "live"))]
    None
}

#[cfg(all(test, feature = "live"))]
mod tests {
    use super::*;

    #[test]
    fn busy_work_shows_on_the_thread_clock_and_sleep_does_not() {
        let t0 = thread_time().expect("the thread clock");
        std::thread::sleep(Duration::from_millis(50));
        let slept = thread_time().expect("the thread clock") - t0;
        assert!(slept < Duration::from_millis(25), "{slept:?}");
        // Spin until the thread clock says 20 ms (however loaded the machine), within 30 s.
        let mut x = 0u64;
        let start = std::time::Instant::now();
        let busy = loop {
            for _ in 0..10_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            let busy = thread_time().expect("the thread clock") - t0;
            if busy >= Duration::from_millis(20) || start.elapsed() > Duration::from_secs(30) {
                break busy;
            }
        };
        std::hint::black_box(x);
        assert!(busy >= Duration::from_millis(20), "{busy:?}");
        assert!(process_time().expect("the process clock") >= busy);
    }
}
