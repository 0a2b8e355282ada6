//! Rotated recordings: each file is a whole recording (header, records, trailer) and together
//! they hold every event once, in order, whatever the boundaries.

use std::time::Duration;

use super::*;
use crate::event::{Detail, LostOrigin};
use crate::files::rotate::RotatePolicy;

/// Every item of the recording at `path`.
fn items_of(path: &Path) -> (RecordingHeader, Vec<ReadItem>) {
    let reader = RecordingReader::open(path).expect("open");
    (reader.header().clone(), reader.collect())
}

/// The events of `path` and its rotated files, oldest first; checks each is closed cleanly and
/// holds what its trailer says.
fn union(path: &Path, rotated: u32) -> (Vec<Event>, Vec<Trailer>) {
    let mut events = Vec::new();
    let mut trailers = Vec::new();
    let mut starts = Vec::new();
    let names =
        (1..=rotated).rev().map(|index| PathBuf::from(format!("{}.{index}", path.display()))).chain([path.to_owned()]);
    for name in names {
        let (header, items) = items_of(&name);
        assert_eq!(header.filters, super::header().filters, "{}", name.display());
        starts.push(header.start_wall_ns);
        let (items, trailer) = split_trailer(items);
        let file_events = events_of(&items);
        assert_eq!(items.len(), file_events.len(), "{}: nothing but events", name.display());
        let counted: u64 = trailer.records.values().sum();
        assert_eq!(counted, file_events.len() as u64, "{}: trailer counts its own records", name.display());
        events.extend(file_events);
        trailers.push(trailer);
    }
    assert!(starts.is_sorted(), "later files start later: {starts:?}");
    (events, trailers)
}

#[test]
fn rotation_by_size_splits_between_records_and_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.rec");
    let events = many_events(2000);
    let policy = RotatePolicy { max_size: Some(16 << 10), max_age: None, keep: 1000 };
    let mut writer = RecordingWriter::create_rotating(&path, &header(), policy).expect("create");
    for (n, event) in events.iter().enumerate() {
        writer.append(&mut event.clone()).expect("append");
        if n % 97 == 0 {
            writer.flush().expect("flush");
        }
    }
    writer.finish(Losses::default()).expect("finish");
    let rotated = (1..).take_while(|index| dir.path().join(format!("t.rec.{index}")).exists()).count() as u32;
    assert!(rotated >= 5, "{rotated} rotations");
    for index in 1..=rotated {
        let size = std::fs::metadata(dir.path().join(format!("t.rec.{index}"))).unwrap().len();
        // The limit is on header and records; the trailer comes on top.
        assert!(size <= (16 << 10) + 200, "t.rec.{index}: {size} bytes");
    }
    assert_eq!(union(&path, rotated).0, events);
}

#[test]
fn losses_are_counted_in_the_trailer_of_the_file_that_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.rec");
    let lost = |count, origin| crate::event::test_event(1, 1, "tracer", Detail::Lost { count, origin });
    let mut writer = RecordingWriter::create_rotating(&path, &header(), RotatePolicy::default()).expect("create");
    writer.append(&mut lost(7, LostOrigin::RingBuffer)).unwrap();
    std::fs::rename(&path, dir.path().join("t.rec.1")).unwrap();
    writer.reopen().expect("reopen");
    writer.append(&mut lost(2, LostOrigin::Output)).unwrap();
    writer.append(&mut lost(3, LostOrigin::RingBuffer)).unwrap();
    // The session's totals: the last file's trailer holds what the first did not.
    writer.finish(Losses { kernel: 10, output: 2 }).expect("finish");
    let (_, trailers) = union(&path, 1);
    assert_eq!(trailers[0].losses, Losses { kernel: 7, output: 0 });
    assert_eq!(trailers[1].losses, Losses { kernel: 3, output: 2 });
}

#[test]
fn reopen_after_an_outside_rename_closes_the_old_file_and_starts_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.rec");
    let events = many_events(30);
    // Without rotation flags, as `-o` creates it.
    let mut writer = RecordingWriter::create(&path, &header(), false).expect("create");
    for event in &events[..10] {
        writer.append(&mut event.clone()).unwrap();
    }
    writer.reopen().expect("an unchanged path is no error");
    for event in &events[10..20] {
        writer.append(&mut event.clone()).unwrap();
    }
    std::fs::rename(&path, dir.path().join("t.rec.1")).unwrap();
    writer.reopen().expect("reopen");
    for event in &events[20..] {
        writer.append(&mut event.clone()).unwrap();
    }
    writer.finish(Losses::default()).expect("finish");
    assert_eq!(union(&path, 1).0, events);
}

#[test]
fn age_rotation_waits_for_a_record_and_starts_a_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.rec");
    let events = many_events(4);
    let policy = RotatePolicy { max_size: None, max_age: Some(Duration::from_millis(200)), keep: 5 };
    let mut writer = RecordingWriter::create_rotating(&path, &header(), policy).expect("create");
    std::thread::sleep(Duration::from_millis(300));
    writer.flush().unwrap();
    assert!(!dir.path().join("t.rec.1").exists(), "a file holding only its header does not age");
    writer.append(&mut events[0].clone()).unwrap();
    writer.append(&mut events[1].clone()).unwrap();
    writer.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    writer.flush().unwrap();
    writer.append(&mut events[2].clone()).unwrap();
    writer.append(&mut events[3].clone()).unwrap();
    writer.finish(Losses::default()).expect("finish");
    let (all, trailers) = union(&path, 1);
    assert_eq!(all, events);
    assert_eq!(trailers.iter().map(|trailer| trailer.records.values().sum::<u64>()).collect::<Vec<_>>(), [2, 2]);
}
