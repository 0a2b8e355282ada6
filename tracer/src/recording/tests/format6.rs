//! Format 6 in whole files: recordings of the format-6 release read unchanged, their ancestors
//! without start times, and recorded again in format 7 they come back the same.

use super::*;
use crate::event::Detail;

/// A recording made by the release that wrote format version 6 (`tracer run` of a shell that
/// runs `true` and a subshell, then exits with 3), and that release's `tracer replay --json` of it.
const V6_FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v6-run.rec");
const V6_FIXTURE_JSON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v6-run.json");

#[test]
fn version_6_recordings_replay_as_their_release_printed_them() {
    let events = replayed_as_printed(V6_FIXTURE, V6_FIXTURE_JSON, 6, 4);
    let chains: Vec<_> = events
        .iter()
        .filter_map(|event| match &event.detail {
            Detail::Exec { ancestors, ancestors_truncated, .. }
            | Detail::Exit { ancestors, ancestors_truncated, .. } => Some((ancestors.clone(), *ancestors_truncated)),
            _ => None,
        })
        .collect();
    assert_eq!(chains.len(), 3, "one exec and two exits");
    for (chain, cut) in &chains {
        assert!(!chain.is_empty() && !cut);
        assert!(chain.iter().all(|ancestor| ancestor.start_ns.is_none()), "{chain:?}");
    }
    assert!(events.iter().all(|event| event.start_ns.is_some()), "format 6 has process starts");
    recorded_again(&events);
}
