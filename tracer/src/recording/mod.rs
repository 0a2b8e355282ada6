//! Recordings: the file `tracer -o FILE` writes and `tracer replay FILE` reads.
//!
//! # File format, version 5
//!
//! All integers are little-endian. A *varint* is unsigned LEB128: 7 bits per byte, least
//! significant group first, the high bit set on every byte but the last; at most 10 bytes for a
//! u64 (the 10th byte may only be 0 or 1) and the value must fit the field's type (u32 fields
//! reject values above `u32::MAX`). A *string* is a varint byte length followed by that many bytes
//! of UTF-8. A *bool* is one byte, 0 or 1 (any other value is an error). An *option* is a bool
//! presence byte, followed by the value when it is 1.
//!
//! ## Header
//!
//! | offset | size | field                                                     |
//! |-------:|-----:|-----------------------------------------------------------|
//! | 0      | 8    | magic `89 54 52 41 43 45 52 0A` (`\x89TRACER\n`)          |
//! | 8      | 2    | format version, u16 (this document: 5; 1 to 4 are still read) |
//! | 10     | 4    | header body length `H`, u32 (at most 1 MiB)               |
//! | 14     | 4    | CRC-32 (IEEE, as zlib/`crc32fast`) of the header body     |
//! | 18     | `H`  | header body                                               |
//!
//! Header body, in order: string tracer version; string kernel release; string hostname; string
//! boot id; u64 start wall time (ns since the Unix epoch); u64 boot-time→wall-clock base (ns; an
//! event's `timestamp_ns` = its `CLOCK_BOOTTIME` ns + this base); varint filter count, then that
//! many strings (the user's filter arguments, e.g. `--comm`, `bash`). A reader ignores bytes after
//! these fields, so a version can grow new trailing header fields.
//!
//! A file whose first 8 bytes are not the magic is not a recording. A different version is
//! refused. A header body that is too long, runs past the end of the file, fails its CRC, or does
//! not decode makes the whole file unreadable.
//!
//! ## Frames
//!
//! From offset `18 + H` to the end of the file, frames follow back to back: one per event (a
//! *record*), and, when the recording was closed cleanly, one *trailer* last. Both have the same
//! 12-byte frame header:
//!
//! | offset | size | field                                                   |
//! |-------:|-----:|---------------------------------------------------------|
//! | 0      | 4    | frame marker: `F5 1E C0 8D` record, `F5 1E C0 ED` trailer |
//! | 4      | 4    | payload length `L`, u32: `1 ..= 1 MiB` (1 048 576) for a record, `1 ..= 64 KiB` for a trailer |
//! | 8      | 4    | CRC-32 (IEEE) of the payload                            |
//! | 12     | `L`  | payload                                                 |
//!
//! The marker bytes `F5` and `C0` never occur in UTF-8, so a marker cannot appear inside text.
//! The trailer has its own marker, so no record payload, damaged or not, can be taken for a
//! trailer, nor a trailer for an event.
//!
//! The payload is one event: since version 2, the [postcard](https://docs.rs/postcard/1) encoding
//! of [`crate::event::Event`] (varint integers, length-prefixed byte strings, enum variants by
//! their position in the declaration). The event model is thus the single definition of a record:
//! fields and variants are only ever appended, and an appended field makes a new format version.
//! Strings are byte strings (Linux names need not be UTF-8). Version 3 appended where tasks live
//! (namespace IDs, cgroup, container) and the namespace event. Version 2 payloads are still read
//! by a frozen copy of that release's model ([`v2`]); version 1 payloads, a hand-written layout,
//! too ([`v1`] documents them).
//!
//! Version 4 writes an exec or exit event's ancestor chain apart: the event's own `ancestors`
//! is encoded empty, and a *chain reference* follows the event, which defines the chain or
//! refers to one an earlier record of the same stretch defined. Version 5 does the same for
//! every event's cgroup path and container ID: both are encoded absent in the event, and a
//! *cgroup reference* follows (after the chain reference, where there is one). A container's
//! path and ID are some 150 bytes, more than the rest of a typical event. [`references`]
//! documents the bytes of both. The event model is otherwise that of version 3, which is read by
//! the same decoder, chains and cgroups inside the event. Appending to the event model needs
//! version 6, and a frozen copy of today's model for versions 3 to 5, as [`v2`] is for version 2.
//!
//! The payload must be consumed exactly; trailing bytes make it undecodable.
//!
//! ## Trailer
//!
//! A clean stop writes one trailer frame, which must end the file. Its payload (see
//! [`Trailer`]), little-endian, in order:
//!
//! | size | field                                                                 |
//! |-----:|-----------------------------------------------------------------------|
//! | 8    | u64 end wall time, ns since the Unix epoch                            |
//! | 8    | u64 events the kernel dropped (its ring buffer was full)              |
//! | 8    | u64 events recorded but not printed (the output could not keep up)    |
//! | 2    | u16 kind count `K` (at most 256)                                      |
//! |      | `K` times: u8 name length `n` (1 ..= 32), `n` bytes of kind name (`a-z`, `0-9`, `_`), u64 number of records of that kind in the file |
//!
//! Kinds are listed by name in strictly increasing byte order; a kind without records is left
//! out. Kinds are named as in `--events` (`fork`, `exec`, `exit`, `rename`, `lookup`) plus `lost`
//! (the number of `lost` records, not the events they count). A reader ignores bytes after these
//! fields, so the trailer can grow new trailing fields.
//!
//! A file that ends without a trailer was not closed cleanly (tracer was killed, or crashed, or
//! the disk filled): events after its last record may be missing. `tracer replay` says so and
//! exits 1; with a trailer, it checks the records it read against the trailer's counts.
//!
//! ## Reading damaged files
//!
//! The reader never fails after the header. A *good frame* is a frame whose length is within its
//! limit, that lies wholly in the file, and whose CRC is right. At each frame position:
//!
//! - end of file: done;
//! - the bytes are not a frame marker: the run of bytes up to the next good frame is reported
//!   [`ReadItem::Skipped`] at its start offset;
//! - length 0 or above the limit, or CRC mismatch: the frame is reported `Skipped` at the offset
//!   of its marker, and reading resumes at the next marker (searched from the marker's offset + 1)
//!   that begins a good frame or a frame that runs to the end of the file;
//! - a good record whose payload does not decode (a newer kind, say): it is reported `Skipped`
//!   and reading resumes right after it (its CRC says the frame is as written);
//! - a good record that refers to an ancestor chain or a cgroup the reader does not have (the
//!   record that defined it, in the same stretch, was damaged): the event is read with no
//!   ancestors, or with no cgroup path and container (its cgroup ID is in the event);
//! - a good trailer that ends the file: [`ReadItem::Trailer`], the last item; one that does not
//!   end the file is reported `Skipped` and reading resumes right after it; one whose payload
//!   does not decode is reported `Skipped` (and the file then has no trailer);
//! - the file ends inside the frame (inside its 12-byte frame header, only if the bytes present
//!   are a prefix of a marker; or inside its payload): if no good frame follows within the
//!   remaining bytes, this is reported once as [`ReadItem::Truncated`] at the frame's offset and
//!   reading ends; otherwise the length was damaged and the frame is `Skipped`.
//!
//! A read error after the header ends reading with a [`ReadItem::ReadFailed`] item naming it.
//!
//! Reading takes time linear in the file's size, whatever the bytes: the search for the next
//! good frame checks each candidate's CRC through prefix CRCs of the bytes (see
//! [`crc_index`]), so overlapping candidates do not hash the same bytes again; and payloads
//! are decoded only in good frames, after which reading always moves past them.
//!
//! # Writing
//!
//! [`RecordingWriter`] assembles records in a memory buffer and writes the buffer to the file
//! (the kernel's page cache, no fsync) when it holds 64 KiB or more, and whenever
//! [`RecordingWriter::flush`] is called: the live session calls it after each batch it drains
//! from the kernel's ring buffer, so a killed tracer loses at most the events still in that ring
//! (and the batch being handled). [`RecordingWriter::finish`] writes the buffer and the trailer
//! and then `fdatasync`s once.
//!
//! ## Creating the file
//!
//! tracer runs as root, and the path may lie in a directory other users can write to (`/tmp`).
//! It never follows a symlink at the path and never writes into an inode it did not create:
//!
//! - by default the file is created exclusively (`O_CREAT | O_EXCL | O_NOFOLLOW`, mode 0600):
//!   anything already at the path, a dangling symlink included, is refused;
//! - with `--force`, a new file is created exclusively in the same directory under an
//!   unpredictable name (`.tracer-<16 hex digits>.tmp`), the header is written to it, and it is
//!   renamed over the path. Whatever was at the path (a file, or a symlink: never its target)
//!   is replaced atomically and its inode never receives a byte. In a sticky directory such as
//!   `/tmp`, replacing an entry another user owns needs `CAP_FOWNER` (root has it): without it
//!   the rename fails, tracer says why, and removes its new file.
//!
//! A symlink among the path's directories is followed only as the kernel's
//! `fs.protected_symlinks` would allow, whatever that setting is: not when it lies in a sticky
//! world-writable directory and belongs to neither that directory's owner nor the user running
//! tracer (a user's `/tmp/d -> /etc` cannot make `-o /tmp/d/passwd --force` replace
//! `/etc/passwd`). The directories are opened one name at a time, each relative to the last.
//!
//! # Reading
//!
//! [`RecordingReader`] streams: it holds a read-ahead buffer of 64 KiB plus at most one frame
//! (1 MiB) and, when it checks a frame that runs past the end, the file's unread tail.

pub mod codec;
mod crc_index;
mod reader;
mod references;
mod stream;
mod trailer;
mod v1;
mod v2;
mod wire;
mod writer;

pub mod invariants;
#[cfg(test)]
mod tests;

use std::io;
use std::path::PathBuf;

pub use reader::{ReadItem, RecordingReader};
pub use trailer::{Losses, Trailer};
pub use writer::RecordingWriter;

/// The format version this code writes (and the newest it reads).
pub const FORMAT_VERSION: u16 = 5;
/// The oldest format version this code reads.
pub const OLDEST_READABLE_VERSION: u16 = 1;

/// First 8 bytes of every recording.
pub const MAGIC: [u8; 8] = *b"\x89TRACER\n";

/// First 4 bytes of every record.
pub const RECORD_MARKER: [u8; 4] = [0xf5, 0x1e, 0xc0, 0x8d];
/// First 4 bytes of the trailer.
pub const TRAILER_MARKER: [u8; 4] = [0xf5, 0x1e, 0xc0, 0xed];
/// What both markers start with.
const MARKER_PREFIX: [u8; 3] = [0xf5, 0x1e, 0xc0];

/// Size of the fixed header prefix: magic, version, body length, body CRC.
const HEADER_PREFIX_LEN: usize = 18;
/// Largest header body accepted.
const MAX_HEADER_LEN: usize = 1 << 20;
/// Size of a record's frame header: marker, length, CRC.
const RECORD_HEADER_LEN: usize = 12;
/// Largest record payload accepted.
const MAX_PAYLOAD_LEN: usize = 1 << 20;
/// Largest trailer payload accepted.
const MAX_TRAILER_LEN: usize = 64 << 10;

/// What a recording says about how it was made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordingHeader {
    /// Format version of the file; [`RecordingWriter::create`] ignores this field and writes
    /// [`FORMAT_VERSION`].
    pub format_version: u16,
    pub tracer_version: String,
    /// `uname -r` of the traced machine.
    pub kernel_release: String,
    pub hostname: String,
    /// `/proc/sys/kernel/random/boot_id` of the traced boot.
    pub boot_id: String,
    /// When recording started, ns since the Unix epoch.
    pub start_wall_ns: u64,
    /// Boot-time→wall-clock base: wall-clock ns = `CLOCK_BOOTTIME` ns + this.
    pub boot_to_wall_ns: u64,
    /// The user's filter arguments, e.g. `["--comm", "bash"]`.
    pub filters: Vec<String>,
}

/// Everything that can go wrong creating, writing or opening a recording.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error(transparent)]
    File(#[from] crate::files::CreateError),
    #[error("cannot write {}: {error}", path.display())]
    Write { path: PathBuf, error: io::Error },
    #[error("cannot open {}: {error}", path.display())]
    Open { path: PathBuf, error: io::Error },
    #[error("cannot read {}: {error}", path.display())]
    Read { path: PathBuf, error: io::Error },
    #[error("{} is not a tracer recording (no tracer header)", path.display())]
    NotARecording { path: PathBuf },
    #[error(
        "{} is a tracer recording in format version {found}, but this tracer reads only versions 1 to {supported}",
        path.display()
    )]
    UnsupportedVersion { path: PathBuf, found: u16, supported: u16 },
    #[error("{} has a damaged tracer header: {reason}", path.display())]
    BadHeader { path: PathBuf, reason: String },
    #[error("recording header for {} is too large ({size} bytes; the limit is {limit})", path.display())]
    HeaderTooLarge { path: PathBuf, size: usize, limit: usize },
    #[error("event too large to record in {} ({size} bytes encoded; the limit is {limit})", path.display())]
    EventTooLarge { path: PathBuf, size: usize, limit: usize },
    #[error(transparent)]
    Rotate(#[from] crate::files::rotate::RotateError),
}
