//! Reading a whole recording for a picture (`tracer tree`, `tracer export`): every event handed
//! on, damage reported on stderr as `tracer replay` reports it, and counted for the exit status.
use std::path::Path;

use super::{ReadItem, RecordingReader};
use crate::{event::Event, recording_set::shown};

/// Exit status when damaged records had to be skipped (`replay`, `tree`, `export`); `replay`
/// also exits with it for a recording that is incomplete or was not closed cleanly.
pub const EXIT_DAMAGED: u8 = 1;

/// Hands every event of `reader` (opened from `path`) to `observe`; returns how many damaged
/// records were skipped, a read error counted as one. A trailer's counts are left to
/// `tracer replay`: a picture is the same either way.
pub fn each_event(path: &Path, reader: RecordingReader, mut observe: impl FnMut(Event)) -> u64 {
    let shown = shown(path);
    let mut skipped = 0;
    for item in reader {
        match item {
            ReadItem::Event(event) => observe(event),
            ReadItem::Skipped { offset, reason } => {
                skipped += 1;
                eprintln!("tracer: {shown}: skipped a damaged record at byte {offset}: {reason}");
            }
            ReadItem::Truncated { offset: _, reason } => eprintln!("tracer: {shown}: {reason}"),
            ReadItem::ReadFailed { reason, .. } => {
                skipped += 1;
                eprintln!("tracer: {shown}: {reason}");
            }
            ReadItem::Trailer(_) => {}
        }
    }
    skipped
}
