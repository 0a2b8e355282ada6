//! The guest's whole root filesystem, as an initramfs: busybox with its applet links, dash as
//! /bin/sh, tracer, tracer-workload, the integration test executable, the shared libraries they
//! load, and an `/init` that mounts what tracer needs, runs the tests and prints the result marker.
use std::{
    collections::BTreeSet,
    fs::{self, File},
    os::unix::fs::{PermissionsExt, symlink},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

use crate::command::{is_root, run, step};

/// The line the guest prints last: `TRACER-VM-RESULT: pass` or `TRACER-VM-RESULT: fail WHY`.
pub const MARKER: &str = "TRACER-VM-RESULT:";
/// How long the test executable may run in the guest before it is killed: a hanging test must
/// end the VM with its name on the console (the last `test … ` line) before qemu's own timeout
/// ends it without a word. All the tests take about 6 min under TCG on an idle host, and 12 min
/// ran out at test 62 of 75 on a host whose two cores were shared with other builds.
pub const TEST_TIMEOUT_SECS: u32 = 30 * 60;
/// Where the guest finds the integration test executable.
const TEST_PATH: &str = "/tests/integration";
/// `TRACER_VM` in the guest: which VM the tests run in.
pub const VM_NAME: &str = "debian-6.1";

pub struct Contents<'a> {
    pub busybox: &'a Path,
    /// A shell that runs commands by exec'ing them (dash), for /bin/sh.
    pub shell: &'a Path,
    pub tracer: &'a Path,
    pub workload: &'a Path,
    /// The integration test executable; installed as [`TEST_PATH`].
    pub test: &'a Path,
    /// Tests the guest skips by name, with what they need that it lacks.
    pub host_only: &'a [(&'a str, &'a str)],
    /// Extra arguments for the test executable.
    pub test_args: &'a [String],
}

/// Lays the tree out in `dir/initramfs/` and packs it into `dir/initramfs.cpio.gz`.
pub fn build(dir: &Path, contents: &Contents) -> Result<PathBuf> {
    let root = dir.join("initramfs");
    let archive = dir.join("initramfs.cpio.gz");
    step(format!("assembling the guest's root filesystem in {}", root.display()));
    if root.exists() {
        fs::remove_dir_all(&root).with_context(|| format!("cannot remove {}", root.display()))?;
    }
    for sub in ["bin", "dev", "etc", "proc", "sys", "tmp", "run", "root", "tests", "usr"] {
        fs::create_dir_all(root.join(sub))?;
    }
    // One bin folder for everything, whichever path a program is spelt with.
    symlink("bin", root.join("sbin"))?;
    symlink("../bin", root.join("usr/bin"))?;
    symlink("../bin", root.join("usr/sbin"))?;
    fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
    fs::write(root.join("etc/group"), "root:x:0:\n")?;
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    if is_root() {
        // The kernel's built-in initramfs has /dev/console too; this makes sure.
        let console = root.join("dev/console");
        let path = std::ffi::CString::new(console.as_os_str().as_encoded_bytes())?;
        // SAFETY: a valid NUL-terminated path; failure only loses the belt to the braces.
        unsafe { libc::mknod(path.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(5, 1)) };
    }

    install(contents.busybox, &root.join("bin/busybox"))?;
    // Debian's busybox-static prefers its applets: its `sh` runs `cat` as /proc/self/exe, so the
    // kernel reports comm `exe` and filename `/proc/self/exe` where a normal system shows `cat`
    // and the tests rightly expect it. dash execs /bin/cat (the busybox applet link) instead.
    symlink("dash", root.join("bin/sh"))?;
    let mut binaries = vec![install(contents.shell, &root.join("bin/dash"))?];
    for applet in busybox_applets(contents.busybox)? {
        if applet != "busybox" && !root.join("bin").join(&applet).exists() {
            symlink("busybox", root.join("bin").join(&applet))?;
        }
    }

    binaries.push(install(contents.tracer, &root.join("bin/tracer"))?);
    binaries.push(install(contents.workload, &root.join("bin/tracer-workload"))?);
    binaries.push(install(contents.test, &root.join(TEST_PATH.trim_start_matches('/')))?);

    let mut libraries = BTreeSet::new();
    for binary in &binaries {
        libraries.extend(shared_libraries(binary)?);
    }
    for library in &libraries {
        let relative = library.strip_prefix("/").unwrap_or(library);
        install(library, &root.join(relative))?;
    }

    let init = root.join("init");
    fs::write(&init, init_script(contents.host_only, contents.test_args))?;
    fs::set_permissions(&init, fs::Permissions::from_mode(0o755))?;

    step(format!("packing {} (cpio newc, gzip -1)", archive.display()));
    pack(&root, &archive)?;
    Ok(archive)
}

/// Copies `from` to `to` (following symlinks, keeping the mode); returns `to`.
fn install(from: &Path, to: &Path) -> Result<PathBuf> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::copy(from, to).with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    Ok(to.to_path_buf())
}

fn busybox_applets(busybox: &Path) -> Result<Vec<String>> {
    let output = Command::new(busybox)
        .arg("--list")
        .output()
        .with_context(|| format!("cannot run {} --list", busybox.display()))?;
    if !output.status.success() {
        bail!("{} --list failed ({})", busybox.display(), output.status);
    }
    let applets: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    for needed in ["sh", "cat", "mount", "poweroff"] {
        if !applets.iter().any(|applet| applet == needed) {
            bail!("{} has no `{needed}` applet", busybox.display());
        }
    }
    Ok(applets)
}

/// The shared libraries `ldd` names for `binary`, the dynamic loader included; none for a
/// static binary.
fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>> {
    let output = Command::new("ldd")
        .arg(binary)
        .output()
        .context("cannot run ldd (from libc-bin) to list the shared libraries")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stdout.contains("not a dynamic executable") || stderr.contains("not a dynamic executable") {
            return Ok(Vec::new());
        }
        bail!("ldd {} failed: {}", binary.display(), stderr.trim());
    }
    let mut libraries = Vec::new();
    for line in stdout.lines() {
        // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)`, `/lib64/ld-linux-x86-64.so.2 (0x…)`,
        // `linux-vdso.so.1 (0x…)` (in the kernel, nothing to copy).
        let line = line.trim();
        if line.contains("=> not found") {
            bail!("{} needs a library that is not on this machine: {line}", binary.display());
        }
        let path = match line.split_once("=>") {
            Some((_, resolved)) => resolved.trim(),
            None => line,
        };
        let path = path.split_whitespace().next().unwrap_or_default();
        if path.starts_with('/') {
            libraries.push(PathBuf::from(path));
        }
    }
    Ok(libraries)
}

/// Quotes `word` for sh.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

fn init_script(host_only: &[(&str, &str)], test_args: &[String]) -> String {
    let extra: String = test_args.iter().map(|arg| format!(" {}", shell_quote(arg))).collect();
    let skips: String = host_only.iter().map(|(name, _)| format!(" --skip {}", shell_quote(name))).collect();
    let not_run: String = host_only
        .iter()
        .map(|(name, needs)| format!("echo {}\n", shell_quote(&format!("tracer-vm:     {name} (needs {needs})"))))
        .collect();
    format!(
        r#"#!/bin/sh
# Generated by `cargo xtask vm-test` (xtask/src/vm/initramfs.rs): runs as PID 1 in the VM.
export PATH=/bin:/sbin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up 2>/dev/null
# A guest that locks up must say where and end at once, not sit out the timeout: every CPU's
# stack on the console, then a panic (panic=-1 and -no-reboot end the VM).
echo 7 >/proc/sys/kernel/printk
echo 1 >/proc/sys/kernel/softlockup_all_cpu_backtrace
echo 1 >/proc/sys/kernel/softlockup_panic

echo "tracer-vm: $(cat /proc/version)"
echo "tracer-vm: $(nproc) CPUs, $(free -m | awk '/^Mem:/ {{print $2}}') MiB"

export TRACER_BIN=/bin/tracer TRACER_WORKLOAD=/bin/tracer-workload TRACER_VM={VM_NAME} RUST_BACKTRACE=1
# The tests probe what the kernel offers and expect tracer to match it. Debian's stock kernel is
# known to offer these hooks: a probe that says otherwise here is a failure, not a refusal to
# assert, so the VM always exercises the fentry and kprobe lookup hooks.
export TRACER_REQUIRE_HOOKS=tp_btf,fentry,kprobe

# Which hook serves each event on this kernel (informational; the tests decide).
if /bin/tracer probes >/tmp/probes.out 2>&1; then
    echo "tracer-vm: tracer probes:"
    sed 's/^/    /' /tmp/probes.out
else
    echo "tracer-vm: 'tracer probes' exited with status $? (informational only):"
    head -n 5 /tmp/probes.out | sed 's/^/    /'
fi

# Tests that need what this busybox userland lacks: skipped by name, so libtest counts them as
# filtered out, not passed (the host leg runs them).
echo "tracer-vm: {host_only_count} host-only tests are NOT run here (libtest counts them as filtered out):"
{not_run}
# Extra arguments for the test executable (`cargo xtask vm-test -- ARGS`).
set -- {skips}{extra}
# One test at a time: the privileged tests trace the whole machine and pick their workload's
# events by comm and PID, so two at once would see each other's tasks.
echo "tracer-vm: running {TEST_PATH} --include-ignored --test-threads=1 $*"
start=$(date +%s)
timeout {TEST_TIMEOUT_SECS} {TEST_PATH} --include-ignored --test-threads=1 "$@"
status=$?
took=$(( $(date +%s) - start ))
# Nothing a test started outlives it (kill -1 spares PID 1, this shell).
kill -9 -1 2>/dev/null

if [ ! -x {TEST_PATH} ]; then
    echo "{MARKER} fail (no test executable at {TEST_PATH})"
elif [ "$took" -ge {TEST_TIMEOUT_SECS} ]; then
    echo
    echo "tracer-vm: the tests were killed after {TEST_TIMEOUT_SECS} s: the last 'test ... ' line above is the test that hung"
    echo "{MARKER} fail (timed out after {TEST_TIMEOUT_SECS} s)"
elif [ "$status" -eq 0 ]; then
    echo "tracer-vm: the tests exited with status 0 after $took s"
    echo "{MARKER} pass"
else
    echo "tracer-vm: the tests exited with status $status after $took s"
    echo "{MARKER} fail (status $status: see the failures above)"
fi
sync
poweroff -f
"#,
        host_only_count = host_only.len(),
    )
}

/// `find . -print0 | cpio --null -o -H newc -R 0:0 | gzip -1 > archive`, in `root`.
fn pack(root: &Path, archive: &Path) -> Result<()> {
    let mut find = Command::new("find")
        .args([".", "-print0"])
        .current_dir(root)
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start find")?;
    let mut cpio = Command::new("cpio")
        .args(["--null", "--create", "--format=newc", "--owner=0:0", "--quiet"])
        .current_dir(root)
        .stdin(find.stdout.take().expect("piped"))
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start cpio")?;
    let output = File::create(archive).with_context(|| format!("cannot create {}", archive.display()))?;
    let gzip = run(Command::new("gzip").arg("-1").stdin(cpio.stdout.take().expect("piped")).stdout(output));
    let find_status = find.wait()?;
    let cpio_status = cpio.wait()?;
    gzip?;
    if !find_status.success() || !cpio_status.success() {
        bail!("packing {} failed (find: {find_status}, cpio: {cpio_status})", root.display());
    }
    Ok(())
}
