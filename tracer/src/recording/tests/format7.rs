//! Format 7 in whole files: recordings of the format-7 release read unchanged, their forks
//! without their creator's chain, and recorded again in format 8 they come back the same.

use super::*;
use crate::event::Detail;

/// A recording made by the release that wrote format version 7 (`tracer run` of a shell that
/// runs `true` and a subshell, then exits with 3), and that release's `tracer replay --json` of it.
const V7_FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v7-run.rec");
const V7_FIXTURE_JSON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v7-run.json");

#[test]
fn version_7_recordings_replay_as_their_release_printed_them() {
    let events = replayed_as_printed(V7_FIXTURE, V7_FIXTURE_JSON, 7, 4);
    let (mut forks, mut chains) = (0, 0);
    for event in &events {
        match &event.detail {
            Detail::Fork { ancestors, ancestors_truncated, .. } => {
                assert!(ancestors.is_empty() && !ancestors_truncated, "format 7 forks have no chain");
                forks += 1;
            }
            Detail::Exec { ancestors, .. } | Detail::Exit { ancestors, .. } => {
                assert!(!ancestors.is_empty(), "{event:?}");
                assert!(ancestors.iter().all(|ancestor| ancestor.start_ns.is_some()), "{ancestors:?}");
                chains += 1;
            }
            _ => {}
        }
    }
    assert_eq!((forks, chains), (1, 3), "one fork, one exec and two exits");
    recorded_again(&events);
}
