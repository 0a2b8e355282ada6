//! `tracer replay FILE`: prints a recording through the same pipeline and printers as the live
//! stream, applying the same filters; damage in the file is reported on stderr, never fatal.
use std::{io::BufWriter, path::Path};

use anyhow::Result;

use crate::{
    cli::FilterArgs,
    filter::{EventFilter, Filters},
    output::{self, escape::escape},
    pipeline::{Pipeline, PipelineError},
    recording::{ReadItem, RecordingReader},
};

/// Exit status when records had to be skipped.
pub const EXIT_DAMAGED: u8 = 1;

pub fn replay(path: &Path, filter_args: &FilterArgs, json: bool) -> Result<u8> {
    let filters = Filters::from_args(filter_args)?;
    let reader = RecordingReader::open(path)?;
    let header = reader.header();
    // Like `tcpdump -r`, say what is being read, on stderr so stdout matches the live run. The
    // fields come from the file: escaped, so they cannot drive the terminal.
    eprintln!(
        "tracer: reading {}: recorded by tracer {} on {} (Linux {}) at {}, filters: {}",
        path.display(),
        escape(&header.tracer_version),
        escape(&header.hostname),
        escape(&header.kernel_release),
        output::rfc3339(header.start_wall_ns),
        header.filters.iter().map(|filter| escape(filter)).collect::<Vec<_>>().join(" ")
    );
    let printer = output::printer(json, BufWriter::with_capacity(64 * 1024, std::io::stdout()));
    let mut pipeline = Pipeline::new(filters.kinds.clone(), Some(EventFilter::new(filters)), None, printer, None);
    let mut skipped = 0u64;
    for item in reader {
        let handled = match item {
            ReadItem::Event(event) => pipeline.handle(event),
            ReadItem::Skipped { offset, reason } => {
                skipped += 1;
                eprintln!("tracer: {}: skipped a damaged record at byte {offset}: {reason}", path.display());
                Ok(())
            }
            ReadItem::Truncated { offset: _, reason } => {
                eprintln!("tracer: {}: {reason}", path.display());
                Ok(())
            }
        };
        match handled {
            Ok(()) => {}
            Err(PipelineError::OutputClosed) => return Ok(0),
            Err(error) => return Err(error.into()),
        }
    }
    match pipeline.finish() {
        Ok(_) | Err(PipelineError::OutputClosed) => {}
        Err(error) => return Err(error.into()),
    }
    Ok(if skipped > 0 { EXIT_DAMAGED } else { 0 })
}
