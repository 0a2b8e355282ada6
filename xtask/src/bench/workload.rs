//! The storm workload (`tracer-workload storm`): running it to completion and reading the one
//! JSON line it reports (its wall time, the CPU time its tasks used, its workers), in the
//! bench's cgroup or the one `--cgroup` names.
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::run_parts::{RunResult, Storm, Tools};

/// What the workload reported of one storm.
pub struct WorkloadReport {
    pid: u32,
    wall_ns: u64,
    cpu_ns: Option<u64>,
    workers: u64,
}

impl WorkloadReport {
    pub fn fill(&self, result: &mut RunResult) {
        result.workload_pid = self.pid;
        result.wall_ns = Some(self.wall_ns);
        result.storm_cpu_ns = self.cpu_ns;
        result.workers = self.workers;
    }
}

/// Runs the workload to completion; returns what it measured.
pub fn run(tools: &Tools, storm: Storm) -> Result<WorkloadReport> {
    let mut command = match &tools.workload_cgroup {
        // The shell moves itself into the cgroup and execs the workload, whose tasks all start
        // there.
        Some(cgroup) => {
            let mut command = Command::new("sh");
            command
                .args(["-c", "echo $$ > \"$1\" && shift && exec \"$@\"", "sh"])
                .arg(cgroup.join("cgroup.procs"))
                .arg(&tools.workload);
            command
        }
        None => Command::new(&tools.workload),
    };
    let child = command
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
    Ok(WorkloadReport {
        pid,
        wall_ns: field("wall_ns").context("the workload's report has no wall_ns")?,
        cpu_ns: field("cpu_ns"),
        workers: field("workers").unwrap_or(0),
    })
}
