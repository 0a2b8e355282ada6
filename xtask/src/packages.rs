//! What the privileged integration tests need on the host, installed from Debian's packages when
//! missing: podman and runc (the container test), busybox-static (the container image's shell)
//! and util-linux's `unshare` (the namespace tests).
use std::{env, fs, os::unix::fs::PermissionsExt, path::PathBuf, process::Command};

use anyhow::{Context, Result, bail};

use crate::command::{is_root, run, step};

/// Programs the tests run, and the Debian package that provides each.
const NEEDED: [(&str, &str); 4] =
    [("podman", "podman"), ("runc", "runc"), ("busybox", "busybox-static"), ("unshare", "util-linux")];

/// Installs the packages of any missing program.
pub fn ensure_test_tools() -> Result<()> {
    let missing: Vec<&str> =
        NEEDED.iter().filter(|(program, _)| find(program).is_none()).map(|(_, package)| *package).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing.join(" ");
    step(format!("installing {list} for the container and namespace tests (apt-get)"));
    let install = || run(apt_get().args(["install", "-y", "--no-install-recommends"]).args(&missing));
    if let Err(error) = install() {
        eprintln!("    {error:#}");
        step("apt-get install failed: updating the package lists (apt-get update) and retrying");
        run(apt_get().arg("update")).context("apt-get update failed")?;
        install().with_context(|| format!("cannot install {list}"))?;
    }
    if let Some((program, package)) = NEEDED.iter().find(|(program, _)| find(program).is_none()) {
        bail!("{program} is not on PATH even after installing {package}");
    }
    Ok(())
}

fn apt_get() -> Command {
    let mut command = if is_root() {
        Command::new("apt-get")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg("apt-get");
        sudo
    };
    command.env("DEBIAN_FRONTEND", "noninteractive");
    command
}

/// `name` on PATH or in the usual folders (sudo-less shells leave sbin out), if executable.
fn find(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain(["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| {
            fs::metadata(candidate).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}
