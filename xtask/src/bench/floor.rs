//! The `floor` configuration's binary: tracer embedding an eBPF object whose programs return at
//! once (tracer-ebpf's bench-only `floor` feature). It attaches the very hooks tracer attaches on
//! this kernel, so its cost over the untraced run is the kernel's price for hooking at all.
//!
//! Both are built apart, under `target/bench/` (their own target directories), so neither the
//! shipped object nor `target/release/tracer` is ever replaced by them.
use std::{fs, path::PathBuf};

use anyhow::{Context, Result};

use crate::{
    build,
    command::{run, step, target_dir},
    toolchain,
};

/// Builds `target/bench/tracer-floor` and returns its path.
pub fn build() -> Result<PathBuf> {
    let root = target_dir().join("bench");
    let bpf = toolchain::ensure()?;
    step("building the floor eBPF object (every program returns at once) into target/bench/floor-ebpf");
    let object = build::build_ebpf_variant(&bpf, &["floor"], &root.join("floor-ebpf"))?;
    step("building tracer-floor (release, embedding the floor object) into target/bench/floor-build");
    let build_dir = root.join("floor-build");
    run(build::userspace_cargo(&object)
        .args(["build", "--release", "--package", "tracer", "--target-dir"])
        .arg(&build_dir))?;
    let binary = root.join("tracer-floor");
    let built = build_dir.join("release/tracer");
    fs::copy(&built, &binary).with_context(|| format!("cannot copy {} to {}", built.display(), binary.display()))?;
    Ok(binary)
}
