//! The peer tools the bench compares tracer with (bpftrace, forkstat): found on PATH or installed
//! from Debian's packages, with the tracefs bpftrace's tracepoints need. A peer that cannot run
//! stays in the report with the reason, in place of its figures.
use std::{
    env,
    path::{Path, PathBuf},
    process::Command,
};

use crate::command::{run, step};

/// A peer tool, or why it cannot run.
pub struct Peer {
    pub path: Option<PathBuf>,
    /// Its version and path, or why it is missing.
    pub status: String,
}

impl Peer {
    pub fn left_out(flag: &str) -> Peer {
        Peer { path: None, status: format!("left out ({flag})") }
    }
}

/// Mounts tracefs on /sys/kernel/tracing when it is not mounted (machines here do not mount it
/// at boot, and bpftrace's tracepoints need it). Returns what was done, or why it failed.
pub fn mount_tracefs() -> Result<String, String> {
    let tracefs = Path::new("/sys/kernel/tracing");
    if tracefs.join("events/sched").is_dir() {
        return Ok("tracefs already mounted".to_owned());
    }
    step("mounting tracefs on /sys/kernel/tracing (bpftrace's tracepoints need it)");
    match run(Command::new("mount").args(["-t", "tracefs", "nodev"]).arg(tracefs)) {
        Ok(()) if tracefs.join("events/sched").is_dir() => Ok("tracefs mounted by the bench".to_owned()),
        Ok(()) => Err("tracefs was mounted but has no events/sched".to_owned()),
        Err(error) => Err(format!("tracefs cannot be mounted: {error:#}")),
    }
}

/// bpftrace, which needs tracefs (`tracefs` is the outcome of [`mount_tracefs`]).
pub fn bpftrace(tracefs: &Result<String, String>) -> Peer {
    let peer = install("bpftrace", "bpftrace", &["--version"]);
    match (peer.path, tracefs) {
        (Some(_), Err(problem)) => Peer { path: None, status: format!("{}, but {problem}", peer.status) },
        (path, _) => Peer { path, status: peer.status },
    }
}

pub fn forkstat() -> Peer {
    install("forkstat", "forkstat", &["-h"])
}

/// `program` on PATH, or installed with `apt-get install -y package`; `version_args` make it
/// print its version on its first line.
fn install(program: &str, package: &str, version_args: &[&str]) -> Peer {
    let mut path = on_path(program);
    if path.is_none() && on_path("apt-get").is_some() {
        step(format!("{program} is not installed: trying `apt-get install -y {package}`"));
        let install = || {
            Command::new("apt-get")
                .args(["install", "-y", package])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .is_ok_and(|status| status.success())
        };
        if !install() {
            let _ = Command::new("apt-get").arg("update").status();
            install();
        }
        path = on_path(program);
    }
    let Some(path) = path else {
        return Peer {
            path: None,
            status: format!("not installed, and `apt-get install -y {package}` did not install it"),
        };
    };
    let version = Command::new(&path)
        .args(version_args)
        .output()
        .map(|output| {
            let text = if output.stdout.is_empty() { output.stderr } else { output.stdout };
            String::from_utf8_lossy(&text).lines().next().unwrap_or("").trim().to_owned()
        })
        .unwrap_or_default();
    Peer { status: format!("{version} ({})", path.display()), path: Some(path) }
}

fn on_path(program: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH").unwrap_or_default())
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}
