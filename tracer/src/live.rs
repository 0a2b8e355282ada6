//! The commands that trace the live kernel: the default stream, `tracer run`, `tracer probes`.
use std::{
    collections::{BTreeSet, HashMap},
    ffi::{CString, OsString},
    io::{BufWriter, Write},
    os::unix::{ffi::OsStrExt, process::ExitStatusExt},
    path::Path,
    process::ExitStatus,
};

use anyhow::{Context, Result, bail};

use crate::{
    clock::Clock,
    config::TraceConfig,
    event::Kind,
    filter::Filters,
    loader::{self, LoadError, LoadOptions},
    output::{self, JsonFile, NoPrinter, Printer},
    pipeline::Pipeline,
    recording::{RecordingHeader, RecordingWriter},
    session::{self, Ended, RunTree},
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

fn stdout_printer(config: &TraceConfig) -> Box<dyn Printer> {
    if config.quiet {
        Box::new(NoPrinter)
    } else {
        output::printer(config.json, BufWriter::with_capacity(64 * 1024, std::io::stdout()))
    }
}

/// Stdout's printer, and the `--json-output` file's (created now, before anything loads).
fn printers(config: &TraceConfig) -> Result<Box<dyn Printer>> {
    let stdout = stdout_printer(config);
    Ok(match &config.json_output {
        Some((path, policy)) => Box::new(output::Both(Box::new(JsonFile::create(path, policy.clone())?), stdout)),
        None => stdout,
    })
}

fn describe_kinds(kinds: &BTreeSet<Kind>) -> String {
    kinds.iter().map(|kind| kind.name()).collect::<Vec<_>>().join(", ")
}

/// `tracer [OPTIONS]` and `tracer run [OPTIONS] -- COMMAND`. Returns the process exit status.
pub async fn trace(config: TraceConfig, command: Option<Vec<OsString>>) -> Result<u8> {
    let running = command.is_some();
    let (attach, emit) = config.kernel_kinds(running);
    // Created first, so an existing recording is refused before anything loads.
    let recorder = match &config.output {
        Some(path) => Some(RecordingWriter::create(path, &recording_header(&config.filters), config.force)?),
        None => None,
    };
    let printers = printers(&config)?;
    let options = LoadOptions {
        attach: &attach,
        emit: &emit,
        filters: &config.filters,
        follow_only: running && !config.filters.selects_tasks(),
        hooks: &config.hooks,
        buffer_mib: config.buffer_mib,
    };
    let mut loaded = match loader::load(&options) {
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
    let pipeline = Pipeline::new(config.filters.kinds.clone(), None, tasks, printers, recorder);
    eprintln!(
        "Attached {} programs: tracing {}. {}",
        loaded.plan.attached_programs(),
        describe_kinds(&config.filters.kinds),
        if running { "Stops when the command's process tree is gone." } else { "Ctrl-C to stop." }
    );
    // Under systemd (Type=notify), `systemctl start` returns now: nothing started after it is missed.
    if let Err(error) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        log::warn!("cannot tell systemd that tracer is ready: {error}");
    }
    let run = match command {
        Some(command) => Some(spawn_followed(&mut loaded, &command)?),
        None => None,
    };
    let ended = session::stream(loaded, pipeline, config.duration, run).await?;
    Ok(finish(&ended))
}

/// Prints the summary and picks the exit status.
fn finish(ended: &Ended) -> u8 {
    let Ended { counts, elapsed, command_status, output_closed } = ended;
    if !output_closed {
        eprintln!("{}", counts.summary(*elapsed));
    }
    if counts.lost > 0 {
        eprintln!("tracer: the kernel dropped {} events (ring buffer full); try a larger --buffer-size", counts.lost);
    }
    match command_status {
        Some(status) => command_exit_code(*status),
        None if counts.lost > 0 => EXIT_LOST,
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
