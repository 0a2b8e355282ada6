//! Recordings: the file `tracer -o FILE` writes and `tracer replay FILE` reads: a header, one
//! CRC-checked frame per event, and a trailer after a clean stop. Reading survives damage and
//! truncation, and takes time linear in the file's size. The byte layout, the rules for damaged
//! files and how the file is created safely are in docs/recording-format.md.

mod chain_v6;
pub mod codec;
mod crc_index;
mod reader;
mod references;
mod stream;
mod trailer;
mod v1;
mod v2;
mod v5;
mod v6;
mod v7;
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
pub const FORMAT_VERSION: u16 = 8;
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
