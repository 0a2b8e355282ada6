//! Reading recordings: the header, then frames as items, with damage reported and skipped.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::references::Known;
use super::stream::Stream;
use super::trailer::Trailer;
use super::{
    FORMAT_VERSION, HEADER_PREFIX_LEN, MAGIC, MAX_HEADER_LEN, MAX_PAYLOAD_LEN, MAX_TRAILER_LEN,
    OLDEST_READABLE_VERSION, RECORD_HEADER_LEN, RECORD_MARKER, RecordingError, RecordingHeader, TRAILER_MARKER, codec,
};
use crate::event::Event;

/// One thing found in a recording after its header.
#[derive(Clone, Debug, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "items are handed on one at a time, never stored in bulk: boxing would only add an allocation per event"
)]
pub enum ReadItem {
    Event(Event),
    /// Damaged bytes starting at `offset` were skipped; reading goes on.
    Skipped {
        offset: u64,
        reason: String,
    },
    /// The file ends inside the frame at `offset`; this is the last item. `reason` says where
    /// ("the file ends inside a record at byte ...").
    Truncated {
        offset: u64,
        reason: String,
    },
    /// The file could not be read at `offset`; this is the last item. `reason` names the error.
    ReadFailed {
        offset: u64,
        reason: String,
    },
    /// The trailer of a cleanly closed recording; this is the last item.
    Trailer(Trailer),
}

/// Reads a recording: the header on [`open`](Self::open), then the frames as an iterator.
/// See the [module documentation](super) for how damage is handled.
pub struct RecordingReader {
    path: PathBuf,
    header: RecordingHeader,
    stream: Stream,
    /// Offset of the next frame.
    position: u64,
    done: bool,
    /// The last probe, which the search for a good frame and the next read share.
    probed: Option<(u64, Probe)>,
    /// Ancestor chains and cgroups defined by the records read so far.
    known: Known,
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
        Ok(RecordingReader {
            path: path.to_owned(),
            header,
            stream,
            position,
            done: false,
            probed: None,
            known: Known::default(),
        })
    }

    pub fn header(&self) -> &RecordingHeader {
        &self.header
    }

    /// Bytes examined so far, for checks that reading is linear.
    pub fn work(&self) -> u64 {
        self.stream.work
    }

    /// Skips from a damaged frame at `from - 1` to the next plausible frame: a marker starting a
    /// good frame, or one that runs to the end of the file (or the marker prefix the file ends
    /// with). Returns its offset, or the end of the file.
    fn resync(&mut self, mut from: u64) -> u64 {
        loop {
            let Some(candidate) = self.stream.find_marker(from) else {
                return self.stream.end();
            };
            match self.probe(candidate) {
                Probe::Valid { .. } | Probe::Incomplete { .. } | Probe::End => return candidate,
                Probe::NoMarker | Probe::BadLength { .. } | Probe::BadCrc { .. } => from = candidate + 1,
            }
        }
    }

    /// The offset of the first good frame at or after `from`, if any.
    fn find_valid(&mut self, mut from: u64) -> Option<u64> {
        loop {
            let candidate = self.stream.find_marker(from)?;
            if let Probe::Valid { .. } = self.probe(candidate) {
                return Some(candidate);
            }
            from = candidate + 1;
        }
    }

    /// What the frame at `at` looks like (each position is probed once).
    fn probe(&mut self, at: u64) -> Probe {
        match self.probed {
            Some((offset, probe)) if offset == at => probe,
            _ => {
                let probe = probe(&mut self.stream, at);
                self.probed = Some((at, probe));
                probe
            }
        }
    }

    /// The item for a read error, if one ended the stream early.
    fn read_failure(&mut self, offset: u64) -> Option<ReadItem> {
        let (at, error) = self.stream.error.take()?;
        self.done = true;
        Some(ReadItem::ReadFailed {
            offset,
            reason: format!("cannot read {} at byte {at}: {error}", self.path.display()),
        })
    }

    /// The item for a good frame at `offset`.
    fn good_frame(&mut self, offset: u64, frame: Frame, len: usize) -> ReadItem {
        let end = offset + (RECORD_HEADER_LEN + len) as u64;
        self.position = end;
        let payload = self.stream.get(offset + RECORD_HEADER_LEN as u64, len);
        match frame {
            Frame::Record => {
                let decoded = codec::decode(payload, self.header.format_version, &mut self.known);
                self.stream.count_work(len);
                match decoded {
                    Ok(event) => ReadItem::Event(event),
                    Err(error) => ReadItem::Skipped { offset, reason: format!("undecodable record: {error}") },
                }
            }
            Frame::Trailer => {
                let decoded = Trailer::decode(payload);
                self.stream.count_work(len);
                let at_end = self.stream.get(end, 1).is_empty();
                match decoded {
                    Err(error) => ReadItem::Skipped { offset, reason: format!("undecodable trailer: {error}") },
                    Ok(_) if self.stream.error.is_some() => self.read_failure(end).unwrap_or(ReadItem::ReadFailed {
                        offset: end,
                        reason: "the file could not be read after its trailer".to_owned(),
                    }),
                    Ok(trailer) if at_end => {
                        self.done = true;
                        ReadItem::Trailer(trailer)
                    }
                    Ok(_) => ReadItem::Skipped { offset, reason: "a trailer before the end of the file".to_owned() },
                }
            }
        }
    }
}

impl Iterator for RecordingReader {
    type Item = ReadItem;

    fn next(&mut self) -> Option<ReadItem> {
        if self.done {
            return None;
        }
        let offset = self.position;
        match self.probe(offset) {
            Probe::End => {
                self.done = true;
                self.read_failure(offset)
            }
            Probe::Valid { frame, len } => Some(self.good_frame(offset, frame, len)),
            Probe::BadCrc { frame, stored, computed } => {
                self.position = self.resync(offset + 1);
                Some(ReadItem::Skipped {
                    offset,
                    reason: format!(
                        "{} checksum mismatch (stored {stored:#010x}, computed {computed:#010x})",
                        frame.name()
                    ),
                })
            }
            Probe::BadLength { frame, len } => {
                self.position = self.resync(offset + 1);
                Some(ReadItem::Skipped {
                    offset,
                    reason: format!("impossible {} length {len} (the limit is {})", frame.name(), frame.limit()),
                })
            }
            Probe::NoMarker => {
                self.position = self.resync(offset + 1);
                Some(ReadItem::Skipped {
                    offset,
                    reason: format!("{} bytes without a record marker", self.position - offset),
                })
            }
            Probe::Incomplete { frame, have, total } => {
                if let Some(item) = self.read_failure(offset) {
                    return Some(item);
                }
                if let Some(next) = self.find_valid(offset + 1) {
                    // A damaged length, not a cut-off file: good frames follow.
                    self.position = next;
                    return Some(ReadItem::Skipped {
                        offset,
                        reason: match total {
                            Some(total) => {
                                format!("{} length {total} runs past the end of the file", frame_name(frame))
                            }
                            None => format!("damaged {} header", frame_name(frame)),
                        },
                    });
                }
                self.done = true;
                let reason = match total {
                    Some(total) => {
                        format!(
                            "the file ends inside a {} at byte {offset}, {have} of {total} bytes",
                            frame_name(frame)
                        )
                    }
                    None => format!(
                        "the file ends inside a {} header at byte {offset}, {have} of {RECORD_HEADER_LEN} bytes",
                        frame_name(frame)
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

/// Which frame a marker announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Frame {
    Record,
    Trailer,
}

impl Frame {
    fn name(self) -> &'static str {
        match self {
            Frame::Record => "record",
            Frame::Trailer => "trailer",
        }
    }

    fn limit(self) -> usize {
        match self {
            Frame::Record => MAX_PAYLOAD_LEN,
            Frame::Trailer => MAX_TRAILER_LEN,
        }
    }
}

fn frame_name(frame: Option<Frame>) -> &'static str {
    frame.map_or("record", Frame::name)
}

/// What is at a frame position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probe {
    /// End of the file.
    End,
    /// A good frame with a `len`-byte payload.
    Valid {
        frame: Frame,
        len: usize,
    },
    NoMarker,
    BadLength {
        frame: Frame,
        len: u32,
    },
    BadCrc {
        frame: Frame,
        stored: u32,
        computed: u32,
    },
    /// The file ends after `have` bytes of a frame of `total` bytes (`None`: inside the frame
    /// header, whose bytes so far match a marker; `frame` is `None` while they match both).
    Incomplete {
        frame: Option<Frame>,
        have: usize,
        total: Option<usize>,
    },
}

/// What the frame at `at` looks like. Costs no more than reading its header, whatever its length,
/// apart from hashing bytes never hashed before.
fn probe(stream: &mut Stream, at: u64) -> Probe {
    let head = stream.get(at, RECORD_HEADER_LEN);
    if head.is_empty() {
        return Probe::End;
    }
    let frame = match head.get(..RECORD_MARKER.len()) {
        Some(marker) if marker == RECORD_MARKER => Frame::Record,
        Some(marker) if marker == TRAILER_MARKER => Frame::Trailer,
        Some(_) => return Probe::NoMarker,
        None if RECORD_MARKER.starts_with(head) => {
            return Probe::Incomplete { frame: None, have: head.len(), total: None };
        }
        None => return Probe::NoMarker,
    };
    let (Some(len), Some(stored)) = (le_u32(head, 4), le_u32(head, 8)) else {
        return Probe::Incomplete { frame: Some(frame), have: head.len(), total: None };
    };
    if len == 0 || len as usize > frame.limit() {
        return Probe::BadLength { frame, len };
    }
    let len = len as usize;
    let total = RECORD_HEADER_LEN + len;
    let have = stream.get(at, total).len();
    if have < total {
        return Probe::Incomplete { frame: Some(frame), have, total: Some(total) };
    }
    let computed = stream.crc(at + RECORD_HEADER_LEN as u64, len);
    if computed != stored {
        return Probe::BadCrc { frame, stored, computed };
    }
    Probe::Valid { frame, len }
}
