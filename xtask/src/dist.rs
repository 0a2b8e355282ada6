//! `cargo xtask dist`: tracer for people without a Rust toolchain, in `target/dist/`: a tarball
//! of the static binary with its pages, completions, unit, licences and docs; a .deb; an OCI
//! image; and `SHA256SUMS` over them.
//!
//! Every file carries the version the binary itself reports (`-dirty` added when the tree had
//! uncommitted changes), and every archive is stamped with the commit's time
//! (`SOURCE_DATE_EPOCH`), so building the same commit twice gives the same bytes.
mod deb;
mod musl;
mod oci;
mod rootfs;
mod tarball;
pub mod verify;
mod verify_oci;

use std::{
    fs,
    io::Read,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::{
    build::{self, Artifacts},
    command::{run, step, target_dir, workspace_root},
    install,
};

/// Files from the source tree that every package carries (docs/ too, when it exists); a
/// missing one stops `dist` rather than ship without its licence.
const SHIPPED_FILES: [&str; 4] = ["LICENSE-MIT", "LICENSE-APACHE", "README.md", "CHANGELOG.md"];

/// What the packages are made from.
pub struct Release {
    /// `0.1.0`, or `0.1.0-dirty` for a tree with uncommitted changes.
    pub version: String,
    /// The static binary.
    pub tracer: PathBuf,
    /// The commit's time, for every timestamp in the archives.
    pub epoch: u64,
    /// Where the pieces are staged.
    pub work: PathBuf,
}

pub fn dist(verify: bool) -> Result<()> {
    let artifacts = build::build()?;
    if verify {
        let passed = verify::run(&artifacts)?;
        step(format!("packages: {passed}"));
        return Ok(());
    }
    let files = build_all(&artifacts)?;
    step(format!("written to {}", out_dir().display()));
    for file in files {
        let size = fs::metadata(&file).map(|meta| meta.len()).unwrap_or(0);
        println!("{:>10}  {}", size, file.display());
    }
    Ok(())
}

/// `target/dist/`.
pub fn out_dir() -> PathBuf {
    target_dir().join("dist")
}

/// The static binary, built (with the same eBPF object as `artifacts`) and checked to be static.
pub fn static_tracer(artifacts: &Artifacts) -> Result<PathBuf> {
    musl::build(&artifacts.ebpf_object)
}

/// Builds every package into `target/dist/`; returns their paths, `SHA256SUMS` last.
pub fn build_all(artifacts: &Artifacts) -> Result<Vec<PathBuf>> {
    for file in SHIPPED_FILES {
        if !workspace_root().join(file).is_file() {
            bail!("{file} is missing from {}: every package ships it", workspace_root().display());
        }
    }
    let tracer = static_tracer(artifacts)?;
    let release =
        Release { version: version_of(&tracer)?, tracer, epoch: commit_epoch()?, work: target_dir().join("dist-work") };
    step(format!("packaging tracer {}", release.version));
    check_changelog(&release.version)?;
    let out = out_dir();
    for dir in [&out, &release.work] {
        if dir.exists() {
            fs::remove_dir_all(dir).with_context(|| format!("cannot empty {}", dir.display()))?;
        }
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut files = vec![tarball::build(&release, &out)?, deb::build(&release, &out)?, oci::build(&release, &out)?];
    files.push(write_sums(&out, &files)?);
    Ok(files)
}

/// The version the binary reports, `-dirty` added when its commit is marked so.
fn version_of(tracer: &Path) -> Result<String> {
    let output =
        Command::new(tracer).arg("--version").output().with_context(|| format!("cannot run {}", tracer.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse_version(&text).with_context(|| format!("{} --version printed {text:?}", tracer.display()))
}

fn parse_version(text: &str) -> Option<String> {
    let mut words = text.split_whitespace();
    let version = words.nth(1).filter(|_| text.starts_with("tracer "))?;
    let dirty = text.contains("-dirty,") || text.contains("-dirty)");
    Some(if dirty { format!("{version}-dirty") } else { version.to_owned() })
}

/// CHANGELOG.md has a section for the version (`## [0.1.0]`), so a package never ships
/// without saying what changed.
fn check_changelog(version: &str) -> Result<()> {
    let plain = version.trim_end_matches("-dirty");
    let changelog = fs::read_to_string(workspace_root().join("CHANGELOG.md"))?;
    let heading = format!("## [{plain}]");
    if !changelog.lines().any(|line| line.starts_with(&heading)) {
        bail!("CHANGELOG.md has no `{heading}` section for the version being packaged");
    }
    Ok(())
}

/// The HEAD commit's time (seconds since the epoch), or `SOURCE_DATE_EPOCH` when set.
fn commit_epoch() -> Result<u64> {
    if let Ok(given) = std::env::var("SOURCE_DATE_EPOCH") {
        return given.trim().parse().with_context(|| format!("SOURCE_DATE_EPOCH={given:?} is not a number"));
    }
    let output = Command::new("git").current_dir(workspace_root()).args(["log", "-1", "--format=%ct"]).output();
    let text = output.map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned()).unwrap_or_default();
    text.parse().with_context(|| "cannot read the commit's time from git: set SOURCE_DATE_EPOCH")
}

/// The man pages, completions and unit as `cargo xtask install` makes them for `prefix`.
fn generated(release: &Release, prefix: &str) -> Result<Vec<install::Item>> {
    let staging = release.work.join(format!("generated{}", prefix.replace('/', "-")));
    install::stage(&release.tracer, Path::new(prefix), &staging)
}

/// `SHA256SUMS` in `sha256sum`'s format, so `sha256sum -c SHA256SUMS` checks a download.
fn write_sums(out: &Path, files: &[PathBuf]) -> Result<PathBuf> {
    let mut text = String::new();
    for file in files {
        let name = file.file_name().context("a file name")?.to_string_lossy();
        text.push_str(&format!("{}  {name}\n", sha256_file(file)?));
    }
    let sums = out.join("SHA256SUMS");
    fs::write(&sums, text).with_context(|| format!("cannot write {}", sums.display()))?;
    Ok(sums)
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        let read = file.read(&mut buffer).with_context(|| format!("cannot read {}", path.display()))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex(&hasher.finalize()))
}

pub fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A reproducible tar of `dir`'s contents (GNU tar: sorted, root-owned, stamped `epoch`), with
/// the entries named `prefix/…` (or as they are below `dir` for an empty prefix); gzipped
/// (`gzip -9n`) when `out` ends in `.gz`.
fn tar(dir: &Path, prefix: &str, epoch: u64, out: &Path) -> Result<()> {
    let raw = if out.extension().is_some_and(|ext| ext == "gz") { out.with_extension("") } else { out.to_owned() };
    let mut command = Command::new("tar");
    command
        .args(["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--format=gnu"])
        .arg(format!("--mtime=@{epoch}"))
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(&raw);
    if prefix.is_empty() {
        let mut entries: Vec<_> =
            fs::read_dir(dir)?.map(|entry| entry.map(|entry| entry.file_name())).collect::<Result<_, _>>()?;
        entries.sort();
        command.args(entries);
    } else {
        command.arg(format!("--transform=s,^\\.,{prefix},")).arg(".");
    }
    run(&mut command)?;
    if raw != out {
        run(Command::new("gzip").args(["-9n", "--force"]).arg(&raw))?;
    }
    Ok(())
}

/// Copies `from` to `to`, creating `to`'s folder, with `mode`.
fn put(from: &Path, to: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(to.parent().context("a parent folder")?)?;
    fs::copy(from, to).with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// Copies the folder `from` into `to` (files 0644, folders 0755).
fn put_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in fs::read_dir(from).with_context(|| format!("cannot list {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            put_tree(&entry.path(), &target)?;
        } else {
            put(&entry.path(), &target, 0o644)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_come_from_the_binary_and_carry_dirt() {
        let clean = "tracer 0.1.0 (commit 1e773a3c0ffe, eBPF object 3fa2c1d0e9b8)\n";
        assert_eq!(parse_version(clean).as_deref(), Some("0.1.0"));
        let dirty = "tracer 0.1.0 (commit 1e773a3c0ffe-dirty, eBPF object 3fa2c1d0e9b8)\n";
        assert_eq!(parse_version(dirty).as_deref(), Some("0.1.0-dirty"));
        assert_eq!(parse_version("something else 1.0"), None);
    }
}
