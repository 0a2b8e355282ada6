//! Writing recordings.

use std::fs::File;
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};

use bytes::{Buf, BufMut, BytesMut};

use super::{
    FORMAT_VERSION, HEADER_PREFIX_LEN, MAGIC, MAX_HEADER_LEN, MAX_PAYLOAD_LEN, RECORD_HEADER_LEN, RECORD_MARKER,
    RecordingError, RecordingHeader, codec, create,
};
use crate::event::Event;

/// The buffer is written out once it holds this many bytes.
const FLUSH_BYTES: usize = 64 * 1024;
/// ... or when an event arrives this long after the last write.
const FLUSH_INTERVAL_NS: u64 = 1_000_000_000;

/// Appends events to a new recording. See the [module documentation](super) for the format and
/// the buffering rules.
///
/// Dropping the writer writes what is buffered (errors are ignored then); call
/// [`finish`](Self::finish) to see them.
pub struct RecordingWriter {
    file: File,
    path: PathBuf,
    buf: BytesMut,
    events_written: u64,
    /// Coarse monotonic time of the last write, ns.
    pub(super) last_write_ns: u64,
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
            events_written: 0,
            last_write_ns: coarse_now_ns(),
            replaced: created.replaced,
        })
    }

    /// What `--force` replaced at the path, when it was not a file of the user's own (a line
    /// for the user).
    pub fn replaced(&self) -> Option<&str> {
        self.replaced.as_deref()
    }

    /// Adds one event to the buffer, and writes the buffer out when it is large or old enough.
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
        self.events_written += 1;

        if self.buf.len() >= FLUSH_BYTES { self.write_out() } else { self.flush_if_due() }
    }

    /// Writes the buffer out if it holds anything and the last write was at least one second ago.
    /// Cheap; meant for a periodic timer so that events are on disk within about a second even
    /// when no further events arrive.
    pub fn flush_if_due(&mut self) -> Result<(), RecordingError> {
        if !self.buf.is_empty() && coarse_now_ns().saturating_sub(self.last_write_ns) >= FLUSH_INTERVAL_NS {
            self.write_out()?;
        }
        Ok(())
    }

    /// Writes everything buffered to the file (no fsync).
    #[cfg(test)]
    pub fn flush(&mut self) -> Result<(), RecordingError> {
        self.write_out()
    }

    /// Writes everything buffered, `fdatasync`s the file and closes it.
    pub fn finish(mut self) -> Result<(), RecordingError> {
        self.write_out()?;
        self.file.sync_data().map_err(|error| RecordingError::Write { path: self.path.clone(), error })
    }

    /// Closes and removes the file, when nothing was recorded after all (tracer could not
    /// start). Leaves the path alone if it no longer names this file.
    pub fn discard(mut self) {
        self.buf.clear();
        create::remove_if_ours(&self.path, &self.file);
    }

    /// Events accepted by [`append`](Self::append) so far (including any still buffered).
    #[cfg(test)]
    pub fn events_written(&self) -> u64 {
        self.events_written
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
        self.last_write_ns = coarse_now_ns();
        Ok(())
    }
}

impl Drop for RecordingWriter {
    fn drop(&mut self) {
        let _ = self.write_out();
    }
}

/// `CLOCK_MONOTONIC_COARSE` in ns: a few ns to read (vDSO), resolution of a jiffy.
fn coarse_now_ns() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut now) };
    if rc != 0 {
        return 0;
    }
    (now.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(now.tv_nsec as u64)
}
