//! `cargo xtask vm-test`: the integration tests inside a VM booting Debian's stock 6.1 kernel.
//!
//! The development kernel refuses fentry and has no kprobes, so the hooks on `proc_root_lookup`
//! can only be exercised on a stock kernel. This builds the integration test executables, packs
//! them with tracer, tracer-workload, busybox and their shared libraries into an initramfs, boots
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
    collections::BTreeMap,
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
    /// Every integration test passed in the guest.
    Passed { kernel: String },
    /// The VM cannot run on this machine (not x86-64, no Debian packages, no qemu): nothing was
    /// tested.
    Unavailable { reason: String },
}

/// What the VM needs from the host and from Debian's archive, obtained.
struct Prerequisites {
    tools: debian::HostTools,
    kernel: debian::Kernel,
    busybox: PathBuf,
}

/// The VM leg on already built artifacts; `test_args` go to every test executable (a name
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
    let tests = build_test_executables(&artifacts.ebpf_object)?;
    let initrd = initramfs::build(
        &dir,
        &initramfs::Contents {
            busybox: &busybox,
            shell: &tools.dash,
            tracer: &artifacts.tracer,
            workload: &artifacts.workload,
            tests: &tests,
            test_args,
        },
    )?;
    qemu::boot(&tools.qemu, &kernel, &initrd, &dir.join("serial.log"))?;
    Ok(Outcome::Passed { kernel: kernel.describe() })
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

/// Builds the integration tests (`tracer/tests/*.rs`) without running them; returns each test
/// target's name and executable.
fn build_test_executables(ebpf_object: &PathBuf) -> Result<BTreeMap<String, PathBuf>> {
    step("building the integration test executables (release, not run on the host here)");
    let mut cargo = build::userspace_cargo(ebpf_object);
    cargo
        .args(["test", "--release", "--package", "tracer", "--tests", "--no-run"])
        // JSON on stdout for us, human-readable compiler diagnostics on stderr.
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let line = format!("{cargo:?}");
    let output = cargo.output().with_context(|| format!("cannot start {line}"))?;
    if !output.status.success() {
        bail!("{line} failed ({})", output.status);
    }
    let mut tests = BTreeMap::new();
    for message in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(message) else { continue };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let is_test_target =
            message["target"]["kind"].as_array().is_some_and(|kinds| kinds.iter().any(|kind| kind == "test"));
        let (Some(name), Some(executable)) = (message["target"]["name"].as_str(), message["executable"].as_str())
        else {
            continue;
        };
        if is_test_target {
            tests.insert(name.to_owned(), PathBuf::from(executable));
        }
    }
    if tests.is_empty() {
        bail!(
            "no integration test executables found (cargo built no `test` target; expected tracer/tests/*.rs in {})",
            workspace_root().display()
        );
    }
    step(format!("integration tests: {}", tests.keys().cloned().collect::<Vec<_>>().join(", ")));
    Ok(tests)
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
