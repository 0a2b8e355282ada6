//! Host programs from Debian's packages: found on PATH (or the sbin folders a sudo-less shell
//! leaves out), installed with `apt-get install` (through sudo when not root) when missing, so a
//! fresh Debian machine needs nothing set up by hand.
use std::{env, fs, os::unix::fs::PermissionsExt, path::PathBuf, process::Command};

use anyhow::{Context, Result, bail};

use crate::command::{is_root, run, step};

/// Each `(program, Debian package that provides it)` on the host, installing the packages of
/// missing ones in one `apt-get install`; returns the programs' paths in order.
pub fn ensure(needed: &[(&str, &str)]) -> Result<Vec<PathBuf>> {
    let mut missing: Vec<&str> =
        needed.iter().filter(|(program, _)| find_program(program).is_none()).map(|(_, package)| *package).collect();
    missing.dedup();
    if !missing.is_empty() {
        if find_program("apt-get").is_none() {
            let programs: Vec<&str> =
                needed.iter().filter(|(program, _)| find_program(program).is_none()).map(|(p, _)| *p).collect();
            bail!(
                "{} not found, and this is not a Debian-like system (no apt-get) to install {} from",
                programs.join(", "),
                missing.join(" ")
            );
        }
        apt_install(&missing)?;
    }
    needed
        .iter()
        .map(|(program, package)| {
            find_program(program).with_context(|| format!("{program} is not on PATH even after installing {package}"))
        })
        .collect()
}

/// `apt-get` as root: directly when we are root, else through sudo.
pub fn apt_get() -> Command {
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

pub fn apt_update() -> Result<()> {
    run(apt_get().arg("update")).context("apt-get update failed")
}

/// `apt-get install --no-install-recommends`; when that fails (stale or missing package lists,
/// typically on a fresh machine), `apt-get update` and once more.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    let list = packages.join(" ");
    step(format!("installing {list} from Debian's packages{}", if is_root() { "" } else { " (through sudo)" }));
    let install = || run(apt_get().args(["install", "-y", "--no-install-recommends"]).args(packages));
    if let Err(error) = install() {
        eprintln!("    {error:#}");
        step("apt-get install failed: updating the package lists (apt-get update) and retrying");
        apt_update()?;
        install().with_context(|| format!("cannot install {list}"))?;
    }
    Ok(())
}

/// `name` on PATH (or in the usual bin and sbin folders), if executable.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain(["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| {
            fs::metadata(candidate).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}
