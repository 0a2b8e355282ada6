//! Embeds the eBPF object named by TRACER_EBPF_OBJECT (set by `cargo xtask build`) into the
//! binary. Without it the binary still builds, for unit tests, and says at start how to get one.
//!
//! Also gives `tracer --version` what a bug report needs beyond the version: the git commit the
//! binary was built from (`-dirty` when the work tree had changes) and a build ID of the embedded
//! object (the start of its SHA-256), so two binaries of one version can be told apart.
use std::{env, fs, path::PathBuf};

use sha2::{Digest, Sha256};

fn main() {
    println!("cargo:rerun-if-env-changed=TRACER_EBPF_OBJECT");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("tracer-ebpf.o");
    let object = match env::var_os("TRACER_EBPF_OBJECT") {
        Some(path) => {
            println!("cargo:rerun-if-changed={}", PathBuf::from(&path).display());
            fs::read(&path).unwrap_or_else(|error| {
                panic!("cannot read the eBPF object {}: {error}", PathBuf::from(&path).display())
            })
        }
        None => Vec::new(),
    };
    fs::write(&out, &object).expect("cannot write the embedded eBPF object into OUT_DIR");
    let ebpf_id = if object.is_empty() {
        "none".to_owned()
    } else {
        Sha256::digest(&object).iter().take(6).map(|byte| format!("{byte:02x}")).collect()
    };
    println!("cargo:rustc-env=TRACER_EBPF_BUILD_ID={ebpf_id}");
    println!("cargo:rustc-env=TRACER_GIT_COMMIT={}", git_commit());
}

/// The commit `cargo xtask` found (`TRACER_GIT_COMMIT`, see `git_commit` in
/// `xtask/src/build.rs`, the one place that names it), or "unknown" for a plain `cargo build`
/// (a packager building from a source tarball sets the variable itself).
fn git_commit() -> String {
    println!("cargo:rerun-if-env-changed=TRACER_GIT_COMMIT");
    env::var("TRACER_GIT_COMMIT").unwrap_or_else(|_| "unknown".to_owned())
}
