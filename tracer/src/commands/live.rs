//! What the commands that trace the live kernel share (the default stream and `tracer run`):
//! loading, the pipeline, the opening and closing lines, the tree at the end.
use std::{cell::RefCell, collections::BTreeSet, io::Write, path::Path, rc::Rc};

use anyhow::{Context, Result};

use crate::{
    clock::Clock,
    config::{EnvSelection, TraceConfig},
    event::Kind,
    filter::Filters,
    loader::{self, LoadOptions},
    output::{self, JsonFile, NoPrinter, Printer, QueuedPrinter},
    pipeline::Pipeline,
    recording::{RecordingHeader, RecordingWriter},
    session::Ended,
    tasks::{Ancestry, Coverage, TaskModel, TaskTable},
    tree,
};

/// Exit status when events were lost: dropped in the kernel, or not printed.
pub const EXIT_LOST: u8 = 3;

/// How long the summary may wait for stderr (which may be a stalled pipe too).
const SUMMARY_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(200);

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

/// The printer for events written to `out` (nothing with `--quiet`), and to the JSON file if
/// any: a thread of its own writes each, so a stalled reader never holds up the drain.
fn printer(config: &TraceConfig, out: Box<dyn Write + Send>, json_file: Option<JsonFile>) -> Result<Box<dyn Printer>> {
    let printer: Box<dyn Printer> = if config.quiet {
        Box::new(NoPrinter)
    } else {
        Box::new(QueuedPrinter::spawn(config.json, out, output::QUEUE_BYTES).context("cannot start the output thread")?)
    };
    let Some(json_file) = json_file else { return Ok(printer) };
    let file = QueuedPrinter::spawn_sink(true, json_file, output::FILE_QUEUE_BYTES, true)
        .context("cannot start the JSON file's thread")?;
    Ok(Box::new(output::Both(Box::new(file), printer)))
}

fn describe_kinds(kinds: &BTreeSet<Kind>) -> String {
    kinds.iter().map(|kind| kind.name()).collect::<Vec<_>>().join(", ")
}

/// The kernel side loaded and attached, and the pipeline events go through.
pub struct Prepared {
    pub loaded: loader::Loaded,
    pub pipeline: Pipeline,
    /// Every event of the selected tasks, for the tree printed at the end (`--tree`).
    pub model: Option<Rc<RefCell<TaskModel>>>,
    /// Kinds the kernel side emits, which is what the tree can know about.
    pub emitted: BTreeSet<Kind>,
}

/// Creates the recording (first, so an existing one is refused before anything loads), loads
/// and attaches the kernel side, and builds the pipeline printing to `out`. `follow_only`: only
/// processes put in the FOLLOWED map are traced (`tracer run` without task filters).
pub fn prepare(config: &TraceConfig, running: bool, follow_only: bool, out: Box<dyn Write + Send>) -> Result<Prepared> {
    let (attach, emit) = config.kernel_kinds(running);
    config.check_hooks(&attach)?;
    let recorder = match &config.output {
        Some(path) if config.rotate_recording => {
            Some(RecordingWriter::create_rotating(path, &recording_header(&config.filters), config.rotate.clone())?)
        }
        Some(path) => Some(RecordingWriter::create(path, &recording_header(&config.filters), config.force)?),
        None => None,
    };
    if let Some(replaced) = recorder.as_ref().and_then(RecordingWriter::replaced) {
        eprintln!("tracer: {replaced}");
    }
    let json_file = match &config.json_output {
        Some(path) => Some(JsonFile::create(path, config.rotate.clone())?),
        None => None,
    };
    let options = LoadOptions {
        attach: &attach,
        emit: &emit,
        filters: &config.filters,
        follow_only,
        hooks: &config.hooks,
        buffer_mib: config.buffer_mib,
        arg_bytes: config.arg_bytes,
        env_bytes: config.env_bytes(),
        ancestors: config.ancestors,
    };
    let loaded = match loader::load(&options) {
        Ok(loaded) => loaded,
        Err(error) => {
            if let Some(recorder) = recorder {
                // Nothing was recorded: leave no empty file behind.
                recorder.discard();
            }
            return Err(error.into());
        }
    };
    // Both snapshots of /proc are taken now that the hooks are attached: whatever changes from
    // here on is an event. They read different files, each on its own thread.
    let started = std::time::Instant::now();
    let wants_ancestry = config.filters.kinds.contains(&Kind::Exec) || config.filters.kinds.contains(&Kind::Exit);
    let (tasks, ancestry) = std::thread::scope(|scope| {
        let tasks =
            config.filters.kinds.contains(&Kind::Lookup).then(|| {
                std::thread::Builder::new().name("tracer-tasks".into()).spawn_scoped(scope, TaskTable::from_proc)
            });
        let ancestry = wants_ancestry.then(Ancestry::from_proc);
        // Without a thread to spare (or after a panic there), the table is read here.
        let tasks =
            tasks.map(|thread| thread.ok().and_then(|thread| thread.join().ok()).unwrap_or_else(TaskTable::from_proc));
        (tasks, ancestry)
    });
    log::debug!("tasks and processes read from /proc in {:?}", started.elapsed());
    let mut pipeline =
        Pipeline::new(config.filters.kinds.clone(), None, tasks, printer(config, out, json_file)?, recorder);
    if let EnvSelection::Named(names) = &config.env {
        pipeline = pipeline.keep_env(names.clone());
    }
    if let Some(ancestry) = ancestry {
        pipeline = pipeline.tracing_ancestry(ancestry);
    }
    let model = config.tree.then(|| Rc::new(RefCell::new(TaskModel::new())));
    if let Some(model) = &model {
        pipeline = pipeline.feeding(model.clone());
    }
    Ok(Prepared { loaded, pipeline, model, emitted: emit })
}

/// The line that says tracing has begun, ending with `how_it_ends`; and the same to systemd.
pub fn announce(prepared: &Prepared, config: &TraceConfig, how_it_ends: &str) {
    let plan = &prepared.loaded.plan;
    // What this kernel made tracer leave out is said on the same line, never just absent.
    let left_out: String = config
        .filters
        .kinds
        .iter()
        .filter_map(|kind| plan.left_out(*kind))
        .map(|notice| format!(" ({notice})"))
        .collect();
    eprintln!(
        "Attached {} programs: tracing {}{left_out}. {how_it_ends}",
        plan.attached_programs(),
        describe_kinds(&config.filters.kinds.iter().copied().filter(|kind| !plan.skips(*kind)).collect())
    );
    // Under systemd (Type=notify), `systemctl start` returns now: nothing started after it is
    // missed. Outside systemd (no NOTIFY_SOCKET) this does nothing.
    if let Err(error) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        log::warn!("cannot tell systemd that tracer is ready: {error}");
    }
}

/// The tree of what was traced, when asked for (`--tree`) and the output is still read.
pub fn print_tree(
    model: Option<Rc<RefCell<TaskModel>>>,
    emitted: BTreeSet<Kind>,
    config: &TraceConfig,
    ended: &Ended,
) -> Result<()> {
    if let Some(model) = model
        && !ended.output_closed
    {
        let mut filters = config.filters.clone();
        filters.kinds = emitted;
        tree::print(&model.borrow(), tree::Layout::default(), Coverage::of(&filters))?;
    }
    Ok(())
}

/// Prints the summary line (unless the reader of the events went away) and what was lost,
/// without waiting long on a stalled stderr; returns whether events were lost (dropped in the
/// kernel, or not printed).
pub fn summarize(ended: &Ended, recording: Option<&Path>) -> bool {
    let Ended { counts, elapsed, output_closed } = ended;
    let mut text = String::new();
    if !output_closed {
        text.push_str(&counts.summary(*elapsed));
        text.push('\n');
    }
    if counts.lost > 0 {
        text.push_str(&format!(
            "tracer: the kernel dropped {} events (ring buffer full); try a larger --buffer-size\n",
            counts.lost
        ));
    }
    if counts.output_lost > 0 {
        let kept = match recording {
            Some(path) => format!("they are all in {}", crate::text::escape(&path.display().to_string())),
            None => "record with -o FILE to keep every event".to_owned(),
        };
        text.push_str(&format!(
            "tracer: {} events were not printed because the output did not keep up; {kept}\n",
            counts.output_lost
        ));
    }
    output::write_stderr_within(&text, SUMMARY_TIMEOUT);
    counts.lost > 0 || counts.output_lost > 0
}
