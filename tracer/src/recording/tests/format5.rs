//! Format 5's cgroup references in whole files: a container's cgroup path and ID written once
//! per stretch, what damage costs, and recordings of the format-4 release read unchanged.

use super::*;
use crate::event::Detail;

const CONTAINER: &str = "4f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// Forks and exits of `n` threads in a container's cgroup, with a task of the host every tenth.
fn container_threads(n: usize) -> Vec<Event> {
    let path: crate::text::Text = format!("/system.slice/docker-{CONTAINER}.scope").into();
    let container: crate::text::Text = CONTAINER.into();
    (0..n)
        .map(|i| {
            let tid = 5000 + i as u32;
            let detail =
                if i % 2 == 0 { crate::event::test_fork(4242, tid, true, None) } else { Detail::exit(0, false, 9) };
            let mut event = crate::event::test_event(4242, tid, "worker", detail);
            if i % 10 != 9 {
                event.place.cgroup_id = Some(7777);
                event.place.cgroup = Some(path.clone());
                event.place.container = Some(container.clone());
            }
            event
        })
        .collect()
}

#[test]
fn a_container_cgroup_is_written_once_per_stretch() {
    let events = container_threads(5000);
    let bytes = recording_bytes(&events);
    assert_eq!(events_of(&read_items(&bytes)), events);
    let (offsets, _) = layout(&events);
    let sizes: Vec<u64> = offsets.windows(2).map(|pair| pair[1] - pair[0]).collect();
    // The first record defines the container's cgroup (path and ID: 150 bytes); the next one,
    // the same kind of event in the same cgroup, refers to it in one byte.
    let (first, third) = (sizes[0], sizes[2]);
    assert!(first > third + 140, "the first record defines the cgroup: {first} vs {third}");
    assert!(third < 84, "a fork in the container refers to its cgroup: {third} bytes");
    // 5,000 events fill several 64 KiB stretches, each defining the cgroup once.
    let definitions = sizes.iter().filter(|&&size| size > 140).count();
    assert_one_definition_per_stretch(bytes.len(), definitions);
}

#[test]
fn a_damaged_cgroup_definition_costs_only_its_stretch() {
    let events = container_threads(5000);
    // A byte inside the first record's cgroup path.
    let (read, offsets) = read_with_first_record_damaged(&events, 40);
    // The events of the container in the rest of the stretch have lost their cgroup path and
    // container ID, not their cgroup ID; those of the host, whose cgroup their own records
    // define, and every event of the later stretches are intact.
    let stretch =
        offsets.iter().take_while(|&&offset| offset < offsets[0] + super::super::writer::FLUSH_BYTES as u64).count();
    let mut without = 0;
    for (index, (read, written)) in read.iter().zip(&events[1..]).enumerate() {
        if index + 1 < stretch && written.place.container.is_some() {
            assert_eq!(read, &written.clone().with_cgroup(None, None));
            without += 1;
        } else {
            assert_eq!(read, written);
        }
    }
    assert!(without > 100, "{without} events without their cgroup path");
}

/// A recording made by the release that wrote format version 4 (`tracer run` of a shell that
/// moves itself into a Docker-like cgroup, then runs `true` and `echo hi`), and that release's
/// `tracer replay --json` of it.
const V4_FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v4-run.rec");
const V4_FIXTURE_JSON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v4-run.json");

#[test]
fn version_4_recordings_replay_as_their_release_printed_them() {
    let events = replayed_as_printed(V4_FIXTURE, V4_FIXTURE_JSON, 4, 8);
    let contained =
        events.iter().filter(|event| event.place.container.as_ref().is_some_and(|id| *id == CONTAINER)).count();
    assert_eq!(contained, 7, "every event after the move into the container's cgroup");
    // Recorded again in format 5, they come back the same, in fewer bytes.
    let again = recorded_again(&events);
    let old = std::fs::metadata(V4_FIXTURE).unwrap().len() as usize;
    assert!(again + 6 * 150 < old, "format 5: {again} bytes, format 4: {old}");
}
