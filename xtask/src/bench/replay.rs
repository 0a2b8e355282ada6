//! Replay speed: `tracer replay` (table output to /dev/null) on a real recording of a thread
//! storm, and on a hostile file of packed record headers that each claim a 1 MiB payload (the
//! case that once took 4.5 s per MiB). Target: at most 0.1 s per MiB, on any input.
use std::{
    fs,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use super::{
    process::{self, Lines},
    run_parts::Tools,
};

/// Seconds per MiB a replay may take.
const TARGET_S_PER_MIB: f64 = 0.1;
/// Replays of each file; the median counts.
const REPEATS: usize = 5;
/// Threads in the storm recorded for the normal case.
const STORM_TASKS: u64 = 60_000;
/// Size of the hostile file after its header.
const PACKED_BYTES: usize = 9 << 20;

/// One file's replay time.
pub struct Sample {
    pub name: &'static str,
    pub bytes: u64,
    /// Median wall time of a replay, s.
    pub seconds: f64,
}

impl Sample {
    fn mib(&self) -> f64 {
        self.bytes as f64 / f64::from(1 << 20)
    }
}

/// Records a storm, writes the hostile file, and times replays of both.
pub fn measure(tools: &Tools) -> Result<Vec<Sample>> {
    let normal = tools.scratch.join("replay-normal.trc");
    record_storm(tools, &normal)?;
    let packed = tools.scratch.join("replay-packed.trc");
    write_packed(&normal, &packed)?;
    let samples = vec![
        time_replays(tools, "recording of a thread storm", &normal, 0)?,
        time_replays(tools, "packed record headers (hostile)", &packed, 1)?,
    ];
    let _ = fs::remove_file(&normal);
    let _ = fs::remove_file(&packed);
    Ok(samples)
}

/// The Markdown section for the figures file and stdout.
pub fn markdown(samples: &[Sample]) -> String {
    let mut text = String::from(
        "Replay speed: `tracer replay FILE` (table to /dev/null), median of 5; the target is at most 0.1 s per MiB on any input.\n\n",
    );
    text.push_str("| file | size | s per replay | MiB/s | s per MiB | met |\n| --- | --- | --- | --- | --- | --- |\n");
    for sample in samples {
        let per_mib = sample.seconds / sample.mib();
        text.push_str(&format!(
            "| {} | {:.1} MiB | {:.3} | {:.0} | {:.4} | {} |\n",
            sample.name,
            sample.mib(),
            sample.seconds,
            sample.mib() / sample.seconds,
            per_mib,
            if per_mib <= TARGET_S_PER_MIB { "yes" } else { "**no**" }
        ));
    }
    text
}

/// `tracer -o FILE -q -c tracer-workload` around a one-core thread storm, stopped cleanly.
fn record_storm(tools: &Tools, file: &Path) -> Result<()> {
    let mut child = Command::new(&tools.tracer)
        .arg("-o")
        .arg(file)
        .args(["--force", "-q", "-c", "tracer-workload"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start tracer")?;
    let mut stderr = Lines::new(child.stderr.take().expect("stderr is piped"));
    if stderr.wait_for(Duration::from_secs(60), |line| line.contains("Attached "), || {}).is_none() {
        process::signal(child.id(), libc::SIGKILL);
        process::reap(&child, Duration::from_secs(20))?;
        bail!("tracer never attached: {:?}", stderr.finish());
    }
    let storm = Command::new(&tools.workload)
        .args(["storm", "--shape", "thread", "--tasks", &STORM_TASKS.to_string(), "--cores", "one"])
        .stdout(Stdio::null())
        .status()
        .context("cannot run the storm")?;
    process::wait_idle(child.id(), Duration::from_secs(20));
    process::signal(child.id(), libc::SIGINT);
    let reaped = process::reap(&child, Duration::from_secs(20))?;
    if !storm.success() || !matches!(reaped.status.code(), Some(0 | 3)) {
        bail!("recording a storm for the replay bench failed (storm {storm}, tracer {})", reaped.status);
    }
    Ok(())
}

/// The header of `normal`, then [`PACKED_BYTES`] of record headers claiming 1 MiB payloads.
fn write_packed(normal: &Path, packed: &Path) -> Result<()> {
    let bytes = fs::read(normal).with_context(|| format!("cannot read {}", normal.display()))?;
    let header_len = 18 + u32::from_le_bytes(bytes[10..14].try_into()?) as usize;
    let mut out = bytes[..header_len].to_vec();
    let frame: Vec<u8> = [[0xf5, 0x1e, 0xc0, 0x8d], (1u32 << 20).to_le_bytes(), [0; 4]].concat();
    out.extend(frame.iter().copied().cycle().take(PACKED_BYTES));
    fs::write(packed, out).with_context(|| format!("cannot write {}", packed.display()))
}

/// Median time of [`REPEATS`] replays of `file`, which must exit with `expected_status`.
fn time_replays(tools: &Tools, name: &'static str, file: &Path, expected_status: i32) -> Result<Sample> {
    let bytes = fs::metadata(file)?.len();
    let mut times = Vec::new();
    for _ in 0..REPEATS {
        let started = Instant::now();
        let status = Command::new(&tools.tracer)
            .arg("replay")
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("cannot start tracer replay")?;
        times.push(started.elapsed().as_secs_f64());
        if status.code() != Some(expected_status) {
            bail!("tracer replay of the {name} exited with {status}, not {expected_status}");
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(Sample { name, bytes, seconds: times[times.len() / 2] })
}
