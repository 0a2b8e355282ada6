//! The static `tracer`: the same sources and eBPF object as the glibc build, linked against musl
//! (`x86_64-unknown-linux-musl`, whose rust-std rustup adds once), so it runs on any x86-64 Linux
//! whatever its C library, or none (the OCI image has no files but it).
use std::{path::Path, path::PathBuf, process::Command};

use anyhow::{Context, Result, bail};

use crate::{
    build,
    command::{run, step, target_dir},
    packages,
};

pub const TARGET: &str = "x86_64-unknown-linux-musl";

/// Builds `target/x86_64-unknown-linux-musl/release/tracer` embedding `ebpf_object`, stripped
/// (packages ship no symbol tables; Debian's tools require that); returns its path once `file`
/// confirms it is static.
pub fn build(ebpf_object: &PathBuf) -> Result<PathBuf> {
    ensure_target()?;
    step(format!("building the static tracer ({TARGET}, release)"));
    run(build::userspace_cargo(ebpf_object)
        .args(["build", "--release", "--package", "tracer", "--target", TARGET])
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols"))?;
    let tracer = target_dir().join(TARGET).join("release/tracer");
    check_static(&tracer)?;
    Ok(tracer)
}

/// `rustup target add` for the default toolchain, the one userspace builds use.
fn ensure_target() -> Result<()> {
    let rustup = || {
        let mut command = Command::new("rustup");
        command.env_remove("RUSTUP_TOOLCHAIN");
        command
    };
    let installed = rustup()
        .args(["target", "list", "--installed"])
        .output()
        .context("cannot run rustup: the static build needs rustup to add the musl target")?;
    if String::from_utf8_lossy(&installed.stdout).lines().any(|line| line.trim() == TARGET) {
        return Ok(());
    }
    step(format!("adding the {TARGET} target (rustup target add, once)"));
    run(rustup().args(["target", "add", TARGET]))
        .with_context(|| format!("cannot add the {TARGET} target; `rustup target add {TARGET}` does it by hand"))
}

/// `file` says "statically linked" (or "static-pie linked"): no loader, no shared library.
fn check_static(tracer: &Path) -> Result<()> {
    let [file] = packages::ensure(&[("file", "file")])?.try_into().expect("one program asked for");
    let output = Command::new(file).arg("--brief").arg(tracer).output().context("cannot run file")?;
    let description = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !description.contains("statically linked") && !description.contains("static-pie linked") {
        bail!("{} is not static: file says {description:?}", tracer.display());
    }
    step(format!("static: {description}"));
    Ok(())
}
