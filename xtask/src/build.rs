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

/// Environment variable giving `tracer --version`'s commit (`tracer/build.rs`).
pub const GIT_COMMIT_ENV: &str = "TRACER_GIT_COMMIT";

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
    run(ebpf_cargo(bpf, "build")?
        .arg("--target-dir")
        .arg(target)
        .args(features.iter().flat_map(|feature| ["--features", feature])))?;
    let object = target.join("bpfel-unknown-none/release/tracer-ebpf");
    strip_dwarf(bpf, &object)?;
    Ok(object)
}

/// `cargo +NIGHTLY SUBCOMMAND` on the eBPF crate, the way it is built (release, for
/// bpfel-unknown-none with its own `core`); `cargo xtask test` lints it with `clippy` so.
pub fn ebpf_cargo(bpf: &toolchain::BpfToolchain, subcommand: &str) -> Result<Command> {
    let path = env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bpf.linker_dir.clone()];
    paths.extend(env::split_paths(&path));
    let mut cargo = Command::new("cargo");
    cargo
        .current_dir(workspace_root())
        .arg(format!("+{}", bpf.nightly))
        .args([subcommand, "--package", "tracer-ebpf", "--release"])
        .args(["--target", "bpfel-unknown-none", "-Z", "build-std=core"])
        .env("PATH", env::join_paths(paths).context("PATH holds an invalid entry")?)
        .env_remove("RUSTC")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        // BTF for the object: the kernel needs its function information to load a program that
        // passes a callback to a helper (the exec program's `bpf_loop`).
        .env("CARGO_TARGET_BPFEL_UNKNOWN_NONE_RUSTFLAGS", "-C debuginfo=2 -C link-arg=--btf");
    Ok(cargo)
}

/// Drops the DWARF the BTF was made from (three quarters of the object, which tracer embeds),
/// keeping `.BTF` and `.BTF.ext`, as `llvm-strip -g` does for libbpf tools. `rust-objcopy`
/// comes with every rustc and runs against the nightly's own `libLLVM`.
fn strip_dwarf(bpf: &toolchain::BpfToolchain, object: &Path) -> Result<()> {
    let rustlib = bpf.sysroot.join("lib/rustlib");
    let objcopy = std::fs::read_dir(&rustlib)
        .with_context(|| format!("cannot list {}", rustlib.display()))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path().join("bin/rust-objcopy"))
        .find(|path| path.is_file())
        .with_context(|| format!("the nightly toolchain has no rust-objcopy under {}", rustlib.display()))?;
    run(Command::new(&objcopy).env("LD_LIBRARY_PATH", bpf.sysroot.join("lib")).arg("--strip-debug").arg(object))
        .with_context(|| format!("cannot strip the DWARF from {}", object.display()))
}

/// `cargo` on the default toolchain for userspace crates, told where the eBPF object is.
pub fn userspace_cargo(ebpf_object: &PathBuf) -> Command {
    let mut command = Command::new("cargo");
    command
        .current_dir(workspace_root())
        .env(EBPF_OBJECT_ENV, ebpf_object)
        .env(GIT_COMMIT_ENV, git_commit())
        // `cargo xtask` runs under cargo, whose toolchain override must not leak into this one.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC");
    command
}

/// The HEAD commit as `git rev-parse --short=12` names it, `-dirty` when tracked files have
/// uncommitted changes, "unknown" without git. Computed here at every build, where
/// `tracer/build.rs` alone would only notice some changes (it cannot watch the whole tree without
/// rebuilding tracer for every edit anywhere).
pub fn git_commit() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(workspace_root())
            .args(args)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]) else { return "unknown".to_owned() };
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_none_or(|status| !status.is_empty());
    if dirty { format!("{commit}-dirty") } else { commit }
}
