//! The adapter program as a child process: spawned in its own process group, spoken to one
//! JSON line at a time with a deadline per call, and stopped on drop.
//!
//! Only this child's process group is ever signalled: it is ours (we spawned it, its group
//! ID is its PID), so a kill reaches the program and whatever it started in its group, and
//! nothing else. A call that outlives its deadline kills the group (SIGKILL) and fails with
//! the call's name and the wait; a program that exits, or answers something that is not one
//! JSON object, fails the call with what it printed (its stderr is its log: the last lines
//! are kept for error messages, and echoed when `RMISPEC_PROCESS_LOG` is set).

use anyhow::{bail, Context};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many of the program's last stderr lines errors quote.
const LOG_TAIL: usize = 20;

/// How long the program gets to exit after its stdin is closed, then after SIGTERM, before
/// the next step (SIGTERM, then SIGKILL).
#[derive(Clone, Copy, Debug)]
pub struct Grace {
    /// After stdin is closed.
    pub after_eof: Duration,
    /// After SIGTERM.
    pub after_term: Duration,
}

impl Default for Grace {
    fn default() -> Grace {
        Grace {
            after_eof: Duration::from_secs(30),
            after_term: Duration::from_secs(5),
        }
    }
}

/// A running adapter program.
#[derive(Debug)]
pub struct Program {
    /// The command line, for messages.
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Lines read from its stdout so far (for messages: "line 3 of its answers").
    line_no: usize,
    log: Arc<Mutex<VecDeque<String>>>,
    /// Disconnects when the stderr reader has read to the end: an exited program's last words
    /// are in `log` only then (they can still be in the pipe when its exit is seen).
    log_done: Receiver<()>,
    /// Set once the program is gone (exited, killed): every later call fails at once.
    dead: Option<String>,
    grace: Grace,
    /// Time spent waiting for answers since the last [`take_waited`](Self::take_waited).
    waited: Duration,
}

impl Program {
    /// Starts `command` (program and arguments) in its own process group, stdin and stdout
    /// piped, stderr read as its log.
    pub fn spawn(command: &[String], grace: Grace) -> anyhow::Result<Program> {
        let (prog, args) = command
            .split_first()
            .context("an empty command: expected a program and its arguments")?;
        let name = command.join(" ");
        let mut child = Command::new(prog)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting the adapter program `{name}`"))?;
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::Builder::new()
            .name("process stdout".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .context("spawning the stdout reader")?;
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let echo = std::env::var_os("RMISPEC_PROCESS_LOG").is_some();
        let (log_w, prefix) = (Arc::clone(&log), prog.clone());
        let (done, log_done) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("process stderr".into())
            .spawn(move || {
                let _done = done;
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if echo {
                        eprintln!("rmispec: {prefix}: {line}");
                    }
                    if let Ok(mut log) = log_w.lock() {
                        if log.len() == LOG_TAIL {
                            log.pop_front();
                        }
                        log.push_back(line);
                    }
                }
            })
            .context("spawning the stderr reader")?;
        Ok(Program {
            name,
            stdin: child.stdin.take(),
            child,
            lines,
            line_no: 0,
            log,
            log_done,
            dead: None,
            grace,
            waited: Duration::ZERO,
        })
    }

    /// The command line.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The child's PID (also its process group ID).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The time spent waiting for answers since the last call.
    pub fn take_waited(&mut self) -> Duration {
        std::mem::take(&mut self.waited)
    }

    /// The last lines of its log, for messages (empty if it wrote none).
    pub fn log_tail(&self) -> String {
        let log = self.log.lock().map(|l| l.clone()).unwrap_or_default();
        if log.is_empty() {
            return String::new();
        }
        let lines: Vec<String> = log.iter().map(|l| format!("  | {l}")).collect();
        format!("; its last stderr lines:\n{}", lines.join("\n"))
    }

    /// Sends `line` (one JSON object, no newline in it) for the call `op`, and waits up to
    /// `timeout` for one line back. On timeout the program's group is killed.
    pub fn call(
        &mut self,
        op: &str,
        line: &str,
        timeout: Duration,
    ) -> anyhow::Result<(usize, String)> {
        if let Some(why) = &self.dead {
            bail!("cannot send `{op}`: the adapter program {why}");
        }
        debug_assert!(!line.contains('\n'));
        let t0 = Instant::now();
        let sent = self
            .stdin
            .as_mut()
            .context("stdin is closed")
            .and_then(|s| {
                s.write_all(line.as_bytes())?;
                s.write_all(b"\n")?;
                s.flush()?;
                Ok(())
            });
        if let Err(e) = sent {
            let why = self.gone();
            bail!(
                "sending `{op}` to `{}`: {e:#}; the program {why}",
                self.name
            );
        }
        let answer = self.lines.recv_timeout(timeout);
        self.waited += t0.elapsed();
        match answer {
            Ok(l) => {
                self.line_no += 1;
                Ok((self.line_no, l))
            }
            Err(RecvTimeoutError::Timeout) => {
                self.kill();
                let why = format!("did not answer `{op}` within {timeout:.0?} and was killed");
                self.dead = Some(why.clone());
                bail!("`{}` {why}{}", self.name, self.log_tail());
            }
            Err(RecvTimeoutError::Disconnected) => {
                let why = self.gone();
                bail!(
                    "`{}` {why} before answering `{op}`{}",
                    self.name,
                    self.log_tail()
                );
            }
        }
    }

    /// The program closed its stdout: waits for it a moment and says how it ended.
    fn gone(&mut self) -> String {
        let status = self.wait_for(Duration::from_secs(2));
        let why = match status {
            Some(s) => {
                // Its stderr closes with it (unless a child of its own still holds it): give
                // the reader a moment to take the last lines, which the error quotes.
                let _ = self.log_done.recv_timeout(Duration::from_millis(500));
                format!("exited ({})", describe(s))
            }
            None => {
                self.kill();
                "closed its output and was killed".to_owned()
            }
        };
        self.dead = Some(why.clone());
        why
    }

    /// Waits up to `t` for the child to exit.
    fn wait_for(&mut self, t: Duration) -> Option<ExitStatus> {
        let t0 = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(s)) => return Some(s),
                Ok(None) if t0.elapsed() < t => std::thread::sleep(Duration::from_millis(20)),
                _ => return None,
            }
        }
    }

    /// Sends `signal` to the child's own process group.
    fn signal(&self, signal: Signal) {
        let pgid = Pid::from_raw(self.child.id() as i32);
        let _ = killpg(pgid, signal);
    }

    /// SIGKILL to the child's group, then reaps the child.
    fn kill(&mut self) {
        self.signal(Signal::SIGKILL);
        let _ = self.child.wait();
    }

    /// Stops the program: stdin closed, then SIGTERM to its group, then SIGKILL, each after
    /// its grace period. Returns how it ended.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        self.stdin.take();
        if let Ok(Some(s)) = self.child.try_wait() {
            return Some(s);
        }
        if let Some(s) = self.wait_for(self.grace.after_eof) {
            return Some(s);
        }
        self.signal(Signal::SIGTERM);
        if let Some(s) = self.wait_for(self.grace.after_term) {
            return Some(s);
        }
        self.kill();
        None
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        // Signals only before the child is reaped: once it is, its PID (and so the group
        // ID) may belong to someone else.
        self.stop();
    }
}

fn describe(s: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => s.to_string(),
    }
}
