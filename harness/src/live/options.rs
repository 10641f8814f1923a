//! How the user points the harness at live engines.

use std::path::PathBuf;

/// Options for live runs, from the command line (`rmispec run --live`) or the environment
/// (the test harness).
#[derive(Clone, Debug, Default)]
pub struct LiveOptions {
    /// `--socket PATH`: use a daemon someone else runs instead of starting one. The harness
    /// deletes every image and container in it between scenarios, so it must be empty at
    /// start unless [`allow_default_socket`](Self::allow_default_socket) is set.
    pub socket: Option<PathBuf>,
    /// `--i-know-this-deletes-images`: allow the host's default socket and a non-empty daemon.
    pub allow_default_socket: bool,
    /// `--state-dir PATH`: where sandboxed daemons keep everything (default: a fresh dir per
    /// engine and process under the system temp dir).
    pub state_dir: Option<PathBuf>,
    /// `--command PROG [ARGS]`: an adapter program speaking the process protocol
    /// (`docs/protocol.md`), judged against the semantics `--engine` names.
    pub command: Option<Vec<String>>,
}
