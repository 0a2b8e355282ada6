//! `cargo xtask test`: build, then run unit tests and the privileged integration tests (as root,
//! through sudo when needed) against the freshly built object.
use anyhow::Result;

use crate::{
    build,
    command::{is_root, run, step},
    packages, vm,
};

pub fn test() -> Result<()> {
    let artifacts = build::build()?;
    packages::ensure_test_tools()?;
    step("running unit and integration tests");
    let mut cargo = build::userspace_cargo(&artifacts.ebpf_object);
    cargo
        .args(["test", "--release", "--workspace"])
        .env("TRACER_BIN", &artifacts.tracer)
        .env("TRACER_WORKLOAD", &artifacts.workload);
    if !is_root() {
        step("integration tests load BPF programs: running test binaries through sudo");
        cargo.env("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER", "sudo -E");
    }
    // The privileged tests are #[ignore]d so a plain `cargo test` by a user stays green.
    cargo.args(["--", "--include-ignored", "--test-threads=1"]);
    run(&mut cargo)?;
    // The same integration tests on Debian's stock 6.1 kernel, where the kprobe/fentry hooks
    // this host kernel refuses do attach.
    vm::run(&artifacts, &[])
}
