//! Command-line syntax (clap). `config` turns it into validated settings before anything loads.
use std::{ffi::OsString, path::PathBuf};

use clap::{ArgGroup, Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  sudo tracer                          every task event on the machine, as a table
  sudo tracer --json -e fork,exit      task births and deaths as JSON lines
  sudo tracer -c nginx -f              nginx and everything it starts
  sudo tracer -p 812 -e lookup         /proc look-ups made by process 812
  sudo tracer -o trace.rec -q -d 60    record one minute without printing
  tracer replay trace.rec -c bash      print the recorded events of bash
  sudo tracer run -- make -j2          trace a build and its whole process tree
  sudo tracer probes                   which hook serves each event on this kernel

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

#[derive(Debug, Parser)]
#[command(
    name = "tracer",
    version,
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
    #[arg(long, requires = "files")]
    pub force: bool,
    /// Record without printing events.
    #[arg(short = 'q', long, requires = "output")]
    pub quiet: bool,
    /// Stop after SECS seconds.
    #[arg(short = 'd', long = "duration", value_name = "SECS")]
    pub duration: Option<f64>,
    /// Size of the kernel's event ring buffer, in MiB (a power of two).
    #[arg(long = "buffer-size", value_name = "MIB", default_value_t = 4)]
    pub buffer_mib: u32,
    #[command(flatten)]
    pub hooks: HookArgs,
}
