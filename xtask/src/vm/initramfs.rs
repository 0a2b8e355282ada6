//! The guest's whole root filesystem, as an initramfs: busybox with its applet links, dash as
//! /bin/sh, tracer, tracer-workload, the integration test executable, the shared libraries they
//! load, and the `/init` of `init_script`.
use std::{
    collections::BTreeSet,
    fs::{self, File},
    os::unix::fs::{PermissionsExt, symlink},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

use super::init_script::{Leg, TEST_PATH, init_script};
use crate::command::{is_root, run, step};

pub struct Contents<'a> {
    pub busybox: &'a Path,
    /// A shell that runs commands by exec'ing them (dash), for /bin/sh.
    pub shell: &'a Path,
    pub tracer: &'a Path,
    pub workload: &'a Path,
    /// The integration test executable; installed as [`TEST_PATH`].
    pub test: &'a Path,
    /// What `/init` runs and counts.
    pub leg: Leg<'a>,
}

/// Lays the tree out in `dir/initramfs/` and packs it into `dir/initramfs.cpio.gz` (`dir` is
/// the leg's own folder, so legs can be packed and booted side by side).
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
    fs::write(&init, init_script(&contents.leg))?;
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
