//! The integration test executable the guests run: built once (release, not run on the host)
//! and checked against the list of tests the guests skip by name.
use std::{
    path::{Path, PathBuf},
    process::Stdio,
};

use anyhow::{Context, Result, bail};

use super::HOST_ONLY;
use crate::{
    build,
    command::{step, workspace_root},
};

/// Builds tracer's integration test executable (`tracer/tests/integration/`) without running
/// it; returns its path.
pub fn build_test_executable(ebpf_object: &PathBuf) -> Result<PathBuf> {
    step("building the integration test executable (release, not run on the host here)");
    let mut cargo = build::userspace_cargo(ebpf_object);
    cargo
        .args(["test", "--release", "--package", "tracer", "--test", "integration", "--no-run"])
        // JSON on stdout for us, human-readable compiler diagnostics on stderr.
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let line = format!("{cargo:?}");
    let output = cargo.output().with_context(|| format!("cannot start {line}"))?;
    if !output.status.success() {
        bail!("{line} failed ({})", output.status);
    }
    let executables: Vec<PathBuf> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|message| serde_json::from_str::<serde_json::Value>(message).ok())
        .filter(|message| message["reason"] == "compiler-artifact" && message["target"]["name"] == "integration")
        .filter_map(|message| message["executable"].as_str().map(PathBuf::from))
        .collect();
    match executables.as_slice() {
        [executable] => Ok(executable.clone()),
        _ => bail!(
            "{line} gave {} executables for the `integration` test target, expected one (tracer/tests/integration/main.rs in {})",
            executables.len(),
            workspace_root().display()
        ),
    }
}

/// Every [`HOST_ONLY`] name is exactly one test of `executable` (its `--list`, which runs
/// nothing): a renamed test must not be skipped by a stale name, nor a name skip several.
pub fn check_host_only(executable: &Path) -> Result<()> {
    let output = std::process::Command::new(executable)
        .args(["--list", "--include-ignored"])
        .output()
        .with_context(|| format!("cannot run {} --list", executable.display()))?;
    if !output.status.success() {
        bail!("{} --list failed ({})", executable.display(), output.status);
    }
    let listed = String::from_utf8_lossy(&output.stdout);
    let tests: Vec<&str> = listed.lines().filter_map(|line| line.strip_suffix(": test")).collect();
    for (name, _) in HOST_ONLY {
        let matching = tests.iter().filter(|test| test.contains(name)).count();
        if matching != 1 {
            bail!("HOST_ONLY in xtask/src/vm.rs names {name}, which matches {matching} integration tests, not one");
        }
    }
    Ok(())
}
