//! The live fault suite: the real `rmispec` binary, run as a user would, with faults injected
//! (signals to the harness, to its daemons, two runs at once, a foreign process and a foreign
//! file in the state dir), and after each one a count of what is left behind: processes,
//! mounts, cgroups, shim and NRI sockets, files outside the state dir. Every count must be zero.
//!
//! One trial per (engine family, fault): `docker/…` (docker-classic), `cri/…`
//! (cri-containerd), `podman/…` (podman-libimage). They start real daemons as root, so they
//! are ignored unless asked for, and when asked for on a machine without the engine (or not
//! as root, or built without the adapter's feature) they say so as IGNORED with the reason:
//!
//! ```sh
//! cargo test -p rmispec --features live-docker,live-cri,live-podman --test faults -- --ignored
//! ```
//!
//! They run one at a time. Each uses its own scratch folder (`TMPDIR` and `--state-dir` below
//! it, `RMISPEC_FAULTS_DIR` or the system temp dir), so nothing another run owns is counted
//! or touched.

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rmispec");

/// How long any one harness run in a trial may take before the trial fails (it must never hang).
const RUN_LIMIT: Duration = Duration::from_secs(240);

/// The per-call timeout the daemon-fault trials run with.
const SHORT_TIMEOUT: &str = "3";

#[derive(Clone, Copy, Debug)]
struct Family {
    name: &'static str,
    engine: &'static str,
    feature_built: bool,
    binary: &'static str,
    /// The daemon whose faults the trials inject (its record is `run/<daemon>.pid`).
    daemon: &'static str,
    /// A filter matching a few scenarios: runs that must end by themselves stay short.
    few: &'static str,
}

const FAMILIES: [Family; 3] = [
    Family {
        name: "docker",
        engine: "docker-classic@20.10",
        feature_built: cfg!(feature = "live-docker"),
        binary: "/usr/sbin/dockerd",
        daemon: "dockerd",
        few: "untag/",
    },
    Family {
        name: "cri",
        engine: "cri-containerd@1.6",
        feature_built: cfg!(feature = "live-cri"),
        binary: "/usr/bin/containerd",
        daemon: "containerd",
        few: "untag/",
    },
    Family {
        name: "podman",
        engine: "podman-libimage@4.3",
        feature_built: cfg!(feature = "live-podman"),
        binary: "/usr/bin/podman",
        daemon: "podman",
        few: "untag/",
    },
];

type Fault = fn(&Family, &Scratch) -> Result<(), String>;

const FAULTS: [(&str, Fault); 9] = [
    ("sigint-mid-run", |f, s| {
        signal_mid_run(f, s, libc_signal::SIGINT)
    }),
    ("sigterm-mid-run", |f, s| {
        signal_mid_run(f, s, libc_signal::SIGTERM)
    }),
    ("sighup-mid-run", |f, s| {
        signal_mid_run(f, s, libc_signal::SIGHUP)
    }),
    ("sigkill-then-new-run", sigkill_then_new_run),
    ("daemon-sigstop", daemon_sigstop),
    ("daemon-sigkill", daemon_sigkill),
    ("two-runs-at-once", two_runs_at_once),
    ("foreign-process-in-state-dir", foreign_process),
    ("foreign-file-in-state-dir", foreign_file),
];

/// Signal numbers (Linux), without a dependency for them.
mod libc_signal {
    pub const SIGHUP: i32 = 1;
    pub const SIGINT: i32 = 2;
    pub const SIGKILL: i32 = 9;
    pub const SIGTERM: i32 = 15;
    pub const SIGCONT: i32 = 18;
    pub const SIGSTOP: i32 = 19;
}

fn main() {
    let mut args = Arguments::from_args();
    // Real daemons, as root: one at a time.
    args.test_threads = Some(1);
    let mut trials = Vec::new();
    for family in FAMILIES {
        for (fault, run) in FAULTS {
            let name = format!("{}/{fault}", family.name);
            trials.push(
                Trial::ignorable_test(name.clone(), move || {
                    if let Some(reason) = unavailable(&family) {
                        return Ok(Completion::ignored_with(reason));
                    }
                    let scratch = Scratch::new(&name).map_err(Failed::from)?;
                    let result = run(&family, &scratch);
                    let left = scratch.leftovers();
                    eprintln!(
                        "faults: {name}: 1 fault injected, {} leftovers{}",
                        left.len(),
                        if left.is_empty() {
                            String::new()
                        } else {
                            format!(": {left:?}")
                        }
                    );
                    result.map_err(Failed::from)?;
                    if !left.is_empty() {
                        return Err(format!("left behind: {left:#?}").into());
                    }
                    scratch.remove();
                    Ok(Completion::Completed)
                })
                .with_kind("live")
                .with_ignored_flag(true),
            );
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

/// Why a family's trials cannot run here, if they cannot.
fn unavailable(f: &Family) -> Option<String> {
    if !f.feature_built {
        return Some(format!(
            "built without the live-{} feature",
            if f.name == "docker" { "docker" } else { f.name }
        ));
    }
    if !Path::new(f.binary).exists() {
        return Some(format!(
            "{} is not installed ({} missing; scripts/install-engines installs it)",
            f.engine, f.binary
        ));
    }
    if !fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    }) {
        return Some("needs root".into());
    }
    None
}

// ---------------------------------------------------------------------------------------------
// A trial's scratch folder and what it counts

/// A trial's own folder: `tmp/` (the runs' `TMPDIR`) and `state/` (their `--state-dir`); and
/// the host state before the trial, to compare with after.
struct Scratch {
    root: PathBuf,
    shims_before: BTreeSet<PathBuf>,
    outside_before: Vec<(PathBuf, bool)>,
    /// PIDs of the harness runs the trial started: their cgroups carry them in their names.
    runs: std::cell::RefCell<Vec<u32>>,
}

/// Where the engines would write outside their sandbox with default settings.
const OUTSIDE: [&str; 9] = [
    "/var/lib/docker",
    "/var/lib/containerd",
    "/opt/containerd",
    "/etc/docker/key.json",
    "/run/containerd/runc",
    "/var/lib/containers/storage",
    "/run/containers/storage",
    "/run/libpod",
    "/var/lib/cni",
];

impl Scratch {
    fn new(name: &str) -> Result<Scratch, String> {
        let base = std::env::var_os("RMISPEC_FAULTS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        // Short: unix socket paths below it must stay under 104 bytes.
        let root = base.join(format!("rmf-{}", short_name(name)));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("tmp")).map_err(|e| e.to_string())?;
        fs::create_dir_all(root.join("s")).map_err(|e| e.to_string())?;
        let root = fs::canonicalize(root).map_err(|e| e.to_string())?;
        Ok(Scratch {
            root,
            shims_before: sockets(),
            outside_before: OUTSIDE
                .iter()
                .map(|p| (PathBuf::from(p), Path::new(p).exists()))
                .collect(),
            runs: Default::default(),
        })
    }

    fn state(&self) -> PathBuf {
        self.root.join("s")
    }

    /// A `rmispec run --live` of `family` with `--state-dir <state>` (or `state_dir`).
    fn start(
        &self,
        f: &Family,
        filter: Option<&str>,
        state_dir: Option<&Path>,
        extra_env: &[(&str, &str)],
    ) -> Run {
        let tag = self.runs.borrow().len();
        let out = self.root.join(format!("run{tag}.out"));
        let err = self.root.join(format!("run{tag}.err"));
        let mut cmd = Command::new(BIN);
        cmd.args(["run", "--live", "--engine", f.engine, "--state-dir"])
            .arg(state_dir.unwrap_or(&self.state()))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("TMPDIR", self.root.join("tmp"))
            .envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).expect("run output"))
            .stderr(fs::File::create(&err).expect("run errors"));
        if let Some(filter) = filter {
            cmd.args(["--filter", filter]);
        }
        // Its own process group, as a terminal's foreground job would be.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().expect("starting rmispec");
        self.runs.borrow_mut().push(child.id());
        Run {
            child,
            err,
            out,
            started: Instant::now(),
        }
    }

    /// Everything left behind: processes naming the scratch folder, mounts below it, cgroups
    /// of the trial's runs, new shim / NRI sockets, paths outside the sandbox that appeared,
    /// and files in the state dirs besides the logs and owner records.
    fn leftovers(&self) -> Vec<String> {
        let mut left = Vec::new();
        for pid in processes_mentioning(&self.root) {
            left.push(format!("process {pid}: {}", cmdline(pid)));
        }
        for m in mounts_below(&self.root) {
            left.push(format!("mount {}", m.display()));
        }
        for c in cgroups_of(&self.runs.borrow()) {
            left.push(format!("cgroup {}", c.display()));
        }
        // New sockets nobody listens on: a live one belongs to a run still going (another
        // user's, on a shared machine); an orphan is debris.
        for s in sockets().difference(&self.shims_before) {
            if std::os::unix::net::UnixStream::connect(s).is_err() && s.exists() {
                left.push(format!("socket {}", s.display()));
            }
        }
        for (p, existed) in &self.outside_before {
            if !existed && p.exists() {
                left.push(format!("outside the sandbox: {}", p.display()));
            }
        }
        if let Ok(engines) = fs::read_dir(self.state()) {
            for e in engines.flatten() {
                let Ok(files) = fs::read_dir(e.path()) else {
                    continue;
                };
                for f in files.flatten() {
                    let n = f.file_name().to_string_lossy().into_owned();
                    if !matches!(n.as_str(), "logs" | ".rmispec-owner" | "my-project") {
                        left.push(format!("in the state dir: {}", f.path().display()));
                    }
                }
            }
        }
        if let Ok(tmp) = fs::read_dir(self.root.join("tmp/rmispec-live")) {
            for e in tmp.flatten() {
                left.push(format!("fresh state dir {}", e.path().display()));
            }
        }
        left
    }

    fn remove(&self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// `docker/sigint-mid-run` → `d0`: the family's initial and the fault's index.
fn short_name(name: &str) -> String {
    let (family, fault) = name.split_once('/').unwrap_or((name, ""));
    let i = FAULTS.iter().position(|(n, _)| *n == fault).unwrap_or(99);
    format!("{}{i}", &family[..1])
}

/// A harness run.
struct Run {
    child: Child,
    err: PathBuf,
    /// Its report: an engine that cannot start, or a call that timed out, is said there.
    out: PathBuf,
    started: Instant,
}

impl Run {
    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn signal(&self, sig: i32) {
        signal(self.pid(), sig);
    }

    /// Waits for it to end, at most [`RUN_LIMIT`] (then it is killed and the trial fails).
    fn wait(&mut self) -> Result<(ExitStatus, String), String> {
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Ok((status, self.stderr()));
            }
            if self.started.elapsed() > RUN_LIMIT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!(
                    "the run hung: killed after {RUN_LIMIT:?}; its stderr:\n{}",
                    self.stderr()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the run said: its stderr, then its report (stdout), where an engine that could
    /// not start or a call that timed out marks its own results.
    fn stderr(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = fs::File::open(&self.err) {
            let _ = f.read_to_string(&mut s);
        }
        if let Ok(mut f) = fs::File::open(&self.out) {
            s.push_str("\n--- its report ---\n");
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Waits until the engine's daemon is up (its record exists and it has run a while),
    /// returning its PID and tracking cgroup. The run must still be going.
    fn wait_for_daemon(
        &mut self,
        state: &Path,
        f: &Family,
    ) -> Result<(i32, Option<PathBuf>), String> {
        let record = state
            .join(f.engine)
            .join("run")
            .join(format!("{}.pid", f.daemon));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!(
                    "the run ended ({status}) before the fault could be injected; its stderr:\n{}",
                    self.stderr()
                ));
            }
            if let Some((pid, cgroup)) = read_record(&record) {
                // The daemon answers once the harness builds scenarios; the log grows then.
                let log = state
                    .join(f.engine)
                    .join("logs")
                    .join(format!("{}.log", f.daemon));
                if fs::metadata(&log).is_ok_and(|m| m.len() > 0) {
                    std::thread::sleep(Duration::from_millis(800));
                    return Ok((pid, cgroup));
                }
            }
            if Instant::now() > deadline {
                return Err(format!("{} did not start within 60 s", f.daemon));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `pid` and `cgroup` from a daemon record (`run/<name>.pid`).
fn read_record(path: &Path) -> Option<(i32, Option<PathBuf>)> {
    let text = fs::read_to_string(path).ok()?;
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix(' ')))
            .map(str::to_owned)
    };
    Some((get("pid")?.parse().ok()?, get("cgroup").map(PathBuf::from)))
}

fn signal(pid: i32, sig: i32) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

// ---------------------------------------------------------------------------------------------
// The faults

/// SIGINT / SIGTERM / SIGHUP of the harness mid-run, with a container (a CRI pod) up: it
/// stops everything and exits 128 + n.
fn signal_mid_run(f: &Family, s: &Scratch, sig: i32) -> Result<(), String> {
    let mut run = s.start(f, Some("containers/"), None, &[]);
    run.wait_for_daemon(&s.state(), f)?;
    let pid = run.pid() as u32;
    let up = wait_for(Duration::from_secs(60), || container_up(pid));
    if !up {
        return Err(
            "no container came up within 60 s: the fault would not test a run with one".into(),
        );
    }
    run.signal(sig);
    let (status, said) = run.wait()?;
    if status.code() != Some(128 + sig) {
        return Err(format!(
            "exit {status} after signal {sig}, not {}; stderr:\n{said}",
            128 + sig
        ));
    }
    // The report of what finished is printed, and says what did not run.
    if !said.contains("--- its report ---\n")
        || !said.contains(&format!("interrupted (signal {sig})"))
    {
        return Err(format!(
            "no report of what finished after signal {sig}:\n{said}"
        ));
    }
    Ok(())
}

/// SIGKILL of the harness mid-run (nothing of it runs its cleanup), then a new run in the
/// same state dir: it must sweep what the first left, say so, and pass.
fn sigkill_then_new_run(f: &Family, s: &Scratch) -> Result<(), String> {
    let mut run = s.start(f, Some("containers/"), None, &[]);
    run.wait_for_daemon(&s.state(), f)?;
    let pid = run.pid() as u32;
    if !wait_for(Duration::from_secs(60), || container_up(pid)) {
        return Err("no container came up within 60 s".into());
    }
    run.signal(libc_signal::SIGKILL);
    let _ = run.wait()?;
    let mut again = s.start(f, Some(f.few), None, &[]);
    let (status, stderr) = again.wait()?;
    if !status.success() {
        return Err(format!(
            "the run after the SIGKILL failed ({status}):\n{stderr}"
        ));
    }
    if !stderr.contains("rmispec: swept") {
        return Err(format!("the next run did not say what it swept:\n{stderr}"));
    }
    Ok(())
}

/// SIGSTOP of the daemon (everything in its tracking cgroup) mid-run: the run must end by
/// itself within its per-call timeouts, say which daemon did not answer, and leave nothing.
fn daemon_sigstop(f: &Family, s: &Scratch) -> Result<(), String> {
    // Scenarios with containers: slow enough (a second or more on every engine) that the
    // run is still going when the daemon is stopped; the few untag ones end first on Podman.
    let mut run = s.start(
        f,
        Some("containers/"),
        None,
        &[("RMISPEC_TIMEOUT", SHORT_TIMEOUT)],
    );
    let (pid, cgroup) = run.wait_for_daemon(&s.state(), f)?;
    let stopped = members_or(pid, cgroup.as_deref());
    for &p in &stopped {
        signal(p, libc_signal::SIGSTOP);
    }
    let result = run.wait();
    // Whatever happens, never leave a stopped process behind.
    for &p in &stopped {
        signal(p, libc_signal::SIGCONT);
    }
    let (_, stderr) = result?;
    if !stderr.contains("did not answer") || !stderr.contains("within 3s") {
        return Err(format!(
            "no message naming the daemon, the call and the wait:\n{stderr}"
        ));
    }
    Ok(())
}

/// SIGKILL of the daemon mid-run: the run must end by itself and leave nothing.
fn daemon_sigkill(f: &Family, s: &Scratch) -> Result<(), String> {
    // Slow scenarios, so that the run is still going when the daemon dies (see SIGSTOP).
    let mut run = s.start(
        f,
        Some("containers/"),
        None,
        &[("RMISPEC_TIMEOUT", SHORT_TIMEOUT)],
    );
    let (pid, _) = run.wait_for_daemon(&s.state(), f)?;
    signal(pid, libc_signal::SIGKILL);
    let (_, said) = run.wait()?;
    // Said plainly, from the harness's own wait, and restarted for real: no claim of a
    // restart without one.
    if !said.contains("exited with signal 9 (SIGKILL)") && !said.contains(") exited: it is gone") {
        return Err(format!("the daemon's death is not said plainly:\n{said}"));
    }
    if !said.contains("restarted on a fresh root") {
        return Err(format!("the dead daemon was not restarted:\n{said}"));
    }
    Ok(())
}

/// Two runs at once, with state dirs that end in the same name: both pass.
fn two_runs_at_once(f: &Family, s: &Scratch) -> Result<(), String> {
    let (a, b) = (s.root.join("a"), s.root.join("b"));
    let mut one = s.start(f, Some(f.few), Some(&a), &[]);
    let mut two = s.start(f, Some(f.few), Some(&b), &[]);
    let (r1, r2) = (one.wait()?, two.wait()?);
    for (i, (status, stderr)) in [r1, r2].into_iter().enumerate() {
        if !status.success() {
            return Err(format!("run {} failed ({status}):\n{stderr}", i + 1));
        }
    }
    for d in [a, b] {
        let _ = fs::remove_dir_all(d);
    }
    Ok(())
}

/// A `tail -f` of a daemon's log during a run (row 1): it is not the harness's, it must
/// survive the run.
fn foreign_process(f: &Family, s: &Scratch) -> Result<(), String> {
    // A first run makes the dir ours and leaves its logs.
    let (status, stderr) = s.start(f, Some(f.few), None, &[]).wait()?;
    if !status.success() {
        return Err(format!("the first run failed ({status}):\n{stderr}"));
    }
    let log = s
        .state()
        .join(f.engine)
        .join("logs")
        .join(format!("{}.log", f.daemon));
    let mut tail = Command::new("tail")
        .arg("-f")
        .arg(&log)
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let result = s.start(f, Some(f.few), None, &[]).wait();
    let survived = tail.try_wait().map_err(|e| e.to_string())?.is_none();
    let _ = tail.kill();
    let _ = tail.wait();
    let (status, stderr) = result?;
    if !status.success() {
        return Err(format!("the run with a tail failed ({status}):\n{stderr}"));
    }
    if !survived {
        return Err("the harness signalled a `tail -f` of its log".into());
    }
    Ok(())
}

/// A file of the user's in the state dir (row 2): refused, kept, and said so.
fn foreign_file(f: &Family, s: &Scratch) -> Result<(), String> {
    let notes = s.state().join(f.engine).join("my-project/notes.txt");
    fs::create_dir_all(notes.parent().unwrap()).map_err(|e| e.to_string())?;
    fs::write(&notes, "mine").map_err(|e| e.to_string())?;
    let (status, stderr) = s.start(f, Some(f.few), None, &[]).wait()?;
    if status.success() {
        return Err(format!(
            "a state dir with a foreign file was used:\n{stderr}"
        ));
    }
    if !stderr.contains("no rmispec owner record") {
        return Err(format!("the refusal does not say why:\n{stderr}"));
    }
    if fs::read_to_string(&notes).ok().as_deref() != Some("mine") {
        return Err("the foreign file was touched".into());
    }
    fs::remove_dir_all(notes.parent().unwrap()).map_err(|e| e.to_string())?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Counting, from /proc and /sys only

fn wait_for(limit: Duration, mut pred: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if pred() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Whether a container of run `pid` runs: a process in a cgroup below one of its cgroup
/// parents (not its tracking cgroups), in the pids hierarchy.
fn container_up(pid: u32) -> bool {
    cgroups_of(&[pid])
        .iter()
        .filter(|c| {
            c.starts_with("/sys/fs/cgroup/pids") && !c.to_string_lossy().contains("rmispec-procs")
        })
        .any(|c| {
            let mut stack = vec![c.clone()];
            while let Some(d) = stack.pop() {
                if d != *c
                    && fs::read_to_string(d.join("cgroup.procs"))
                        .is_ok_and(|t| !t.trim().is_empty())
                {
                    return true;
                }
                if let Ok(e) = fs::read_dir(&d) {
                    stack.extend(e.flatten().filter(|e| e.path().is_dir()).map(|e| e.path()));
                }
            }
            false
        })
}

fn members_or(pid: i32, cgroup: Option<&Path>) -> Vec<i32> {
    let mut out: Vec<i32> = cgroup
        .and_then(|c| fs::read_to_string(c.join("cgroup.procs")).ok())
        .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default();
    if !out.contains(&pid) {
        out.push(pid);
    }
    out
}

fn cmdline(pid: i32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Processes (not zombies) whose command line names a path at or below `dir`.
fn processes_mentioning(dir: &Path) -> Vec<i32> {
    let needle = dir.to_string_lossy().into_owned();
    let me = std::process::id() as i32;
    fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .filter(|&p| p != me)
                .filter(|&p| {
                    fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|s| {
                        s.rsplit_once(')')
                            .is_some_and(|(_, r)| !r.trim_start().starts_with(['Z', 'X']))
                    })
                })
                .filter(|&p| cmdline(p).contains(&needle))
                .collect()
        })
        .unwrap_or_default()
}

fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(dir))
        .collect()
}

/// Cgroups, in any hierarchy, whose name carries one of `pids` as an rmispec instance suffix
/// (`…-<pid>-<n>`): the runs' cgroup parents and tracking cgroups.
fn cgroups_of(pids: &[u32]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(roots) = fs::read_dir("/sys/fs/cgroup") else {
        return out;
    };
    let marks: Vec<String> = pids.iter().map(|p| format!("-{p}-")).collect();
    for root in roots.flatten().map(|e| e.path()) {
        for dir in [
            root.clone(),
            root.join("rmispec-procs"),
            root.join("rmispec-podman"),
        ] {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if e.path().is_dir()
                    && marks.iter().any(|m| n.contains(m.as_str()))
                    && (n.starts_with("rmispec-") || dir != root)
                {
                    out.push(e.path());
                }
            }
        }
    }
    out
}

/// The sockets containerd's shims and NRI leave: `/run/containerd/s/*`, `/var/run/nri/*`.
fn sockets() -> BTreeSet<PathBuf> {
    ["/run/containerd/s", "/var/run/nri"]
        .iter()
        .filter_map(|d| fs::read_dir(d).ok())
        .flat_map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
        .collect()
}
