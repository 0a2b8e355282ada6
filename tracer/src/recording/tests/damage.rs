//! Damaged recordings: truncation, corrupted bytes, garbage between records and read errors
//! each cost only the records they touch, and say where.

use super::*;

#[test]
fn truncation_inside_the_last_two_records() {
    let events = many_events(6);
    let path = TempPath::new("full");
    write_recording(&path.0, &events);
    let full = std::fs::read(&path.0).expect("read");
    let (offsets, end) = layout(&events);
    // The trailer follows `end`; cuts before it leave a file without one.
    assert!(full.len() as u64 > end);
    let first_cut = offsets[events.len() - 2];
    let copy = TempPath::new("truncated");
    for cut in first_cut..end {
        std::fs::write(&copy.0, &full).expect("copy");
        std::fs::OpenOptions::new().write(true).open(&copy.0).expect("open copy").set_len(cut).expect("truncate");
        let items: Vec<ReadItem> = RecordingReader::open(&copy.0).expect("open").collect();

        // The record the cut falls in, if the cut is not on a record boundary.
        let inside =
            offsets.iter().position(|&offset| offset < cut && cut < offset + record_len(&offsets, end, offset));
        let complete = offsets.iter().filter(|&&offset| offset + record_len(&offsets, end, offset) <= cut).count();
        assert_eq!(events_of(&items), events[..complete], "cut at {cut}");
        match inside {
            None => assert_eq!(items.len(), complete, "cut at {cut}: {items:?}"),
            Some(index) => {
                assert_eq!(items.len(), complete + 1, "cut at {cut}: {items:?}");
                let Some(ReadItem::Truncated { offset, reason }) = items.last() else {
                    panic!("cut at {cut}: no Truncated item last: {items:?}");
                };
                assert_eq!(*offset, offsets[index], "cut at {cut}");
                let have = cut - offsets[index];
                let expected = if have >= RECORD_HEADER_LEN as u64 {
                    format!(
                        "the file ends inside a record at byte {offset}, {have} of {} bytes",
                        record_len(&offsets, end, *offset)
                    )
                } else {
                    format!("the file ends inside a record header at byte {offset}, {have} of 12 bytes")
                };
                assert_eq!(reason, &expected);
            }
        }
    }
}

fn record_len(offsets: &[u64], end: u64, offset: u64) -> u64 {
    offsets.iter().copied().find(|&next| next > offset).unwrap_or(end) - offset
}

#[test]
fn every_damaged_byte_of_a_middle_record_skips_only_that_record() {
    let events = many_events(7);
    let full = recording_bytes(&events);
    let (offsets, end) = layout(&events);
    let middle = 3;
    let start = offsets[middle];
    let stop = offsets[middle + 1];
    for position in start..stop {
        for flip in [0xff_u8, 0x01, 0x80] {
            let mut damaged = full.clone();
            damaged[position as usize] ^= flip;
            let items = read_items(&damaged);
            let mut expected: Vec<ReadItem> = events.iter().cloned().map(ReadItem::Event).collect();
            let skipped = items.get(middle).cloned();
            assert!(
                matches!(&skipped, Some(ReadItem::Skipped { offset, .. }) if *offset == start),
                "byte {position} ^ {flip:#x}: {skipped:?}"
            );
            expected[middle] = skipped.unwrap_or(ReadItem::Truncated { offset: 0, reason: String::new() });
            assert_eq!(items, expected, "byte {position} ^ {flip:#x}");
        }
    }
    assert_eq!(end, full.len() as u64);
}

#[test]
fn payload_damage_is_reported_with_its_reason() {
    let events = many_events(5);
    let mut bytes = recording_bytes(&events);
    let (offsets, _) = layout(&events);
    bytes[offsets[2] as usize + RECORD_HEADER_LEN + 3] ^= 0x10;
    let items = read_items(&bytes);
    assert_eq!(items.len(), 5);
    let ReadItem::Skipped { offset, reason } = &items[2] else { panic!("{items:?}") };
    assert_eq!(*offset, offsets[2]);
    assert!(reason.starts_with("record checksum mismatch"), "{reason}");
}

#[test]
fn an_undecodable_payload_with_a_good_checksum_is_skipped() {
    let events = many_events(3);
    let mut bytes = recording_bytes(&events);
    let (offsets, _) = layout(&events);
    let at = offsets[1] as usize;
    // An unknown source of a fork (before the six absent place fields, the chain reference and
    // the cgroup reference), with the CRC recomputed.
    let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
    bytes[at + RECORD_HEADER_LEN + len - 9] = 42;
    let crc = crc32fast::hash(&bytes[at + RECORD_HEADER_LEN..at + RECORD_HEADER_LEN + len]);
    bytes[at + 8..at + 12].copy_from_slice(&crc.to_le_bytes());
    let items = read_items(&bytes);
    assert_eq!(
        items,
        vec![
            ReadItem::Event(events[0].clone()),
            ReadItem::Skipped {
                offset: offsets[1],
                reason: "undecodable record: not a valid event (Serde Deserialization Error)".to_owned()
            },
            ReadItem::Event(events[2].clone()),
        ]
    );
}

#[test]
fn garbage_between_records_is_skipped_once() {
    let events = many_events(4);
    let bytes = recording_bytes(&events);
    let (offsets, _) = layout(&events);
    let at = offsets[2] as usize;
    let mut damaged = bytes[..at].to_vec();
    damaged.extend_from_slice(b"some garbage \xf5\x1e here");
    damaged.extend_from_slice(&bytes[at..]);
    let items = read_items(&damaged);
    assert_eq!(items.len(), 5, "{items:?}");
    assert_eq!(
        items[2],
        ReadItem::Skipped { offset: offsets[2], reason: "20 bytes without a record marker".to_owned() }
    );
    assert_eq!(events_of(&items), events);

    // Garbage at the end (not a marker prefix) is skipped, not reported as truncation.
    let mut damaged = bytes.clone();
    damaged.extend_from_slice(b"xyz");
    let items = read_items(&damaged);
    assert_eq!(
        items.last(),
        Some(&ReadItem::Skipped { offset: bytes.len() as u64, reason: "3 bytes without a record marker".to_owned() })
    );
}

#[test]
fn a_damaged_length_running_past_the_end_is_not_truncation() {
    let events = many_events(4);
    let mut bytes = recording_bytes(&events);
    let (offsets, _) = layout(&events);
    let at = offsets[1] as usize;
    bytes[at + 4..at + 8].copy_from_slice(&100_000u32.to_le_bytes());
    let items = read_items(&bytes);
    assert_eq!(items.len(), 4, "{items:?}");
    assert!(matches!(&items[1], ReadItem::Skipped { offset, .. } if *offset == offsets[1]));
    assert_eq!(events_of(&items), [&events[..1], &events[2..]].concat());
}

/// Hands out at most `step` bytes per read, with interruptions, to exercise buffer boundaries.
struct Trickle {
    data: Cursor<Vec<u8>>,
    step: usize,
    calls: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(7) {
            return Err(io::Error::from(io::ErrorKind::Interrupted));
        }
        let len = buf.len().min(self.step);
        self.data.read(&mut buf[..len])
    }
}

#[test]
fn small_reads_give_the_same_items() {
    let events = many_events(40);
    let mut bytes = recording_bytes(&events);
    let (offsets, _) = layout(&events);
    bytes[offsets[10] as usize + 20] ^= 0x55;
    bytes.truncate(bytes.len() - 5);
    let expected = read_items(&bytes);
    assert!(matches!(expected.last(), Some(ReadItem::Truncated { .. })));
    for step in [1, 3, 13, 4096] {
        let trickle = Trickle { data: Cursor::new(bytes.clone()), step, calls: 0 };
        let reader = RecordingReader::from_reader(Box::new(trickle), Path::new("mem")).expect("header");
        assert_eq!(reader.collect::<Vec<_>>(), expected, "step {step}");
    }
}

#[test]
fn large_recordings_stream() {
    let events = many_events(20_000); // several read-ahead chunks
    let bytes = recording_bytes(&events);
    assert!(bytes.len() > 4 * 64 * 1024);
    assert_eq!(read_items(&bytes), events.into_iter().map(ReadItem::Event).collect::<Vec<_>>());
}

/// Gives `good` bytes, then fails.
struct Failing {
    data: Cursor<Vec<u8>>,
    good: u64,
}

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.good.saturating_sub(self.data.position()) as usize;
        if left == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        let len = buf.len().min(left);
        self.data.read(&mut buf[..len])
    }
}

#[test]
fn a_read_error_ends_with_one_read_failed_item() {
    let events = many_events(5);
    let bytes = recording_bytes(&events);
    let (offsets, _) = layout(&events);
    let failing = Failing { data: Cursor::new(bytes), good: offsets[3] + 5 };
    let reader = RecordingReader::from_reader(Box::new(failing), Path::new("rec.bin")).expect("header");
    let items: Vec<ReadItem> = reader.collect();
    assert_eq!(events_of(&items), events[..3]);
    assert_eq!(
        items.last(),
        Some(&ReadItem::ReadFailed {
            offset: offsets[3],
            reason: format!("cannot read rec.bin at byte {}: disk on fire", offsets[3] + 5),
        })
    );
    assert_eq!(items.len(), 4);

    // During the header, it is an error of open.
    let failing = Failing { data: Cursor::new(recording_bytes(&[])), good: 10 };
    let error = RecordingReader::from_reader(Box::new(failing), Path::new("rec.bin")).err().expect("fails");
    assert_eq!(error.to_string(), "cannot read rec.bin: disk on fire");
}
