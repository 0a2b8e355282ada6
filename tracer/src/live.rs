//! The commands that trace the live kernel: the default stream, `tracer run`, `tracer probes`.
use std::{
    cell::RefCell,
    collections::{BTreeSet, HashMap},
    ffi::{CString, OsString},
    io::Write,
    os::{
        fd::AsFd,
        unix::{ffi::OsStrExt, process::ExitStatusExt},
    },
    path::Path,
    process::ExitStatus,
    rc::Rc,
};

use anyhow::{Context, Result, bail};

use crate::{
    clock::Clock,
    config::{EnvSelection, TraceConfig},
    event::Kind,
    filter::Filters,
    loader::{self, LoadError, LoadOptions},
    output::{self, NoPrinter, Printer, QueuedPrinter},
    pipeline::Pipeline,
    recording::{RecordingHeader, RecordingWriter},
    session::{self, Ended, RunTree},
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

/// The live printer: stdout is written by a thread of its own, so a stalled reader never holds
/// up the drain.
fn stdout_printer(config: &TraceConfig) -> Result<Box<dyn Printer>> {
    if config.quiet {
        return Ok(Box::new(NoPrinter));
    }
    let stdout = std::io::stdout().as_fd().try_clone_to_owned().context("cannot use stdout")?;
    let printer = QueuedPrinter::spawn(config.json, std::fs::File::from(stdout), output::QUEUE_BYTES)
        .context("cannot start the output thread")?;
    Ok(Box::new(printer))
}

fn describe_kinds(kinds: &BTreeSet<Kind>) -> String {
    kinds.iter().map(|kind| kind.name()).collect::<Vec<_>>().join(", ")
}

/// `tracer [OPTIONS]` and `tracer run [OPTIONS] -- COMMAND`. Returns the process exit status.
pub async fn trace(config: TraceConfig, command: Option<Vec<OsString>>) -> Result<u8> {
    let running = command.is_some();
    let (attach, emit) = config.kernel_kinds(running);
    config.check_hooks(&attach)?;
    // Created first, so an existing recording is refused before anything loads.
    let recorder = match &config.output {
        Some(path) => Some(RecordingWriter::create(path, &recording_header(&config.filters), config.force)?),
        None => None,
    };
    if let Some(replaced) = recorder.as_ref().and_then(RecordingWriter::replaced) {
        eprintln!("tracer: {replaced}");
    }
    let options = LoadOptions {
        attach: &attach,
        emit: &emit,
        filters: &config.filters,
        follow_only: running && !config.filters.selects_tasks(),
        hooks: &config.hooks,
        buffer_mib: config.buffer_mib,
        arg_bytes: config.arg_bytes,
        env_bytes: config.env_bytes(),
    };
    let mut loaded = match loader::load(&options) {
        Ok(loaded) => loaded,
        Err(error) => {
            if let Some(recorder) = recorder {
                // Nothing was recorded: leave no empty file behind.
                recorder.discard();
            }
            return Err(error.into());
        }
    };
    let tasks = config.filters.kinds.contains(&Kind::Lookup).then(TaskTable::from_proc);
    let mut pipeline = Pipeline::new(config.filters.kinds.clone(), None, tasks, stdout_printer(&config)?, recorder);
    if let EnvSelection::Named(names) = &config.env {
        pipeline = pipeline.keep_env(names.clone());
    }
    if config.filters.kinds.contains(&Kind::Exec) || config.filters.kinds.contains(&Kind::Exit) {
        // Taken now that the hooks are attached: whatever changes from here on is an event.
        pipeline = pipeline.tracing_ancestry(Ancestry::from_proc());
    }
    let model = config.tree.then(|| Rc::new(RefCell::new(TaskModel::new())));
    if let Some(model) = &model {
        pipeline = pipeline.feeding(model.clone());
    }
    eprintln!(
        "Attached {} programs: tracing {}. {}",
        loaded.plan.attached_programs(),
        describe_kinds(&config.filters.kinds),
        if running { "Stops when the command's process tree is gone." } else { "Ctrl-C to stop." }
    );
    let run = match command {
        Some(command) => Some(spawn_followed(&mut loaded, &command)?),
        None => None,
    };
    let ended = session::stream(loaded, pipeline, config.duration, run).await?;
    if let Some(model) = model
        && !ended.output_closed
    {
        let mut emitted = config.filters.clone();
        emitted.kinds = emit;
        tree::print(&model.borrow(), tree::Layout::default(), Coverage::of(&emitted))?;
    }
    Ok(finish(&ended, config.output.as_deref()))
}

/// Prints the summary and picks the exit status.
fn finish(ended: &Ended, recording: Option<&Path>) -> u8 {
    let Ended { counts, elapsed, command_status, output_closed } = ended;
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
            Some(path) => format!("they are all in {}", output::escape::escape(&path.display().to_string())),
            None => "record with -o FILE to keep every event".to_owned(),
        };
        text.push_str(&format!(
            "tracer: {} events were not printed because the output did not keep up; {kept}\n",
            counts.output_lost
        ));
    }
    output::write_stderr_within(&text, SUMMARY_TIMEOUT);
    match command_status {
        Some(status) => command_exit_code(*status),
        None if counts.lost > 0 || counts.output_lost > 0 => EXIT_LOST,
        None => 0,
    }
}

/// A command's status as a shell reports it: its exit code, or 128 + the killing signal.
fn command_exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(signal)) => (128 + signal) as u8,
        (None, None) => 1,
    }
}

/// Starts COMMAND held before exec, marks its process as followed, then lets it exec: every
/// event from its first instruction on is traced. (A plain spawn cannot be held: it returns only
/// once the child has exec'd.)
fn spawn_followed(loaded: &mut loader::Loaded, command: &[OsString]) -> Result<RunTree> {
    let program = command.first().context("tracer run needs a command")?;
    let arguments: Vec<CString> = command
        .iter()
        .map(|argument| CString::new(argument.as_bytes()))
        .collect::<Result<_, _>>()
        .context("a command argument contains a NUL byte")?;
    let mut argv: Vec<*const libc::c_char> = arguments.iter().map(|argument| argument.as_ptr()).collect();
    argv.push(std::ptr::null());
    let gate = Pipe::new()?;
    let exec_error = Pipe::new()?;
    // SAFETY: the child only calls async-signal-safe functions (close, read, execvp, write,
    // _exit) on memory prepared before the fork; tracer's runtime has a single thread.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!("cannot fork: {}", std::io::Error::last_os_error());
    }
    if pid == 0 {
        unsafe {
            libc::close(gate.write);
            libc::close(exec_error.read);
            let mut byte = 0u8;
            // Returns when the parent releases the gate (or dies).
            libc::read(gate.read, (&raw mut byte).cast(), 1);
            libc::execvp(argv[0], argv.as_ptr());
            let errno = *libc::__errno_location();
            libc::write(exec_error.write, (&raw const errno).cast(), size_of::<i32>());
            libc::_exit(127);
        }
    }
    // SAFETY (all below): closing and using our own descriptors.
    unsafe {
        libc::close(gate.read);
        libc::close(exec_error.write);
    }
    let tgid = pid as u32;
    let followed = loader::follow(&mut loaded.ebpf, tgid);
    // Released either way: a command we cannot follow must not hang.
    unsafe {
        libc::write(gate.write, b"g".as_ptr().cast(), 1);
        libc::close(gate.write);
    }
    let mut errno = 0i32;
    let read = unsafe { libc::read(exec_error.read, (&raw mut errno).cast(), size_of::<i32>()) };
    unsafe { libc::close(exec_error.read) };
    let waiter = tokio::task::spawn_blocking(move || wait_for(pid));
    if read == size_of::<i32>() as isize {
        bail!("cannot run {}: {}", Path::new(program).display(), std::io::Error::from_raw_os_error(errno));
    }
    followed?;
    Ok(RunTree::new(waiter, tgid))
}

/// A pipe whose ends close on exec.
struct Pipe {
    read: i32,
    write: i32,
}

impl Pipe {
    fn new() -> Result<Self> {
        let mut ends = [0; 2];
        // SAFETY: pipe2 fills the two descriptors.
        if unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            bail!("cannot create a pipe: {}", std::io::Error::last_os_error());
        }
        Ok(Self { read: ends[0], write: ends[1] })
    }
}

/// Waits for our child `pid` (blocking) and returns its status.
fn wait_for(pid: i32) -> ExitStatus {
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child.
        let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
        if waited == pid {
            return ExitStatus::from_raw(status);
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return ExitStatus::from_raw(1 << 8);
        }
    }
}

/// `tracer probes`: attach every hook and print the plan.
pub fn probes(hooks: HashMap<Kind, crate::event::Source>) -> Result<u8> {
    let kinds: BTreeSet<Kind> = Kind::selectable().collect();
    let filters = Filters { kinds: kinds.clone(), ..Filters::default() };
    let options = LoadOptions {
        attach: &kinds,
        emit: &BTreeSet::new(),
        filters: &filters,
        follow_only: false,
        hooks: &hooks,
        buffer_mib: 1,
        arg_bytes: 1,
        env_bytes: 0,
    };
    let (plan, unserved) = match loader::load(&options) {
        Ok(loaded) => (loaded.plan, None),
        Err(LoadError::Unserved { kinds, reasons, plan }) => {
            let error = LoadError::Unserved { kinds, reasons, plan: plan.clone() };
            (plan, Some(error))
        }
        Err(error) => return Err(error.into()),
    };
    let mut out = std::io::stdout().lock();
    write!(out, "{plan}")?;
    out.flush()?;
    match unserved {
        // The plan says it on stdout; the exit status and stderr must say it too.
        Some(error) => Err(error.into()),
        None => Ok(0),
    }
}
