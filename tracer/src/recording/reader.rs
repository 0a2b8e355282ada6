//! Reading recordings.

use std::fs::File;
use std::io::{self, ErrorKind, Read};
use std::path::{Path, PathBuf};

use super::{
    FORMAT_VERSION, HEADER_PREFIX_LEN, MAGIC, MAX_HEADER_LEN, MAX_PAYLOAD_LEN, OLDEST_READABLE_VERSION,
    RECORD_HEADER_LEN, RECORD_MARKER, RecordingError, RecordingHeader, codec,
};
use crate::event::Event;

/// Bytes asked of the file per read.
const READ_CHUNK: usize = 64 * 1024;

/// One thing found in a recording after its header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadItem {
    Event(Event),
    /// Damaged bytes starting at `offset` were skipped; reading goes on.
    Skipped {
        offset: u64,
        reason: String,
    },
    /// The file ends inside the record at `offset` (or could not be read further); this is the
    /// last item.
    Truncated {
        offset: u64,
        reason: String,
    },
}

/// Reads a recording: the header on [`open`](Self::open), then the records as an iterator.
/// See the [module documentation](super) for how damage is handled.
pub struct RecordingReader {
    path: PathBuf,
    header: RecordingHeader,
    stream: Stream,
    /// Offset of the next record.
    position: u64,
    done: bool,
}

impl RecordingReader {
    /// Opens `path` and reads and checks its header.
    pub fn open(path: &Path) -> Result<RecordingReader, RecordingError> {
        let file = File::open(path).map_err(|error| RecordingError::Open { path: path.to_owned(), error })?;
        RecordingReader::from_reader(Box::new(file), path)
    }

    /// Reads a recording from any byte stream (e.g. stdin); `path` names it in messages.
    pub fn from_reader(reader: Box<dyn Read + Send>, path: &Path) -> Result<RecordingReader, RecordingError> {
        let mut stream = Stream::new(reader);
        let (header, position) = read_header(&mut stream, path)?;
        Ok(RecordingReader { path: path.to_owned(), header, stream, position, done: false })
    }

    pub fn header(&self) -> &RecordingHeader {
        &self.header
    }

    /// Skips from a damaged record at `from - 1` to the next plausible record: a marker starting a
    /// record whose CRC is right, or one that runs to the end of the file (or the marker prefix
    /// the file ends with). Returns its offset, or the end of the file.
    fn resync(&mut self, mut from: u64) -> u64 {
        loop {
            let Some(candidate) = self.stream.find_marker(from) else {
                return self.stream.end();
            };
            match self.stream.probe(candidate) {
                Probe::Valid { .. } | Probe::Incomplete { .. } | Probe::End => return candidate,
                Probe::NoMarker | Probe::BadLength { .. } | Probe::BadCrc { .. } => from = candidate + 1,
            }
        }
    }

    /// The offset of the first complete record with a right CRC at or after `from`, if any.
    fn find_valid(&mut self, mut from: u64) -> Option<u64> {
        loop {
            let candidate = self.stream.find_marker(from)?;
            if let Probe::Valid { .. } = self.stream.probe(candidate) {
                return Some(candidate);
            }
            from = candidate + 1;
        }
    }

    /// The item for a read error, if one ended the stream early.
    fn read_failure(&mut self, offset: u64) -> Option<ReadItem> {
        let (at, error) = self.stream.error.take()?;
        self.done = true;
        Some(ReadItem::Truncated {
            offset,
            reason: format!("cannot read {} at byte {at}: {error}", self.path.display()),
        })
    }
}

impl Iterator for RecordingReader {
    type Item = ReadItem;

    fn next(&mut self) -> Option<ReadItem> {
        if self.done {
            return None;
        }
        let offset = self.position;
        match self.stream.probe(offset) {
            Probe::End => {
                self.done = true;
                self.read_failure(offset)
            }
            Probe::Valid { len } => {
                let payload = self.stream.get(offset + RECORD_HEADER_LEN as u64, len);
                match codec::decode(payload, self.header.format_version) {
                    Ok(event) => {
                        self.position = offset + (RECORD_HEADER_LEN + len) as u64;
                        Some(ReadItem::Event(event))
                    }
                    Err(error) => {
                        self.position = self.resync(offset + 1);
                        Some(ReadItem::Skipped { offset, reason: format!("undecodable record: {error}") })
                    }
                }
            }
            Probe::BadCrc { stored, computed } => {
                self.position = self.resync(offset + 1);
                Some(ReadItem::Skipped {
                    offset,
                    reason: format!("record checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"),
                })
            }
            Probe::BadLength { len } => {
                self.position = self.resync(offset + 1);
                Some(ReadItem::Skipped {
                    offset,
                    reason: format!("impossible record length {len} (the limit is {MAX_PAYLOAD_LEN})"),
                })
            }
            Probe::NoMarker => {
                self.position = self.resync(offset + 1);
                Some(ReadItem::Skipped {
                    offset,
                    reason: format!("{} bytes without a record marker", self.position - offset),
                })
            }
            Probe::Incomplete { have, total } => {
                if let Some(item) = self.read_failure(offset) {
                    return Some(item);
                }
                if let Some(next) = self.find_valid(offset + 1) {
                    // A damaged length, not a cut-off file: good records follow.
                    self.position = next;
                    return Some(ReadItem::Skipped {
                        offset,
                        reason: match total {
                            Some(total) => format!("record length {total} runs past the end of the file"),
                            None => "damaged record header".to_owned(),
                        },
                    });
                }
                self.done = true;
                let reason = match total {
                    Some(total) => format!(
                        "recording ends inside a record at byte {offset} ({have} of {total} bytes): \
                         the writer was interrupted"
                    ),
                    None => format!(
                        "recording ends inside a record header at byte {offset} ({have} of \
                         {RECORD_HEADER_LEN} bytes): the writer was interrupted"
                    ),
                };
                Some(ReadItem::Truncated { offset, reason })
            }
        }
    }
}

fn read_header(stream: &mut Stream, path: &Path) -> Result<(RecordingHeader, u64), RecordingError> {
    let read_error = |stream: &mut Stream| match stream.error.take() {
        Some((_, error)) => Err(RecordingError::Read { path: path.to_owned(), error }),
        None => Ok(()),
    };
    let bad = |reason: String| RecordingError::BadHeader { path: path.to_owned(), reason };

    let prefix = stream.get(0, HEADER_PREFIX_LEN);
    let magic_ok = prefix.get(..MAGIC.len()) == Some(&MAGIC[..]);
    let prefix: Vec<u8> = prefix.to_vec();
    read_error(stream)?;
    if !magic_ok {
        return Err(RecordingError::NotARecording { path: path.to_owned() });
    }
    let (Some(version), Some(len), Some(crc)) = (le_u16(&prefix, 8), le_u32(&prefix, 10), le_u32(&prefix, 14)) else {
        return Err(bad(format!(
            "the file ends inside the header ({} of at least {HEADER_PREFIX_LEN} bytes)",
            prefix.len()
        )));
    };
    if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(RecordingError::UnsupportedVersion {
            path: path.to_owned(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let len = len as usize;
    if len > MAX_HEADER_LEN {
        return Err(bad(format!("impossible header length {len} (the limit is {MAX_HEADER_LEN})")));
    }
    let body = stream.get(HEADER_PREFIX_LEN as u64, len);
    let have = body.len();
    let computed = crc32fast::hash(body);
    let decoded = codec::decode_header_body(body, version);
    read_error(stream)?;
    if have < len {
        return Err(bad(format!(
            "the file ends inside the header ({} of {} bytes)",
            HEADER_PREFIX_LEN + have,
            HEADER_PREFIX_LEN + len
        )));
    }
    if computed != crc {
        return Err(bad(format!("header checksum mismatch (stored {crc:#010x}, computed {computed:#010x})")));
    }
    let header = decoded.map_err(|error| bad(format!("undecodable header: {error}")))?;
    Ok((header, (HEADER_PREFIX_LEN + len) as u64))
}

fn le_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

/// What is at a record position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probe {
    /// End of the file.
    End,
    /// A complete record with a right CRC and a `len`-byte payload.
    Valid {
        len: usize,
    },
    NoMarker,
    BadLength {
        len: u32,
    },
    BadCrc {
        stored: u32,
        computed: u32,
    },
    /// The file ends after `have` bytes of a record of `total` bytes (`None`: inside the frame
    /// header, whose bytes so far match the marker).
    Incomplete {
        have: usize,
        total: Option<usize>,
    },
}

/// A forward-only window on the file: bytes from `start` are in `buf`.
struct Stream {
    reader: Box<dyn Read + Send>,
    buf: Vec<u8>,
    /// Where reads land before joining `buf`.
    scratch: Box<[u8]>,
    /// File offset of `buf[0]`.
    start: u64,
    eof: bool,
    /// The read error that ended the stream, and its offset.
    error: Option<(u64, io::Error)>,
}

impl Stream {
    fn new(reader: Box<dyn Read + Send>) -> Stream {
        Stream {
            reader,
            buf: Vec::new(),
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
            start: 0,
            eof: false,
            error: None,
        }
    }

    /// Up to `len` bytes at offset `at`; fewer only at the end of the file. Bytes before `at`
    /// may be dropped: offsets must not go backwards between calls.
    fn get(&mut self, at: u64, len: usize) -> &[u8] {
        // Drop what lies before `at`, reading past it if needed.
        while at > self.start {
            let skip = usize::try_from(at - self.start).unwrap_or(usize::MAX);
            if skip < READ_CHUNK && skip <= self.buf.len() / 2 {
                break; // cheap enough to keep; avoids shifting the buffer on every record
            }
            let drop = skip.min(self.buf.len());
            self.buf.drain(..drop);
            self.start += drop as u64;
            if at > self.start && !self.fill() {
                break;
            }
        }
        let begin = usize::try_from(at.saturating_sub(self.start)).unwrap_or(usize::MAX);
        let end = begin.saturating_add(len);
        while self.buf.len() < end && self.fill() {}
        let begin = begin.min(self.buf.len());
        let end = end.min(self.buf.len());
        self.buf.get(begin..end).unwrap_or(&[])
    }

    /// Reads one more chunk; false at the end of the file (or after a read error).
    fn fill(&mut self) -> bool {
        if self.eof {
            return false;
        }
        loop {
            match self.reader.read(&mut self.scratch) {
                Ok(0) => {
                    self.eof = true;
                    return false;
                }
                Ok(read) => {
                    self.buf.extend_from_slice(self.scratch.get(..read).unwrap_or(&self.scratch));
                    return true;
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => {
                    self.eof = true;
                    self.error = Some((self.start + self.buf.len() as u64, error));
                    return false;
                }
            }
        }
    }

    /// The end of the file (reads to it).
    fn end(&mut self) -> u64 {
        while self.fill() {}
        self.start + self.buf.len() as u64
    }

    /// The offset of the first record marker at or after `from`, or of a marker prefix the file
    /// ends with.
    fn find_marker(&mut self, mut from: u64) -> Option<u64> {
        loop {
            let window = self.get(from, READ_CHUNK);
            if let Some(index) = window.windows(RECORD_MARKER.len()).position(|w| w == RECORD_MARKER) {
                return Some(from + index as u64);
            }
            if window.len() < READ_CHUNK {
                // The end of the file: look for a cut-off marker.
                let tail_start = window.len().saturating_sub(RECORD_MARKER.len() - 1);
                let tail = window.get(tail_start..).unwrap_or(&[]);
                return (0..tail.len())
                    .find(|&i| tail.get(i..).is_some_and(|rest| RECORD_MARKER.starts_with(rest)))
                    .map(|i| from + (tail_start + i) as u64);
            }
            from += (window.len() - (RECORD_MARKER.len() - 1)) as u64;
        }
    }

    /// What the record at `at` looks like.
    fn probe(&mut self, at: u64) -> Probe {
        let head = self.get(at, RECORD_HEADER_LEN);
        if head.is_empty() {
            return Probe::End;
        }
        let marker_len = head.len().min(RECORD_MARKER.len());
        if head.get(..marker_len) != RECORD_MARKER.get(..marker_len) {
            return Probe::NoMarker;
        }
        let (Some(len), Some(stored)) = (le_u32(head, 4), le_u32(head, 8)) else {
            return Probe::Incomplete { have: head.len(), total: None };
        };
        if len == 0 || len as usize > MAX_PAYLOAD_LEN {
            return Probe::BadLength { len };
        }
        let total = RECORD_HEADER_LEN + len as usize;
        let record = self.get(at, total);
        if record.len() < total {
            return Probe::Incomplete { have: record.len(), total: Some(total) };
        }
        let computed = crc32fast::hash(record.get(RECORD_HEADER_LEN..).unwrap_or(&[]));
        if computed != stored {
            return Probe::BadCrc { stored, computed };
        }
        Probe::Valid { len: len as usize }
    }
}
