//! `cargo xtask vm-test`: the integration tests inside a VM booting Debian's stock 6.1 kernel.
//!
//! The development kernel refuses fentry and has no kprobes, so the hooks on `proc_root_lookup`
//! can only be exercised on a stock kernel. This builds the integration test executable, packs
//! it with tracer, tracer-workload, busybox and their shared libraries into an initramfs, boots
//! Debian's cloud kernel on it under qemu (TCG) and reads the verdict from the serial console.
//!
//! Everything comes from Debian's packages and is cached under `target/vm/`:
//! `kernel/<package>_<version>/` (the extracted kernel package, never installed into /boot),
//! `busybox/<package>_<version>/`, `initramfs/` and `initramfs.cpio.gz` (rebuilt every run) and
//! `serial.log` (the console of the last run, kept).
mod debian;
mod initramfs;
mod qemu;

use std::{
    fs::{self, File},
    os::fd::AsRawFd,
    path::{Path, PathBuf},
    process::Stdio,
};

use anyhow::{Context, Result, bail};

use crate::{
    build::{self, Artifacts},
    command::{step, target_dir, workspace_root},
    packages,
};

/// `cargo xtask vm-test [-- TEST-ARGS]`: build, then run the integration tests in the VM. Asked
/// for by name, a VM that cannot run here is an error.
pub fn vm_test(test_args: &[String]) -> Result<()> {
    let artifacts = build::build()?;
    match run(&artifacts, test_args)? {
        Outcome::Passed { .. } => Ok(()),
        Outcome::Unavailable { reason } => bail!("the VM cannot run on this machine: {reason}"),
    }
}

/// How the VM leg ended, when it did not fail.
pub enum Outcome {
    /// Every integration test the guest ran passed; `host_only` tests ([`HOST_ONLY`]) were not
    /// run there.
    Passed { kernel: String, host_only: usize },
    /// The VM cannot run on this machine (not x86-64, no Debian packages, no qemu): nothing was
    /// tested.
    Unavailable { reason: String },
}

/// Integration tests the guest does not run, with what they need that it lacks: it has busybox,
/// not Debian's userland. They are skipped by name (`--skip`), so libtest's summary in the guest
/// counts them as filtered out, never as passed; each also fails if run in a VM anyway
/// (`common::host_only`), so a renamed test cannot pass there untested.
pub const HOST_ONLY: [(&str, &str); 8] = [
    ("container::a_podman_container_is_seen_from_inside_and_selected_by_its_id", "podman"),
    ("pictures::make_build_tree_and_perfetto_trace", "make, a C compiler and Python"),
    ("rotation::sighup_reopens_after_logrotate_and_never_writes_into_its_files", "logrotate"),
    ("service::the_units_capabilities_and_syscall_filter_are_all_tracer_needs", "systemd, strace and setpriv"),
    ("shipper::rsyslog_ships_every_line_across_rotations", "rsyslog"),
    ("systemd::the_unit_starts_reloads_and_stops_under_systemd", "systemd"),
    ("top::top_shows_threads_as_one_row_a_short_lived_child_with_its_exit_and_filters_then_quits", "tmux"),
    ("top::top_gives_the_terminal_back_on_sigterm", "tmux"),
];

/// What the VM needs from the host and from Debian's archive, obtained.
struct Prerequisites {
    tools: debian::HostTools,
    kernel: debian::Kernel,
    busybox: PathBuf,
}

/// The VM leg on already built artifacts; `test_args` go to the test executable (a name
/// filter, say) after `--include-ignored --test-threads=1`. Missing prerequisites give
/// [`Outcome::Unavailable`]; a guest that boots and fails its tests is an error.
pub fn run(artifacts: &Artifacts, test_args: &[String]) -> Result<Outcome> {
    let dir = target_dir().join("vm");
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Several people (and `cargo xtask test`) share this target directory.
    let _lock = lock(&dir)?;
    let prerequisites = match prerequisites(&dir) {
        Ok(prerequisites) => prerequisites,
        Err(reason) => return Ok(Outcome::Unavailable { reason }),
    };
    let Prerequisites { tools, kernel, busybox } = prerequisites;
    step(format!("guest kernel: {}", kernel.describe()));
    let test = build_test_executable(&artifacts.ebpf_object)?;
    check_host_only(&test)?;
    let initrd = initramfs::build(
        &dir,
        &initramfs::Contents {
            busybox: &busybox,
            shell: &tools.dash,
            tracer: &artifacts.tracer,
            workload: &artifacts.workload,
            test: &test,
            host_only: &HOST_ONLY,
            test_args,
        },
    )?;
    qemu::boot(&tools.qemu, &kernel, &initrd, &dir.join("serial.log"))?;
    Ok(Outcome::Passed { kernel: kernel.describe(), host_only: HOST_ONLY.len() })
}

/// The host tools, guest kernel and busybox, or why this machine cannot have them.
fn prerequisites(dir: &Path) -> Result<Prerequisites, String> {
    let arch = std::env::consts::ARCH;
    if arch != "x86_64" {
        return Err(format!(
            "the host is {arch}, and the VM boots an x86-64 kernel on the host's own tracer and test binaries"
        ));
    }
    if packages::find_program("apt-get").is_none() || packages::find_program("dpkg").is_none() {
        return Err("no apt-get or dpkg: qemu, busybox and the guest kernel come from Debian's packages".to_owned());
    }
    let from_debian = |what: &str, error: anyhow::Error| format!("cannot get {what} from Debian's packages: {error:#}");
    let tools = debian::host_tools().map_err(|error| from_debian("qemu", error))?;
    let kernel = debian::kernel(dir).map_err(|error| from_debian("the guest kernel", error))?;
    let busybox = debian::busybox(dir).map_err(|error| from_debian("busybox-static", error))?;
    Ok(Prerequisites { tools, kernel, busybox })
}

/// Builds tracer's integration test executable (`tracer/tests/integration/`) without running
/// it; returns its path.
fn build_test_executable(ebpf_object: &PathBuf) -> Result<PathBuf> {
    step("building the integration test executable (release, not run on the host here)");
    let mut cargo = build::userspace_cargo(ebpf_object);
    cargo
        .args(["test", "--release", "--package", "tracer", "--test", "integration", "--no-run"])
        // JSON on stdout for us, human-readable compiler diagnostics on stderr.
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let line = format!("{cargo:?}");
    let output = cargo.output().with_context(|| format!("cannot start {line}"))?;
    if !output.status.success() {
        bail!("{line} failed ({})", output.status);
    }
    let executables: Vec<PathBuf> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|message| serde_json::from_str::<serde_json::Value>(message).ok())
        .filter(|message| message["reason"] == "compiler-artifact" && message["target"]["name"] == "integration")
        .filter_map(|message| message["executable"].as_str().map(PathBuf::from))
        .collect();
    match executables.as_slice() {
        [executable] => Ok(executable.clone()),
        _ => bail!(
            "{line} gave {} executables for the `integration` test target, expected one (tracer/tests/integration/main.rs in {})",
            executables.len(),
            workspace_root().display()
        ),
    }
}

/// Every [`HOST_ONLY`] name is exactly one test of `executable` (its `--list`, which runs
/// nothing): a renamed test must not be skipped by a stale name, nor a name skip several.
fn check_host_only(executable: &Path) -> Result<()> {
    let output = std::process::Command::new(executable)
        .args(["--list", "--include-ignored"])
        .output()
        .with_context(|| format!("cannot run {} --list", executable.display()))?;
    if !output.status.success() {
        bail!("{} --list failed ({})", executable.display(), output.status);
    }
    let listed = String::from_utf8_lossy(&output.stdout);
    let tests: Vec<&str> = listed.lines().filter_map(|line| line.strip_suffix(": test")).collect();
    for (name, _) in HOST_ONLY {
        let matching = tests.iter().filter(|test| test.contains(name)).count();
        if matching != 1 {
            bail!("HOST_ONLY in xtask/src/vm.rs names {name}, which matches {matching} integration tests, not one");
        }
    }
    Ok(())
}

/// An exclusive lock on `target/vm/`, held until dropped.
fn lock(dir: &Path) -> Result<File> {
    let path = dir.join(".lock");
    let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        step(format!("another vm-test is using {}: waiting for it", dir.display()));
        // SAFETY: as above.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            bail!("cannot lock {}: {}", path.display(), std::io::Error::last_os_error());
        }
    }
    Ok(file)
}
