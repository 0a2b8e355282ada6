//! `cargo xtask test`: build, then run every test leg and sum them up:
//! 1. unit, property and root-free tests, in parallel, as a plain `cargo test` would;
//! 2. every `#[ignore]`d test: the privileged integration tests, and the few that only need the
//!    eBPF object, as root, one at a time, on this machine's kernel;
//! 3. the recording reader fuzzed for a minute (libFuzzer, nightly);
//! 4. the same integration tests in a VM booting Debian's stock 6.1 kernel, where this machine
//!    can run it; elsewhere the leg says it was skipped and why;
//! 5. the packages of `cargo xtask dist`, installed where users install them ([`dist::verify`]).
use std::{process::Command, time::Duration};

use anyhow::{Result, bail};

use crate::{
    build::{self, Artifacts},
    command::{is_root, run, step},
    dist, fuzz, packages, vm,
};

/// How long `cargo xtask test` fuzzes the recording reader.
const FUZZ_TIME: Duration = Duration::from_secs(60);

/// Programs the integration tests run on the host, with the Debian package providing each:
/// podman and runc run the container test, busybox is its image's shell, `unshare` serves the
/// namespace tests, rsyslog and logrotate the output-file tests, strace, systemd-analyze and
/// setpriv the service tests, systemd-nspawn the unit test. Installed here, where a failed install updates the package lists
/// and retries.
const HOST_PROGRAMS: [(&str, &str); 14] = [
    ("sh", "dash"),
    ("cat", "coreutils"),
    ("sleep", "coreutils"),
    ("kill", "procps"),
    ("podman", "podman"),
    ("runc", "runc"),
    ("busybox", "busybox-static"),
    ("unshare", "util-linux"),
    ("rsyslogd", "rsyslog"),
    ("logrotate", "logrotate"),
    ("strace", "strace"),
    ("systemd-analyze", "systemd"),
    ("setpriv", "util-linux"),
    ("systemd-nspawn", "systemd-container"),
];
/// How one leg ended.
enum Verdict {
    Passed(String),
    Failed(String),
    Skipped(String),
}

pub fn test() -> Result<()> {
    let artifacts = build::build()?;
    packages::ensure(&HOST_PROGRAMS)?;
    let mut legs = Vec::new();

    step("unit, property and root-free tests (in parallel)");
    let unit = run(&mut tests_cargo(&artifacts));
    legs.push(("unit, property and root-free tests", verdict(unit, "passed".to_owned())));

    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned();
    step(format!("privileged integration tests on this machine's kernel ({kernel}), one at a time"));
    // They trace the whole machine and pick their workload's events by comm (`tracer-workload`,
    // `cat`…) and by PID: two of them at once would each see the other's tasks, so every test
    // executable runs its tests one at a time (the executables themselves run one after another).
    let mut privileged = tests_cargo(&artifacts);
    privileged.args(["--", "--ignored", "--test-threads=1"]);
    if !is_root() {
        step("they load BPF programs: running the test executables through sudo");
        privileged.env("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER", "sudo -E");
    }
    let privileged = run(&mut privileged);
    legs.push(("privileged integration tests", verdict(privileged, format!("passed on {kernel}"))));

    step(format!("fuzzing the recording reader for {} s", FUZZ_TIME.as_secs()));
    let fuzzed = fuzz::run_for(FUZZ_TIME);
    legs.push(("recording reader fuzzing", verdict(fuzzed, format!("no failure in {} s", FUZZ_TIME.as_secs()))));

    step("the privileged integration tests again, in a VM booting Debian's stock 6.1 kernel");
    let vm = match vm::run(&artifacts, &[]) {
        Ok(vm::Outcome::Passed { kernel }) => Verdict::Passed(format!("passed on {kernel}")),
        Ok(vm::Outcome::Unavailable { reason }) => {
            step(format!("VM leg SKIPPED, nothing was tested on Debian's 6.1 kernel: {reason}"));
            Verdict::Skipped(reason)
        }
        Err(error) => Verdict::Failed(format!("{error:#}")),
    };
    legs.push(("VM leg (Debian 6.1 under qemu)", vm));

    step("packages: lintian, the .deb in clean Debian 11, 12 and 13, the OCI image under podman");
    let packaged = dist::verify::run(&artifacts);
    legs.push((
        "packages (tarball, .deb, OCI image)",
        packaged.map_or_else(|error| Verdict::Failed(format!("{error:#}")), Verdict::Passed),
    ));

    step("summary");
    let mut failed = 0;
    for (name, verdict) in &legs {
        let line = match verdict {
            Verdict::Passed(how) => how.clone(),
            Verdict::Failed(why) => {
                failed += 1;
                format!("FAILED: {why}")
            }
            Verdict::Skipped(why) => format!("SKIPPED (not run, not passed): {why}"),
        };
        eprintln!("    {name}: {line}");
    }
    if failed > 0 {
        bail!("{failed} of {} test legs failed", legs.len());
    }
    Ok(())
}

/// `cargo test --release --workspace --no-fail-fast` with the built binaries: every test
/// executable runs, so one failing does not hide the verdicts of the others.
fn tests_cargo(artifacts: &Artifacts) -> Command {
    let mut cargo = build::userspace_cargo(&artifacts.ebpf_object);
    cargo
        .args(["test", "--release", "--workspace", "--no-fail-fast"])
        .env("TRACER_BIN", &artifacts.tracer)
        .env("TRACER_WORKLOAD", &artifacts.workload);
    cargo
}

fn verdict(result: Result<()>, passed: String) -> Verdict {
    match result {
        Ok(()) => Verdict::Passed(passed),
        Err(error) => Verdict::Failed(format!("{error:#}")),
    }
}
