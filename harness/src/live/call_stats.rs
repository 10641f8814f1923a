//! How long each kind of API call took, for `RMISPEC_TIMINGS`: the Docker and libpod clients
//! record every call under its endpoint, and the backend prints the table when the engine
//! stops. Where an engine's time goes (a load, a commit, a container start) is what decides
//! what to make faster, so the clients count it rather than guess.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::time::Duration;

/// Every call's duration, by endpoint (`POST /libpod/images/load`).
#[derive(Debug, Default)]
pub struct CallStats {
    per_call: RefCell<BTreeMap<String, Vec<Duration>>>,
    /// The time of every call since [`take_time`](Self::take_time) last ran.
    untaken: Cell<Duration>,
}

impl CallStats {
    /// Counts one call to `what` that took `took`.
    pub fn record(&self, what: &str, took: Duration) {
        self.untaken.set(self.untaken.get() + took);
        let mut per_call = self.per_call.borrow_mut();
        match per_call.get_mut(what) {
            Some(v) => v.push(took),
            None => {
                per_call.insert(what.to_owned(), vec![took]);
            }
        }
    }

    /// The time spent waiting on the engine since the last call of this method (the
    /// backend's `engine API` time, the rest of a scenario's being the harness's).
    pub fn take_time(&self) -> Duration {
        self.untaken.replace(Duration::ZERO)
    }

    /// The endpoint of a call to `path` (its query dropped, every segment that names
    /// something, an ID, a name or the API version, shown as `{}`), so that calls on
    /// different images count as one endpoint.
    pub fn endpoint(method: &str, path: &str) -> String {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        let segments: Vec<&str> = path
            .split('/')
            .map(|s| {
                let verb =
                    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_lowercase());
                if verb || s.is_empty() {
                    s
                } else {
                    "{}"
                }
            })
            .collect();
        format!("{method} {}", segments.join("/"))
    }

    /// One line per endpoint: how many calls, their median and their total, the endpoint
    /// with the largest total first.
    pub fn lines(&self) -> Vec<String> {
        let per_call = self.per_call.borrow();
        let mut rows: Vec<(&str, usize, Duration, Duration)> = per_call
            .iter()
            .map(|(what, v)| {
                let mut v = v.clone();
                v.sort();
                (what.as_str(), v.len(), v[v.len() / 2], v.iter().sum())
            })
            .collect();
        rows.sort_by(|a, b| b.3.cmp(&a.3).then(a.0.cmp(b.0)));
        rows.into_iter()
            .map(|(what, n, median, total)| {
                format!("{what:<34} {n:>5} calls, median {median:>10.2?}, total {total:>9.2?}")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_put_the_largest_total_first_with_count_and_median() {
        let stats = CallStats::default();
        let ms = Duration::from_millis;
        stats.record("GET /a", ms(1));
        stats.record("POST /b", ms(10));
        stats.record("POST /b", ms(30));
        stats.record("POST /b", ms(20));
        let lines = stats.lines();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("POST /b"), "{lines:?}");
        assert!(
            lines[0].contains("3 calls, median    20.00ms, total   60.00ms"),
            "{lines:?}"
        );
        assert!(lines[1].starts_with("GET /a"), "{lines:?}");
        assert_eq!(stats.take_time(), ms(61));
        assert_eq!(stats.take_time(), Duration::ZERO);
    }

    #[test]
    fn an_endpoint_hides_what_its_path_names() {
        assert_eq!(
            CallStats::endpoint("POST", "/v4.0.0/libpod/images/localhost%2Fapp:1/tag?repo=x"),
            "POST /{}/libpod/images/{}/tag"
        );
        assert_eq!(
            CallStats::endpoint(
                "POST",
                &format!("/v4.0.0/libpod/containers/{}/start", "ab".repeat(32))
            ),
            "POST /{}/libpod/containers/{}/start"
        );
        assert_eq!(CallStats::endpoint("GET", "/_ping"), "GET /{}");
    }
}
