//! One measured run of a storm under one configuration: the workload's wall time, and the
//! tool's CPU, memory, readiness and what it reported.
use std::{
    fs::{self, File},
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::{
    count::{Counts, Tally},
    forkstat,
    hooks::{self, HookStat},
    process::{self, Lines},
    recorded, workload,
};

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
    TracerCommMiss,
    Bpftrace,
    Forkstat,
}

impl Config {
    /// Every configuration, in the report's order.
    pub const ALL: [Config; 6] = [
        Config::Untraced,
        Config::Floor,
        Config::TracerRecord,
        Config::TracerCommMiss,
        Config::Bpftrace,
        Config::Forkstat,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Config::Untraced => "untraced",
            Config::Floor => "floor",
            Config::TracerRecord => "tracer-record",
            Config::TracerCommMiss => "tracer-comm-miss",
            Config::Bpftrace => "bpftrace",
            Config::Forkstat => "forkstat",
        }
    }

    /// tracer itself, reporting events (not the floor).
    pub fn is_tracer(self) -> bool {
        matches!(self, Config::TracerRecord | Config::TracerCommMiss)
    }
}

/// What the bench drives.
pub struct Tools {
    pub tracer: PathBuf,
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

/// Runs `storm` under `config` once; with `hooks`, also reads the run-time statistics of the
/// tool's BPF programs just before stopping it (they must be switched on).
pub fn run(tools: &Tools, config: Config, storm: Storm, hooks: bool) -> RunResult {
    let mut result = RunResult { expected: Counts::expected(storm.shape, storm.tasks, 0), ..RunResult::default() };
    let outcome = match config {
        Config::Untraced => workload::run(tools, storm).map(|report| report.fill(&mut result)),
        _ => run_traced(tools, config, storm, hooks, &mut result),
    };
    result.expected = match config {
        // Neither the workload's comm nor `true` matches the filter: nothing of it passes. The
        // floor's programs report nothing at all.
        Config::TracerCommMiss | Config::Floor => Counts::default(),
        _ => Counts::expected(storm.shape, storm.tasks, result.workers),
    };
    if let Err(error) = outcome {
        result.error = Some(format!("{error:#}"));
    }
    result
}

fn recording_path(tools: &Tools) -> PathBuf {
    tools.scratch.join("recording.trc")
}

/// Where a peer's stdout goes.
fn peer_output_path(tools: &Tools) -> PathBuf {
    tools.scratch.join("peer.out")
}

fn run_traced(tools: &Tools, config: Config, storm: Storm, hooks: bool, result: &mut RunResult) -> Result<()> {
    let recording = recording_path(tools);
    let peer_out = peer_output_path(tools);
    let _ = fs::remove_file(&recording);
    let _ = fs::remove_file(&peer_out);

    let mut command = match config {
        Config::Bpftrace => {
            let bpftrace = tools.bpftrace.as_ref().context("bpftrace is not available")?;
            let mut command = Command::new(bpftrace);
            command.arg(tools.script()).stdout(File::create(&peer_out)?);
            command
        }
        Config::Forkstat => {
            let forkstat = tools.forkstat.as_ref().context("forkstat is not available")?;
            let mut command = Command::new(forkstat);
            command.args(forkstat::ARGS).stdout(File::create(&peer_out)?);
            command
        }
        _ => {
            let binary = if config == Config::Floor { &tools.tracer_floor } else { &tools.tracer };
            let mut command = Command::new(binary);
            command.arg("-o").arg(&recording).args(["--force", "-q"]).stdout(Stdio::null());
            if config == Config::TracerCommMiss {
                command.args(["--comm", MISSING_COMM]);
            }
            command
        }
    };
    command.stdin(Stdio::null()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().with_context(|| format!("cannot start {command:?}"))?;
    let pid = child.id();
    let mut stderr = Lines::new(child.stderr.take().expect("stderr is piped"));

    let ready = match config {
        Config::Bpftrace => wait_file_line(&peer_out, "READY", &mut stderr),
        Config::Forkstat => wait_forkstat(pid, &mut stderr),
        _ => stderr.wait_for(READY_TIMEOUT, |line| line.contains("Attached "), || {}),
    };
    let Some(ready) = ready else {
        process::signal(pid, libc::SIGKILL);
        let reaped = process::reap(&child, STOP_TIMEOUT)?;
        let lines = stderr.finish();
        bail!("{} never became ready (exit {}); its stderr ends with: {}", config.name(), reaped.status, tail(&lines));
    };
    result.ready_ns = Some(ready.duration_since(started).as_nanos() as u64);
    let ready_cpu = process::cpu_ns(pid).unwrap_or(0);

    let workload = workload::run(tools, storm);

    // Let the tool drain what the storm left in its buffers, then stop it.
    process::wait_idle(pid, Duration::from_secs(20));
    let hwm = process::peak_rss_kib(pid);
    let hook_stats = hooks.then(|| hooks::read(pid));
    process::signal(pid, libc::SIGINT);
    let reaped = process::reap(&child, STOP_TIMEOUT)?;
    let lines = stderr.finish();
    if reaped.killed {
        bail!(
            "{} did not exit within {} s of SIGINT and was killed; its stderr ends with: {}",
            config.name(),
            STOP_TIMEOUT.as_secs(),
            tail(&lines)
        );
    }
    workload?.fill(result);
    result.cpu_total_ns = Some(reaped.cpu_ns);
    result.cpu_ns = Some(reaped.cpu_ns.saturating_sub(ready_cpu));
    result.peak_rss_kib = hwm;
    result.ru_maxrss_kib = Some(reaped.max_rss_kib);
    result.tool_exit = Some(reaped.status.to_string());
    if let Some(stats) = hook_stats {
        result.hooks = stats.context("cannot read the run-time statistics of the tool's BPF programs")?;
    }

    let w = u64::from(result.workload_pid);
    let mut tally = Tally::default();
    if config == Config::Bpftrace {
        let file = File::open(&peer_out)?;
        for line in BufReader::new(file).lines() {
            tally.add_bpftrace(w, &line?);
        }
        // bpftrace reports perf-buffer losses as `Lost N events`, on stdout or stderr.
        for line in &lines {
            tally.add_bpftrace(w, line.trim());
        }
        result.events_all = Some(tally.all);
        result.lost = Some(tally.lost);
        result.captured = Some(tally.workload);
        let _ = fs::remove_file(&peer_out);
        if !reaped.status.success() {
            bail!("bpftrace exited with {}: {}", reaped.status, tail(&lines));
        }
        return Ok(());
    }
    if config == Config::Forkstat {
        let text = fs::read(&peer_out).context("cannot read forkstat's output")?;
        let output = forkstat::read(w, &String::from_utf8_lossy(&text));
        result.events_all = Some(output.tally.all);
        result.captured = Some(output.tally.workload);
        result.overruns = Some(output.overruns);
        let _ = fs::remove_file(&peer_out);
        if !reaped.status.success() {
            bail!("forkstat exited with {}: {}", reaped.status, tail(&lines));
        }
        return Ok(());
    }

    // tracer: exit 0, or 3 when events were lost; then exactly one summary line.
    let summary = lines.iter().rev().find(|line| line.trim_start().starts_with("tracer: ")).cloned();
    if let Some((events, lost)) = summary.as_deref().and_then(recorded::parse_summary) {
        result.events_all = Some(events);
        result.lost = Some(lost);
    }
    result.summary_line = summary;
    result.recording_bytes = fs::metadata(&recording).ok().map(|metadata| metadata.len());
    let replayed = recorded::replay(tools, &recording, w, &mut tally);
    let _ = fs::remove_file(&recording);
    match replayed {
        Ok(()) => {
            result.captured = Some(tally.workload);
            result.lost = Some(result.lost.unwrap_or(0).max(tally.lost));
            result.events_all.get_or_insert(tally.all);
        }
        Err(error) => result.error = Some(format!("{error:#}")),
    }
    if !matches!(reaped.status.code(), Some(0 | 3)) {
        bail!("tracer exited with {}: {}", reaped.status, tail(&lines));
    }
    if result.summary_line.is_none() {
        bail!("tracer printed no `tracer: N events …` summary line; its stderr ends with: {}", tail(&lines));
    }
    if config == Config::Floor && result.events_all.is_some_and(|events| events > 0) {
        bail!("the floor reported events: one of its programs does more than return");
    }
    Ok(())
}

/// Waits until forkstat listens on its netlink socket, while it lives.
fn wait_forkstat(pid: u32, stderr: &mut Lines) -> Option<Instant> {
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if forkstat::listening(pid) {
            return Some(Instant::now());
        }
        // Polls stderr too, which notices the tool's exit.
        stderr.wait_for(Duration::from_millis(1), |_| false, || {});
        if stderr.closed {
            return None;
        }
    }
    None
}

/// Waits for a line equal to `wanted` in the file a tool writes, while the tool lives.
fn wait_file_line(path: &Path, wanted: &str, stderr: &mut Lines) -> Option<Instant> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut text = String::new();
    let mut file = None;
    while Instant::now() < deadline {
        if file.is_none() {
            file = File::open(path).ok();
        }
        if let Some(file) = &mut file {
            let _ = file.read_to_string(&mut text);
            if text.lines().any(|line| line == wanted) {
                return Some(Instant::now());
            }
        }
        // Polls stderr too, which notices the tool's exit.
        stderr.wait_for(Duration::from_millis(1), |_| false, || {});
        if stderr.closed {
            return None;
        }
    }
    None
}

/// The last few lines of a tool's stderr, for error messages.
pub fn tail(lines: &[String]) -> String {
    let start = lines.len().saturating_sub(5);
    let tail = lines[start..].join(" | ");
    if tail.is_empty() { "(nothing)".to_owned() } else { tail }
}
