//! The reader's promises on any input, checked by the property tests and by the fuzz target
//! (`fuzz/`): it never panics, it ends, offsets only grow, at most one ending item comes and
//! only last, and the work done is linear in the input's size.

use std::io::Cursor;
use std::path::Path;

use bytes::BytesMut;

use super::crc_index::STRIDE;
use super::stream::READ_CHUNK;
use super::{FORMAT_VERSION, MAGIC, ReadItem, RecordingHeader, RecordingReader, codec};

/// Work allowed per input byte. Each byte is read once, moved once, scanned for markers at most
/// twice, hashed at most twice (directly, then into the CRC index) and decoded at most once; on
/// top of that, each frame candidate (markers are at least 4 bytes apart) costs two CRC queries
/// of at most `STRIDE` bytes each, probed at most twice.
pub const WORK_PER_BYTE: u64 = 7 + (2 * 2 * STRIDE as u64).div_ceil(4);
/// Work allowed whatever the size: the read-ahead of a window, and its final scan.
pub const WORK_FIXED: u64 = 4 * READ_CHUNK as u64;

/// Reads `bytes` as a recording and checks every promise; panics when one is broken.
pub fn check(bytes: &[u8]) {
    let Ok(mut reader) = RecordingReader::from_reader(Box::new(Cursor::new(bytes.to_vec())), Path::new("input")) else {
        return;
    };
    let items: Vec<ReadItem> = reader.by_ref().take(bytes.len() + 2).collect();
    assert!(reader.next().is_none(), "the reader does not end");
    assert!(items.len() <= bytes.len(), "{} items from {} bytes", items.len(), bytes.len());
    let len = bytes.len() as u64;
    let mut last_offset = 0;
    for (index, item) in items.iter().enumerate() {
        let offset = match item {
            ReadItem::Event(_) => continue,
            ReadItem::Skipped { offset, .. } => *offset,
            ReadItem::Truncated { offset, .. } | ReadItem::ReadFailed { offset, .. } => {
                assert_eq!(index, items.len() - 1, "an ending item before the last: {item:?}");
                *offset
            }
            ReadItem::Trailer(_) => {
                assert_eq!(index, items.len() - 1, "a trailer item before the last");
                continue;
            }
        };
        assert!(offset >= last_offset && offset < len, "offset {offset} after {last_offset} in {len} bytes");
        last_offset = offset;
    }
    let work = reader.work();
    assert!(
        work <= WORK_PER_BYTE * len + WORK_FIXED,
        "{work} units of work for {len} bytes (allowed {WORK_PER_BYTE} per byte + {WORK_FIXED})"
    );
}

/// [`check`] on `tail` after a valid header, so that arbitrary bytes reach the frame reader.
pub fn check_after_header(tail: &[u8]) {
    let header = RecordingHeader {
        tracer_version: "0.1.0".to_owned(),
        kernel_release: "6.18.0".to_owned(),
        hostname: "host".to_owned(),
        boot_id: "00000000-0000-4000-8000-000000000000".to_owned(),
        start_wall_ns: 1_700_000_000_000_000_000,
        filters: vec!["--comm".to_owned(), "x".to_owned()],
        ..RecordingHeader::default()
    };
    let mut body = BytesMut::new();
    codec::encode_header_body(&header, &mut body);
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(tail);
    check(&bytes);
}
