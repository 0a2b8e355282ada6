//! `tracer replay FILE...`: prints recordings (rotated ones in time order, see
//! [`crate::recording_set`]) through the same pipeline and printers as the live stream,
//! applying the same filters. Damage, a missing trailer (the recording was not closed
//! cleanly) and records missing against the trailer's counts are reported on stderr and in the
//! exit status, never fatal.
use std::{
    collections::BTreeMap,
    io::BufWriter,
    path::{Path, PathBuf},
};

use anyhow::Result;

use crate::{
    cli::FilterArgs,
    event::Event,
    filter::{EventFilter, Filters},
    output,
    pipeline::{Pipeline, PipelineError},
    recording::{ReadItem, RecordingHeader, RecordingReader, Trailer},
    recording_set::{self, EXIT_DAMAGED},
    text::escape,
};

/// `tracer replay FILE...`: the files (and glob patterns) in time order, through one pipeline,
/// so filters such as `--follow` carry over from one rotated file to the next.
pub fn replay(arguments: &[PathBuf], filter_args: &FilterArgs, json: bool) -> Result<u8> {
    let filters = Filters::from_args(filter_args)?;
    let readers = recording_set::open_in_time_order(arguments)?;
    let printer = output::printer(json, BufWriter::with_capacity(64 * 1024, std::io::stdout()));
    let mut pipeline = Pipeline::new(filters.kinds.clone(), Some(EventFilter::new(filters)), None, printer, None);
    let mut damaged = false;
    for (path, reader) in readers {
        match replay_one(&path, reader, &mut pipeline) {
            Ok(complete) => damaged |= !complete,
            Err(PipelineError::OutputClosed) => return Ok(0),
            Err(error) => return Err(error.into()),
        }
    }
    match pipeline.finish() {
        Ok(_) | Err(PipelineError::OutputClosed) => {}
        Err(error) => return Err(error.into()),
    }
    Ok(if damaged { EXIT_DAMAGED } else { 0 })
}

/// Prints one recording; whether it was whole (no damaged record, closed cleanly, nothing
/// missing against its trailer).
fn replay_one(path: &Path, reader: RecordingReader, pipeline: &mut Pipeline) -> Result<bool, PipelineError> {
    let header = reader.header().clone();
    let shown = recording_set::shown(path);
    // Like `tcpdump -r`, say what is being read, on stderr so stdout matches the live run. The
    // fields come from the file: escaped, so they cannot drive the terminal.
    eprintln!(
        "tracer: reading {shown}: recorded by tracer {} on {} (Linux {}) at {}, filters: {}",
        escape(&header.tracer_version),
        escape(&header.hostname),
        escape(&header.kernel_release),
        crate::event::rfc3339(header.start_wall_ns),
        header.filters.iter().map(|filter| escape(filter)).collect::<Vec<_>>().join(" ")
    );
    let mut tally = Tally::default();
    let mut skipped = 0u64;
    let mut ending = Ending::NoTrailer;
    for item in reader {
        match item {
            ReadItem::Event(event) => {
                tally.add(&event);
                pipeline.handle(event)?;
            }
            ReadItem::Skipped { offset, reason } => {
                skipped += 1;
                eprintln!("tracer: {shown}: skipped a damaged record at byte {offset}: {reason}");
            }
            ReadItem::Truncated { reason, .. } => ending = Ending::Cut(reason),
            ReadItem::ReadFailed { reason, .. } => ending = Ending::ReadFailed(reason),
            ReadItem::Trailer(trailer) => ending = Ending::Trailer(trailer),
        }
    }
    // Lines for this file are printed before the next file's "reading" line.
    pipeline.flush_output()?;
    let complete = match ending_problem(&ending, &tally, &header) {
        Some(line) => {
            eprintln!("tracer: {shown}: {line}");
            false
        }
        None => true,
    };
    Ok(skipped == 0 && complete)
}

/// How the recording ended.
enum Ending {
    /// After a whole record, without a trailer.
    NoTrailer,
    /// Inside a frame (the reason says where).
    Cut(String),
    ReadFailed(String),
    Trailer(Trailer),
}

/// What was read, to check against the trailer or to say from when events may be missing.
#[derive(Default)]
struct Tally {
    records: BTreeMap<&'static str, u64>,
    last_timestamp_ns: Option<u64>,
}

impl Tally {
    fn add(&mut self, event: &Event) {
        *self.records.entry(event.kind().name()).or_default() += 1;
        self.last_timestamp_ns = Some(event.timestamp_ns);
    }
}

/// The one line to print about the recording's end, if something is wrong with it.
fn ending_problem(ending: &Ending, tally: &Tally, header: &RecordingHeader) -> Option<String> {
    let since = || match tally.last_timestamp_ns {
        Some(last) => format!("events after {} may be missing", crate::event::rfc3339(last)),
        None => format!("events after the start ({}) may be missing", crate::event::rfc3339(header.start_wall_ns)),
    };
    match ending {
        // Format 1 had no trailer: whether such a file is complete cannot be told.
        Ending::NoTrailer if header.format_version < 2 => None,
        Ending::NoTrailer => Some(format!("the recording was not closed cleanly (no trailer): {}", since())),
        Ending::Cut(reason) => Some(format!("the recording was not closed cleanly ({reason}): {}", since())),
        Ending::ReadFailed(reason) => Some(format!("{reason}: {}", since())),
        Ending::Trailer(trailer) => {
            let expected: BTreeMap<&str, u64> = trailer
                .records
                .iter()
                .filter(|(_, count)| **count > 0)
                .map(|(name, count)| (name.as_str(), *count))
                .collect();
            let read: BTreeMap<&str, u64> = tally.records.iter().map(|(name, count)| (*name, *count)).collect();
            (expected != read).then(|| {
                format!(
                    "the trailer counts {} records, but {} were read: records are missing",
                    describe(&expected),
                    describe(&read)
                )
            })
        }
    }
}

/// `fork 9, exit 10`, or `no` for none.
fn describe(counts: &BTreeMap<&str, u64>) -> String {
    if counts.is_empty() {
        return "no".to_owned();
    }
    counts.iter().map(|(name, count)| format!("{} {count}", escape(name))).collect::<Vec<_>>().join(", ")
}
