//! Command-line syntax (clap). `config` turns it into validated settings before anything loads.
use std::{ffi::OsString, path::PathBuf};

use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  sudo tracer                          every task event on the machine, as a table
  sudo tracer --json -e fork,exit      task births and deaths as JSON lines
  sudo tracer -c nginx -f              nginx and everything it starts
  sudo tracer -p 812 -e lookup         /proc look-ups made by process 812
  sudo tracer -o trace.rec -q -d 60    record one minute without printing
  sudo tracer -q --json-output e.json  JSON lines to e.json only (see --rotate-size)
  tracer replay trace.rec -c bash      print the recorded events of bash
  sudo tracer run -- make -j2          trace a build and its whole process tree
  sudo tracer probes                   which hook serves each event on this kernel

Exit status: 0 on success; 1 on errors; 2 on bad usage; 3 when the kernel dropped events
(ring buffer full); `tracer run` exits with the command's status instead.";

#[derive(Debug, Parser)]
#[command(
    name = "tracer",
    version,
    about = "Watch tasks being born, exec'ing, renaming and dying, and every /proc/<n> lookup, live.",
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true
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
    /// Start COMMAND, trace it and all its descendants, and exit with its status.
    Run {
        #[command(flatten)]
        trace: TraceArgs,
        /// The command and its arguments (after `--`).
        #[arg(required = true, last = true, value_name = "COMMAND")]
        command: Vec<OsString>,
    },
    /// Print a recording exactly as the live stream printed it.
    Replay {
        /// A file written by `tracer -o FILE`.
        file: PathBuf,
        #[command(flatten)]
        filters: FilterArgs,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
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
    /// Only these event kinds: fork, exec, exit, rename, lookup (comma-separated, repeatable).
    #[arg(short = 'e', long = "events", value_name = "KINDS", value_delimiter = ',')]
    pub events: Vec<String>,
    /// Also trace every descendant of the selected tasks, whatever they exec into.
    #[arg(short = 'f', long = "follow")]
    pub follow: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct HookArgs {
    /// Force the hook serving an event kind: lookup=fentry|kprobe|syscall_entry,
    /// fork|exec|exit|rename=tp_btf|raw_tracepoint (repeatable).
    #[arg(long = "hook", value_name = "EVENT=HOOK")]
    pub hooks: Vec<String>,
}

#[derive(Debug, Args, Clone, Default)]
#[command(group(clap::ArgGroup::new("files").args(["output", "json_output"]).multiple(true)))]
pub struct TraceArgs {
    #[command(flatten)]
    pub filters: FilterArgs,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also record the events to FILE (replay it with `tracer replay FILE`).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite FILE when it exists (otherwise tracer refuses to touch it).
    #[arg(long, requires = "output")]
    pub force: bool,
    /// Record or write the JSON file without printing events.
    #[arg(short = 'q', long, requires = "files")]
    pub quiet: bool,
    /// Stop after SECS seconds.
    #[arg(short = 'd', long = "duration", value_name = "SECS")]
    pub duration: Option<f64>,
    /// Size of the kernel's event ring buffer, in MiB (a power of two).
    #[arg(long = "buffer-size", value_name = "MIB", default_value_t = 4)]
    pub buffer_mib: u32,
    #[command(flatten)]
    pub hooks: HookArgs,
    #[command(flatten)]
    pub json_file: JsonFileArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct JsonFileArgs {
    /// Also write the events as JSON lines to FILE, a new file (mode 0600) tracer creates; an
    /// existing FILE is rotated to FILE.1 first. SIGHUP reopens FILE after logrotate renamed it.
    #[arg(long = "json-output", value_name = "FILE")]
    pub json_output: Option<PathBuf>,
    /// Rotate FILE before it grows past SIZE (e.g. 100M, 512KiB; K, M, G are powers of 1024).
    #[arg(long = "rotate-size", value_name = "SIZE", requires = "json_output")]
    pub rotate_size: Option<String>,
    /// Rotate FILE once its first line is DURATION old (e.g. 1h, 1d, 30m, 90s).
    #[arg(long = "rotate-age", value_name = "DURATION", requires = "json_output")]
    pub rotate_age: Option<String>,
    /// Keep N rotated files, FILE.1 (newest) to FILE.N; older ones are deleted [default: 5].
    #[arg(long = "rotate-keep", value_name = "N", requires = "json_output")]
    pub rotate_keep: Option<u32>,
}
