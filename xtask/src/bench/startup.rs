//! Start-to-first-event of tracer (glibc and static builds) and bpftrace: the tool is spawned
//! streaming live to a pipe, then `/bin/true` runs every couple of milliseconds until the first
//! event line arrives.
use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::{
    process::{self, Lines},
    run_parts::{READY_TIMEOUT, STOP_TIMEOUT, Tools, tail},
};

/// A tool whose start-up is measured; its position in [`Tool::ALL`] indexes the samples.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Tracer,
    Bpftrace,
    /// Appended, not placed beside tracer, so the first two entries keep their index in
    /// `results.json` across versions of the bench.
    TracerStatic,
}

impl Tool {
    pub const ALL: [Tool; 3] = [Tool::Tracer, Tool::Bpftrace, Tool::TracerStatic];

    pub fn name(self) -> &'static str {
        match self {
            Tool::Tracer => "tracer",
            Tool::Bpftrace => "bpftrace",
            Tool::TracerStatic => "tracer-static",
        }
    }

    /// The start-up table's label: the command measured.
    pub fn label(self) -> &'static str {
        match self {
            Tool::Tracer => "tracer --json",
            Tool::Bpftrace => "bpftrace",
            Tool::TracerStatic => "tracer-static --json",
        }
    }

    /// The binary to run, or `None` when it could not be had.
    fn binary(self, tools: &Tools) -> Option<&PathBuf> {
        match self {
            Tool::Tracer => Some(&tools.tracer),
            Tool::Bpftrace => tools.bpftrace.as_ref(),
            Tool::TracerStatic => tools.tracer_static.as_ref(),
        }
    }

    pub fn available(self, tools: &Tools) -> bool {
        self.binary(tools).is_some()
    }
}

/// Start-to-first-event: spawns the tool streaming live to a pipe, then `/bin/true` every couple
/// of milliseconds until the first event line arrives, then stops the tool with SIGINT.
pub fn measure(tools: &Tools, tool: Tool) -> Result<StartupSample> {
    let name = tool.name();
    let bpftrace = tool == Tool::Bpftrace;
    let mut command = Command::new(tool.binary(tools).with_context(|| format!("{name} is not available"))?);
    match bpftrace {
        true => command.arg(tools.script()),
        false => command.arg("--json"),
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
