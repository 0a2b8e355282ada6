//! The trailer as the reader sees it: present, cut short, damaged, misplaced, imitated.

use super::*;

/// A closed recording of `events` with `losses`, its bytes, and the trailer's offset.
fn closed(events: &[Event], losses: Losses) -> (Vec<u8>, u64) {
    let path = TempPath::new("closed");
    let mut writer = RecordingWriter::create(&path.0, &header(), false).expect("create");
    for event in events {
        writer.append(&mut event.clone()).expect("append");
    }
    writer.finish(losses).expect("finish");
    (std::fs::read(&path.0).expect("read back"), layout(events).1)
}

fn wall_now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_nanos() as u64
}

#[test]
fn a_clean_recording_ends_with_a_trailer_counting_each_kind() {
    let events = many_events(23);
    let before = wall_now_ns();
    let (bytes, trailer_at) = closed(&events, Losses { kernel: 5, output: 2 });
    let after = wall_now_ns();
    assert_eq!(bytes.get(trailer_at as usize..trailer_at as usize + 4), Some(&TRAILER_MARKER[..]));
    let (items, trailer) = split_trailer(read_items(&bytes));
    assert_eq!(events_of(&items), events);
    assert!((before..=after).contains(&trailer.end_wall_ns), "{} not in {before}..={after}", trailer.end_wall_ns);
    assert_eq!(trailer.losses, Losses { kernel: 5, output: 2 });
    let mut expected = std::collections::BTreeMap::new();
    for event in &events {
        *expected.entry(event.kind().name().to_owned()).or_insert(0) += 1;
    }
    assert_eq!(trailer.records, expected);
    assert!(trailer.records.contains_key("lost") && trailer.records.contains_key("exec"));
}

#[test]
fn a_trailer_cut_short_is_truncation_not_a_trailer() {
    let events = many_events(4);
    let (bytes, trailer_at) = closed(&events, Losses::default());
    for cut in trailer_at as usize..bytes.len() {
        let items = read_items(&bytes[..cut]);
        assert_eq!(events_of(&items), events, "cut at {cut}");
        if cut == trailer_at as usize {
            assert_eq!(items.len(), events.len(), "cut at {cut}: {items:?}");
            continue;
        }
        let have = cut - trailer_at as usize;
        let expected = if have < RECORD_HEADER_LEN {
            let frame = if have < 4 { "record" } else { "trailer" };
            format!("the file ends inside a {frame} header at byte {trailer_at}, {have} of 12 bytes")
        } else {
            format!(
                "the file ends inside a trailer at byte {trailer_at}, {have} of {} bytes",
                bytes.len() - trailer_at as usize
            )
        };
        assert_eq!(items.last(), Some(&ReadItem::Truncated { offset: trailer_at, reason: expected }), "cut at {cut}");
    }
}

#[test]
fn every_damaged_byte_of_a_trailer_loses_it() {
    let events = many_events(3);
    let (bytes, trailer_at) = closed(&events, Losses { kernel: 1, output: 0 });
    for position in trailer_at as usize..bytes.len() {
        for flip in [0xff_u8, 0x01, 0x80] {
            let mut damaged = bytes.clone();
            damaged[position] ^= flip;
            let items = read_items(&damaged);
            assert_eq!(events_of(&items), events, "byte {position} ^ {flip:#x}");
            let rest = &items[events.len()..];
            assert!(!rest.iter().any(|item| matches!(item, ReadItem::Trailer(_))), "byte {position}: {rest:?}");
            assert!(
                matches!(rest, [ReadItem::Skipped { offset, .. } | ReadItem::Truncated { offset, .. }] if *offset == trailer_at),
                "byte {position} ^ {flip:#x}: {rest:?}"
            );
        }
    }
}

#[test]
fn records_after_a_trailer_are_read_and_the_trailer_reported() {
    let events = many_events(3);
    let (mut bytes, trailer_at) = closed(&events, Losses::default());
    let more = many_events(5)[4].clone();
    let appended = recording_bytes(std::slice::from_ref(&more));
    bytes.extend_from_slice(&appended[layout(&[]).1 as usize..]);
    let items = read_items(&bytes);
    assert_eq!(items.len(), events.len() + 2, "{items:?}");
    assert_eq!(
        items[events.len()],
        ReadItem::Skipped { offset: trailer_at, reason: "a trailer before the end of the file".to_owned() }
    );
    assert_eq!(items[events.len() + 1], ReadItem::Event(more));
}

#[test]
fn trailer_marker_bytes_inside_records_are_only_data() {
    // A timestamp whose little-endian bytes are the trailer marker and a plausible length.
    let mut events = many_events(4);
    for event in &mut events {
        event.timestamp_ns = u64::from_le_bytes([0xf5, 0x1e, 0xc0, 0xed, 0x10, 0, 0, 0]);
    }
    let (bytes, _) = closed(&events, Losses::default());
    let (items, trailer) = split_trailer(read_items(&bytes));
    assert_eq!(events_of(&items), events);
    assert_eq!(trailer.records.values().sum::<u64>(), 4);

    // With the first record's marker damaged, the search for the next record meets the
    // imitation first, and must not take it for a trailer.
    let (offsets, _) = layout(&events);
    let mut damaged = bytes.clone();
    damaged[offsets[0] as usize] ^= 0xff;
    let (items, _) = split_trailer(read_items(&damaged));
    assert!(matches!(&items[0], ReadItem::Skipped { offset, .. } if *offset == offsets[0]), "{items:?}");
    assert_eq!(events_of(&items), events[1..]);
}

#[test]
fn an_undecodable_good_record_is_skipped_whole() {
    // A record whose payload has an unknown kind and holds a whole good record: its checksum
    // says the frame is as written, so reading resumes after it, not inside it.
    let events = many_events(3);
    let inner = &recording_bytes(&events[..1])[layout(&[]).1 as usize..];
    let mut payload = vec![42u8];
    payload.extend_from_slice(inner);
    let mut outer = RECORD_MARKER.to_vec();
    outer.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    outer.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    outer.extend_from_slice(&payload);
    let mut bytes = recording_bytes(&[]);
    let at = bytes.len() as u64;
    bytes.extend_from_slice(&outer);
    bytes.extend_from_slice(&recording_bytes(&events[1..])[layout(&[]).1 as usize..]);
    let items = read_items(&bytes);
    assert!(
        matches!(&items[0], ReadItem::Skipped { offset, reason } if *offset == at && reason.starts_with("undecodable record: ")),
        "{items:?}"
    );
    assert_eq!(items[1..], [ReadItem::Event(events[1].clone()), ReadItem::Event(events[2].clone())]);
}
