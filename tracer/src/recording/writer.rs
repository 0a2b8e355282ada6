//! Writing recordings: the header at creation, records through a buffer written at every drain,
//! and the trailer at a clean stop. A recording can rotate ([`crate::files::rotate`]): the file is then
//! renamed and closed with its trailer, and a new file at the path starts with a header of its
//! own, so every rotated file is a complete recording that replays alone. A rotation happens
//! only between two records, after every earlier record reached the old file: the files
//! together hold each event exactly once.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};

use bytes::{Buf, BufMut, BytesMut};

use super::{
    FORMAT_VERSION, HEADER_PREFIX_LEN, MAGIC, MAX_HEADER_LEN, MAX_PAYLOAD_LEN, RECORD_HEADER_LEN, RECORD_MARKER,
    RecordingError, RecordingHeader, TRAILER_MARKER, codec,
    references::Definitions,
    trailer::{Losses, Trailer},
};
use strum::{EnumCount, VariantArray};

use crate::{
    event::{Detail, Event, Kind, LostOrigin},
    files::rotate::{Reopened, RotatePolicy, RotatingFile},
};

/// The buffer is written out once it holds this many bytes, even within a drain.
pub(super) const FLUSH_BYTES: usize = 64 * 1024;

/// Appends events to a new recording. See the [module documentation](super) for the format, how
/// the file is created, and when the buffer is written.
///
/// Dropping the writer writes what is buffered, but no trailer (errors are ignored then): the
/// file then reads as not closed cleanly. Call [`finish`](Self::finish) to close it.
pub struct RecordingWriter {
    file: RotatingFile,
    path: PathBuf,
    /// The header of the first file; later files get the same one but for their start time.
    header: RecordingHeader,
    buf: BytesMut,
    /// Ancestor chains and cgroups defined in `buf`: forgotten whenever it is written out.
    definitions: Definitions,
    /// Records appended to the current file, by kind (an array: a map keyed by the kind's
    /// name compared strings for every record).
    records: [u64; Kind::COUNT],
    /// Losses reported by `lost` records in the current file, and in the files before it.
    losses: Losses,
    earlier_losses: Losses,
    replaced: Option<String>,
}

/// The header bytes of a recording.
fn encode_header(path: &Path, header: &RecordingHeader) -> Result<BytesMut, RecordingError> {
    let mut body = BytesMut::new();
    codec::encode_header_body(header, &mut body);
    if body.len() > MAX_HEADER_LEN {
        return Err(RecordingError::HeaderTooLarge { path: path.to_owned(), size: body.len(), limit: MAX_HEADER_LEN });
    }
    let mut head = BytesMut::with_capacity(HEADER_PREFIX_LEN + body.len());
    head.put_slice(&MAGIC);
    head.put_u16_le(FORMAT_VERSION);
    head.put_u32_le(body.len() as u32);
    head.put_u32_le(crc32fast::hash(&body));
    head.put_slice(&body);
    debug_assert_eq!(head.len(), HEADER_PREFIX_LEN + body.len());
    Ok(head)
}

/// Of `records` counted by kind, the kinds that have any, by name.
fn by_name(records: &[u64; Kind::COUNT]) -> BTreeMap<&'static str, u64> {
    Kind::VARIANTS.iter().map(|&kind| (kind.name(), records[kind as usize])).filter(|&(_, count)| count > 0).collect()
}

/// The trailer frame of a file holding `records`, with `losses`.
fn trailer_frame(records: &[u64; Kind::COUNT], losses: Losses) -> Vec<u8> {
    let trailer = Trailer {
        end_wall_ns: wall_now_ns(),
        records: by_name(records).into_iter().map(|(name, count)| (name.to_owned(), count)).collect(),
        losses,
    };
    let payload = trailer.encode();
    let mut frame = Vec::with_capacity(12 + payload.len());
    frame.extend_from_slice(&TRAILER_MARKER);
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    frame.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    frame.extend_from_slice(&payload);
    frame
}

/// Ends a renamed recording: its trailer, then `fdatasync`.
fn close_with(file: &mut File, trailer: &[u8]) -> io::Result<()> {
    file.write_all(trailer)?;
    file.sync_data()
}

impl RecordingWriter {
    /// Creates `path` with mode 0600 and writes the header. An existing path is an error unless
    /// `overwrite`; then a new file replaces it atomically (never written through). The file
    /// does not rotate, but can be reopened after an outside rename ([`reopen`](Self::reopen)).
    pub fn create(path: &Path, header: &RecordingHeader, overwrite: bool) -> Result<Self, RecordingError> {
        let head = encode_header(path, header)?;
        let created = crate::files::create(path, overwrite, &head)?;
        let file = RotatingFile::adopt(path, created.dir, created.file, RotatePolicy::default())?;
        Ok(Self::writing(file, path, header, created.replaced))
    }

    /// Creates `path` to rotate as `policy` says: an existing file is rotated away first (see
    /// [`RotatingFile::create`]).
    pub fn create_rotating(
        path: &Path,
        header: &RecordingHeader,
        policy: RotatePolicy,
    ) -> Result<Self, RecordingError> {
        let head = encode_header(path, header)?;
        let mut file = RotatingFile::create(path, policy)?;
        file.write_preamble(&head).map_err(|error| RecordingError::Write { path: path.to_owned(), error })?;
        Ok(Self::writing(file, path, header, None))
    }

    fn writing(file: RotatingFile, path: &Path, header: &RecordingHeader, replaced: Option<String>) -> Self {
        RecordingWriter {
            file,
            path: path.to_owned(),
            header: header.clone(),
            buf: BytesMut::with_capacity(FLUSH_BYTES + 4096),
            definitions: Definitions::default(),
            records: [0; Kind::COUNT],
            losses: Losses::default(),
            earlier_losses: Losses::default(),
            replaced,
        }
    }

    /// What `--force` replaced at the path, when it was not a file of the user's own (a line
    /// for the user).
    pub fn replaced(&self) -> Option<&str> {
        self.replaced.as_deref()
    }

    /// Adds one event to the buffer, and writes the buffer out when it is large. When the
    /// record would take the file past its size limit, the file is rotated first. The event
    /// comes back as it was; its ancestor chain and cgroup are set aside while it is encoded.
    pub fn append(&mut self, event: &mut Event) -> Result<(), RecordingError> {
        let frame = self.buf.len();
        self.put_record(event)?;
        if self.file.size_due(frame as u64, (self.buf.len() - frame) as u64) {
            // Encoded again after the rotation: the record may define a value the new file needs.
            self.buf.truncate(frame);
            self.rotate()?;
            self.put_record(event)?;
        }
        self.records[event.kind() as usize] += 1;
        match event.detail {
            Detail::Lost { count, origin: LostOrigin::RingBuffer } => {
                self.losses.kernel = self.losses.kernel.saturating_add(count)
            }
            Detail::Lost { count, origin: LostOrigin::Output } => {
                self.losses.output = self.losses.output.saturating_add(count)
            }
            _ => {}
        }

        if self.buf.len() >= FLUSH_BYTES { self.write_out() } else { Ok(()) }
    }

    /// Appends the frame of `event` to the buffer.
    fn put_record(&mut self, event: &mut Event) -> Result<(), RecordingError> {
        let frame = self.buf.len();
        self.buf.put_slice(&RECORD_MARKER);
        self.buf.put_u64_le(0); // length and CRC, filled in below
        let payload = self.buf.len();
        codec::encode(event, &mut self.definitions, &mut self.buf);
        let len = self.buf.len() - payload;
        if len > MAX_PAYLOAD_LEN {
            self.buf.truncate(frame);
            // The record may have defined a value; the next ones must not refer to it.
            self.definitions.forget();
            return Err(RecordingError::EventTooLarge { path: self.path.clone(), size: len, limit: MAX_PAYLOAD_LEN });
        }
        let crc = crc32fast::hash(&self.buf[payload..]);
        self.buf[frame + 4..frame + 8].copy_from_slice(&(len as u32).to_le_bytes());
        self.buf[frame + 8..frame + RECORD_HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
        Ok(())
    }

    /// Writes everything buffered to the file (the page cache: no fsync). Called after each
    /// batch drained from the kernel, so a killed tracer loses at most what the kernel held.
    /// Rotates a file that reached its age (this runs every 50 ms, often enough for ages of
    /// a second and more).
    pub fn flush(&mut self) -> Result<(), RecordingError> {
        self.write_out()?;
        if self.file.age_due() {
            self.rotate()?;
        }
        Ok(())
    }

    /// Closes the current file with its trailer and goes on in a new one at the path. A rename
    /// that fails is not fatal: recording goes on in the current file, and rotation is tried
    /// again later. Failing to close or create a file is.
    fn rotate(&mut self) -> Result<(), RecordingError> {
        self.write_out()?;
        let trailer = trailer_frame(&self.records, self.losses);
        match self.file.rotate_with(|old| close_with(old, &trailer)) {
            Ok(()) => self.start_file(),
            Err(error @ crate::files::rotate::RotateError::Rename { .. }) => {
                log::warn!("{error}");
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// After an outside tool renamed the recording (logrotate, then SIGHUP): closes the renamed
    /// file with its trailer and goes on in a new file at the path. A path that still names
    /// the recording, or that names a file tracer did not create, changes nothing.
    pub fn reopen(&mut self) -> Result<(), RecordingError> {
        self.write_out()?;
        let trailer = trailer_frame(&self.records, self.losses);
        match self.file.reopen_with(|old| close_with(old, &trailer)) {
            Ok(Reopened::New) => {
                log::info!("reopened {}", self.path.display());
                self.start_file()
            }
            Ok(Reopened::Unchanged) => {
                log::info!("{} was not renamed: still recording into it", self.path.display());
                Ok(())
            }
            Err(error @ crate::files::rotate::RotateError::Occupied { .. }) => {
                log::warn!("{error}");
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Writes the header of a new file, which starts now.
    fn start_file(&mut self) -> Result<(), RecordingError> {
        self.earlier_losses.kernel = self.earlier_losses.kernel.saturating_add(self.losses.kernel);
        self.earlier_losses.output = self.earlier_losses.output.saturating_add(self.losses.output);
        self.losses = Losses::default();
        self.records = [0; Kind::COUNT];
        let header = RecordingHeader { start_wall_ns: wall_now_ns(), ..self.header.clone() };
        let head = encode_header(&self.path, &header)?;
        self.file.write_preamble(&head).map_err(|error| RecordingError::Write { path: self.path.clone(), error })
    }

    /// Writes everything buffered and the trailer, `fdatasync`s the file and closes it. `losses`
    /// are those of the whole session; files closed by rotation already counted theirs.
    pub fn finish(mut self, losses: Losses) -> Result<(), RecordingError> {
        let losses = Losses {
            kernel: losses.kernel.saturating_sub(self.earlier_losses.kernel),
            output: losses.output.saturating_sub(self.earlier_losses.output),
        };
        let trailer = trailer_frame(&self.records, losses);
        self.buf.put_slice(&trailer);
        self.write_out()?;
        self.file.file().sync_data().map_err(|error| RecordingError::Write { path: self.path.clone(), error })
    }

    /// Closes and removes the file, when nothing was recorded after all (tracer could not
    /// start). Leaves the path alone if it no longer names this file.
    pub fn discard(mut self) {
        self.buf.clear();
        crate::files::remove_if_ours(&self.path, self.file.file());
    }

    /// Records appended to the current file so far, by kind name (including any still buffered).
    #[cfg(test)]
    pub fn records(&self) -> BTreeMap<&'static str, u64> {
        by_name(&self.records)
    }

    fn write_out(&mut self) -> Result<(), RecordingError> {
        // Whatever is written next stands alone: a damaged stretch of the file takes no
        // definitions of another with it.
        self.definitions.forget();
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
