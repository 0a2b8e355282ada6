//! Property tests: arbitrary events round-trip through a file, and no input, whole or damaged,
//! makes the reader panic or break its promises.

use super::*;

/// Checks the reader's promises on any input (see [`invariants`](super::invariants)).
fn check_reader_invariants(bytes: &[u8]) {
    super::invariants::check(bytes);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_events_round_trip_through_a_file(events in proptest::collection::vec(arb_event(), 0..20)) {
        let path = TempPath::new("prop");
        write_recording(&path.0, &events);
        let (items, _) = split_trailer(RecordingReader::open(&path.0).expect("open").collect());
        prop_assert_eq!(items, events.into_iter().map(ReadItem::Event).collect::<Vec<_>>());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_whole_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check_reader_invariants(&bytes);
    }

    #[test]
    fn arbitrary_bytes_after_a_header_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut bytes = recording_bytes(&[]);
        bytes.extend_from_slice(&tail);
        check_reader_invariants(&bytes);
    }

    #[test]
    fn arbitrary_marker_laden_bytes_never_panic(
        chunks in proptest::collection::vec(
            prop_oneof![
                Just(RECORD_MARKER.to_vec()),
                proptest::collection::vec(any::<u8>(), 0..16),
                any::<u32>().prop_map(|len| (len % 64).to_le_bytes().to_vec()),
            ],
            0..60,
        )
    ) {
        let mut bytes = recording_bytes(&[]);
        bytes.extend(chunks.concat());
        check_reader_invariants(&bytes);
    }

    #[test]
    fn damaged_recordings_never_panic(
        seed_events in proptest::collection::vec(arb_event(), 1..8),
        damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = recording_bytes(&seed_events);
        let header_len = layout(&[]).1 as usize;
        for (index, value) in damage {
            let position = header_len + index.index(bytes.len() - header_len);
            bytes[position] = value;
        }
        let cut = header_len + cut.index(bytes.len() - header_len + 1);
        bytes.truncate(cut);
        check_reader_invariants(&bytes);
    }
}
