//! The parts of one measured run, shared by the code that runs it (`runs`), the storm workload
//! (`workload`), start-up and replay timing and the recording checks (`recorded`): the
//! configurations, the tools they drive, the storm, and what came out.
use std::{fs, path::PathBuf, time::Duration};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::{count::Counts, hooks::HookStat};

/// A comm no task has: `tracer-comm-miss` filters on it.
pub const MISSING_COMM: &str = "no-such-comm-x";
/// How long a tool may take to attach.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a tool may take to drain and exit once signalled.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// The bpftrace script: the same facts tracer reports, one line per event.
pub const BPFTRACE_SCRIPT: &str = r#"BEGIN { printf("READY\n"); }
tracepoint:sched:sched_process_fork { printf("fork %d %d %d %d %s\n", pid, tid, curtask->real_parent->tgid, args->child_pid, comm); }
tracepoint:sched:sched_process_exec { printf("exec %d %d %d %d %s\n", pid, tid, curtask->real_parent->tgid, args->old_pid, comm); }
tracepoint:sched:sched_process_exit { printf("exit %d %d %d %d %s\n", pid, tid, curtask->real_parent->tgid, curtask->exit_code, comm); }
"#;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Config {
    Untraced,
    /// tracer's hooks with programs that return at once (`target/bench/tracer-floor`).
    Floor,
    TracerRecord,
    /// tracer-record's command line run by the static (musl) build, the one the packages ship.
    TracerStaticRecord,
    TracerCommMiss,
    /// `tracer top -o FILE` drawing on a pseudo-terminal: the live view's cost over recording.
    TracerTop,
    Bpftrace,
    Forkstat,
}

impl Config {
    /// Every configuration, in the report's order.
    pub const ALL: [Config; 8] = [
        Config::Untraced,
        Config::Floor,
        Config::TracerRecord,
        Config::TracerStaticRecord,
        Config::TracerCommMiss,
        Config::TracerTop,
        Config::Bpftrace,
        Config::Forkstat,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Config::Untraced => "untraced",
            Config::Floor => "floor",
            Config::TracerRecord => "tracer-record",
            Config::TracerStaticRecord => "tracer-static-record",
            Config::TracerCommMiss => "tracer-comm-miss",
            Config::TracerTop => "tracer-top",
            Config::Bpftrace => "bpftrace",
            Config::Forkstat => "forkstat",
        }
    }

    /// tracer itself, reporting events (not the floor).
    pub fn is_tracer(self) -> bool {
        matches!(self, Config::TracerRecord | Config::TracerStaticRecord | Config::TracerCommMiss | Config::TracerTop)
    }
}

/// What the bench drives.
pub struct Tools {
    pub tracer: PathBuf,
    /// The static (musl) build of tracer, when it could be built.
    pub tracer_static: Option<PathBuf>,
    /// tracer embedding the floor object.
    pub tracer_floor: PathBuf,
    pub workload: PathBuf,
    pub bpftrace: Option<PathBuf>,
    pub forkstat: Option<PathBuf>,
    /// Where recordings and peer outputs go.
    pub scratch: PathBuf,
    /// The cgroup the storms' tasks run in (`--cgroup`), instead of the bench's own.
    pub workload_cgroup: Option<PathBuf>,
}

impl Tools {
    pub fn script(&self) -> PathBuf {
        self.scratch.join("bench.bt")
    }

    pub fn write_script(&self) -> Result<()> {
        fs::write(self.script(), BPFTRACE_SCRIPT).context("cannot write the bpftrace script")
    }
}

/// One storm: shape, cores and task count.
#[derive(Clone, Copy, Debug)]
pub struct Storm {
    pub shape: &'static str,
    pub cores: &'static str,
    pub tasks: u64,
}

/// The result of one run; `None` where the configuration does not have the figure.
#[derive(Debug, Default)]
pub struct RunResult {
    pub wall_ns: Option<u64>,
    /// CPU time the storm's own tasks used (the workload's report): with a tool attached, its
    /// BPF programs' time and what they cost the storm's tasks besides are part of it.
    pub storm_cpu_ns: Option<u64>,
    pub workers: u64,
    /// Pid of the workload process.
    pub workload_pid: u32,
    pub captured: Option<Counts>,
    pub expected: Counts,
    /// Every event the tool delivered during the run (tracer's summary count, bpftrace's lines).
    pub events_all: Option<u64>,
    pub lost: Option<u64>,
    /// CPU time of the tool from its readiness to its exit, in ns.
    pub cpu_ns: Option<u64>,
    /// CPU time of the tool over its whole life, in ns.
    pub cpu_total_ns: Option<u64>,
    /// The tool's `VmHWM` just before it is stopped, in KiB.
    pub peak_rss_kib: Option<u64>,
    /// `ru_maxrss` from `wait4`, in KiB. Not used for the figures: a child spawned through
    /// vfork/posix_spawn inherits its parent's high-water mark at exec, so this is at least the
    /// bench's own peak.
    pub ru_maxrss_kib: Option<u64>,
    /// From spawning the tool to its readiness line.
    pub ready_ns: Option<u64>,
    pub tool_exit: Option<String>,
    pub summary_line: Option<String>,
    /// forkstat's `nobufs` reports: times the kernel dropped messages for it.
    pub overruns: Option<u64>,
    /// Run-time statistics of the tool's BPF programs, when measured.
    pub hooks: Vec<HookStat>,
    /// Size of tracer's recording, in bytes.
    pub recording_bytes: Option<u64>,
    pub error: Option<String>,
}

impl RunResult {
    pub fn to_json(&self) -> Value {
        json!({
            "wall_ns": self.wall_ns,
            "storm_cpu_ns": self.storm_cpu_ns,
            "workers": self.workers,
            "workload_pid": self.workload_pid,
            "captured": self.captured.map(counts_json),
            "expected": counts_json(self.expected),
            "events_all": self.events_all,
            "lost": self.lost,
            "tool_cpu_ns_after_ready": self.cpu_ns,
            "tool_cpu_ns_total": self.cpu_total_ns,
            "tool_peak_rss_kib": self.peak_rss_kib,
            "tool_ru_maxrss_kib": self.ru_maxrss_kib,
            "tool_ready_ns": self.ready_ns,
            "tool_exit": self.tool_exit,
            "tool_summary": self.summary_line,
            "overruns": self.overruns,
            "hooks": self.hooks.iter().map(HookStat::to_json).collect::<Vec<_>>(),
            "recording_bytes": self.recording_bytes,
            "error": self.error,
        })
    }
}

pub fn counts_json(counts: Counts) -> Value {
    json!({"fork": counts.fork, "exec": counts.exec, "exit": counts.exit, "total": counts.total()})
}

/// The last few lines of a tool's stderr, for error messages.
pub fn tail(lines: &[String]) -> String {
    let start = lines.len().saturating_sub(5);
    let tail = lines[start..].join(" | ");
    if tail.is_empty() { "(nothing)".to_owned() } else { tail }
}
