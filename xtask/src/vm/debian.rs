//! What the VM needs, from Debian's packages only: qemu and cpio installed on the host
//! (`apt-get install`), the kernels and busybox-static downloaded and extracted under
//! `target/vm/` (`apt-get download` + `dpkg -x`, never installed), each extraction reused until
//! Debian publishes a newer version.
use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use super::{apt::Apt, series::Series};
use crate::{
    command::{run, step},
    packages::{self, apt_update},
};

const BUSYBOX_PACKAGE: &str = "busybox-static";
/// Written last into an extraction, so a half-done one is never reused.
const COMPLETE: &str = ".complete";

pub struct HostTools {
    pub qemu: PathBuf,
    /// Debian's dash: the guest's /bin/sh (see `initramfs::build`).
    pub dash: PathBuf,
}

/// `qemu-system-x86_64`, `cpio` and `dash` on the host, installed from Debian's packages when
/// missing.
pub fn host_tools() -> Result<HostTools> {
    let found = packages::ensure(&[("qemu-system-x86_64", "qemu-system-x86"), ("cpio", "cpio"), ("dash", "dash")])?;
    Ok(HostTools { qemu: found[0].clone(), dash: found[2].clone() })
}

/// An extracted Debian kernel package.
pub struct Kernel {
    /// e.g. `linux-image-6.1.0-48-cloud-amd64`
    pub package: String,
    /// Debian version, e.g. `6.1.172-1`
    pub version: String,
    /// `uname -r` in the guest, e.g. `6.1.0-48-cloud-amd64`
    pub release: String,
    pub vmlinuz: PathBuf,
}

impl Kernel {
    /// e.g. `6.1.172`
    pub fn upstream_version(&self) -> &str {
        self.version.split('-').next().unwrap_or(&self.version)
    }

    pub fn describe(&self) -> String {
        format!(
            "{} (Linux {}), from Debian's package {} {}",
            self.release,
            self.upstream_version(),
            self.package,
            self.version
        )
    }
}

/// The newest kernel of `series`, extracted under `dir/kernel/`.
pub fn kernel(dir: &Path, series: &Series) -> Result<Kernel> {
    let kernels = dir.join("kernel");
    let apt = Apt::for_suite(series.suite, dir)?;
    if !apt.has_lists() {
        apt.update()?;
    }
    step(format!("finding the newest {series} kernel package (apt-cache)"));
    let package = match newest_kernel_package(&apt, series)? {
        Some(package) => Some(package),
        None => {
            step("apt knows no such kernel package: updating the package lists (apt-get update)");
            match apt.update() {
                Ok(()) => newest_kernel_package(&apt, series)?,
                Err(error) => {
                    eprintln!("    {error:#}");
                    None
                }
            }
        }
    };
    let fetched = match package {
        Some(package) => {
            let into = kernels.join(cache_name(&package));
            download_and_extract(&apt, &package, &into, &["boot"]).map(|()| (package, into))
        }
        None => Err(anyhow::anyhow!("apt knows no {series} package (see `apt-cache search linux-image-`)")),
    };
    let (package, root) = match fetched {
        Ok(found) => found,
        // Offline, say: an earlier download still does the job.
        Err(error) => match newest_cached(&kernels, series) {
            Some(cached) => {
                step(format!("{error:#}; using the cached {}", cached.1.display()));
                cached
            }
            None => return Err(error.context(format!("cannot obtain a {series} kernel for the VM"))),
        },
    };
    let release = package.name.trim_start_matches("linux-image-").trim_end_matches("-unsigned").to_owned();
    let vmlinuz = root.join("boot").join(format!("vmlinuz-{release}"));
    if !vmlinuz.is_file() {
        bail!("{} {} holds no {}", package.name, package.version, vmlinuz.display());
    }
    Ok(Kernel { package: package.name, version: package.version, release, vmlinuz })
}

/// busybox-static, extracted under `dir/busybox/`; returns the `busybox` binary.
pub fn busybox(dir: &Path) -> Result<PathBuf> {
    let mut version = candidate(&Apt::System, BUSYBOX_PACKAGE)?;
    if version.is_none() {
        step(format!("apt knows no {BUSYBOX_PACKAGE}: updating the package lists (apt-get update)"));
        apt_update()?;
        version = candidate(&Apt::System, BUSYBOX_PACKAGE)?;
    }
    let version = version.with_context(|| format!("apt has no candidate for {BUSYBOX_PACKAGE}"))?;
    let package = Package { name: BUSYBOX_PACKAGE.to_owned(), version };
    let root = dir.join("busybox").join(cache_name(&package));
    download_and_extract(&Apt::System, &package, &root, &["bin", "usr"])?;
    ["bin/busybox", "usr/bin/busybox"]
        .iter()
        .map(|path| root.join(path))
        .find(|path| path.is_file())
        .with_context(|| format!("{} {} holds no busybox binary", package.name, package.version))
}

#[derive(Clone)]
struct Package {
    name: String,
    version: String,
}

fn cache_name(package: &Package) -> String {
    format!("{}_{}", package.name, package.version.replace(':', "%3a"))
}

/// The kernel packages of `series` apt knows, newest ABI first, signed before `-unsigned`: the
/// first with a candidate version.
fn newest_kernel_package(apt: &Apt, series: &Series) -> Result<Option<Package>> {
    let output = apt
        .command("apt-cache")
        .args(["search", "--names-only", &series.search_pattern()])
        .output()
        .context("cannot run apt-cache: the VM's kernel comes from Debian's packages")?;
    if !output.status.success() {
        bail!("apt-cache search failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let mut names: Vec<(u32, bool, String)> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let name = line.split_whitespace().next()?;
            Some((series.abi(name)?, name.ends_with("-unsigned"), name.to_owned()))
        })
        .collect();
    // Newest ABI first; for one ABI the signed package (what Debian's meta-packages install).
    names.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, _, name) in names {
        if let Some(version) = candidate(apt, &name)? {
            return Ok(Some(Package { name, version }));
        }
    }
    Ok(None)
}

/// The version `apt-get download` would fetch, from `apt-cache policy`.
fn candidate(apt: &Apt, package: &str) -> Result<Option<String>> {
    let output = apt.command("apt-cache").args(["policy", package]).output().context("cannot run apt-cache")?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.trim().strip_prefix("Candidate:").map(str::trim))
        .filter(|version| !version.is_empty() && *version != "(none)")
        .map(str::to_owned))
}

/// The newest complete extraction of a `series` kernel under `kernels`, if any.
fn newest_cached(kernels: &Path, series: &Series) -> Option<(Package, PathBuf)> {
    let mut cached: Vec<(u32, Package, PathBuf)> = fs::read_dir(kernels)
        .ok()?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let file_name = path.file_name()?.to_str()?.to_owned();
            let (name, version) = file_name.split_once('_')?;
            let abi = series.abi(name)?;
            let package = Package { name: name.to_owned(), version: version.replace("%3a", ":") };
            path.join(COMPLETE).is_file().then_some((abi, package, path))
        })
        .collect();
    cached.sort_by_key(|(abi, _, _)| *abi);
    cached.pop().map(|(_, package, path)| (package, path))
}

/// `apt-get download` `package` into a scratch folder and `dpkg -x` it into `into`, keeping only
/// the top-level folders in `keep` (a kernel's modules are 100 MB nobody needs here), unless a
/// complete extraction is already there.
fn download_and_extract(apt: &Apt, package: &Package, into: &Path, keep: &[&str]) -> Result<()> {
    if into.join(COMPLETE).is_file() {
        return Ok(());
    }
    let parent = into.parent().context("extraction folder has no parent")?;
    let work = parent.join(format!(".download-{}", cache_name(package)));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;

    let spec = format!("{}={}", package.name, package.version);
    step(format!("downloading {} {} (apt-get download)", package.name, package.version));
    let download = || {
        let mut download = apt.command("apt-get");
        download.current_dir(&work).arg("download").arg(&spec);
        run(&mut download)
    };
    if let Err(error) = download() {
        eprintln!("    {error:#}");
        step("download failed: updating the package lists (apt-get update) and retrying");
        apt.update()?;
        download().with_context(|| format!("cannot download {spec} from Debian's archive"))?;
    }
    let deb = fs::read_dir(&work)?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .find(|path| path.extension().is_some_and(|ext| ext == "deb"))
        .with_context(|| format!("apt-get download {spec} left no .deb in {}", work.display()))?;

    step(format!("extracting {} into {} (dpkg -x)", deb.display(), into.display()));
    let staging = work.join("root");
    run(Command::new("dpkg").arg("-x").arg(&deb).arg(&staging))?;
    for entry in fs::read_dir(&staging)? {
        let path = entry?.path();
        if !path.file_name().and_then(|name| name.to_str()).is_some_and(|name| keep.contains(&name)) {
            let removed = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
            removed.with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    fs::write(staging.join(COMPLETE), format!("{spec}\n"))?;
    let _ = fs::remove_dir_all(into);
    fs::rename(&staging, into).with_context(|| format!("cannot move {} to {}", staging.display(), into.display()))?;
    let _ = fs::remove_dir_all(&work);
    Ok(())
}
