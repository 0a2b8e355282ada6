//! The process tree: `tracer tree FILE` draws the tree of a recording, `tracer run --tree` the
//! tree of the command it ran. Both build a [`TaskModel`] from the events and draw it with
//! [`render`]: colours only on a terminal without `NO_COLOR`, plain and stable text otherwise.
mod render;
mod text;

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
pub use tests::LIFECYCLE_V1;

use std::{
    io::{BufWriter, IsTerminal, Write},
    path::Path,
};

pub use render::Options;

use crate::{
    filter::{EventFilter, Filters},
    recording::RecordingReader,
    recording_set::each_event,
    tasks::{Coverage, TaskModel},
};

/// How the tree is drawn, from the command line.
#[derive(Clone, Copy, Debug, Default)]
pub struct Layout {
    pub depth: Option<usize>,
    pub threads: bool,
    /// Show every process: no folding of identical siblings.
    pub all: bool,
}

/// Whether stdout gets colours: a terminal, and `NO_COLOR` unset or empty.
fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// Prints the tree of `model` to stdout.
pub fn print(model: &TaskModel, layout: Layout, coverage: Coverage) -> std::io::Result<()> {
    let options =
        Options { depth: layout.depth, threads: layout.threads, collapse: !layout.all, colour: colour(), coverage };
    let mut out = BufWriter::new(std::io::stdout().lock());
    render::render(model, options, &mut out)?;
    out.flush()
}

/// Files every event of `reader` that `filters` admit into a new model; reports damage on
/// stderr. Returns the model and the number of damaged records skipped.
pub fn read_model(path: &Path, reader: RecordingReader, filters: Filters) -> (TaskModel, u64) {
    let mut filter = EventFilter::new(filters);
    let mut model = TaskModel::new();
    let skipped = each_event(path, reader, |event| {
        if filter.admits(&event) {
            model.observe(&event);
        }
    });
    (model, skipped)
}
