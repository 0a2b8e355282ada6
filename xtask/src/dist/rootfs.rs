//! Clean Debian root filesystems for the .deb's install test: `debootstrap --variant=minbase`
//! of bullseye, bookworm and trixie (with man-db and systemd, which the test uses and a real
//! system has), from the mirror the machine's own apt sources name, tarred once into
//! `target/dist-test/rootfs-SUITE.tar` and imported into podman as
//! `localhost/tracer-dist-test:SUITE`. The machine's apt configuration is only read.
use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result};

use super::verify::Podman;
use crate::{
    command::{run, step},
    packages,
};

/// Debian releases the .deb is installed into: (suite, version).
pub const SUITES: [(&str, &str); 3] = [("bullseye", "11"), ("bookworm", "12"), ("trixie", "13")];
/// Added to minbase: `man -w` and `systemd-analyze verify` are part of the test, and procps
/// (an "important" package every real install has) is a dependency of the .deb.
const EXTRA_PACKAGES: &str = "man-db,systemd,procps";
const FALLBACK_MIRROR: &str = "http://deb.debian.org/debian";

/// The podman image of `suite`'s clean root filesystem, made (and cached in `dir`) if needed.
pub fn image(dir: &Path, suite: &str, podman: &Podman) -> Result<String> {
    let name = format!("localhost/tracer-dist-test:{suite}");
    let tarball = dir.join(format!("rootfs-{suite}.tar"));
    // The tarball is rebuilt when the packages it was made with change.
    let stamp = tarball.with_extension("packages");
    let made = !tarball.is_file() || fs::read_to_string(&stamp).unwrap_or_default() != EXTRA_PACKAGES;
    if made {
        debootstrap(dir, suite, &tarball)?;
        fs::write(&stamp, EXTRA_PACKAGES)?;
    }
    let exists = podman.command().args(["image", "exists", &name]).status().is_ok_and(|status| status.success());
    if made || !exists {
        let _ = podman.command().args(["rmi", "--force", &name]).output();
        step(format!("importing {} into podman as {name}", tarball.display()));
        run(podman.command().arg("import").arg(&tarball).arg(&name).stdout(std::process::Stdio::null()))?;
    }
    Ok(name)
}

fn debootstrap(dir: &Path, suite: &str, tarball: &Path) -> Result<()> {
    let [debootstrap] = packages::ensure(&[("debootstrap", "debootstrap")])?.try_into().expect("one program asked for");
    let mirror = mirror();
    let root = dir.join(format!("rootfs-{suite}.tmp"));
    if root.exists() {
        fs::remove_dir_all(&root).with_context(|| format!("cannot remove {}", root.display()))?;
    }
    step(format!("debootstrap --variant=minbase {suite} from {mirror} (once; cached in {})", tarball.display()));
    let log = dir.join(format!("debootstrap-{suite}.log"));
    let status = Command::new(debootstrap)
        .args(["--variant=minbase", &format!("--include={EXTRA_PACKAGES}"), suite])
        .arg(&root)
        .arg(&mirror)
        .stdout(fs::File::create(&log)?)
        .stderr(fs::File::create(dir.join(format!("debootstrap-{suite}.err")))?)
        .status()
        .context("cannot start debootstrap")?;
    if !status.success() {
        anyhow::bail!("debootstrap of {suite} failed ({status}); its log is {}", log.display());
    }
    let part = tarball.with_extension("tar.part");
    run(Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&part).arg("."))?;
    fs::rename(&part, tarball)?;
    fs::remove_dir_all(&root).with_context(|| format!("cannot remove {}", root.display()))?;
    Ok(())
}

/// The Debian mirror of the machine's apt sources (deb822 or one-line), else deb.debian.org.
fn mirror() -> String {
    let deb822 = fs::read_to_string("/etc/apt/sources.list.d/debian.sources").unwrap_or_default();
    let from_deb822 = deb822.lines().find_map(|line| {
        let uris = line.strip_prefix("URIs:")?;
        uris.split_whitespace().find(|uri| uri.trim_end_matches('/').ends_with("/debian")).map(str::to_owned)
    });
    let list = fs::read_to_string("/etc/apt/sources.list").unwrap_or_default();
    let from_list = list.lines().find_map(|line| {
        let mut words = line.split_whitespace().filter(|word| !word.starts_with('['));
        (words.next()? == "deb").then_some(())?;
        words.next().filter(|uri| uri.trim_end_matches('/').ends_with("/debian")).map(str::to_owned)
    });
    from_deb822.or(from_list).unwrap_or_else(|| FALLBACK_MIRROR.to_owned())
}

/// Where the rootfs tarballs and the podman configuration live.
pub fn cache_dir(target: &Path) -> PathBuf {
    target.join("dist-test")
}
