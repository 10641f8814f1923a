//! How a live engine returns to an empty store between scenarios: the two ways every adapter
//! offers, chosen per engine by measurement (each adapter's `DEFAULT_RESET` says what was
//! measured) and overridable from the environment.

use anyhow::bail;

/// How a live engine returns to empty between scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reset {
    /// Remove the containers, then the images, through the engine's own API.
    Api,
    /// Remove the containers through the API, stop the daemons, unmount, wipe their roots,
    /// start again: also drops whatever the API does not show (build cache, dangling
    /// content, snapshots). Sandboxed engines only.
    FreshRoot,
}

impl Reset {
    /// From the environment variable `var` (`api` or `fresh-root`), else `default`.
    pub fn from_env(var: &str, default: Reset) -> anyhow::Result<Reset> {
        match std::env::var(var).ok().as_deref() {
            None | Some("") => Ok(default),
            Some("api") => Ok(Reset::Api),
            Some("fresh-root") => Ok(Reset::FreshRoot),
            Some(other) => bail!("{var}={other:?}: expected `api` or `fresh-root`"),
        }
    }
}
