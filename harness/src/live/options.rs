//! How the user points the harness at live engines, and how long it waits on them.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long one engine API call may take unless told otherwise: far above what any call
/// takes here (a pull from the local registry ~25 ms; a forced remove of a running Podman
/// container waits out a 10 s stop timeout), far below "the user gives up and kills it".
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The environment variable that sets the per-call timeout: seconds (`30`, `2.5`) or with a
/// unit (`500ms`, `2m`).
pub const TIMEOUT_VAR: &str = "RMISPEC_TIMEOUT";

/// Options for live runs, from the command line (`rmispec run --live`) or the environment
/// (the test harness).
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// `--socket PATH`: use a daemon someone else runs instead of starting one. The harness
    /// deletes every image and container in it between scenarios, so it must be empty at
    /// start unless [`allow_default_socket`](Self::allow_default_socket) is set.
    pub socket: Option<PathBuf>,
    /// `--i-know-this-deletes-images`: allow the host's default socket and a non-empty daemon.
    pub allow_default_socket: bool,
    /// `--state-dir PATH`: where sandboxed daemons keep everything (default: a fresh dir per
    /// engine and process under the system temp dir). Meaningless with `socket`.
    pub state_dir: Option<PathBuf>,
    /// `--timeout`: how long one engine API call may take before it fails with a message
    /// naming the engine, the call and the wait (default [`DEFAULT_TIMEOUT`], or
    /// [`TIMEOUT_VAR`]). The API clients read it from [`call_timeout`]: apply it with
    /// [`LiveOptions::apply`].
    pub timeout: Duration,
    /// `--command PROG [ARGS]`: an adapter program speaking the process protocol
    /// (`docs/protocol.md`), judged against the semantics `--engine` names.
    pub command: Option<Vec<String>>,
}

impl Default for LiveOptions {
    /// No socket, no state dir, the timeout from [`TIMEOUT_VAR`] (ignored if unparsable;
    /// [`timeout_from_env`] says why) or [`DEFAULT_TIMEOUT`].
    fn default() -> Self {
        LiveOptions {
            socket: None,
            allow_default_socket: false,
            state_dir: None,
            timeout: timeout_from_env().ok().flatten().unwrap_or(DEFAULT_TIMEOUT),
            command: None,
        }
    }
}

/// A combination of options that cannot mean what the user wants.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    /// `--socket` names a daemon someone else runs; `--state-dir` is where the harness keeps
    /// the daemons it starts. Together, one of them would be silently ignored.
    #[error(
        "--socket and --state-dir cannot be used together: with --socket the harness starts no daemon, so it \
         would have no use for {state_dir}; drop one of them"
    )]
    SocketWithStateDir {
        /// The state dir given.
        state_dir: String,
    },
    /// A zero timeout would fail every call.
    #[error("the timeout must be more than zero")]
    ZeroTimeout,
    /// `RMISPEC_TIMEOUT` is set but cannot be read: running with the default instead would
    /// hide the mistake.
    #[error("{0}")]
    BadTimeoutVar(String),
}

impl LiveOptions {
    /// Checks that the options mean one thing: `--socket` with `--state-dir` is an error,
    /// not a state dir silently ignored. Call it before [`connect`](crate::live::connect).
    pub fn validate(&self) -> Result<(), OptionsError> {
        if let (Some(_), Some(dir)) = (&self.socket, &self.state_dir) {
            return Err(OptionsError::SocketWithStateDir {
                state_dir: dir.display().to_string(),
            });
        }
        if self.timeout.is_zero() {
            return Err(OptionsError::ZeroTimeout);
        }
        Ok(())
    }

    /// Validates the options (and an `RMISPEC_TIMEOUT` that is set but unreadable), and makes
    /// [`timeout`](Self::timeout) the per-call timeout of every engine API client in this
    /// process ([`call_timeout`]). The clients are made deep inside the adapters, so the
    /// limit is process-wide rather than passed down.
    pub fn apply(&self) -> Result<(), OptionsError> {
        self.validate()?;
        timeout_from_env().map_err(OptionsError::BadTimeoutVar)?;
        set_call_timeout(self.timeout);
        Ok(())
    }
}

/// 0: not set, use [`RMISPEC_TIMEOUT`](TIMEOUT_VAR) or the default.
static CALL_TIMEOUT_MS: AtomicU64 = AtomicU64::new(0);

/// Sets the per-call timeout of every engine API client in this process.
pub fn set_call_timeout(t: Duration) {
    CALL_TIMEOUT_MS.store(
        t.as_millis().clamp(1, u64::MAX as u128) as u64,
        Ordering::SeqCst,
    );
}

/// How long one engine API call may take: what [`set_call_timeout`] set, else
/// [`TIMEOUT_VAR`], else [`DEFAULT_TIMEOUT`].
pub fn call_timeout() -> Duration {
    match CALL_TIMEOUT_MS.load(Ordering::SeqCst) {
        0 => timeout_from_env().ok().flatten().unwrap_or(DEFAULT_TIMEOUT),
        ms => Duration::from_millis(ms),
    }
}

/// [`TIMEOUT_VAR`] parsed: `Ok(None)` when unset, an error that says what is wrong when it
/// cannot be read (a CLI should report it rather than run with the default).
pub fn timeout_from_env() -> Result<Option<Duration>, String> {
    match std::env::var(TIMEOUT_VAR) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(e) => Err(format!("{TIMEOUT_VAR}: {e}")),
        Ok(v) => parse_timeout(&v)
            .map(Some)
            .map_err(|e| format!("{TIMEOUT_VAR}={v:?}: {e}")),
    }
}

/// `30`, `2.5`, `30s`, `500ms`, `2m`: a positive duration.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| "expected seconds, or a number with ms, s or m".to_string())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        u => return Err(format!("unknown unit {u:?} (ms, s or m)")),
    };
    if !(secs.is_finite() && secs > 0.0 && secs < 86_400.0) {
        return Err("must be more than zero and less than a day".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_with_a_state_dir_is_refused() {
        let opts = LiveOptions {
            socket: Some("/x.sock".into()),
            state_dir: Some("/tmp/s".into()),
            ..LiveOptions::default()
        };
        let e = opts.validate().unwrap_err().to_string();
        assert!(e.contains("--socket and --state-dir"), "{e}");
        assert!(LiveOptions::default().validate().is_ok());
    }

    #[test]
    fn timeouts_parse_with_and_without_units() {
        assert_eq!(parse_timeout("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("soon").is_err());
        assert!(parse_timeout("3h").is_err());
    }
}
