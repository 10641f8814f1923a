//! A live fuzz campaign, small: generated cases on the engines `RMISPEC_LIVE` names, each
//! compared with the model. Ignored unless asked for (`--ignored`); asked for, an engine that
//! cannot start fails, and so does a case that could not run.
//!
//! ```sh
//! RMISPEC_LIVE=docker-classic@28.5 cargo test -p rmispec --features live-docker,live-cri,live-podman \
//!   --test live_fuzz -- --ignored --nocapture
//! ```
#![cfg(feature = "live")]

use rmispec::fuzz::{campaign, Judge, Limit, Options};
use rmispec::live::LiveOptions;
use rmispec_model::Profile;

#[test]
#[ignore = "needs a live engine: set RMISPEC_LIVE=<profile ids> and pass --ignored"]
fn a_small_campaign_runs_live_and_every_case_is_judged() {
    let v = std::env::var("RMISPEC_LIVE").unwrap_or_default();
    let profiles: Vec<Profile> = if v.trim() == "all" {
        Profile::live().collect()
    } else {
        v.split(',')
            .filter_map(|i| Profile::from_id(i.trim()))
            .collect()
    };
    assert!(
        !profiles.is_empty(),
        "RMISPEC_LIVE names no live profile: set it (e.g. docker-classic@28.5, or all) to run this --ignored test"
    );
    for profile in profiles {
        let backend = rmispec::live::connect(profile, &LiveOptions::default())
            .unwrap_or_else(|e| panic!("starting {profile}: {e:#}"));
        let mut judge = Judge::new(backend);
        let summary = campaign::run(&mut judge, &[], &Options::new(11, Limit::Cases(20)))
            .expect("the campaign runs");
        eprint!("{}", summary.text());
        assert_eq!(summary.cases, 20);
        assert_eq!(summary.errors, 0, "{}", summary.text());
        assert_eq!(
            summary.agreed + summary.disagreements + summary.unsupported,
            20,
            "every case is judged"
        );
        assert!(summary.agreed > 0, "some case agrees: {}", summary.text());
    }
}
