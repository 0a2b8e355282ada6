//! Embeds the eBPF object named by TRACER_EBPF_OBJECT (set by `cargo xtask build`) into the
//! binary. Without it the binary still builds, for unit tests, and says at start how to get one.
//!
//! Also gives `tracer --version` what a bug report needs beyond the version: the git commit the
//! binary was built from (`-dirty` when the work tree had changes) and a build ID of the embedded
//! object (the start of its SHA-256), so two binaries of one version can be told apart.
use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
};

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

/// The commit as `git rev-parse --short=12` names it, with `-dirty` for uncommitted changes to
/// tracked files; `TRACER_GIT_COMMIT` overrides it (a packager building from a source tarball),
/// and "unknown" stands where there is no git.
fn git_commit() -> String {
    println!("cargo:rerun-if-env-changed=TRACER_GIT_COMMIT");
    if let Some(given) = env::var_os("TRACER_GIT_COMMIT") {
        return given.to_string_lossy().into_owned();
    }
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.parent().expect("tracer lives one level below the workspace root");
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]) else { return "unknown".to_owned() };
    // A new commit or a change to the index reruns this script, and so does any edit below the
    // folders whose changes rebuild tracer anyway. An edit elsewhere (docs, xtask) only shows
    // at the next of those: `cargo xtask` passes TRACER_GIT_COMMIT, exact at every build.
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let git_dir = Path::new(&git_dir);
        for file in ["HEAD", "index", "refs", "packed-refs"] {
            println!("cargo:rerun-if-changed={}", git_dir.join(file).display());
        }
    }
    for folder in
        ["tracer/src", "tracer/build.rs", "tracer/Cargo.toml", "tracer-common/src", "Cargo.toml", "Cargo.lock"]
    {
        println!("cargo:rerun-if-changed={}", root.join(folder).display());
    }
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_none_or(|status| !status.is_empty());
    if dirty { format!("{commit}-dirty") } else { commit }
}
