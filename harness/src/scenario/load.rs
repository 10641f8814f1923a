//! Reading scenario files, and reporting what is wrong with them where it is.

use super::expect::{Divergence, Expect, Target};
use super::{validate, Given, Scenario, When};
use indexmap::IndexMap;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// A scenario file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    pub summary: String,
    #[serde(default)]
    pub notes: Option<String>,
    pub given: Given,
    pub when: When,
    pub expect: Expect,
    #[serde(default)]
    pub divergence: IndexMap<Target, Divergence>,
}

/// One thing wrong with a file, where it is (1-based; column of the key or value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The line, when known.
    pub line: Option<usize>,
    /// The column, when known.
    pub column: Option<usize>,
    /// What is wrong, and what was expected.
    pub message: String,
}

impl Problem {
    pub(super) fn at(location: Option<(usize, usize)>, message: impl Into<String>) -> Problem {
        Problem {
            line: location.map(|l| l.0),
            column: location.map(|l| l.1),
            message: message.into(),
        }
    }
}

/// Why a scenario file could not be loaded: every problem found in it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it, in file order where known.
    pub problems: Vec<Problem>,
}

impl fmt::Display for LoadError {
    /// One line per problem: `path:line:column: message`, like a compiler.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.path.display())?;
            if let Some(line) = p.line {
                write!(f, ":{line}")?;
                if let Some(col) = p.column {
                    write!(f, ":{col}")?;
                }
            }
            write!(f, ": {}", p.message)?;
        }
        Ok(())
    }
}

/// Every file of a directory that failed to load.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Loads and checks one scenario file. Its name is its path below the nearest ancestor
/// directory called `scenarios` (else its file stem), without `.yaml`.
pub fn load(path: impl AsRef<Path>) -> Result<Scenario, LoadError> {
    let path = path.as_ref();
    let name = path
        .ancestors()
        .skip(1)
        .find(|a| a.file_name().is_some_and(|n| n == "scenarios"))
        .and_then(|root| scenario_name(root, path))
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    load_named(path, name)
}

/// Loads every `*.yaml` below `root`, sorted by name. Fails with every file's problems,
/// not just the first file's.
pub fn load_dir(root: impl AsRef<Path>) -> Result<Vec<Scenario>, LoadErrors> {
    let root = root.as_ref();
    let mut files = Vec::new();
    let mut errors = Vec::new();
    walk(root, &mut files, &mut errors);
    let mut scenarios = Vec::new();
    for file in files {
        let name = scenario_name(root, &file).unwrap_or_default();
        match load_named(&file, name) {
            Ok(s) => scenarios.push(s),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        scenarios.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(scenarios)
    } else {
        errors.sort_by(|a, b| a.path.cmp(&b.path));
        Err(LoadErrors(errors))
    }
}

fn scenario_name(root: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root).ok()?.with_extension("");
    let parts: Vec<_> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<LoadError>) {
    let io_error = |e: std::io::Error| LoadError {
        path: dir.to_owned(),
        problems: vec![Problem::at(None, format!("cannot read: {e}"))],
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>(),
        Err(e) => Err(e),
    };
    let mut entries = match entries {
        Ok(e) => e,
        Err(e) => return errors.push(io_error(e)),
    };
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, files, errors);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            files.push(path);
        } else if path.extension().is_some_and(|e| e == "yml") {
            errors.push(LoadError {
                path,
                problems: vec![Problem::at(
                    None,
                    "scenario files end in `.yaml`, not `.yml`",
                )],
            });
        }
    }
}

fn load_named(path: &Path, name: String) -> Result<Scenario, LoadError> {
    let fail = |problems| LoadError {
        path: path.to_owned(),
        problems,
    };
    let source = std::fs::read_to_string(path)
        .map_err(|e| fail(vec![Problem::at(None, format!("cannot read: {e}"))]))?;
    let file: File = serde_norway::from_str(&source).map_err(|e| fail(vec![from_yaml(&e)]))?;
    let problems = validate::validate(&file, &source);
    if !problems.is_empty() {
        return Err(fail(problems));
    }
    Ok(Scenario {
        name,
        path: path.to_owned(),
        summary: file.summary,
        notes: file.notes,
        given: file.given,
        when: file.when,
        expect: file.expect,
        divergence: file.divergence,
    })
}

/// A serde_norway error as a [`Problem`]: its location, and its message without the
/// ` at line L column C` it appends (the location is printed in front instead).
fn from_yaml(e: &serde_norway::Error) -> Problem {
    let text = e.to_string();
    match e.location() {
        Some(loc) => {
            let suffix = format!(" at line {} column {}", loc.line(), loc.column());
            let message = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
            Problem::at(Some((loc.line(), loc.column())), message)
        }
        None => Problem::at(None, text),
    }
}

/// The line and column of the key at `keys` (a path of block-mapping keys from the top),
/// found again in the source text: serde keeps no locations once a value is parsed. When a
/// key is not found (flow style, or absent), the deepest key found stands in for it.
pub(super) fn locate(source: &str, keys: &[&str]) -> Option<(usize, usize)> {
    let lines: Vec<&str> = source.lines().collect();
    let mut start = 0;
    let mut parent_indent: Option<usize> = None;
    let mut found: Option<(usize, usize)> = None;
    for key in keys {
        let mut hit = None;
        for (i, line) in lines.iter().enumerate().skip(start) {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = line.len() - trimmed.len();
            if parent_indent.is_some_and(|p| indent <= p) {
                break;
            }
            if key_at(trimmed, key) {
                hit = Some((i, indent));
                break;
            }
        }
        match hit {
            Some((i, indent)) => {
                found = Some((i + 1, indent + 1));
                start = i + 1;
                parent_indent = Some(indent);
            }
            None => {
                // flow style (`A: {tags: [...]}`): look on the parent's line
                if let Some((line, _)) = found {
                    let text = lines[line - 1];
                    if let Some(col) = [format!("{key}:"), format!("\"{key}\":")]
                        .iter()
                        .find_map(|k| text.find(k.as_str()))
                    {
                        found = Some((line, col + 1));
                    }
                }
                break;
            }
        }
    }
    found
}

fn key_at(trimmed: &str, key: &str) -> bool {
    [
        format!("{key}:"),
        format!("\"{key}\":"),
        format!("'{key}':"),
    ]
    .iter()
    .any(|k| {
        trimmed
            .strip_prefix(k.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
    })
}

#[cfg(test)]
mod tests {
    use super::locate;

    #[test]
    fn locates_nested_keys() {
        let src = "summary: s\ngiven:\n  images:\n    A:\n      tags: [x]\n    B: {parent: Z}\nwhen:\n  rmi: x\n";
        assert_eq!(locate(src, &["given", "images", "A", "tags"]), Some((5, 7)));
        assert_eq!(
            locate(src, &["given", "images", "B", "parent"]),
            Some((6, 9))
        );
        assert_eq!(locate(src, &["when", "rmi"]), Some((8, 3)));
        // a key absent from its block does not match a later block's key
        assert_eq!(locate(src, &["given", "rmi"]), Some((2, 1)));
    }
}
