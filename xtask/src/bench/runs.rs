//! One measured run of each configuration, and the start-to-first-event measurement.
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
    process::{self, Lines},
};

/// A comm no task has: `tracer-comm-miss` filters on it.
pub const MISSING_COMM: &str = "no-such-comm-x";
/// How long a tool may take to attach.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a tool may take to drain and exit once signalled.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// The bpftrace script: the same facts tracer reports, one line per event.
pub const BPFTRACE_SCRIPT: &str = r#"BEGIN { printf("READY\n"); }
tracepoint:sched:sched_process_fork { printf("fork %d %d %d %d %s\n", pid, tid, curtask->real_parent->tgid, args->child_pid, comm); }
tracepoint:sched:sched_process_exec { printf("exec %d %d %d %d %s\n", pid, tid, curtask->real_parent->tgid, args->old_pid, comm); }
tracepoint:sched:sched_process_exit { printf("exit %d %d %d %d %s\n", pid, tid, curtask->real_parent->tgid, curtask->exit_code, comm); }
"#;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Config {
    Untraced,
    TracerRecord,
    TracerCommMiss,
    Bpftrace,
}

impl Config {
    pub fn name(self) -> &'static str {
        match self {
            Config::Untraced => "untraced",
            Config::TracerRecord => "tracer-record",
            Config::TracerCommMiss => "tracer-comm-miss",
            Config::Bpftrace => "bpftrace",
        }
    }

    pub fn is_tracer(self) -> bool {
        matches!(self, Config::TracerRecord | Config::TracerCommMiss)
    }
}

/// What the bench drives.
pub struct Tools {
    pub tracer: PathBuf,
    pub workload: PathBuf,
    pub bpftrace: Option<PathBuf>,
    /// Where recordings and the bpftrace script go.
    pub scratch: PathBuf,
}

impl Tools {
    fn script(&self) -> PathBuf {
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
    pub error: Option<String>,
}

impl RunResult {
    pub fn to_json(&self) -> Value {
        json!({
            "wall_ns": self.wall_ns,
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
            "error": self.error,
        })
    }
}

pub fn counts_json(counts: Counts) -> Value {
    json!({"fork": counts.fork, "exec": counts.exec, "exit": counts.exit, "total": counts.total()})
}

/// Runs the workload to completion; returns its pid, the wall time it measured and its workers.
fn run_workload(tools: &Tools, storm: Storm) -> Result<(u32, u64, u64)> {
    let child = Command::new(&tools.workload)
        .args(["storm", "--shape", storm.shape, "--cores", storm.cores, "--tasks"])
        .arg(storm.tasks.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", tools.workload.display()))?;
    let pid = child.id();
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("the workload failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(stdout.trim())
        .with_context(|| format!("the workload printed no JSON line: {stdout:?}"))?;
    let field = |name: &str| report.get(name).and_then(Value::as_u64);
    Ok((pid, field("wall_ns").context("the workload's report has no wall_ns")?, field("workers").unwrap_or(0)))
}

/// Runs `storm` under `config` once.
pub fn run(tools: &Tools, config: Config, storm: Storm) -> RunResult {
    let mut result = RunResult { expected: Counts::expected(storm.shape, storm.tasks, 0), ..RunResult::default() };
    let outcome = match config {
        Config::Untraced => run_workload(tools, storm).map(|(pid, wall, workers)| {
            result.workload_pid = pid;
            result.wall_ns = Some(wall);
            result.workers = workers;
        }),
        _ => run_traced(tools, config, storm, &mut result),
    };
    result.expected = match config {
        // Neither the workload's comm nor `true` matches the filter: nothing of it passes.
        Config::TracerCommMiss => Counts::default(),
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

fn bpftrace_output_path(tools: &Tools) -> PathBuf {
    tools.scratch.join("bpftrace.out")
}

fn run_traced(tools: &Tools, config: Config, storm: Storm, result: &mut RunResult) -> Result<()> {
    let recording = recording_path(tools);
    let bpftrace_out = bpftrace_output_path(tools);
    let _ = fs::remove_file(&recording);
    let _ = fs::remove_file(&bpftrace_out);

    let mut command = match config {
        Config::Bpftrace => {
            let bpftrace = tools.bpftrace.as_ref().context("bpftrace is not available")?;
            let mut command = Command::new(bpftrace);
            command.arg(tools.script()).stdout(File::create(&bpftrace_out)?);
            command
        }
        _ => {
            let mut command = Command::new(&tools.tracer);
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
        Config::Bpftrace => wait_file_line(&bpftrace_out, "READY", &mut stderr),
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

    let workload = run_workload(tools, storm);

    // Let the tool drain what the storm left in its buffers, then stop it.
    process::wait_idle(pid, Duration::from_secs(20));
    let hwm = process::peak_rss_kib(pid);
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
    let (workload_pid, wall, workers) = workload?;
    result.workload_pid = workload_pid;
    result.wall_ns = Some(wall);
    result.workers = workers;
    result.cpu_total_ns = Some(reaped.cpu_ns);
    result.cpu_ns = Some(reaped.cpu_ns.saturating_sub(ready_cpu));
    result.peak_rss_kib = hwm;
    result.ru_maxrss_kib = Some(reaped.max_rss_kib);
    result.tool_exit = Some(reaped.status.to_string());

    let w = u64::from(workload_pid);
    let mut tally = Tally::default();
    if config == Config::Bpftrace {
        let file = File::open(&bpftrace_out)?;
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
        let _ = fs::remove_file(&bpftrace_out);
        if !reaped.status.success() {
            bail!("bpftrace exited with {}: {}", reaped.status, tail(&lines));
        }
        return Ok(());
    }

    // tracer: exit 0, or 3 when events were lost; then exactly one summary line.
    let summary = lines.iter().rev().find(|line| line.trim_start().starts_with("tracer: ")).cloned();
    if let Some((events, lost)) = summary.as_deref().and_then(parse_summary) {
        result.events_all = Some(events);
        result.lost = Some(lost);
    }
    result.summary_line = summary;
    let replayed = replay(tools, &recording, w, &mut tally);
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
    Ok(())
}

/// Tallies `tracer replay FILE --json`.
fn replay(tools: &Tools, recording: &Path, w: u64, tally: &mut Tally) -> Result<()> {
    let mut child = Command::new(&tools.tracer)
        .arg("replay")
        .arg(recording)
        .arg("--json")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start tracer replay")?;
    let stderr = Lines::new(child.stderr.take().expect("stderr is piped"));
    for line in BufReader::new(child.stdout.take().expect("stdout is piped")).lines() {
        tally.add_tracer_json(w, &line?);
    }
    let status = child.wait()?;
    let lines = stderr.finish();
    if !status.success() {
        bail!("tracer replay {} failed ({status}): {}", recording.display(), tail(&lines));
    }
    Ok(())
}

/// Reads `tracer: <N> events (fork a, exec b, exit c, rename d, lookup e), <L> lost, <S> s`.
pub fn parse_summary(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("tracer: ")?;
    let events = rest.split_whitespace().next()?.parse().ok()?;
    let after = &rest[rest.find("), ")? + 3..];
    let lost = after.split_whitespace().next()?.parse().ok()?;
    Some((events, lost))
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

/// Start-to-first-event: spawns the tool streaming live to a pipe, then `/bin/true` every couple
/// of milliseconds until the first event line arrives, then stops the tool with SIGINT.
pub fn startup(tools: &Tools, bpftrace: bool) -> Result<StartupSample> {
    let mut command = match bpftrace {
        true => {
            let mut command = Command::new(tools.bpftrace.as_ref().context("bpftrace is not available")?);
            command.arg(tools.script());
            command
        }
        false => {
            let mut command = Command::new(&tools.tracer);
            command.arg("--json");
            command
        }
    };
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().with_context(|| format!("cannot start {command:?}"))?;
    let pid = child.id();
    let mut stdout = Lines::new(child.stdout.take().expect("stdout is piped"));
    let mut stderr = Lines::new(child.stderr.take().expect("stderr is piped"));
    let is_event = |line: &str| match bpftrace {
        true => matches!(line.split_whitespace().next(), Some("fork" | "exec" | "exit")),
        false => serde_json::from_str::<Value>(line).is_ok_and(|value| value.get("event").is_some()),
    };
    let first = stdout.wait_for(READY_TIMEOUT, is_event, || {
        let _ = Command::new("/bin/true").status();
    });
    process::signal(pid, libc::SIGINT);
    let reaped = process::reap(&child, STOP_TIMEOUT)?;
    let out_lines = stdout.finish_timed();
    let err_lines = stderr.finish_timed();
    let name = if bpftrace { "bpftrace" } else { "tracer" };
    let problem = reaped.killed.then(|| {
        format!(
            "{name} did not exit within {} s of SIGINT and was killed; it had written {} lines on stdout",
            STOP_TIMEOUT.as_secs(),
            stdout.total
        )
    });
    let Some(first) = first else {
        bail!(
            "{name} delivered no event (exit {}); stderr ends with: {}",
            reaped.status,
            tail(&err_lines.into_iter().map(|(_, line)| line).collect::<Vec<_>>())
        );
    };
    // Readiness: tracer's `Attached` line on stderr, bpftrace's READY line on stdout, stamped by
    // the reader threads as they arrived.
    let ready_line = match bpftrace {
        true => out_lines.iter().find(|(_, line)| line == "READY"),
        false => err_lines.iter().find(|(_, line)| line.contains("Attached ")),
    };
    let since = |at: Instant| at.duration_since(started).as_nanos() as u64;
    Ok(StartupSample { ready_ns: ready_line.map(|(at, _)| since(*at)), first_event_ns: since(first), problem })
}

/// One start-to-first-event measurement.
pub struct StartupSample {
    /// Spawn to the readiness line, when the tool printed one.
    pub ready_ns: Option<u64>,
    /// Spawn to the first event line.
    pub first_event_ns: u64,
    /// Something that went wrong after the first event (e.g. the tool would not stop).
    pub problem: Option<String>,
}

/// The last few lines of a tool's stderr, for error messages.
fn tail(lines: &[String]) -> String {
    let start = lines.len().saturating_sub(5);
    let tail = lines[start..].join(" | ");
    if tail.is_empty() { "(nothing)".to_owned() } else { tail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_summary_line() {
        assert_eq!(
            parse_summary("tracer: 1234 events (fork 600, exec 0, exit 634, rename 0, lookup 0), 5 lost, 1.2 s"),
            Some((1234, 5))
        );
        assert_eq!(parse_summary("Attached 7 programs"), None);
    }
}
