//! Writing recordings: the header at creation, records through a buffer written at every drain,
//! and the trailer at a clean stop.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};

use bytes::{Buf, BufMut, BytesMut};

use super::{
    FORMAT_VERSION, HEADER_PREFIX_LEN, MAGIC, MAX_HEADER_LEN, MAX_PAYLOAD_LEN, RECORD_HEADER_LEN, RECORD_MARKER,
    RecordingError, RecordingHeader, TRAILER_MARKER, codec, create,
    trailer::{Losses, Trailer},
};
use crate::event::Event;

/// The buffer is written out once it holds this many bytes, even within a drain.
const FLUSH_BYTES: usize = 64 * 1024;

/// Appends events to a new recording. See the [module documentation](super) for the format, how
/// the file is created, and when the buffer is written.
///
/// Dropping the writer writes what is buffered, but no trailer (errors are ignored then): the
/// file then reads as not closed cleanly. Call [`finish`](Self::finish) to close it.
pub struct RecordingWriter {
    file: File,
    path: PathBuf,
    buf: BytesMut,
    /// Records appended, by kind name.
    records: BTreeMap<&'static str, u64>,
    replaced: Option<String>,
}

impl RecordingWriter {
    /// Creates `path` with mode 0600 and writes the header. An existing path is an error unless
    /// `overwrite`; then a new file replaces it atomically (never written through).
    pub fn create(path: &Path, header: &RecordingHeader, overwrite: bool) -> Result<Self, RecordingError> {
        let mut body = BytesMut::new();
        codec::encode_header_body(header, &mut body);
        if body.len() > MAX_HEADER_LEN {
            return Err(RecordingError::HeaderTooLarge {
                path: path.to_owned(),
                size: body.len(),
                limit: MAX_HEADER_LEN,
            });
        }
        let mut head = BytesMut::with_capacity(HEADER_PREFIX_LEN + body.len());
        head.put_slice(&MAGIC);
        head.put_u16_le(FORMAT_VERSION);
        head.put_u32_le(body.len() as u32);
        head.put_u32_le(crc32fast::hash(&body));
        head.put_slice(&body);
        debug_assert_eq!(head.len(), HEADER_PREFIX_LEN + body.len());

        let created = create::create(path, overwrite, &head)?;
        Ok(RecordingWriter {
            file: created.file,
            path: path.to_owned(),
            buf: BytesMut::with_capacity(FLUSH_BYTES + 4096),
            records: BTreeMap::new(),
            replaced: created.replaced,
        })
    }

    /// What `--force` replaced at the path, when it was not a file of the user's own (a line
    /// for the user).
    pub fn replaced(&self) -> Option<&str> {
        self.replaced.as_deref()
    }

    /// Adds one event to the buffer, and writes the buffer out when it is large.
    pub fn append(&mut self, event: &Event) -> Result<(), RecordingError> {
        let frame = self.buf.len();
        self.buf.put_slice(&RECORD_MARKER);
        self.buf.put_u64_le(0); // length and CRC, filled in below
        let payload = self.buf.len();
        codec::encode(event, &mut self.buf);
        let len = self.buf.len() - payload;
        if len > MAX_PAYLOAD_LEN {
            self.buf.truncate(frame);
            return Err(RecordingError::EventTooLarge { path: self.path.clone(), size: len, limit: MAX_PAYLOAD_LEN });
        }
        let crc = crc32fast::hash(&self.buf[payload..]);
        self.buf[frame + 4..frame + 8].copy_from_slice(&(len as u32).to_le_bytes());
        self.buf[frame + 8..frame + RECORD_HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
        *self.records.entry(event.kind().name()).or_default() += 1;

        if self.buf.len() >= FLUSH_BYTES { self.write_out() } else { Ok(()) }
    }

    /// Writes everything buffered to the file (the page cache: no fsync). Called after each
    /// batch drained from the kernel, so a killed tracer loses at most what the kernel held.
    pub fn flush(&mut self) -> Result<(), RecordingError> {
        self.write_out()
    }

    /// Writes everything buffered and the trailer, `fdatasync`s the file and closes it.
    pub fn finish(mut self, losses: Losses) -> Result<(), RecordingError> {
        let trailer = Trailer {
            end_wall_ns: wall_now_ns(),
            records: self.records.iter().map(|(name, count)| ((*name).to_owned(), *count)).collect(),
            losses,
        };
        let payload = trailer.encode();
        self.buf.put_slice(&TRAILER_MARKER);
        self.buf.put_u32_le(payload.len() as u32);
        self.buf.put_u32_le(crc32fast::hash(&payload));
        self.buf.put_slice(&payload);
        self.write_out()?;
        self.file.sync_data().map_err(|error| RecordingError::Write { path: self.path.clone(), error })
    }

    /// Closes and removes the file, when nothing was recorded after all (tracer could not
    /// start). Leaves the path alone if it no longer names this file.
    pub fn discard(mut self) {
        self.buf.clear();
        create::remove_if_ours(&self.path, &self.file);
    }

    /// Records appended so far, by kind name (including any still buffered).
    #[cfg(test)]
    pub fn records(&self) -> &BTreeMap<&'static str, u64> {
        &self.records
    }

    fn write_out(&mut self) -> Result<(), RecordingError> {
        while !self.buf.is_empty() {
            match self.file.write(&self.buf) {
                Ok(0) => {
                    let error = io::Error::from(ErrorKind::WriteZero);
                    return Err(RecordingError::Write { path: self.path.clone(), error });
                }
                // Written bytes leave the buffer, so a failed write can be retried without
                // duplicating anything.
                Ok(written) => self.buf.advance(written),
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(RecordingError::Write { path: self.path.clone(), error }),
            }
        }
        self.buf.clear();
        Ok(())
    }
}

impl Drop for RecordingWriter {
    fn drop(&mut self) {
        let _ = self.write_out();
    }
}

/// Now, in ns since the Unix epoch (0 if the clock is before it).
fn wall_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
