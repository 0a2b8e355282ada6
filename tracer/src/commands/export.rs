//! `tracer export FILE --perfetto OUT`: a recording converted into a Perfetto trace.
use std::{io::BufWriter, path::Path};

use anyhow::{Context, Result};

use crate::{
    export::Export,
    filter::Filters,
    recording::RecordingReader,
    recording_set::{EXIT_DAMAGED, each_event, shown},
    tasks::Coverage,
};

/// `tracer export FILE --perfetto OUT [--force]`.
pub fn perfetto(path: &Path, out: &Path, force: bool) -> Result<u8> {
    let reader = RecordingReader::open(path)?;
    let header = reader.header().clone();
    let mut export = Export::new(header.boot_to_wall_ns);
    let skipped = each_event(path, reader, |event| export.observe(&event));
    let everything = Filters::from_args(&Default::default())?;
    let coverage = Coverage::of_recording(&header, &everything);

    // Created only now, so a recording that cannot be read leaves no file behind. Never through
    // a symlink, and replaced only by a new file: tracer runs as root.
    let crate::files::Created { file, replaced, .. } = crate::files::create(out, force, &[])?;
    if let Some(replaced) = replaced {
        eprintln!("tracer: {replaced}");
    }
    let packets = export
        .write(coverage, &mut BufWriter::with_capacity(64 * 1024, file))
        .with_context(|| format!("cannot write {}", shown(out)))?;
    let model = export.model();
    eprintln!(
        "tracer: wrote {} ({} processes, {} threads, {packets} packets); open it at https://ui.perfetto.dev",
        shown(out),
        model.processes().count(),
        model.threads().count(),
    );
    Ok(if skipped > 0 { EXIT_DAMAGED } else { 0 })
}
