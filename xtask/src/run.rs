//! `cargo xtask run`: build, then run tracer as root.
use std::process::Command;

use anyhow::{Result, bail};

use crate::{
    build,
    command::{is_root, step},
};

pub fn run(args: &[String]) -> Result<()> {
    let artifacts = build::build()?;
    let mut command = if is_root() {
        Command::new(&artifacts.tracer)
    } else {
        step("tracer needs root: running it through sudo");
        let mut sudo = Command::new("sudo");
        sudo.arg(&artifacts.tracer);
        sudo
    };
    step(format!("running {}", artifacts.tracer.display()));
    let status = command.args(args).status()?;
    if !status.success() {
        bail!("tracer exited with {status}");
    }
    Ok(())
}
