//! Reading scenario files, and reporting what is wrong with them where it is.

use super::file::File;
use super::problem::{LoadError, LoadErrors, Problem};
use super::{spans, validate, Parallel, Scenario};
use std::path::{Path, PathBuf};

/// The largest scenario file the loader reads. A hand-written scenario is a few KB; this
/// leaves a thousandfold room and bounds the work one file can cause (loading is linear in
/// the size, a few milliseconds per MiB).
pub const MAX_FILE_BYTES: usize = 4 << 20;

/// The deepest nesting of mappings and sequences a scenario may have. The format needs 6
/// (`expect` › `default` › `after` › `images` › `A` › names); the limit stops a file of
/// 100,000 nested maps in microseconds instead of letting it recurse.
pub const MAX_DEPTH: usize = 24;

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
/// not just the first file's. A folder with no scenario is an error (a typo in a path must
/// not pass as "nothing to check"), and so is a folder reached twice (a symlink loop such as
/// `self -> .`, or two links to one folder): each directory and file is read once.
pub fn load_dir(root: impl AsRef<Path>) -> Result<Vec<Scenario>, LoadErrors> {
    let root = root.as_ref();
    let mut walk = Walk::default();
    walk.dir(root);
    let Walk {
        files, mut errors, ..
    } = walk;
    if files.is_empty() && errors.is_empty() {
        errors.push(LoadError {
            path: root.to_owned(),
            problems: vec![Problem::at(
                None,
                "no scenario in this folder: expected `*.yaml` files in it or below it",
            )],
        });
    }
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

/// The walk of a scenarios folder: the files found, and every directory and file already
/// seen (by canonical path, which resolves symlinks) with the path it was first seen at.
#[derive(Default)]
struct Walk {
    files: Vec<PathBuf>,
    errors: Vec<LoadError>,
    seen: std::collections::HashMap<PathBuf, PathBuf>,
}

impl Walk {
    /// Whether `path` is new; if it is not, says where it was seen first.
    fn first_visit(&mut self, path: &Path, what: &str) -> bool {
        let canonical = match std::fs::canonicalize(path) {
            Ok(c) => c,
            Err(e) => {
                self.error(path, format!("cannot read: {e}"));
                return false;
            }
        };
        if let Some(first) = self.seen.get(&canonical) {
            let message = format!(
                "this {what} is `{}` again, already read as `{}` (a symlink loop or a second \
                 link): every {what} is read once",
                canonical.display(),
                first.display()
            );
            self.error(path, message);
            return false;
        }
        self.seen.insert(canonical, path.to_owned());
        true
    }

    fn error(&mut self, path: &Path, message: String) {
        self.errors.push(LoadError {
            path: path.to_owned(),
            problems: vec![Problem::at(None, message)],
        });
    }

    fn dir(&mut self, dir: &Path) {
        if !self.first_visit(dir, "folder") {
            return;
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<Vec<_>, _>>(),
            Err(e) => Err(e),
        };
        let mut entries = match entries {
            Ok(e) => e,
            Err(e) => return self.error(dir, format!("cannot read: {e}")),
        };
        entries.sort();
        for path in entries {
            if path.is_dir() {
                self.dir(&path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                if self.first_visit(&path, "file") {
                    self.files.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "yml") {
                self.error(
                    &path,
                    "scenario files end in `.yaml`, not `.yml`".to_owned(),
                );
            }
        }
    }
}

/// The parser's options: its budget holds [`MAX_DEPTH`] (and saphyr's own limits on events,
/// aliases and anchors, so an alias bomb stops too); duplicate keys are errors (two images
/// `A` would silently keep one); only `true`/`false` are booleans.
pub(super) fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    // one more than the depth, so that the depth budget (with its clear message) trips first
    budget.flow_nesting_limit = 2 * MAX_DEPTH;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    options.strict_booleans = true;
    options.with_snippet = false;
    options
}

/// The options of the untyped parse that finds positions: the same limits, but duplicate
/// keys kept, so that the positions of a file the typed parse refused for one are known.
fn span_options() -> serde_saphyr::Options {
    let mut options = yaml_options();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    options
}

/// Reads at most [`MAX_FILE_BYTES`] (and one more, to tell that there are more) of a regular
/// file: a FIFO or a device named `*.yaml` would block or never end.
fn read_bounded(path: &Path) -> Result<Vec<u8>, Problem> {
    use std::io::Read;
    let meta =
        std::fs::metadata(path).map_err(|e| Problem::at(None, format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(Problem::at(
            None,
            "not a regular file: a scenario is a file of YAML text",
        ));
    }
    let file =
        std::fs::File::open(path).map_err(|e| Problem::at(None, format!("cannot read: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Problem::at(None, format!("cannot read: {e}")))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(too_large(&bytes));
    }
    Ok(bytes)
}

/// A file past [`MAX_FILE_BYTES`], placed at its first byte past the limit.
fn too_large(bytes: &[u8]) -> Problem {
    Problem::at(
        Some(spans::pos_in_bytes(bytes, MAX_FILE_BYTES)),
        format!(
            "the file is larger than {} MiB, the most a scenario may be ({MAX_FILE_BYTES} bytes; \
             this is the first byte past it): a scenario is a few KB",
            MAX_FILE_BYTES >> 20
        ),
    )
}

/// `bytes` as text; invalid UTF-8 fails at the line and column of the first bad byte.
fn utf8(bytes: Vec<u8>) -> Result<String, Problem> {
    String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error();
        let offset = bad.valid_up_to();
        let bytes = e.as_bytes();
        let at = spans::pos_in_bytes(bytes, offset);
        let len = bad.error_len().unwrap_or(bytes.len() - offset);
        let shown: Vec<String> = bytes[offset..offset + len.min(4)]
            .iter()
            .map(|b| format!("0x{b:02x}"))
            .collect();
        Problem::at(
            Some(at),
            format!(
                "invalid UTF-8 (byte offset {offset}: {}): scenario files are UTF-8 text",
                shown.join(" ")
            ),
        )
    })
}

fn load_named(path: &Path, name: String) -> Result<Scenario, LoadError> {
    let bytes = read_bounded(path).map_err(|p| LoadError {
        path: path.to_owned(),
        problems: vec![p],
    })?;
    from_bytes(path, name, bytes)
}

/// Checks `bytes` as the scenario file `path` (named as [`load`] names it), without reading
/// the file: for tests and the loader's fuzzer, which make thousands of files a second.
pub fn load_bytes(
    path: impl AsRef<Path>,
    bytes: impl Into<Vec<u8>>,
) -> Result<Scenario, LoadError> {
    let path = path.as_ref();
    let bytes = bytes.into();
    if bytes.len() > MAX_FILE_BYTES {
        return Err(LoadError {
            path: path.to_owned(),
            problems: vec![too_large(&bytes)],
        });
    }
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    from_bytes(path, name, bytes)
}

fn from_bytes(path: &Path, name: String, bytes: Vec<u8>) -> Result<Scenario, LoadError> {
    let fail = |problems| LoadError {
        path: path.to_owned(),
        problems,
    };
    let source = utf8(bytes).map_err(|p| fail(vec![p]))?;
    let file: File = serde_saphyr::from_str_with_options(&source, yaml_options())
        .map_err(|e| fail(vec![from_yaml(&e, &source)]))?;
    let spans = spans::Spans::new(&source, span_options());
    let problems = validate::validate(&file, &spans);
    if !problems.is_empty() {
        return Err(fail(problems));
    }
    let mut steps = file
        .steps()
        .into_iter()
        .map(std::borrow::Cow::into_owned)
        .collect::<Vec<_>>()
        .into_iter();
    let first = steps.next().unwrap_or_default();
    Ok(Scenario {
        name,
        path: path.to_owned(),
        summary: file.summary,
        notes: file.notes,
        given: file.given,
        when: first.when,
        expect: first.expect,
        then: steps.collect(),
        parallel: file.parallel.map(|requests| Parallel {
            requests,
            runs: file.runs.unwrap_or(Parallel::DEFAULT_RUNS),
        }),
        divergence: file.divergence,
    })
}

/// A parser error as a [`Problem`]: its position (the start of the file when the parser
/// knows none: every problem has one), and its message without the position saphyr puts in
/// front, since ours is printed there instead. Budget breaches get the scenario's own words.
fn from_yaml(e: &serde_saphyr::Error, src: &str) -> Problem {
    let e = e.without_snippet();
    let at = e.location().as_ref().and_then(spans::to_pos);
    let message = match e {
        serde_saphyr::Error::Budget { breach, .. } => budget_message(breach),
        serde_saphyr::Error::MultipleDocuments { .. } => {
            "a second YAML document (after `---`): a scenario file holds one".to_owned()
        }
        serde_saphyr::Error::DuplicateMappingKey { key: Some(k), .. } => {
            format!("duplicate key `{k}`: a key appears once in a mapping")
        }
        // the parser's own nesting limit, should it trip first
        _ if e.to_string().starts_with("recursion limit exceeded") => {
            budget_message(&serde_saphyr::budget::BudgetBreach::Depth { depth: MAX_DEPTH })
        }
        _ => strip_location(&e.to_string()),
    };
    // the path of the value it is about, as context (`expect.default.status: invalid status`)
    let message = match at.and_then(|at| spans::Spans::new(src, span_options()).path_at(at)) {
        Some(path) => format!("{path}: {message}"),
        None => message,
    };
    let at = at.or_else(|| {
        // saphyr knows no position for a few errors (the end of the input): the end is it
        (!src.is_empty()).then(|| spans::pos_in(src, &spans::line_starts(src), src.len()))
    });
    Problem::at(Some(at.unwrap_or((1, 1))), message)
}

fn budget_message(breach: &serde_saphyr::budget::BudgetBreach) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    match breach {
        B::Depth { .. } => format!(
            "nested deeper than {MAX_DEPTH} levels of mappings and sequences: a scenario needs 6 \
             (`expect` > `default` > `after` > `images` > `A` > names)"
        ),
        other => {
            format!("beyond the loader's limits ({other:?}): a scenario is a few KB of plain YAML")
        }
    }
}

/// A saphyr message without the position it puts in front (`line L column C: `) or at the
/// end (` at line L, column C`).
fn strip_location(text: &str) -> String {
    let text = text.strip_prefix("error: ").unwrap_or(text);
    let text = match text.rfind(" at line ") {
        Some(i)
            if text[i + 9..]
                .split_once(", column ")
                .is_some_and(|(l, c)| l.bytes().chain(c.bytes()).all(|b| b.is_ascii_digit())) =>
        {
            &text[..i]
        }
        _ => text,
    };
    let rest = text
        .strip_prefix("line ")
        .and_then(|r| r.split_once(" column "))
        .and_then(|(l, r)| {
            l.bytes()
                .all(|b| b.is_ascii_digit())
                .then_some(r)?
                .split_once(": ")
        })
        .map(|(_, m)| m);
    rest.unwrap_or(text).trim().to_owned()
}
#[cfg(test)]
mod tests {
    use super::*;
    use rmispec_model::Platform;

    #[test]
    fn deep_nesting_breaches_the_depth_budget_with_a_clear_message() {
        // The typed parse stops at the first value of the wrong type, so the budget guards
        // the untyped parses (positions, context): 100,000 nested maps would recurse.
        let deep = format!("{}{}", "{a: ".repeat(100_000), "}".repeat(100_000));
        let e = serde_saphyr::from_str_with_options::<serde::de::IgnoredAny>(&deep, yaml_options())
            .unwrap_err();
        let p = from_yaml(&e, &deep);
        assert!(
            p.message.starts_with("nested deeper than 24 levels"),
            "{p:?}"
        );
        assert_eq!(p.line, Some(1));
        let spans = spans::Spans::new(&deep, span_options());
        assert_eq!(spans.key(&["a", "a"]), (1, 1), "no tree, no overflow");
    }

    #[test]
    fn multi_platform_images_are_checked_where_they_are_written() {
        let file = |image: &str| {
            format!(
                "summary: s\ngiven:\n  images:\n    A:\n      tags: [localhost/app:1]\n{image}\
                 when:\n  rmi: localhost/app:1\nexpect:\n  default:\n    skip: no\n"
            )
        };
        let err = |image: &str| {
            load_bytes("platforms/x.yaml", file(image))
                .unwrap_err()
                .to_string()
        };
        let ok = load_bytes(
            "platforms/x.yaml",
            file("      platforms: [linux/amd64, linux/arm64]\n      content: [linux/amd64]\n"),
        )
        .expect("a valid multi-platform image");
        let a = &ok.given.images["A"];
        assert!(a.is_multi_platform());
        assert_eq!(a.content(), vec![Platform::linux_amd64()]);
        let bad = err("      platforms: [linux/amd64, Linux/arm64]\n");
        assert!(
            bad.starts_with("platforms/x.yaml:6:")
                && bad.contains("given.images.A.platforms: invalid platform \"Linux/arm64\""),
            "{bad}"
        );
        let bad =
            err("      platforms: [linux/amd64, linux/arm64]\n      content: [linux/arm/v7]\n");
        assert!(
            bad.starts_with("platforms/x.yaml:7:")
                && bad.contains(
                    "`content` names `linux/arm/v7`, which is not one of the image's `platforms`"
                ),
            "{bad}"
        );
        let bad = err("      platforms: [linux/arm64]\n");
        assert!(bad.contains("must hold `linux/amd64`"), "{bad}");
        let bad = err("      content: [linux/amd64]\n");
        assert!(bad.contains("list its `platforms` too"), "{bad}");
    }

    #[test]
    fn strips_saphyr_positions() {
        assert_eq!(
            strip_location("expected x at line 2, column 8"),
            "expected x"
        );
        assert_eq!(strip_location("line 1 column 3: bad"), "bad");
        assert_eq!(strip_location("a at line one"), "a at line one");
    }
}
