//! The Perfetto export read back through the same message definitions: tracks per entry (a
//! reused PID gets its own), lifetimes in boot time to the nanosecond, flows from forks.
use prost::Message;

use super::{
    perfetto::Export,
    proto::{AnnotationValue, DebugAnnotation, Trace, TrackEvent, track_event_type},
};
use crate::{
    event::{Detail, Event, test_event},
    tasks::Coverage,
};

const BASE: u64 = 1_700_000_000_000_000_000;

fn at(ns: u64, tgid: u32, tid: u32, detail: Detail) -> Event {
    Event { timestamp_ns: BASE + ns, ..test_event(tgid, tid, "sh", detail) }
}

fn export(events: &[Event]) -> Trace {
    let mut export = Export::new(BASE - 5_000);
    for event in events {
        export.observe(event);
    }
    let mut out = Vec::new();
    export.write(Coverage { births: true, deaths: true }, &mut out).unwrap();
    Trace::decode(out.as_slice()).expect("a Trace message")
}

/// Every string the trace of `events` holds where the Perfetto UI shows it: track, process and
/// thread names, command lines, event names and string arguments.
pub(crate) fn shown_strings(events: &[Event]) -> Vec<String> {
    fn annotation_strings(annotation: &DebugAnnotation, into: &mut Vec<String>) {
        into.extend(annotation.name.clone());
        if let Some(AnnotationValue::String(value)) = &annotation.value {
            into.push(value.clone());
        }
        for value in &annotation.array_values {
            annotation_strings(value, into);
        }
    }
    let mut strings = Vec::new();
    for packet in export(events).packet {
        if let Some(track) = packet.track_descriptor {
            strings.extend(track.name);
            if let Some(process) = track.process {
                strings.extend(process.cmdline);
                strings.extend(process.process_name);
            }
            strings.extend(track.thread.and_then(|thread| thread.thread_name));
        }
        if let Some(event) = packet.track_event {
            strings.extend(event.name);
            strings.extend(event.categories);
            for annotation in &event.debug_annotations {
                annotation_strings(annotation, &mut strings);
            }
        }
    }
    strings
}

fn events(trace: &Trace) -> Vec<(u64, &TrackEvent)> {
    trace.packet.iter().filter_map(|packet| Some((packet.timestamp?, packet.track_event.as_ref()?))).collect()
}

#[test]
fn a_reused_pid_gets_its_own_tracks_and_each_fork_a_flow() {
    let fork = |ns, child| at(ns, 10, 10, crate::event::test_fork(child, child, false, None));
    let exit = |ns, status| at(ns, 20, 20, Detail::exit(status, true, 7));
    let trace = export(&[fork(100, 20), exit(107, 0), fork(200, 20), exit(250, 9)]);

    let processes: Vec<(u64, i32)> = trace
        .packet
        .iter()
        .filter_map(|packet| {
            let track = packet.track_descriptor.as_ref()?;
            Some((track.uuid?, track.process.as_ref()?.pid?))
        })
        .collect();
    let twenty: Vec<u64> = processes.iter().filter(|(_, pid)| *pid == 20).map(|(uuid, _)| *uuid).collect();
    assert_eq!(twenty.len(), 2, "PID 20 twice, two tracks: {processes:?}");
    assert_ne!(twenty[0], twenty[1]);

    let all = events(&trace);
    let forks: Vec<&TrackEvent> = all.iter().filter(|(_, event)| !event.flow_ids.is_empty()).map(|(_, e)| *e).collect();
    let ends: Vec<&TrackEvent> =
        all.iter().filter(|(_, event)| !event.terminating_flow_ids.is_empty()).map(|(_, e)| *e).collect();
    assert_eq!(forks.len(), 2);
    assert_eq!(
        forks.iter().map(|event| event.flow_ids[0]).collect::<Vec<_>>(),
        ends.iter().map(|e| e.terminating_flow_ids[0]).collect::<Vec<_>>()
    );
    assert_eq!(forks[0].name.as_deref(), Some("fork: process 20"));
    assert!(ends.iter().all(|event| event.r#type == Some(track_event_type::SLICE_BEGIN)));

    // Boot time is the recording's wall time less the base, to the nanosecond.
    let killed = all.iter().find(|(_, event)| event.name.as_deref() == Some("killed by SIGKILL")).unwrap();
    assert_eq!(killed.0, 250 + 5_000);
    let first = all.iter().find(|(_, event)| event.terminating_flow_ids.len() == 1).unwrap();
    assert_eq!(first.0, 100 + 5_000);
}

/// With forks and exits not in the stream (`-e exec`), only the start time tells the two
/// processes that held PID 20 apart: still two tracks.
#[test]
fn a_reused_pid_whose_exit_went_unseen_gets_its_own_track_by_its_start_time() {
    let exec = |ns, start_ns| Event {
        start_ns: Some(start_ns),
        ..at(ns, 20, 20, crate::event::test_exec("/bin/true", &["true"], 20))
    };
    let trace = export(&[exec(100, 7), exec(150, 7), exec(200, 190)]);
    let tracks = trace
        .packet
        .iter()
        .filter(|packet| packet.track_descriptor.as_ref().and_then(|track| track.process.as_ref()?.pid) == Some(20))
        .count();
    assert_eq!(tracks, 2, "two processes held PID 20");
}

#[test]
fn exports_a_format_1_recording() {
    let reader = crate::recording::RecordingReader::open(std::path::Path::new(crate::tree::LIFECYCLE_V1)).unwrap();
    let mut export = Export::new(reader.header().boot_to_wall_ns);
    for item in reader {
        if let crate::recording::ReadItem::Event(event) = item {
            export.observe(&event);
        }
    }
    let mut out = Vec::new();
    export.write(Coverage { births: true, deaths: true }, &mut out).unwrap();
    let trace = Trace::decode(out.as_slice()).unwrap();
    let tracks: Vec<(i32, Option<i64>)> = trace
        .packet
        .iter()
        .filter_map(|packet| packet.track_descriptor.as_ref())
        .map(|track| match (&track.process, &track.thread) {
            (Some(process), _) => (process.pid.unwrap(), None),
            (_, Some(thread)) => (thread.pid.unwrap(), thread.tid),
            _ => panic!("a track that is neither a process's nor a thread's"),
        })
        .collect();
    assert_eq!(
        tracks,
        [
            (15770, None),
            (15774, None),
            (15775, None),
            (15776, None),
            (15770, Some(15770)),
            (15770, Some(15772)),
            (15770, Some(15773)),
            (15774, Some(15774)),
            (15775, Some(15775)),
            (15776, Some(15776)),
        ]
    );
    let flows = events(&trace).iter().filter(|(_, event)| !event.flow_ids.is_empty()).count();
    assert_eq!(flows, 5, "two threads and three processes created");
}
