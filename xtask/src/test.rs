//! `cargo xtask test`: lint, build, then run every test leg and sum them up:
//! 1. the lints: rustfmt, and clippy denying warnings on the userspace crates (stable) and on the
//!    eBPF crate (the pinned nightly, for bpfel-unknown-none, as it is built);
//! 2. unit, property and root-free tests, in parallel, as a plain `cargo test` would;
//! 3. every `#[ignore]`d test: the privileged integration tests, and the few that only need the
//!    eBPF object, as root, one at a time, on this machine's kernel;
//! 4. the recording reader fuzzed for a minute (libFuzzer, nightly);
//! 5. the same integration tests in VMs booting Debian's stock 5.10, 6.1, 6.1-rt and 6.12
//!    kernels, one leg each, where this machine can run them; elsewhere, or with `--host-only`,
//!    each leg says it was skipped and why;
//! 6. the packages of `cargo xtask dist`, installed where users install them ([`dist::verify`]).
//!
//! Every program and package the tests use is installed here, before they run; a test only
//! checks that what it needs is there.
use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{Context, Result, bail};

use crate::{
    build::{self, Artifacts},
    command::{is_root, run, step, target_dir, workspace_root},
    dist, fuzz, packages, toolchain, vm,
};

#[derive(clap::Args)]
pub struct Options {
    /// Skip the VM legs (Debian's kernels under qemu, minutes): for quick iteration. The
    /// summary says they were skipped; CI runs everything.
    #[arg(long)]
    host_only: bool,
    /// How many VM legs run at a time. Each guest is one host thread under TCG, so on 2 cores
    /// two at a time should take about half as long as one after another; not yet measured on
    /// an idle machine (docs/testing.md).
    #[arg(long, default_value_t = 2)]
    vm_jobs: usize,
}

/// How long `cargo xtask test` fuzzes the recording reader.
const FUZZ_TIME: Duration = Duration::from_secs(60);

/// Programs the tests run on the host, with the Debian package providing each: podman and runc
/// run the container test, busybox is its image's shell, `unshare` serves the namespace tests,
/// rsyslog and logrotate the output-file tests, strace, systemd-analyze and setpriv the service
/// test, systemd-nspawn and systemctl the unit test, make and cc the build the pictures test
/// traces, python3 the Perfetto check, and zsh, fish, groff and bash read what `xtask install`
/// installs, tmux is the terminal `tracer top`'s tests type into. Installed here, where a failed
/// install updates the package lists and retries.
const HOST_PROGRAMS: &[(&str, &str)] = &[
    ("sh", "dash"),
    ("bash", "bash"),
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
    ("systemctl", "systemd"),
    ("setpriv", "util-linux"),
    ("systemd-nspawn", "systemd-container"),
    ("make", "make"),
    ("cc", "gcc"),
    ("python3", "python3"),
    ("zsh", "zsh"),
    ("fish", "fish"),
    ("groff", "groff-base"),
    ("tmux", "tmux"),
];

/// Perfetto's Python package, from PyPI, whose protobuf definitions the pictures test decodes
/// tracer's traces with (tracer/tests/perfetto_check.py). Debian does not package it.
const PERFETTO_PY: &str = "perfetto==0.59.1";

/// Clippy lints the eBPF crate is spared. Index loops stay: the verifier bounds an index it can
/// see, while the iterator forms clippy suggests can compile to pointer arithmetic it rejects.
/// The needless borrows (5 sites) are style only, left until the crate's restructuring settles.
const EBPF_CLIPPY_ALLOWED: [&str; 3] =
    ["clippy::needless_range_loop", "clippy::needless_borrow", "clippy::needless_borrows_for_generic_args"];

/// How one leg ended.
enum Verdict {
    Passed(String),
    Failed(String),
    Skipped(String),
}

pub fn test(options: &Options) -> Result<()> {
    let mut legs: Vec<(String, Verdict)> = Vec::new();
    step("lints: rustfmt, then clippy denying warnings");
    legs.push((
        "lints (rustfmt, clippy)".to_owned(),
        verdict(lint(), "rustfmt, clippy on the userspace and eBPF crates".to_owned()),
    ));

    let artifacts = build::build()?;
    packages::ensure(HOST_PROGRAMS)?;
    let perfetto_python = perfetto_python()?;

    step("unit, property and root-free tests (in parallel)");
    let unit = run(&mut tests_cargo(&artifacts));
    legs.push(("unit, property and root-free tests".to_owned(), verdict(unit, String::new())));

    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned();
    step(format!("privileged integration tests on this machine's kernel ({kernel}), one at a time"));
    // They trace the whole machine and pick their workload's events by comm (`tracer-workload`,
    // `cat`…) and by PID: two of them at once would each see the other's tasks, so every test
    // executable runs its tests one at a time (the executables themselves run one after another).
    let mut privileged = tests_cargo(&artifacts);
    privileged.env("TRACER_PERFETTO_PYTHON", &perfetto_python).args(["--", "--ignored", "--test-threads=1"]);
    if !is_root() {
        step("they load BPF programs: running the test executables through sudo");
        privileged.env("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER", "sudo -E");
    }
    let privileged = run(&mut privileged);
    legs.push(("privileged integration tests".to_owned(), verdict(privileged, format!("on {kernel}"))));

    step(format!("fuzzing the recording reader for {} s", FUZZ_TIME.as_secs()));
    let fuzzed = fuzz::run_for(FUZZ_TIME);
    legs.push((
        "recording reader fuzzing".to_owned(),
        verdict(fuzzed, format!("no failure in {} s", FUZZ_TIME.as_secs())),
    ));

    if options.host_only {
        for series in vm::series::ALL {
            legs.push((vm_leg_name(&series), Verdict::Skipped("by request (--host-only)".to_owned())));
        }
    } else {
        step(format!(
            "the privileged integration tests again, in VMs booting Debian's stock {} kernels, {} at a time",
            vm::series::Series::names(),
            options.vm_jobs
        ));
        for result in vm::run_legs(&artifacts, &vm::series::ALL, options.vm_jobs, &[]) {
            legs.push((vm_leg_name(&result.series), vm_verdict(&result.series, result.outcome)));
        }
    }

    step("packages: lintian, the .deb in clean Debian 11, 12 and 13, the OCI image under podman");
    let packaged = dist::verify::run(&artifacts);
    legs.push((
        "packages (tarball, .deb, OCI image)".to_owned(),
        packaged.map_or_else(|error| Verdict::Failed(format!("{error:#}")), Verdict::Passed),
    ));

    step("summary");
    let mut failed = 0;
    for (name, verdict) in &legs {
        let line = match verdict {
            Verdict::Passed(how) if how.is_empty() => "PASSED".to_owned(),
            Verdict::Passed(how) => format!("PASSED: {how}"),
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

fn vm_leg_name(series: &vm::series::Series) -> String {
    format!("VM leg {} ({})", series.name, series.why)
}

fn vm_verdict(series: &vm::series::Series, outcome: Result<vm::Outcome>) -> Verdict {
    match outcome {
        Ok(vm::Outcome::Passed(passed)) => Verdict::Passed(passed.describe()),
        Ok(vm::Outcome::Unavailable { reason }) => {
            step(format!("VM leg {} SKIPPED, nothing was tested on that kernel: {reason}", series.name));
            Verdict::Skipped(reason)
        }
        Err(error) => Verdict::Failed(format!("{error:#}")),
    }
}

/// rustfmt, clippy on the userspace crates (stable, the default members, every target), then
/// clippy on the eBPF crate as it is built: each denies warnings, and all run even when one
/// fails, so one leg shows every complaint.
fn lint() -> Result<()> {
    let mut failed = Vec::new();
    let mut fmt = plain_cargo();
    fmt.args(["fmt", "--all", "--check"]);
    if let Err(error) = run(&mut fmt) {
        eprintln!("    {error:#}");
        failed.push("rustfmt (run `cargo fmt --all`)");
    }
    let mut clippy = plain_cargo();
    clippy.args(["clippy", "--all-targets", "--", "-D", "warnings"]);
    if let Err(error) = run(&mut clippy) {
        eprintln!("    {error:#}");
        failed.push("clippy on the userspace crates");
    }
    let ebpf = toolchain::ensure().and_then(|bpf| {
        let mut clippy = build::ebpf_cargo(&bpf, "clippy")?;
        clippy.args(["--", "-D", "warnings"]);
        for lint in EBPF_CLIPPY_ALLOWED {
            clippy.args(["-A", lint]);
        }
        run(&mut clippy)
    });
    if let Err(error) = ebpf {
        eprintln!("    {error:#}");
        failed.push("clippy on the eBPF crate");
    }
    if !failed.is_empty() {
        bail!("{}", failed.join(", "));
    }
    Ok(())
}

/// `cargo` on the default toolchain in the workspace, without an eBPF object: lints need none.
fn plain_cargo() -> Command {
    let mut cargo = Command::new("cargo");
    cargo.current_dir(workspace_root()).env_remove("RUSTUP_TOOLCHAIN").env_remove("RUSTC");
    cargo
}

/// A virtualenv under target/ with Perfetto's Python package (made once), for the pictures
/// test's trace check; returns its python. python3-venv, which `python3 -m venv` needs on
/// Debian, has no program of its own to look for: it is installed when the venv cannot be made.
fn perfetto_python() -> Result<PathBuf> {
    let venv = target_dir().join("perfetto-venv");
    let python = venv.join("bin/python");
    let ready = |python: &Path| {
        Command::new(python)
            .args(["-c", "import perfetto.protos.perfetto.trace.perfetto_trace_pb2"])
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if ready(&python) {
        return Ok(python);
    }
    step(format!("making {} with PyPI's {PERFETTO_PY}", venv.display()));
    let make_venv = || run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
    if make_venv().is_err() {
        packages::apt_install(&["python3-venv"])?;
        make_venv()?;
    }
    run(Command::new(venv.join("bin/pip")).args(["install", "-q", PERFETTO_PY]))
        .with_context(|| format!("cannot install {PERFETTO_PY} from PyPI"))?;
    if !ready(&python) {
        bail!("{PERFETTO_PY} installed in {}, but its protos do not import", venv.display());
    }
    Ok(python)
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
