//! The commands that trace the live kernel: the default stream and `tracer probes`, and what
//! `tracer run` shares with them (loading, the pipeline, the opening and closing lines).
use std::{
    collections::{BTreeSet, HashMap},
    io::{BufWriter, Write},
};

use anyhow::Result;

use crate::{
    clock::Clock,
    config::TraceConfig,
    event::Kind,
    filter::Filters,
    loader::{self, LoadError, LoadOptions},
    output::{self, NoPrinter, Printer},
    pipeline::Pipeline,
    recording::{RecordingHeader, RecordingWriter},
    session::{self, Ended},
    tasks::TaskTable,
};

/// Exit status when the kernel dropped events.
pub const EXIT_LOST: u8 = 3;

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path).map(|text| text.trim().to_owned()).unwrap_or_default()
}

fn recording_header(filters: &Filters) -> RecordingHeader {
    let clock = Clock::sample();
    RecordingHeader {
        format_version: 0,
        tracer_version: env!("CARGO_PKG_VERSION").to_owned(),
        kernel_release: read_trimmed("/proc/sys/kernel/osrelease"),
        hostname: read_trimmed("/proc/sys/kernel/hostname"),
        boot_id: read_trimmed("/proc/sys/kernel/random/boot_id"),
        start_wall_ns: Clock::wall_now_ns(),
        boot_to_wall_ns: clock.boot_to_wall_ns.max(0) as u64,
        filters: filters.to_args(),
    }
}

/// The printer for events written to `out` (nothing with `--quiet`).
fn printer(config: &TraceConfig, out: Box<dyn Write>) -> Box<dyn Printer> {
    if config.quiet {
        Box::new(NoPrinter)
    } else {
        output::printer(config.json, BufWriter::with_capacity(64 * 1024, out))
    }
}

fn describe_kinds(kinds: &BTreeSet<Kind>) -> String {
    kinds.iter().map(|kind| kind.name()).collect::<Vec<_>>().join(", ")
}

/// The kernel side loaded and attached, and the pipeline events go through.
pub struct Prepared {
    pub loaded: loader::Loaded,
    pub pipeline: Pipeline,
}

/// Creates the recording (first, so an existing one is refused before anything loads), loads
/// and attaches the kernel side, and builds the pipeline printing to `out`. `follow_only`: only
/// processes put in the FOLLOWED map are traced (`tracer run` without task filters).
pub fn prepare(config: &TraceConfig, running: bool, follow_only: bool, out: Box<dyn Write>) -> Result<Prepared> {
    let (attach, emit) = config.kernel_kinds(running);
    let recorder = match &config.output {
        Some(path) => Some(RecordingWriter::create(path, &recording_header(&config.filters), config.force)?),
        None => None,
    };
    let options = LoadOptions {
        attach: &attach,
        emit: &emit,
        filters: &config.filters,
        follow_only,
        hooks: &config.hooks,
        buffer_mib: config.buffer_mib,
    };
    let loaded = match loader::load(&options) {
        Ok(loaded) => loaded,
        Err(error) => {
            if let (Some(path), Some(recorder)) = (&config.output, recorder) {
                // Nothing was recorded: leave no empty file behind.
                drop(recorder);
                let _ = std::fs::remove_file(path);
            }
            return Err(error.into());
        }
    };
    let tasks = config.filters.kinds.contains(&Kind::Lookup).then(TaskTable::from_proc);
    let pipeline = Pipeline::new(config.filters.kinds.clone(), None, tasks, printer(config, out), recorder);
    Ok(Prepared { loaded, pipeline })
}

/// The line that says tracing has begun, ending with `how_it_ends`.
pub fn announce(prepared: &Prepared, config: &TraceConfig, how_it_ends: &str) {
    eprintln!(
        "Attached {} programs: tracing {}. {how_it_ends}",
        prepared.loaded.plan.attached_programs(),
        describe_kinds(&config.filters.kinds)
    );
}

/// `tracer [OPTIONS]`: streams events to stdout until stopped. Returns the process exit status.
pub async fn trace(config: TraceConfig) -> Result<u8> {
    let prepared = prepare(&config, false, false, Box::new(std::io::stdout()))?;
    announce(&prepared, &config, "Ctrl-C to stop.");
    let ended = session::stream(prepared.loaded, prepared.pipeline, config.duration, std::future::pending()).await?;
    Ok(if summarize(&ended) { EXIT_LOST } else { 0 })
}

/// Prints the summary line (unless the reader of the events went away) and what was lost;
/// returns whether the kernel dropped events.
pub fn summarize(ended: &Ended) -> bool {
    let Ended { counts, elapsed, output_closed } = ended;
    if !output_closed {
        eprintln!("{}", counts.summary(*elapsed));
    }
    if counts.lost > 0 {
        eprintln!("tracer: the kernel dropped {} events (ring buffer full); try a larger --buffer-size", counts.lost);
    }
    counts.lost > 0
}

/// `tracer probes`: attach every hook and print the plan.
pub fn probes(hooks: HashMap<Kind, crate::event::Source>) -> Result<u8> {
    let kinds: BTreeSet<Kind> = [Kind::Fork, Kind::Exec, Kind::Exit, Kind::Rename, Kind::Lookup].into();
    let filters = Filters { kinds: kinds.clone(), ..Filters::default() };
    let options = LoadOptions {
        attach: &kinds,
        emit: &BTreeSet::new(),
        filters: &filters,
        follow_only: false,
        hooks: &hooks,
        buffer_mib: 1,
    };
    let (plan, status) = match loader::load(&options) {
        Ok(loaded) => (loaded.plan, 0),
        Err(LoadError::Unserved { plan, .. }) => (plan, 1),
        Err(error) => return Err(error.into()),
    };
    let mut out = std::io::stdout().lock();
    write!(out, "{plan}")?;
    out.flush()?;
    Ok(status)
}
