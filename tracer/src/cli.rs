//! Command-line syntax (clap). `config` turns it into validated settings before anything loads.
use std::{ffi::OsString, path::PathBuf};

use clap::{ArgGroup, Args, Parser, Subcommand};

/// `--ancestors`' default and bound.
const ANCESTOR_DEPTH_U32: u32 = tracer_common::ANCESTOR_DEPTH as u32;

const EXAMPLES: &str = "\
Examples:
  sudo tracer                          every task event on the machine, as a table
  sudo tracer --json -e fork,exit      task births and deaths as JSON lines
  sudo tracer -c nginx -f              nginx and everything it starts
  sudo tracer -p 812 -e lookup         /proc look-ups made by process 812
  sudo tracer --container 3f2a9c1b     everything happening in that container
  sudo tracer -e namespace             every setns, unshare and clone into new namespaces
  sudo tracer -o trace.rec -q -d 60    record one minute without printing
  sudo tracer -q --json-output e.json  JSON lines to e.json only (see --rotate-size)
  tracer replay trace.rec -c bash      print the recorded events of bash
  sudo tracer run -- make -j2          trace a build and its whole process tree
  sudo tracer run -q --tree -- make    draw the build's process tree when it ends
  tracer tree trace.rec --threads      the process tree of a recording, with threads
  tracer export trace.rec --perfetto trace.pftrace   a timeline for ui.perfetto.dev
  sudo tracer probes                   which hook serves each event on this kernel
  sudo tracer top                      a live full-screen view: tree, births, deaths, churn

Exit status: 0 on success; 1 on errors; 2 on bad usage; 3 when the kernel dropped events
(ring buffer full); `tracer run` exits with the command's status instead.";

const RUN_HELP: &str = "\
COMMAND starts as it would untraced (same environment, descriptors, signal dispositions and
mask) and is traced from its first instruction, with every process it creates. Its stdout is
its own: events go to stderr, or to --events-to FILE. tracer stops once the command and all
its processes are gone, prints the summary, and exits with the command's status (or is killed
by the same signal).

Signals: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to tracer are passed to
the command, and tracer goes on tracing until the tree is gone. Those a terminal sends (Ctrl-C,
Ctrl-\\, hangup) reach the command directly and are not sent twice. Once the command itself has
exited, any of them stops tracer waiting for the processes it left running.

A command that cannot be found exits 127, one that cannot be executed 126, as in a shell.

Examples:
  sudo tracer run -- make -j2                          events on stderr, make's output on stdout
  sudo tracer run --json --events-to ev.jsonl -- ./t   events as JSON lines in ev.jsonl
  sudo tracer run -e exec -- sh -c 'ls | wc -l'        only the programs it runs";

/// `tracer --version`: the version second, as scripts read it, then what tells two builds of one
/// version apart: the git commit (`-dirty`: uncommitted changes) and the eBPF object's build ID.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("TRACER_GIT_COMMIT"),
    ", eBPF object ",
    env!("TRACER_EBPF_BUILD_ID"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "tracer",
    version = VERSION,
    about = "Watch tasks being born, exec'ing, renaming and dying, and every /proc/<n> lookup, live.",
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true,
    group(ArgGroup::new("files").multiple(true).args(["output"]))
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub trace: TraceArgs,
    /// Print a man page or shell completion script (`list` names them all): for packaging.
    #[arg(long, hide = true, exclusive = true, value_name = "WHAT")]
    pub generate: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start COMMAND, trace it and all its descendants, and exit as it exits.
    #[command(after_help = RUN_HELP, group(ArgGroup::new("files").multiple(true).args(["output", "events_to"])))]
    Run {
        #[command(flatten)]
        trace: TraceArgs,
        /// Print the events to FILE instead of stderr (a new file, or with --force a
        /// replaced one; a FIFO or terminal of yours; /dev/fd/N).
        #[arg(long = "events-to", value_name = "FILE")]
        events_to: Option<PathBuf>,
        /// The command and its arguments (`--` before them is optional).
        #[arg(trailing_var_arg = true, value_name = "COMMAND")]
        command: Vec<OsString>,
    },
    /// Print recordings exactly as the live stream printed them.
    Replay {
        /// Files written by `tracer -o FILE`, or glob patterns (`'trace.rec*'`): rotated
        /// recordings are replayed one after the other, oldest first (by the start time in each
        /// file's header).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        filters: FilterArgs,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Draw the process tree of a recording: who started whom, what each ran, how it ended.
    Tree {
        /// A file written by `tracer -o FILE`.
        file: PathBuf,
        #[command(flatten)]
        filters: FilterArgs,
        #[command(flatten)]
        layout: TreeArgs,
    },
    /// Convert a recording into a trace for another tool.
    Export {
        /// A file written by `tracer -o FILE`.
        file: PathBuf,
        /// Write a Perfetto trace (open it at ui.perfetto.dev) to OUT.
        #[arg(long, value_name = "OUT", required = true)]
        perfetto: PathBuf,
        /// Overwrite OUT when it exists.
        #[arg(long)]
        force: bool,
    },
    /// A live, full-screen view of processes and threads as they are born and die, with the
    /// churn per comm; or a recording replayed into the same view.
    #[command(after_help = TOP_HELP)]
    Top(TopArgs),
    /// Attach every hook and show which one serves each event kind on this kernel, and why.
    Probes {
        #[command(flatten)]
        hooks: HookArgs,
    },
}

#[derive(Debug, Args, Clone, Default)]
pub struct FilterArgs {
    /// Only tasks whose comm is NAME (repeatable; at most 15 bytes, as the kernel keeps).
    #[arg(short = 'c', long = "comm", value_name = "NAME")]
    pub comms: Vec<String>,
    /// Only tasks of process TGID, all its threads (repeatable).
    #[arg(short = 'p', long = "pid", value_name = "TGID")]
    pub pids: Vec<u32>,
    /// Only task TID (repeatable).
    #[arg(short = 't', long = "tid", value_name = "TID")]
    pub tids: Vec<u32>,
    /// Only tasks whose real user ID is UID (repeatable).
    #[arg(short = 'u', long = "uid", value_name = "UID")]
    pub uids: Vec<u32>,
    /// Only tasks in PID namespace INODE (as `readlink /proc/<pid>/ns/pid` shows it; repeatable).
    #[arg(long = "pidns", value_name = "INODE")]
    pub pidns: Vec<u32>,
    /// Only tasks in a container whose ID (or name) starts with ID (repeatable).
    #[arg(long = "container", value_name = "ID")]
    pub containers: Vec<String>,
    /// Only tasks in cgroup PATH or below it, in the unified (v2) hierarchy (repeatable).
    #[arg(long = "cgroup", value_name = "PATH")]
    pub cgroups: Vec<String>,
    /// Only these event kinds: fork, exec, exit, rename, lookup, namespace (comma-separated, repeatable).
    #[arg(short = 'e', long = "events", value_name = "KINDS", value_delimiter = ',')]
    pub events: Vec<String>,
    /// Also trace every descendant of the selected tasks, whatever they exec into.
    #[arg(short = 'f', long = "follow")]
    pub follow: bool,
}

const TOP_HELP: &str = "\
Keys: q quit, / filter (comm, command, PID, container), p pause, s sort (churn, age, tasks),
t threads, Enter focus the selected subtree, Esc leave it, ? help.

stdout must be a terminal; for a pipe or a file use the stream (`tracer`) or `tracer --json`.

Examples:
  sudo tracer top                        the whole machine
  sudo tracer top --container 3f2a9c1b   one container
  sudo tracer top -o trace.rec           watch and record
  tracer top trace.rec --speed 4         replay a recording into the view, four times as fast";

#[derive(Debug, Args, Clone, Default)]
pub struct TopArgs {
    /// Replay this recording (`tracer -o FILE`) into the view at its recorded pace, instead of
    /// watching the kernel.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub filters: FilterArgs,
    /// Also record the events to FILE while watching (replay it with `tracer top FILE`).
    #[arg(short = 'o', long = "output", value_name = "FILE", conflicts_with = "file")]
    pub output: Option<PathBuf>,
    /// Overwrite the recording when it exists.
    #[arg(long, requires = "output")]
    pub force: bool,
    /// Replay N times as fast as recorded (with FILE).
    #[arg(long, value_name = "N", requires = "file")]
    pub speed: Option<f64>,
    /// Stop after SECS seconds.
    #[arg(short = 'd', long = "duration", value_name = "SECS", conflicts_with = "file")]
    pub duration: Option<f64>,
    /// Size of the kernel's event ring buffer, in MiB (a power of two).
    #[arg(long = "buffer-size", value_name = "MIB", default_value_t = 4)]
    pub buffer_mib: u32,
    /// Bytes of each exec's argument list to keep, NULs included (at most 262144).
    #[arg(long = "arg-bytes", value_name = "N", default_value_t = 32 * 1024)]
    pub arg_bytes: u32,
    #[command(flatten)]
    pub hooks: HookArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct TreeArgs {
    /// Show N levels of processes (1: only the top ones).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub depth: Option<u32>,
    /// List each process's threads.
    #[arg(long)]
    pub threads: bool,
    /// Show every process: do not fold runs of identical siblings into one line.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct HookArgs {
    /// Force the hook serving an event kind: lookup=fentry|kprobe|syscall_entry,
    /// fork|exec|exit|rename=tp_btf|raw_tracepoint (repeatable).
    #[arg(long = "hook", value_name = "EVENT=HOOK")]
    pub hooks: Vec<String>,
}

#[derive(Debug, Args, Clone, Default)]
// "kept": what keeps the events when --quiet prints none. "rotated": the files --rotate-* rotate.
#[command(group(clap::ArgGroup::new("kept").multiple(true)))]
#[command(group(clap::ArgGroup::new("rotated").multiple(true).args(["output", "json_output"])))]
pub struct TraceArgs {
    #[command(flatten)]
    pub filters: FilterArgs,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also record the events to FILE (replay it with `tracer replay FILE`).
    #[arg(short = 'o', long = "output", value_name = "FILE", group = "kept")]
    pub output: Option<PathBuf>,
    /// Print the process tree of what was traced at the end (after the events, or alone with -q).
    #[arg(long, group = "kept", conflicts_with = "json")]
    pub tree: bool,
    /// Overwrite FILE when it exists (otherwise tracer refuses to touch it).
    #[arg(long, requires = "files")]
    pub force: bool,
    /// Print no events (with --output, --json-output or --tree).
    #[arg(short = 'q', long, requires = "kept")]
    pub quiet: bool,
    /// Stop after SECS seconds.
    #[arg(short = 'd', long = "duration", value_name = "SECS")]
    pub duration: Option<f64>,
    /// Size of the kernel's event ring buffer, in MiB (a power of two).
    #[arg(long = "buffer-size", value_name = "MIB", default_value_t = 4)]
    pub buffer_mib: u32,
    /// Bytes of each exec's argument list to keep, NULs included (at most 262144).
    #[arg(long = "arg-bytes", value_name = "N", default_value_t = 32 * 1024)]
    pub arg_bytes: u32,
    /// Also record each exec's environment (up to --arg-bytes). It may hold secrets.
    #[arg(long)]
    pub env: bool,
    /// Keep only environment variable NAME (repeatable; implies --env).
    #[arg(long = "env-filter", value_name = "NAME")]
    pub env_filter: Vec<String>,
    /// Ancestors each fork, exec and exit event names, nearest first (0 to 16; 0: none). Each
    /// level costs the kernel a few memory reads per event.
    #[arg(long = "ancestors", value_name = "N", default_value_t = ANCESTOR_DEPTH_U32,
          value_parser = clap::value_parser!(u32).range(0..=ANCESTOR_DEPTH_U32 as i64))]
    pub ancestors: u32,
    #[command(flatten)]
    pub hooks: HookArgs,
    #[command(flatten)]
    pub json_file: JsonFileArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct JsonFileArgs {
    /// Also write the events as JSON lines to FILE, a new file (mode 0600) tracer creates; an
    /// existing FILE is rotated to FILE.1 first. SIGHUP reopens FILE (and the recording) after
    /// logrotate renamed it.
    #[arg(long = "json-output", value_name = "FILE", group = "kept")]
    pub json_output: Option<PathBuf>,
    /// Rotate the JSON file and the recording before one grows past SIZE (e.g. 100M, 512KiB; K,
    /// M, G are powers of 1024). Each rotated recording is a complete file of its own.
    #[arg(long = "rotate-size", value_name = "SIZE", requires = "rotated")]
    pub rotate_size: Option<String>,
    /// Rotate a file once its first event is DURATION old (e.g. 1h, 1d, 30m, 90s).
    #[arg(long = "rotate-age", value_name = "DURATION", requires = "rotated")]
    pub rotate_age: Option<String>,
    /// Keep N rotated files, FILE.1 (newest) to FILE.N; older ones are deleted [default: 5].
    /// With any --rotate-* flag, an existing recording is rotated away like the JSON file.
    #[arg(long = "rotate-keep", value_name = "N", requires = "rotated")]
    pub rotate_keep: Option<u32>,
}

impl JsonFileArgs {
    /// Whether a rotation flag was given (the recording then rotates too).
    pub fn rotates(&self) -> bool {
        self.rotate_size.is_some() || self.rotate_age.is_some() || self.rotate_keep.is_some()
    }
}
