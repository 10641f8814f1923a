//! What the user asked for.

use crate::platform::Platform;

/// A remove request, as the user types it.
///
/// `names` are the strings exactly as typed (tag, short name, full or short ID, `sha256:` ID,
/// digest reference). Engines whose API takes one name per call (Docker, CRI) are driven the
/// way their CLI drives them: one call per name, in order, errors collected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The names, in the order given. May be empty only with `all`.
    pub names: Vec<String>,
    /// `--force` / `force=1`. CRI has no force; it is ignored there.
    pub force: bool,
    /// Prune untagged parents (the default); `--no-prune` / `noprune=1` turns it off.
    pub prune: bool,
    /// libimage `--ignore`: names that are not found are skipped silently.
    pub ignore: bool,
    /// libimage `--all`: remove every image.
    pub all: bool,
    /// Docker 28.2+'s image delete `platforms` option (API 1.50+; one `platforms=` query
    /// value each): the platform content to delete instead of the image. Empty: none.
    /// Engines and versions without it never see it (see each engine module).
    pub platforms: Vec<Platform>,
}

impl Request {
    /// A plain request for one name: no force, prune on.
    pub fn name(name: impl Into<String>) -> Self {
        Request {
            names: vec![name.into()],
            force: false,
            prune: true,
            ignore: false,
            all: false,
            platforms: Vec::new(),
        }
    }

    /// The same request with `--force`.
    pub fn forced(mut self) -> Self {
        self.force = true;
        self
    }
}
