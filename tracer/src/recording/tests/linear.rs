//! Hostile inputs that made the search for the next good frame quadratic: each must be read
//! with work linear in its size (the bound is [`invariants::WORK_PER_BYTE`]).

use super::*;

/// A frame with `marker`, a declared payload length and CRC, and `payload`.
fn frame(marker: [u8; 4], len: u32, crc: u32, payload: &[u8]) -> Vec<u8> {
    let mut bytes = marker.to_vec();
    bytes.extend_from_slice(&len.to_le_bytes());
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// A good frame around `payload`.
fn good_frame(marker: [u8; 4], payload: &[u8]) -> Vec<u8> {
    frame(marker, payload.len() as u32, crc32fast::hash(payload), payload)
}

/// A recording header followed by `tail`, up to `size` bytes of it.
fn after_header(tail: impl IntoIterator<Item = u8>, size: usize) -> Vec<u8> {
    let mut bytes = recording_bytes(&[]);
    bytes.extend(tail.into_iter().take(size));
    bytes
}

const SIZE: usize = 2 << 20;

#[test]
fn packed_frame_headers_claiming_the_largest_payload() {
    // The case that took 4.5 s per MiB: every candidate claims 1 MiB, so checking each CRC
    // directly hashed about 1 MiB per 12 bytes of input.
    let header = frame(RECORD_MARKER, MAX_PAYLOAD_LEN as u32, 0, &[]);
    let bytes = after_header(header.iter().copied().cycle(), SIZE);
    invariants::check(&bytes);
    let items = read_items(&bytes);
    assert!(matches!(items.first(), Some(ReadItem::Skipped { reason, .. }) if reason.contains("checksum mismatch")));
    assert!(matches!(items.last(), Some(ReadItem::Truncated { .. })), "{:?}", items.last());
    assert_eq!(items.len(), 2);
}

#[test]
fn packed_markers_of_both_kinds() {
    invariants::check(&after_header(RECORD_MARKER.iter().copied().cycle(), SIZE));
    invariants::check(&after_header(TRAILER_MARKER.iter().copied().cycle(), SIZE));
    let both: Vec<u8> = [RECORD_MARKER, TRAILER_MARKER].concat();
    invariants::check(&after_header(both.iter().copied().cycle(), SIZE));
    // Trailer frames claiming the largest trailer.
    let header = frame(TRAILER_MARKER, MAX_TRAILER_LEN as u32, 0, &[]);
    invariants::check(&after_header(header.iter().copied().cycle(), SIZE));
}

#[test]
fn every_candidate_running_exactly_to_the_end_of_the_file() {
    // Each candidate's frame is complete, so each needs its CRC checked, and they all overlap.
    let count = 60_000;
    let mut tail = Vec::with_capacity(count * 12);
    for i in 0..count {
        let rest = ((count - i) * 12 - 12) as u32;
        tail.extend_from_slice(&frame(RECORD_MARKER, rest, i as u32, &[]));
    }
    invariants::check(&after_header(tail, usize::MAX));
}

#[test]
fn nested_good_frames_that_do_not_decode() {
    // Every frame's CRC is right and its payload holds the next one: resuming inside a frame
    // that does not decode would decode (and hash) the same bytes again and again.
    let mut nested = good_frame(RECORD_MARKER, &[42]);
    for _ in 0..3000 {
        let mut payload = vec![42u8];
        payload.extend_from_slice(&nested);
        nested = good_frame(RECORD_MARKER, &payload);
    }
    let bytes = after_header(nested, usize::MAX);
    invariants::check(&bytes);
    assert_eq!(read_items(&bytes).len(), 1, "the outermost frame is skipped whole");
}

#[test]
fn frames_cut_by_the_end_between_good_records() {
    // Frames that run past the end make the reader look for a good frame after them; good
    // records in between must not make it search the same tail again and again.
    let record = &recording_bytes(&many_events(1))[layout(&[]).1 as usize..];
    let mut tail = Vec::new();
    while tail.len() < (MAX_PAYLOAD_LEN - 4096) {
        tail.extend_from_slice(&frame(RECORD_MARKER, MAX_PAYLOAD_LEN as u32, 0, &[]));
        tail.extend_from_slice(record);
    }
    invariants::check(&after_header(tail, usize::MAX));
}

#[test]
fn garbage_with_scattered_marker_prefixes() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise = std::iter::from_fn(move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let byte = (state >> 24) as u8;
        // Marker prefixes often, whole markers sometimes.
        Some(match byte % 16 {
            0 => 0xf5,
            1 => 0x1e,
            2 => 0xc0,
            3 => 0x8d,
            4 => 0xed,
            _ => byte,
        })
    });
    invariants::check(&after_header(noise, SIZE));
}

#[test]
fn a_long_normal_recording() {
    let bytes = recording_bytes(&many_events(30_000));
    invariants::check(&bytes);
}
