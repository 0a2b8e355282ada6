//! Writer → reader tests on real temporary files, truncation and corruption handling.

mod arbitrary;
mod create;
mod damage;
mod format4;
mod format5;
mod format6;
mod format7;
mod fuzz_inputs;
mod linear;
mod rotation;
mod trailer;

use crate::place::Place;
use std::io::{self, Cursor, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use proptest::prelude::*;

use super::codec::tests::{arb_event, sample_events};
use super::*;
use crate::event::{Event, Source};

/// A unique path in the temporary directory, removed on drop.
struct TempPath(PathBuf);

impl TempPath {
    fn new(name: &str) -> TempPath {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        TempPath(std::env::temp_dir().join(format!("tracer-recording-test-{}-{nanos}-{n}-{name}", std::process::id())))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn header() -> RecordingHeader {
    RecordingHeader {
        format_version: 0,
        tracer_version: "0.1.0".to_owned(),
        kernel_release: "6.8.0-test".to_owned(),
        hostname: "testhost".to_owned(),
        boot_id: "d2b1c0a4-0000-4000-8000-123456789abc".to_owned(),
        start_wall_ns: 1_700_000_000_000_000_000,
        boot_to_wall_ns: 1_699_990_000_000_000_000,
        filters: vec!["--comm".to_owned(), "bash".to_owned()],
    }
}

/// Writes a cleanly closed recording of `events`.
fn write_recording(path: &Path, events: &[Event]) {
    let mut writer = RecordingWriter::create(path, &header(), false).expect("create");
    for event in events {
        writer.append(&mut event.clone()).expect("append");
    }
    assert_eq!(writer.records().values().sum::<u64>(), events.len() as u64);
    writer.finish(Losses::default()).expect("finish");
}

/// The items of a cleanly closed recording, the trailer apart.
fn split_trailer(mut items: Vec<ReadItem>) -> (Vec<ReadItem>, Trailer) {
    match items.pop() {
        Some(ReadItem::Trailer(trailer)) => (items, trailer),
        last => panic!("the last item is not a trailer: {last:?}"),
    }
}

/// The bytes of a recording of `events`, not closed (no trailer, and no fdatasync, which keeps
/// the property tests fast).
fn recording_bytes(events: &[Event]) -> Vec<u8> {
    let path = TempPath::new("bytes");
    let mut writer = RecordingWriter::create(&path.0, &header(), false).expect("create");
    for event in events {
        writer.append(&mut event.clone()).expect("append");
    }
    writer.flush().expect("flush");
    drop(writer);
    std::fs::read(&path.0).expect("read back")
}

fn read_items(bytes: &[u8]) -> Vec<ReadItem> {
    let reader =
        RecordingReader::from_reader(Box::new(Cursor::new(bytes.to_vec())), Path::new("mem")).expect("valid header");
    reader.take(100_000).collect()
}

/// Offsets of the header end and of each record in a recording of `events`, and its length.
fn layout(events: &[Event]) -> (Vec<u64>, u64) {
    let mut offset = (HEADER_PREFIX_LEN + {
        let mut body = BytesMut::new();
        codec::encode_header_body(&header(), &mut body);
        body.len()
    }) as u64;
    let mut offsets = Vec::new();
    // As the writer does: chains and cgroups are defined again after each write of its buffer.
    let mut definitions = super::references::Definitions::default();
    let mut buffered = 0;
    for event in events {
        offsets.push(offset);
        let mut payload = BytesMut::new();
        codec::encode(&mut event.clone(), &mut definitions, &mut payload);
        offset += (RECORD_HEADER_LEN + payload.len()) as u64;
        buffered += RECORD_HEADER_LEN + payload.len();
        if buffered >= super::writer::FLUSH_BYTES {
            definitions.forget();
            buffered = 0;
        }
    }
    (offsets, offset)
}

fn many_events(n: usize) -> Vec<Event> {
    let samples = sample_events();
    (0..n)
        .map(|i| {
            let mut event = samples[i % samples.len()].clone();
            event.timestamp_ns = 1_700_000_000_000_000_000 + i as u64;
            event.tid = i as u32;
            event
        })
        .collect()
}

/// The events of a fixture recorded by an earlier release, which must be in format `version`
/// and intact, and their JSON lines as this tracer prints them.
pub(super) fn replayed_fixture(path: &str, version: u16) -> (Vec<Event>, String) {
    use crate::output::{JsonPrinter, Printer};
    let reader = RecordingReader::open(Path::new(path)).expect("the fixture opens");
    assert_eq!(reader.header().format_version, version);
    let mut events = Vec::new();
    for item in reader {
        match item {
            ReadItem::Event(event) => events.push(event),
            ReadItem::Trailer(_) => {}
            other => panic!("the fixture is intact, yet: {other:?}"),
        }
    }
    let mut printer = JsonPrinter::new(Vec::new());
    for event in &events {
        printer.print(event).unwrap();
    }
    (events, String::from_utf8(printer.into_inner()).unwrap())
}

/// The events of fixture `path`, recorded in format `version` by an earlier release, after
/// checking that this tracer prints their `lines` JSON lines as that release printed them
/// (`json`), but for the keys added since, which are null (unknown), not made up.
pub(super) fn replayed_as_printed(path: &str, json: &str, version: u16, lines: usize) -> Vec<Event> {
    let (events, now) = replayed_fixture(path, version);
    let then = std::fs::read_to_string(json).unwrap();
    assert_eq!(now.lines().count(), lines);
    for (now, then) in now.lines().zip(then.lines()) {
        let mut now: serde_json::Value = serde_json::from_str(now).unwrap();
        let then: serde_json::Value = serde_json::from_str(then).unwrap();
        for added in ["start_ns", "child_start_ns"] {
            if then.get(added).is_none() {
                let value = now.as_object_mut().unwrap().remove(added);
                assert!(value.is_none_or(|value| value.is_null()), "{added} is not known for format {version}");
            }
        }
        // Format 8's: a fork of an earlier format has no chain.
        if then.get("ancestors").is_none() && now.get("ancestors").is_some() {
            let now = now.as_object_mut().unwrap();
            assert_eq!(now.remove("ancestors"), Some(serde_json::json!([])), "format {version}");
            assert_eq!(now.remove("ancestors_truncated"), Some(serde_json::json!(false)), "format {version}");
        }
        // Format 7's: no chain of an earlier format is known to be cut, nor its starts.
        if then.get("ancestors").is_some() && then.get("ancestors_truncated").is_none() {
            let cut = now.as_object_mut().unwrap().remove("ancestors_truncated");
            assert_eq!(cut, Some(serde_json::Value::Bool(false)), "format {version}");
            for ancestor in now["ancestors"].as_array_mut().unwrap() {
                let start = ancestor.as_object_mut().unwrap().remove("start_ns");
                assert_eq!(start, Some(serde_json::Value::Null), "format {version}");
            }
        }
        assert_eq!(now, then);
    }
    events
}

/// The size of `events` recorded again in this format, after checking that they read back the
/// same.
fn recorded_again(events: &[Event]) -> usize {
    let again = recording_bytes(events);
    assert_eq!(events_of(&read_items(&again)), events);
    again.len()
}

/// Checks that a recording of `len` bytes holds one definition per 64 KiB stretch (the last
/// stretch may hold none).
fn assert_one_definition_per_stretch(len: usize, definitions: usize) {
    let stretches = len.div_ceil(super::writer::FLUSH_BYTES);
    assert!((stretches - 1..=stretches).contains(&definitions), "{definitions} definitions, {stretches} stretches");
}

/// The events read from a recording of `events` whose first record has a byte flipped `back`
/// bytes before the second record, and the records' offsets. The first record is reported
/// skipped at its offset, and every other event is read.
fn read_with_first_record_damaged(events: &[Event], back: usize) -> (Vec<Event>, Vec<u64>) {
    let mut bytes = recording_bytes(events);
    let (offsets, _) = layout(events);
    bytes[offsets[1] as usize - back] ^= 0xff;
    let items = read_items(&bytes);
    assert!(matches!(&items[0], ReadItem::Skipped { offset, .. } if *offset == offsets[0]), "{:?}", items[0]);
    let read = events_of(&items);
    assert_eq!(read.len(), events.len() - 1);
    (read, offsets)
}

fn events_of(items: &[ReadItem]) -> Vec<Event> {
    items
        .iter()
        .filter_map(|item| match item {
            ReadItem::Event(event) => Some(event.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn every_variant_round_trips_through_a_file() {
    let events = sample_events();
    let path = TempPath::new("roundtrip");
    write_recording(&path.0, &events);

    let reader = RecordingReader::open(&path.0).expect("open");
    let mut expected = header();
    expected.format_version = FORMAT_VERSION;
    assert_eq!(reader.header(), &expected);
    let (items, trailer) = split_trailer(reader.collect());
    assert_eq!(items, events.iter().cloned().map(ReadItem::Event).collect::<Vec<_>>());
    let mut by_kind = std::collections::BTreeMap::new();
    for event in &events {
        *by_kind.entry(event.kind().name().to_owned()).or_insert(0u64) += 1;
    }
    assert_eq!(trailer.records, by_kind);
    assert_eq!(trailer.losses, Losses::default());
}

#[test]
fn layout_matches_the_documented_format() {
    let events = sample_events();
    let bytes = recording_bytes(&events);
    assert_eq!(bytes.get(..8), Some(&b"\x89TRACER\n"[..]));
    assert_eq!(bytes.get(8..10), Some(&FORMAT_VERSION.to_le_bytes()[..]));
    let (offsets, end) = layout(&events);
    assert_eq!(bytes.len() as u64, end);
    for &offset in &offsets {
        let offset = offset as usize;
        assert_eq!(bytes.get(offset..offset + 4), Some(&RECORD_MARKER[..]));
    }
}

#[test]
fn empty_recording_yields_nothing() {
    assert_eq!(read_items(&recording_bytes(&[])), vec![]);
}

#[test]
fn writer_buffers_until_size_or_flush() {
    let path = TempPath::new("buffering");
    let mut writer = RecordingWriter::create(&path.0, &header(), false).expect("create");
    let file_len = || std::fs::metadata(&path.0).expect("metadata").len();
    let header_len = file_len();
    assert!(header_len > HEADER_PREFIX_LEN as u64);

    let event = &sample_events()[2];
    writer.append(&mut event.clone()).expect("append");
    assert_eq!(file_len(), header_len, "one event must stay buffered");
    writer.flush().expect("flush");
    let after_flush = file_len();
    assert!(after_flush > header_len);

    // More than 64 KiB goes out without a flush.
    let mut appended = 0;
    while file_len() == after_flush {
        writer.append(&mut event.clone()).expect("append");
        appended += 1;
        assert!(appended < 10_000, "64 KiB never written");
    }
    assert!(file_len() - after_flush >= 64 * 1024);

    // Dropping without finish still writes the buffer, but no trailer.
    writer.append(&mut event.clone()).expect("append");
    let count = writer.records().values().sum::<u64>();
    drop(writer);
    let items: Vec<ReadItem> = RecordingReader::open(&path.0).expect("open").collect();
    assert_eq!(items.len() as u64, count);
    assert!(items.iter().all(|item| matches!(item, ReadItem::Event(_))));
}

fn open_bytes(bytes: &[u8]) -> Result<RecordingReader, RecordingError> {
    RecordingReader::from_reader(Box::new(Cursor::new(bytes.to_vec())), Path::new("some.file"))
}

#[test]
fn header_problems_are_clear_errors() {
    let message = |bytes: &[u8]| open_bytes(bytes).err().expect("refused").to_string();
    let not = "some.file is not a tracer recording (no tracer header)";
    assert_eq!(message(b""), not);
    assert_eq!(message(b"\x89TRA"), not);
    assert_eq!(message(b"#!/bin/sh\necho hello\n"), not);

    let good = recording_bytes(&[]);
    assert!(open_bytes(&good).is_ok());

    let mut future = good.clone();
    future[8] = 9;
    assert_eq!(
        message(&future),
        "some.file is a tracer recording in format version 9, but this tracer reads only versions 1 to 8"
    );

    assert_eq!(
        message(&good[..12]),
        "some.file has a damaged tracer header: the file ends inside the header (12 of at least 18 bytes)"
    );
    assert_eq!(
        message(&good[..good.len() - 1]),
        format!(
            "some.file has a damaged tracer header: the file ends inside the header ({} of {} bytes)",
            good.len() - 1,
            good.len()
        )
    );

    let mut damaged = good.clone();
    damaged[30] ^= 1;
    assert!(message(&damaged).starts_with("some.file has a damaged tracer header: header checksum mismatch"));

    let mut huge = good.clone();
    huge[10..14].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(message(&huge).contains("impossible header length"));

    let path = TempPath::new("missing");
    let error = RecordingReader::open(&path.0).err().expect("missing");
    assert!(error.to_string().starts_with(&format!("cannot open {}: ", path.0.display())));
}

#[test]
fn events_too_large_are_refused_without_damage() {
    let path = TempPath::new("large");
    let mut writer = RecordingWriter::create(&path.0, &header(), false).expect("create");
    let small = sample_events()[0].clone();
    writer.append(&mut small.clone()).expect("append");
    let huge = Event {
        timestamp_ns: 1,
        cpu: 0,
        tgid: 1,
        start_ns: None,
        tid: 1,
        ppid: 0,
        comm: "x".into(),
        uid: 0,
        source: Source::Tracer,
        detail: crate::event::test_exec(&"y".repeat(MAX_PAYLOAD_LEN), &[], 1),
        place: Place { ns_tgid: None, ns_tid: None, pidns: None, cgroup_id: None, cgroup: None, container: None },
    };
    assert!(matches!(writer.append(&mut huge.clone()), Err(RecordingError::EventTooLarge { .. })));
    writer.append(&mut small.clone()).expect("append");
    assert_eq!(writer.records().values().sum::<u64>(), 2);
    writer.finish(Losses::default()).expect("finish");
    let (items, trailer) = split_trailer(RecordingReader::open(&path.0).expect("open").collect());
    assert_eq!(items, vec![ReadItem::Event(small.clone()), ReadItem::Event(small)]);
    assert_eq!(trailer.records.values().sum::<u64>(), 2);
}
