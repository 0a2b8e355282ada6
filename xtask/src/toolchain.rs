//! The toolchain the eBPF object needs: nightly with `rust-src` (for `-Z build-std=core`) and
//! `bpf-linker` built against the nightly's own libLLVM, installed once under
//! `target/tools/` and reused.
use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::command::{run, step, target_dir};

pub const NIGHTLY: &str = "nightly";
const BPF_LINKER_VERSION: &str = "0.13.0";

/// What the eBPF build needs on PATH.
pub struct BpfToolchain {
    /// Directory holding `bpf-linker`.
    pub linker_dir: PathBuf,
}

pub fn ensure() -> Result<BpfToolchain> {
    let sysroot = nightly_sysroot()?;
    ensure_rust_src(&sysroot)?;
    let linker_dir = ensure_bpf_linker(&sysroot)?;
    Ok(BpfToolchain { linker_dir })
}

fn nightly_sysroot() -> Result<PathBuf> {
    let output = Command::new("rustup")
        .args(["run", NIGHTLY, "rustc", "--print", "sysroot"])
        .output()
        .context("cannot run rustup: the eBPF build needs rustup with a nightly toolchain")?;
    if !output.status.success() {
        bail!(
            "no nightly toolchain (rustup run {NIGHTLY} rustc failed: {}); install one with `rustup toolchain install nightly`",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(PathBuf::from(String::from_utf8(output.stdout)?.trim()))
}

fn ensure_rust_src(sysroot: &Path) -> Result<()> {
    if sysroot.join("lib/rustlib/src/rust/library/core").is_dir() {
        return Ok(());
    }
    step("installing rust-src for the nightly toolchain (needed for -Z build-std=core)");
    run(Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", NIGHTLY]))
        .context("cannot install rust-src for nightly")
}

/// The nightly's libLLVM, e.g. `LLVM-22-rust-1.97.0-nightly`, and its major version.
fn nightly_llvm(sysroot: &Path) -> Result<(String, String)> {
    let lib = sysroot.join("lib");
    let name = std::fs::read_dir(&lib)
        .with_context(|| format!("cannot list {}", lib.display()))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .find_map(|file| {
            file.strip_prefix("lib")?.strip_suffix(".so").filter(|stem| stem.starts_with("LLVM-")).map(str::to_owned)
        })
        .with_context(|| format!("the nightly toolchain ships no libLLVM-*.so in {}", lib.display()))?;
    let major = name.trim_start_matches("LLVM-").split(['-', '.']).next().unwrap_or_default().to_owned();
    Ok((name, major))
}

fn ensure_bpf_linker(sysroot: &Path) -> Result<PathBuf> {
    let (llvm, major) = nightly_llvm(sysroot)?;
    // Keyed by the LLVM it links, so a nightly update triggers a rebuild.
    let root = target_dir().join("tools").join(format!("bpf-linker-{BPF_LINKER_VERSION}-{llvm}"));
    let bin = root.join("bin");
    if bin.join("bpf-linker").is_file() {
        return Ok(bin);
    }
    step(format!("building bpf-linker {BPF_LINKER_VERSION} against the nightly's {llvm} (once, about a minute)"));
    let lib = sysroot.join("lib");
    let rustflags = format!("-L native={lib} -l dylib={llvm} -C link-arg=-Wl,-rpath,{lib}", lib = lib.display());
    run(Command::new("cargo")
        .args([&format!("+{NIGHTLY}"), "install", "bpf-linker", "--version", BPF_LINKER_VERSION])
        .args(["--locked", "--no-default-features", "--features"])
        .arg(format!("llvm-{major},no-llvm-linking"))
        .arg("--root")
        .arg(&root)
        .env("RUSTFLAGS", rustflags)
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER"))
    .context("cannot build bpf-linker; it needs crates.io and the nightly toolchain")?;
    Ok(bin)
}
