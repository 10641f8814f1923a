//! A bounded fuzzer for the scenario loader, run by `cargo test` (the stable toolchain has no
//! cargo-fuzz). It mutates the real scenario files and the test fixtures, structure-aware
//! (lines, keys, symbols, YAML syntax, nesting, repetition) and byte by byte (bit flips,
//! invalid UTF-8, cuts), from a fixed seed, and checks on every case that the loader:
//!
//! - does not panic;
//! - places every problem at a line and column inside the file (each shown line is
//!   `path:line:column: message`);
//! - stays linear: no case takes more than a fixed multiple of the median seed file's time
//!   per byte (a quadratic path shows up as hundreds of times that on the grown cases).
//!
//! Bounds, by environment: `RMISPEC_FUZZ_CASES` (default 400), `RMISPEC_FUZZ_SECS` (default
//! 20: it stops early when the time is up), `RMISPEC_FUZZ_SEED` (a number; default fixed). CI
//! runs it longer, in release. Figures are printed with `--nocapture`; a finding is written
//! to a file whose path the failure names.

use proptest::prelude::Rng;
use proptest::test_runner::{RngAlgorithm, TestRng};
use rmispec::scenario;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every `.yaml` below `dir`.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml") {
            out.push(p);
        }
    }
}

/// What the structure-aware mutations insert: the format's keys, ids and symbols, and the
/// YAML syntax that has broken loaders before (documents, anchors, tags, flow, BOM).
const TOKENS: &[&str] = &[
    "summary: ",
    "notes: ",
    "given:",
    "images:",
    "containers:",
    "tags: [",
    "parent: ",
    "layers: [",
    "id: \"7f\"",
    "when:",
    "rmi: ",
    "force: true",
    "all: yes",
    "expect:",
    "default:",
    "records: []",
    "errors:",
    "- kind: conflict",
    "reason: running-container",
    "forceable: true",
    "message: ",
    "status: http 200",
    "status: grpc OK",
    "after:",
    "source: a/b@v1:c.go#L1-L2",
    "skip: why",
    "divergence:",
    "docker-classic:",
    "cri-containerd@1.6:",
    "podman-libimage@5.4:",
    "A",
    "B",
    "c1",
    "x",
    "<A>",
    "<A:12>",
    "<A:65>",
    "<A:0>",
    "<A.config>",
    "<A.manifest:4>",
    "<Z>",
    "<c1>",
    "<x>",
    "<reg>",
    "<?1>",
    "<?0>",
    "<reg>/app@sha256:<A.manifest>",
    "localhost/app:1",
    "docker.io/library/busybox:latest",
    "sha256:",
    "---\n",
    "...\n",
    "&a ",
    "*a",
    "<<: *a",
    "!!str ",
    "!!binary ",
    "? ",
    ": ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "\"",
    "'",
    "#",
    "|\n",
    ">-\n",
    "\t",
    "\r\n",
    "\\",
    "\u{feff}",
    "\u{0}",
    "é",
    "~",
    "null",
    "0x1F",
    "1e999",
    ".nan",
];

struct Mutator {
    rng: TestRng,
}

impl Mutator {
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.rng.next_u64() % n as u64) as usize
        }
    }

    fn token(&mut self) -> &'static str {
        TOKENS[self.below(TOKENS.len())]
    }

    /// A byte offset of `b`, at a line start half the time.
    fn place(&mut self, b: &[u8]) -> usize {
        let at = self.below(b.len() + 1);
        if self.below(2) == 0 {
            b[..at]
                .iter()
                .rposition(|&c| c == b'\n')
                .map_or(0, |i| i + 1)
        } else {
            at
        }
    }

    fn line_range(&mut self, b: &[u8]) -> std::ops::Range<usize> {
        let start = self.place(b);
        let start = b[..start]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |i| i + 1);
        let end = b[start..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |i| start + i + 1);
        start..end
    }

    /// One mutation of `b`; returns its name.
    fn mutate(&mut self, b: &mut Vec<u8>) -> &'static str {
        match self.below(16) {
            0 => {
                if !b.is_empty() {
                    let i = self.below(b.len());
                    b[i] ^= 1 << self.below(8);
                }
                "flip a bit"
            }
            1 => {
                let i = self.below(b.len() + 1);
                let byte = [
                    0xff, 0xc3, 0x80, 0x00, b'\t', b'\r', b'\n', b'<', b'>', b':',
                ][self.below(10)];
                b.insert(i, byte);
                "insert a byte"
            }
            2 => {
                let i = self.below(b.len() + 1);
                let n = self.below(64).min(b.len() - i);
                b.drain(i..i + n);
                "delete bytes"
            }
            3 => {
                let n = self.below(b.len() + 1);
                b.truncate(n);
                "truncate"
            }
            4 => {
                let r = self.line_range(b);
                b.drain(r);
                "delete a line"
            }
            5 => {
                let r = self.line_range(b);
                let line = b[r.clone()].to_vec();
                b.splice(r.start..r.start, line);
                "duplicate a line"
            }
            6 => {
                let r = self.line_range(b);
                let s = self.line_range(b);
                if r.end <= s.start {
                    let (x, y) = (b[r.clone()].to_vec(), b[s.clone()].to_vec());
                    b.splice(s, x);
                    b.splice(r, y);
                }
                "swap lines"
            }
            7 => {
                let r = self.line_range(b);
                if self.below(2) == 0 {
                    b.splice(r.start..r.start, *b"  ");
                } else if b.get(r.start) == Some(&b' ') {
                    b.remove(r.start);
                }
                "indent or dedent a line"
            }
            8 | 9 => {
                let i = self.place(b);
                let t = self.token().as_bytes().to_vec();
                b.splice(i..i, t);
                "insert a token"
            }
            10 => {
                // replace the value after a `: ` with a token
                let r = self.line_range(b);
                if let Some(colon) = b[r.clone()].windows(2).position(|w| w == b": ") {
                    let from = r.start + colon + 2;
                    let to = if b[r.end - 1] == b'\n' {
                        r.end - 1
                    } else {
                        r.end
                    };
                    let t = self.token().as_bytes().to_vec();
                    b.splice(from..to.max(from), t);
                }
                "replace a value"
            }
            11 => {
                // a symbol into a quoted string or flow list: where positions are hard
                let quote = b
                    .iter()
                    .enumerate()
                    .filter(|(_, &c)| c == b'"' || c == b'[')
                    .map(|(i, _)| i);
                let spots: Vec<usize> = quote.collect();
                if !spots.is_empty() {
                    let i = spots[self.below(spots.len())] + 1;
                    let sym = ["<Z>", "<A:65>", "<c9>", "<A.nope>", "<?01>"][self.below(5)];
                    b.splice(i..i, sym.bytes());
                }
                "a symbol inside a string"
            }
            12 => {
                // deep nesting at a value
                let depth = [3, 30, 300, 30_000][self.below(4)];
                let i = self.place(b);
                let (open, close) = if self.below(2) == 0 {
                    ("{a: ", "}")
                } else {
                    ("[", "]")
                };
                let mut nest = open.repeat(depth).into_bytes();
                nest.extend(close.repeat(depth).bytes());
                b.splice(i..i, nest);
                "nest deeply"
            }
            13 => {
                // growth: a line or a token many times (the linear-time check bites here)
                let times = [10, 100, 1_000, 10_000][self.below(4)];
                let unit = if self.below(2) == 0 {
                    let r = self.line_range(b);
                    b[r].to_vec()
                } else {
                    self.token().as_bytes().to_vec()
                };
                let i = self.place(b);
                let grown: Vec<u8> = unit
                    .iter()
                    .copied()
                    .cycle()
                    .take(unit.len() * times)
                    .collect();
                b.splice(i..i, grown);
                "repeat"
            }
            14 => {
                // flow style: `key:\n  a: b` lines folded into `key: {a: b}` is hard to do
                // right blindly; instead turn one block list item into a flow list
                let r = self.line_range(b);
                if let Some(dash) = b[r.clone()].windows(2).position(|w| w == b"- ") {
                    let at = r.start + dash;
                    b.splice(at..at + 2, *b"[");
                    let end = b[at..]
                        .iter()
                        .position(|&c| c == b'\n')
                        .map_or(b.len(), |i| at + i);
                    b.insert(end, b']');
                }
                "block item to flow"
            }
            _ => {
                let i = self.below(b.len() + 1);
                let n = self.below(8);
                let junk: Vec<u8> = (0..n).map(|_| self.rng.next_u32() as u8).collect();
                b.splice(i..i, junk);
                "random bytes"
            }
        }
    }
}

/// What is wrong with the loader's answer to `bytes`, if anything; else whether it loaded.
fn check(bytes: &[u8]) -> Result<bool, String> {
    const PATH: &str = "fuzz.yaml";
    let result = std::panic::catch_unwind(|| scenario::load_bytes(PATH, bytes));
    let err = match result {
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            return Err(format!("panic: {what}"));
        }
        Ok(Ok(_)) => return Ok(true),
        Ok(Err(e)) => e,
    };
    if err.problems.is_empty() {
        return Err("an error with no problem".into());
    }
    // YAML's line breaks: `\n`, `\r\n`, a lone `\r`
    let lines = 1 + bytes
        .iter()
        .enumerate()
        .filter(|&(i, &c)| c == b'\n' || (c == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count();
    for p in &err.problems {
        match (p.line, p.column) {
            (Some(l), Some(c)) if l >= 1 && c >= 1 && l <= lines => {}
            _ => return Err(format!("a problem without a position in the file: {p:?}")),
        }
    }
    for line in err.to_string().lines() {
        let rest = line.strip_prefix("fuzz.yaml:").unwrap_or("");
        let mut parts = rest.splitn(3, ':');
        let ok = parts.next().is_some_and(|l| l.parse::<usize>().is_ok())
            && parts.next().is_some_and(|c| c.parse::<usize>().is_ok())
            && parts.next().is_some_and(|m| m.starts_with(' '));
        if !ok {
            return Err(format!(
                "a shown line that is not `path:line:column: message`: {line:?}"
            ));
        }
    }
    Ok(false)
}

fn best_of(n: usize, bytes: &[u8]) -> Duration {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            let _ = std::panic::catch_unwind(|| scenario::load_bytes("fuzz.yaml", bytes));
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

#[test]
fn fuzz_the_scenario_loader() {
    let cases = env_num("RMISPEC_FUZZ_CASES", 400);
    let budget = Duration::from_secs(env_num("RMISPEC_FUZZ_SECS", 20));
    let seed = env_num("RMISPEC_FUZZ_SEED", 0x0072_6d69_7370_6563);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    yaml_files(&root.join("../scenarios"), &mut files);
    yaml_files(&root.join("tests/fixtures"), &mut files);
    let seeds: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(seeds.len() > 20, "only {} seed files", seeds.len());

    // The median seed's time per byte: the yardstick of linear time.
    let mut per_byte: Vec<f64> = seeds
        .iter()
        .map(|s| best_of(3, s).as_nanos() as f64 / s.len().max(1) as f64)
        .collect();
    per_byte.sort_by(f64::total_cmp);
    let base_ns_per_byte = per_byte[per_byte.len() / 2];
    // A case may take this many times the yardstick per byte, plus a fixed allowance for
    // tiny inputs and a busy machine; a quadratic path on a grown case is far beyond it.
    const SLACK: f64 = 40.0;
    let allowance = Duration::from_millis(50);
    let limit = |len: usize| {
        allowance + Duration::from_nanos((SLACK * base_ns_per_byte * len as f64) as u64)
    };

    // catch_unwind prints each panic; the count and the first finding are what matter here
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));

    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut m = Mutator {
        rng: TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    };
    let started = Instant::now();
    let (mut run, mut loaded, mut refused, mut bytes_total) = (0u64, 0u64, 0u64, 0usize);
    let mut worst = (0.0f64, 0usize);
    let mut findings: Vec<(String, Vec<&'static str>, Vec<u8>)> = Vec::new();
    while run < cases && started.elapsed() < budget {
        run += 1;
        let mut bytes = seeds[m.below(seeds.len())].clone();
        let steps = 1 + m.below(4);
        let applied: Vec<&'static str> = (0..steps).map(|_| m.mutate(&mut bytes)).collect();
        bytes.truncate(scenario::MAX_FILE_BYTES + 16);
        bytes_total += bytes.len();
        let t = Instant::now();
        let verdict = check(&bytes);
        let mut took = t.elapsed();
        if took > limit(bytes.len()) {
            took = best_of(3, &bytes); // a busy machine, or the loader?
        }
        let ratio = took.as_nanos() as f64 / bytes.len().max(1) as f64 / base_ns_per_byte;
        if ratio > worst.0 && bytes.len() > 10_000 {
            worst = (ratio, bytes.len());
        }
        let problem = match verdict {
            Err(e) => Some(e),
            Ok(_) if took > limit(bytes.len()) => Some(format!(
                "not linear: {} bytes took {took:?}, over {:?}",
                bytes.len(),
                limit(bytes.len())
            )),
            Ok(true) => {
                loaded += 1;
                None
            }
            Ok(false) => {
                refused += 1;
                None
            }
        };
        if let Some(p) = problem {
            if findings.len() < 20 {
                findings.push((p, applied, bytes));
            }
        }
    }
    std::panic::set_hook(hook);

    println!(
        "fuzz: {run} cases in {:.1}s (seed {seed}), {} MB in all; {loaded} loaded, {refused} refused; \
         yardstick {base_ns_per_byte:.0} ns/byte; worst case over 10 kB: {:.1}x it per byte ({} bytes); \
         {} findings",
        started.elapsed().as_secs_f64(),
        bytes_total / 1_000_000,
        worst.0,
        worst.1,
        findings.len()
    );
    if !findings.is_empty() {
        let dir = std::env::temp_dir().join(format!("rmispec-fuzz-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let shown: Vec<String> = findings
            .iter()
            .enumerate()
            .map(|(i, (what, applied, bytes))| {
                let path = dir.join(format!("finding-{i}.yaml"));
                let _ = std::fs::write(&path, bytes);
                format!("{what}\n  after {applied:?}, in {}", path.display())
            })
            .collect();
        panic!("{} findings:\n{}", findings.len(), shown.join("\n"));
    }
    assert!(run >= cases.min(50), "only {run} cases ran in {budget:?}");
}
