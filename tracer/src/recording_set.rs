//! The recordings a command reads: for `tracer replay`, the files and glob patterns given,
//! expanded and put in time order; for the pictures (`tracer tree`, `tracer export`), one file's
//! events, with its damage reported.
//!
//! Rotated recordings (`trace.rec.3`, `trace.rec.2`, …, `trace.rec`) each start with a header
//! of their own; they are read oldest first by the start time in that header, not by name
//! (which the rotation keeps shifting), so a glob in any order works.
use std::path::{Path, PathBuf};

use crate::{
    event::Event,
    recording::{ReadItem, RecordingError, RecordingReader},
};

#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error("{pattern}: not a valid glob pattern: {error}")]
    Pattern { pattern: String, error: glob::PatternError },
    #[error("{pattern}: no file matches")]
    NoMatch { pattern: String },
    #[error("{path}: {error}")]
    Unreadable { path: String, error: glob::GlobError },
    #[error(transparent)]
    Recording(#[from] RecordingError),
}

/// Whether `text` holds glob syntax (`*`, `?`, `[`).
fn is_pattern(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// Each argument as a path; one that names no file but holds glob syntax (quoted from the
/// shell, or from a unit file) is expanded, in name order.
pub fn expand(arguments: &[PathBuf]) -> Result<Vec<PathBuf>, SetError> {
    let mut paths = Vec::new();
    for argument in arguments {
        let text = argument.to_string_lossy();
        if std::fs::symlink_metadata(argument).is_ok() || !is_pattern(&text) {
            paths.push(argument.clone());
            continue;
        }
        let matches = glob::glob(&text).map_err(|error| SetError::Pattern { pattern: text.to_string(), error })?;
        let before = paths.len();
        for found in matches {
            let found =
                found.map_err(|error| SetError::Unreadable { path: error.path().display().to_string(), error })?;
            paths.push(found);
        }
        if paths.len() == before {
            return Err(SetError::NoMatch { pattern: text.into_owned() });
        }
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// The recordings at `arguments`, opened, oldest first (start time, then path). Any file that is
/// not a readable recording fails the whole set before anything is printed.
pub fn open_in_time_order(arguments: &[PathBuf]) -> Result<Vec<(PathBuf, RecordingReader)>, SetError> {
    let mut readers = Vec::new();
    for path in expand(arguments)? {
        let reader = RecordingReader::open(&path)?;
        readers.push((path, reader));
    }
    readers.sort_by(|(a_path, a), (b_path, b)| {
        (a.header().start_wall_ns, a_path.as_path()).cmp(&(b.header().start_wall_ns, b_path.as_path()))
    });
    Ok(readers)
}

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

/// `path` as shown in messages.
pub fn shown(path: &Path) -> String {
    crate::text::escape(&path.display().to_string()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_expand_plain_paths_stay_and_nothing_matched_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["t.rec", "t.rec.1", "t.rec.2", "other"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let pattern = dir.path().join("t.rec*");
        let expanded = expand(&[pattern, dir.path().join("other")]).unwrap();
        let names: Vec<_> = expanded.iter().map(|path| path.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(names, ["other", "t.rec", "t.rec.1", "t.rec.2"]);
        let missing = dir.path().join("none*");
        let error = expand(std::slice::from_ref(&missing)).unwrap_err();
        assert_eq!(error.to_string(), format!("{}: no file matches", missing.display()));
        // A name that holds glob syntax but exists is taken as it is.
        std::fs::write(dir.path().join("odd[1]"), "").unwrap();
        assert_eq!(expand(&[dir.path().join("odd[1]")]).unwrap(), [dir.path().join("odd[1]")]);
        // A plain path that does not exist is left for the reader to report.
        assert_eq!(expand(&[dir.path().join("gone")]).unwrap(), [dir.path().join("gone")]);
    }
}
