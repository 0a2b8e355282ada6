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

use super::{
    count::{Counts, Tally},
    forkstat, hooks,
    process::{self, Lines, Pty},
    recorded,
    run_parts::{Config, MISSING_COMM, READY_TIMEOUT, RunResult, STOP_TIMEOUT, Storm, Tools, tail},
    workload,
};

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

    // `tracer top`'s terminal, read while it draws.
    let mut view = None;
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
            let binary = match config {
                Config::Floor => &tools.tracer_floor,
                Config::TracerStaticRecord => {
                    tools.tracer_static.as_ref().context("the static tracer is not available")?
                }
                _ => &tools.tracer,
            };
            let mut command = Command::new(binary);
            match config {
                Config::TracerTop => {
                    let (pty, terminal) = Pty::open()?;
                    command.arg("top").arg("-o").arg(&recording).arg("--force");
                    command.stdin(Stdio::from(terminal.try_clone()?)).stdout(Stdio::from(terminal));
                    view = Some(pty);
                }
                _ => {
                    command.arg("-o").arg(&recording).args(["--force", "-q"]);
                    command.stdin(Stdio::null()).stdout(Stdio::null());
                }
            }
            if config == Config::TracerCommMiss {
                command.args(["--comm", MISSING_COMM]);
            }
            command
        }
    };
    if view.is_none() {
        command.stdin(Stdio::null());
    }
    command.stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().with_context(|| format!("cannot start {command:?}"))?;
    // Its copy of the terminal's descriptor would keep the terminal open after the tool exits.
    drop(command);
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
    drop(view);
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
