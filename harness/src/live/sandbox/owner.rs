//! Owner records: what proves that a directory, or a process, is the harness's own.
//!
//! A state directory gets `.rmispec-owner` the moment the harness takes it: the PID and start
//! time (`/proc/<pid>/stat` field 22) of the rmispec process that uses it, and rmispec's
//! version. Each daemon started in it gets `run/<name>.pid`: its PID, start time, and the
//! tracking cgroup it was put in. A later run trusts these files and nothing else: it kills
//! the processes they name (if the PID still has the recorded start time) and the members of
//! the cgroups they name, and only when the owner they name is dead.

use super::process::{same_process_alive, start_time};
use anyhow::Context;
use std::fs;
use std::path::{Path, PathBuf};

/// The owner record's file name, in the state directory.
pub const OWNER_FILE: &str = ".rmispec-owner";

/// The first line of every record: what says the file is rmispec's (not a file of the same
/// name someone else wrote).
const MAGIC: &str = "rmispec-owner 1";

/// Which process owns a state directory (or a daemon record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Its PID.
    pub pid: i32,
    /// Its start time, clock ticks since boot.
    pub start: u64,
    /// The rmispec version that wrote the record.
    pub version: String,
}

impl Owner {
    /// This process.
    pub fn me() -> Owner {
        let pid = std::process::id() as i32;
        Owner {
            pid,
            start: start_time(pid).unwrap_or(0),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    /// Whether it is this process.
    pub fn is_me(&self) -> bool {
        let me = Owner::me();
        self.pid == me.pid && self.start == me.start
    }

    /// Whether it still runs (same PID, same start time).
    pub fn alive(&self) -> bool {
        same_process_alive(self.pid, self.start)
    }

    /// Reads the record in `dir`: `Ok(None)` if there is none, an error if there is a file of
    /// that name that is not an rmispec record.
    pub fn read(dir: &Path) -> anyhow::Result<Option<Owner>> {
        let path = dir.join(OWNER_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Record::parse(&text)
            .and_then(|r| {
                Some(Owner {
                    pid: r.get("pid")?.parse().ok()?,
                    start: r.get("start")?.parse().ok()?,
                    version: r.get("version").unwrap_or("").to_owned(),
                })
            })
            .map(Some)
            .with_context(|| format!("{} is not an rmispec owner record", path.display()))
    }

    /// Writes this record into `dir` (atomically: a crash leaves the old record or the new).
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let text = format!(
            "{MAGIC}\npid {}\nstart {}\nversion {}\n",
            self.pid, self.start, self.version
        );
        write_atomic(&dir.join(OWNER_FILE), &text)
    }
}

/// A daemon's record, `run/<name>.pid`: what a later run needs to stop it if this one dies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonRecord {
    /// The daemon's PID (also its process group).
    pub pid: i32,
    /// Its start time, clock ticks since boot.
    pub start: u64,
    /// The tracking cgroup it and its descendants were put in, if any.
    pub cgroup: Option<PathBuf>,
}

impl DaemonRecord {
    /// Writes it to `path`.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let mut text = format!("{MAGIC}\npid {}\nstart {}\n", self.pid, self.start);
        if let Some(c) = &self.cgroup {
            text.push_str(&format!("cgroup {}\n", c.display()));
        }
        write_atomic(path, &text)
    }

    /// Reads the record at `path`, if it is one.
    pub fn read(path: &Path) -> Option<DaemonRecord> {
        let text = fs::read_to_string(path).ok()?;
        let r = Record::parse(&text)?;
        Some(DaemonRecord {
            pid: r.get("pid")?.parse().ok()?,
            start: r.get("start")?.parse().ok()?,
            cgroup: r.get("cgroup").map(PathBuf::from),
        })
    }

    /// Every daemon record in `<dir>/run/`.
    pub fn all_in(dir: &Path) -> Vec<DaemonRecord> {
        let Ok(entries) = fs::read_dir(dir.join("run")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".pid"))
            .filter_map(|e| DaemonRecord::read(&e.path()))
            .collect()
    }
}

/// `key value` lines after the magic line.
struct Record(Vec<(String, String)>);

impl Record {
    fn parse(text: &str) -> Option<Record> {
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        Some(Record(
            lines
                .filter_map(|l| l.split_once(' '))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        ))
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn write_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_foreign_files_are_not_records() {
        let dir = std::env::temp_dir().join(format!("rmispec-owner-test-{}", std::process::id()));
        fs::create_dir_all(dir.join("run")).unwrap();
        assert_eq!(Owner::read(&dir).unwrap(), None);
        let me = Owner::me();
        me.write(&dir).unwrap();
        let back = Owner::read(&dir).unwrap().unwrap();
        assert_eq!(back, me);
        assert!(back.alive() && back.is_me());
        let dead = Owner {
            start: me.start + 1,
            ..me.clone()
        };
        assert!(!dead.alive(), "a reused PID is not the same process");
        fs::write(dir.join(OWNER_FILE), "pid 1\n").unwrap();
        assert!(Owner::read(&dir).is_err());
        let d = DaemonRecord {
            pid: 7,
            start: 9,
            cgroup: Some("/sys/fs/cgroup/pids/x".into()),
        };
        d.write(&dir.join("run/x.pid")).unwrap();
        assert_eq!(DaemonRecord::all_in(&dir), vec![d]);
        fs::remove_dir_all(dir).unwrap();
    }
}
