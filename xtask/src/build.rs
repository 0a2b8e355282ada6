//! Building the eBPF object (nightly, bpfel-unknown-none, release) and the userspace binaries,
//! which embed the object.
use std::{
    env,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result};

use crate::{
    command::{run, step, target_dir, workspace_root},
    toolchain,
};

/// Environment variable naming the eBPF object that `tracer/build.rs` embeds.
pub const EBPF_OBJECT_ENV: &str = "TRACER_EBPF_OBJECT";

/// Paths of what `build` produced.
pub struct Artifacts {
    pub ebpf_object: PathBuf,
    pub tracer: PathBuf,
    pub workload: PathBuf,
}

pub fn build() -> Result<Artifacts> {
    let bpf = toolchain::ensure()?;
    let ebpf_object = build_ebpf(&bpf)?;
    step("building tracer (release)");
    run(userspace_cargo(&ebpf_object).args([
        "build",
        "--release",
        "--package",
        "tracer",
        "--package",
        "tracer-workload",
    ]))?;
    let release = target_dir().join("release");
    Ok(Artifacts { ebpf_object, tracer: release.join("tracer"), workload: release.join("tracer-workload") })
}

fn build_ebpf(bpf: &toolchain::BpfToolchain) -> Result<PathBuf> {
    step(format!("building the eBPF object ({}, bpfel-unknown-none, release)", bpf.nightly));
    build_ebpf_variant(bpf, &[], &target_dir())
}

/// Builds the eBPF object with extra cargo `features` into `target` (its own target directory,
/// so a variant never replaces the shipped object); returns the object's path.
pub fn build_ebpf_variant(bpf: &toolchain::BpfToolchain, features: &[&str], target: &Path) -> Result<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bpf.linker_dir.clone()];
    paths.extend(env::split_paths(&path));
    run(Command::new("cargo")
        .current_dir(workspace_root())
        .arg(format!("+{}", bpf.nightly))
        .args(["build", "--package", "tracer-ebpf", "--release"])
        .args(["--target", "bpfel-unknown-none", "-Z", "build-std=core"])
        .arg("--target-dir")
        .arg(target)
        .args(features.iter().flat_map(|feature| ["--features", feature]))
        .env("PATH", env::join_paths(paths).context("PATH holds an invalid entry")?)
        .env_remove("RUSTC")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS"))?;
    Ok(target.join("bpfel-unknown-none/release/tracer-ebpf"))
}

/// `cargo` on the default toolchain for userspace crates, told where the eBPF object is.
pub fn userspace_cargo(ebpf_object: &PathBuf) -> Command {
    let mut command = Command::new("cargo");
    command
        .current_dir(workspace_root())
        .env(EBPF_OBJECT_ENV, ebpf_object)
        // `cargo xtask` runs under cargo, whose toolchain override must not leak into this one.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC");
    command
}
