//! Embeds the eBPF object named by TRACER_EBPF_OBJECT (set by `cargo xtask build`) into the
//! binary. Without it the binary still builds, for unit tests, and says at start how to get one.
use std::{env, fs, path::PathBuf};

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
    fs::write(&out, object).expect("cannot write the embedded eBPF object into OUT_DIR");
}
