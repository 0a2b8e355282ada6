//! Format 4's ancestor chains in whole files: written once per stretch, what damage costs, and
//! recordings of the format-3 release read unchanged.

use super::*;
use crate::event::{Ancestor, Ancestors, Detail};

/// Exits of `n` threads of one process, all with the same chain.
fn thread_exits(n: usize) -> Vec<Event> {
    let chain: Ancestors = (0..6)
        .map(|level| Ancestor {
            tgid: 900 - level,
            start_ns: Some(u64::from(level) * 1_000_000),
            comm: format!("parent-{level}").into(),
            exe: Some(format!("/usr/libexec/some/long/path/parent-{level}").into()),
        })
        .collect();
    (0..n)
        .map(|i| {
            let mut event = crate::event::test_event(4242, 5000 + i as u32, "worker", Detail::exit(0, false, 9));
            if let Detail::Exit { ancestors, .. } = &mut event.detail {
                *ancestors = chain.clone();
            }
            event
        })
        .collect()
}

#[test]
fn a_repeated_chain_is_written_once_per_stretch() {
    let events = thread_exits(5000);
    let bytes = recording_bytes(&events);
    assert_eq!(events_of(&read_items(&bytes)), events);
    let (offsets, _) = layout(&events);
    let (first, second) = (offsets[1] - offsets[0], offsets[2] - offsets[1]);
    assert!(first > second + 200, "the first record defines the chain: {first} vs {second}");
    // 5,000 exits fill several 64 KiB stretches, each defining the chain once.
    let definitions = offsets.windows(2).filter(|pair| pair[1] - pair[0] == first).count();
    assert_one_definition_per_stretch(bytes.len(), definitions);
}

#[test]
fn a_damaged_chain_definition_costs_only_its_stretch() {
    let events = thread_exits(5000);
    // A byte inside the first record's chain.
    let (read, offsets) = read_with_first_record_damaged(&events, 20);
    let without = read
        .iter()
        .take_while(|event| matches!(&event.detail, Detail::Exit { ancestors, .. } if ancestors.is_empty()))
        .count();
    let per_stretch = super::super::writer::FLUSH_BYTES / (offsets[2] - offsets[1]) as usize;
    assert!(without > 0 && without <= per_stretch, "{without} events without their chain, {per_stretch} per stretch");
    // Every later event has its chain again, and nothing else was lost.
    assert_eq!(read[without..], events[without + 1..]);
    for (read, written) in read[..without].iter().zip(&events[1..]) {
        // The damaged record defined the cgroup of the stretch too.
        let bare = |event: &Event| {
            let mut bare = Event { detail: Detail::exit(0, false, 9), ..event.clone() };
            bare.place.cgroup = None;
            bare
        };
        assert_eq!(bare(read), bare(written));
    }
}

/// A recording made by the release that wrote format version 3 (`tracer run` of the lifecycle
/// workload and an exec with empty and non-UTF-8 arguments, with `--env-filter HOME`), and that
/// release's `tracer replay --json` of it.
const V3_FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v3-run.rec");
const V3_FIXTURE_JSON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v3-run.json");

#[test]
fn version_3_recordings_replay_as_their_release_printed_them() {
    let events = replayed_as_printed(V3_FIXTURE, V3_FIXTURE_JSON, 3, 25);
    let chains = events.iter().filter(|event| matches!(&event.detail, Detail::Exec { ancestors, .. } | Detail::Exit { ancestors, .. } if !ancestors.is_empty())).count();
    assert_eq!(chains, 13, "every exec and exit has its chain");
    // Recorded again (since format 4), they come back the same, in fewer bytes.
    let again = recorded_again(&events);
    let old = std::fs::metadata(V3_FIXTURE).unwrap().len() as usize;
    assert!(again < old, "format {}: {again} bytes, format 3: {old}", super::super::FORMAT_VERSION);
}
