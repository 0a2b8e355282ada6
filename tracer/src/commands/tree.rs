//! `tracer tree FILE`: the process tree of a recording.
use std::path::Path;

use anyhow::Result;

use crate::{
    cli::FilterArgs,
    filter::Filters,
    recording::RecordingReader,
    recording_set::{EXIT_DAMAGED, shown},
    tasks::Coverage,
    tree::{Layout, print, read_model},
};

/// `tracer tree FILE [FILTERS]`.
pub fn tree(path: &Path, filter_args: &FilterArgs, layout: Layout) -> Result<u8> {
    let filters = Filters::from_args(filter_args)?;
    let reader = RecordingReader::open(path)?;
    let coverage = Coverage::of_recording(reader.header(), &filters);
    let (model, skipped) = read_model(path, reader, filters);
    if model.processes().next().is_none() {
        eprintln!("tracer: {}: no task events to draw", shown(path));
    }
    match print(&model, layout, coverage) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => return Ok(0),
        result => result?,
    }
    Ok(if skipped > 0 { EXIT_DAMAGED } else { 0 })
}
