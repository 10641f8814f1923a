//! What is wrong with a scenario file, and where: what the loader and the validator report.

use std::fmt;
use std::path::PathBuf;

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

/// The most distinct problems reported for one file; the rest are counted in one line. A
/// file with a problem in each of its 300,000 strings is reported in 51 lines.
pub const MAX_PROBLEMS: usize = 50;
