//! `cargo xtask fuzz`: builds the recording reader's fuzz target (`fuzz/`: libFuzzer through
//! libfuzzer-sys, on the nightly toolchain, with AddressSanitizer and coverage instrumentation,
//! as cargo-fuzz would) and runs it for a bounded time. An input that breaks the reader is saved
//! under `fuzz/regressions/reader/`, where the unit tests replay it.
//!
//! Needs only the nightly toolchain and a C++ compiler (libfuzzer-sys builds libFuzzer).
use std::{path::Path, process::Command, time::Duration};

use anyhow::{Context, Result, bail};

use crate::{
    command::{run, step, target_dir, workspace_root},
    toolchain,
};

/// The instrumentation cargo-fuzz uses for libFuzzer with AddressSanitizer.
const RUSTFLAGS: &str = "-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Zsanitizer=address \
    -Cdebug-assertions -Coverflow-checks -Cforce-frame-pointers";

/// The longest input tried: a few read-ahead chunks of the reader.
const MAX_LEN: usize = 256 * 1024;

#[derive(clap::Args)]
pub struct Options {
    /// How long to fuzz, in seconds.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
}

pub fn fuzz(options: &Options) -> Result<()> {
    run_for(Duration::from_secs(options.seconds))
}

/// Builds the target and fuzzes the reader for `duration`.
pub fn run_for(duration: Duration) -> Result<()> {
    let fuzz_dir = workspace_root().join("fuzz");
    let build_dir = target_dir().join("fuzz");
    // The pinned nightly the eBPF object builds with: one toolchain to set up, not two.
    let nightly = toolchain::ensure()?.nightly;
    let host = nightly_host(&nightly)?;
    ensure_cxx()?;
    step(format!("building the recording reader's fuzz target (nightly, libFuzzer, AddressSanitizer, {host})"));
    // The host target keeps build scripts and proc macros uninstrumented.
    run(Command::new("cargo")
        .arg(format!("+{nightly}"))
        .args(["build", "--release", "--locked", "--bin", "reader", "--target", &host, "--manifest-path"])
        .arg(fuzz_dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &build_dir)
        .env("RUSTFLAGS", RUSTFLAGS)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTUP_TOOLCHAIN"))
    .context("cannot build the fuzz target (it needs the nightly toolchain, crates.io and a C++ compiler)")?;

    let binary = build_dir.join(&host).join("release/reader");
    let corpus = build_dir.join("corpus/reader");
    std::fs::create_dir_all(&corpus).with_context(|| format!("cannot create {}", corpus.display()))?;
    let seeds = fuzz_dir.join("seeds/reader");
    let regressions = fuzz_dir.join("regressions/reader");
    step(format!("fuzzing the recording reader for {} s", duration.as_secs()));
    // New interesting inputs go to the first corpus directory (scratch, under target/).
    let status = Command::new(&binary)
        .arg(&corpus)
        .arg(&seeds)
        .arg(&regressions)
        .arg(format!("-max_total_time={}", duration.as_secs().max(1)))
        .arg(format!("-max_len={MAX_LEN}"))
        .arg("-timeout=10")
        .arg("-rss_limit_mb=2048")
        .arg(format!("-dict={}", fuzz_dir.join("reader.dict").display()))
        .arg(format!("-artifact_prefix={}/", regressions.display()))
        .arg("-print_final_stats=1")
        // Leak checking needs ptrace, which containers often refuse; safe Rust does not leak here.
        .env("ASAN_OPTIONS", "detect_leaks=0")
        .status()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    if !status.success() {
        bail!(
            "the fuzz target found an input that breaks the recording reader ({status}); it is saved in {} \
             (see the lines above): fix the reader and commit the input, which the unit tests then replay",
            relative(&regressions)
        );
    }
    Ok(())
}

/// libfuzzer-sys compiles libFuzzer (C++) with `$CXX` or `c++`: say so up front rather than
/// fail deep in its build script.
fn ensure_cxx() -> Result<()> {
    let compiler = std::env::var_os("CXX").unwrap_or_else(|| "c++".into());
    match Command::new(&compiler).arg("--version").stdout(std::process::Stdio::null()).status() {
        Ok(status) if status.success() => Ok(()),
        _ => bail!(
            "fuzzing needs a C++ compiler to build libFuzzer, and `{} --version` failed: install one \
             (e.g. `apt-get install g++`) or point CXX at it",
            compiler.to_string_lossy()
        ),
    }
}

/// The nightly toolchain's host target triple.
fn nightly_host(nightly: &str) -> Result<String> {
    let output = Command::new("rustc")
        .arg(format!("+{nightly}"))
        .arg("-vV")
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .context("cannot run rustc +nightly: fuzzing needs the nightly toolchain")?;
    if !output.status.success() {
        bail!("rustc +{nightly} -vV failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV names no host")
}

fn relative(path: &Path) -> String {
    path.strip_prefix(workspace_root()).unwrap_or(path).display().to_string()
}
