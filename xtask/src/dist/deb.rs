//! `tracer_VERSION_amd64.deb`, built with `dpkg-deb` from a staged tree, where Debian puts each
//! file: the static binary (one .deb for Debian 11 to 13, whatever their glibc), man pages
//! gzipped, completions in the folders bash-completion, zsh and fish read, and the unit in
//! /usr/lib/systemd/system, installed but not enabled: a tracer watching every task is the
//! administrator's choice to start. `copyright` is in Debian's machine-readable format.
use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use super::{Release, generated, put};
use crate::{
    command::{run, step, workspace_root},
    packages,
};

const SYNOPSIS: &str = "trace task births, execs, renames and exits with eBPF";
const DESCRIPTION: &str = "\
tracer watches every task on the machine being born, exec'ing, renaming and
dying, and every /proc/<pid> lookup, live, through eBPF programs attached to
the kernel's scheduler tracepoints. It prints a table or JSON lines, records
to a file that it replays, draws process trees, exports Perfetto traces, and
names the container and cgroup of each task.
.
The binary is static: it needs no C library and runs on any x86-64 kernel
with BTF (Linux 5.8 and later). The systemd unit is installed, not enabled.";

pub fn build(release: &Release, out: &Path) -> Result<PathBuf> {
    let [dpkg_deb, _] =
        packages::ensure(&[("dpkg-deb", "dpkg"), ("md5sum", "coreutils")])?.try_into().expect("two programs asked for");
    let file = out.join(format!("tracer_{}_amd64.deb", release.version));
    step(format!("writing {}", file.display()));
    let root = release.work.join("deb");
    let usr = root.join("usr");
    put(&release.tracer, &usr.join("bin/tracer"), 0o755)?;
    for item in generated(release, "/usr")? {
        let name = item.target.file_name().expect("a file").to_string_lossy().into_owned();
        let target = item.target.to_string_lossy();
        if target.starts_with("share/man/") {
            let page = usr.join("share/man/man1").join(&name);
            put(&item.source, &page, 0o644)?;
            run(Command::new("gzip").args(["-9n", "--force"]).arg(&page))?;
        } else if let Some(dir) = debian_folder(&target) {
            put(&item.source, &usr.join(dir).join(&name), 0o644)?;
        } else if !target.starts_with("bin/") {
            bail!("the .deb has no place for {target}");
        }
    }
    let doc = usr.join("share/doc/tracer");
    fs::create_dir_all(&doc)?;
    fs::write(doc.join("copyright"), copyright()?)?;
    // Debian names a native package's changelog changelog.gz, another's changelog.Debian.gz;
    // a version with a hyphen (`-dirty`) is not native.
    let changelog = doc.join(if release.version.contains('-') { "changelog.Debian" } else { "changelog" });
    fs::write(&changelog, changelog_entry(release)?)?;
    run(Command::new("gzip").args(["-9n", "--force"]).arg(&changelog))?;
    let control = root.join("DEBIAN");
    fs::create_dir_all(&control)?;
    fs::write(control.join("md5sums"), md5sums(&root)?)?;
    fs::write(control.join("control"), control_file(release, installed_kib(&usr)?)?)?;
    run(Command::new(dpkg_deb)
        .args(["--root-owner-group", "-Zxz", "--build"])
        .arg(&root)
        .arg(&file)
        .env("SOURCE_DATE_EPOCH", release.epoch.to_string()))?;
    Ok(file)
}

/// Where Debian's shells look for completions (zsh: vendor-completions, not site-functions,
/// which is for the administrator).
fn debian_folder(target: &str) -> Option<&'static str> {
    if target.contains("bash-completion") {
        Some("share/bash-completion/completions")
    } else if target.contains("zsh") {
        Some("share/zsh/vendor-completions")
    } else if target.contains("fish") {
        Some("share/fish/vendor_completions.d")
    } else if target.ends_with(".service") {
        Some("lib/systemd/system")
    } else {
        None
    }
}

fn control_file(release: &Release, installed_kib: u64) -> Result<String> {
    let mut text = String::new();
    writeln!(text, "Package: tracer")?;
    writeln!(text, "Version: {}", release.version)?;
    writeln!(text, "Architecture: amd64")?;
    writeln!(text, "Maintainer: {}", maintainer()?)?;
    writeln!(text, "Installed-Size: {installed_kib}")?;
    // The unit's ExecReload runs /bin/kill. The binary itself needs no library at all.
    writeln!(text, "Depends: procps")?;
    writeln!(text, "Section: admin")?;
    writeln!(text, "Priority: optional")?;
    writeln!(text, "Description: {SYNOPSIS}")?;
    for line in DESCRIPTION.lines() {
        writeln!(text, " {line}")?;
    }
    Ok(text)
}

/// `DEBFULLNAME <DEBEMAIL>` as Debian's own tools take them, else the HEAD commit's author.
fn maintainer() -> Result<String> {
    if let (Ok(name), Ok(email)) = (std::env::var("DEBFULLNAME"), std::env::var("DEBEMAIL")) {
        return Ok(format!("{name} <{email}>"));
    }
    let output = Command::new("git").current_dir(workspace_root()).args(["log", "-1", "--format=%an <%ae>"]).output();
    let author = output.map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned()).unwrap_or_default();
    if author.is_empty() {
        bail!("no maintainer for the .deb: set DEBFULLNAME and DEBEMAIL");
    }
    Ok(author)
}

/// One entry for the version being built; what changed is in CHANGELOG.md upstream.
fn changelog_entry(release: &Release) -> Result<String> {
    let output = Command::new(&release.tracer).arg("--version").output()?;
    let built = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let date = Command::new("date").args(["-u", "-R", "-d"]).arg(format!("@{}", release.epoch)).output()?;
    let date = String::from_utf8_lossy(&date.stdout).trim().to_owned();
    Ok(format!(
        "tracer ({}) unstable; urgency=medium\n\n  * Built from upstream's sources with `cargo xtask dist`:\n    {built}.\n    \
         Upstream's CHANGELOG.md lists the changes.\n\n -- {}  {date}\n",
        release.version,
        maintainer()?
    ))
}

/// DEP-5: MIT's text in full (Debian has no common copy of it), Apache-2.0 by reference to
/// /usr/share/common-licenses.
fn copyright() -> Result<String> {
    let mit_path = workspace_root().join("LICENSE-MIT");
    let mit = fs::read_to_string(&mit_path).with_context(|| format!("cannot read {}", mit_path.display()))?;
    let holders: Vec<&str> = mit
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Copyright"))
        .map(|rest| rest.trim_start_matches([' ', '(', 'c', 'C', ')', '©']).trim())
        .collect();
    let holders = if holders.is_empty() { vec!["the tracer developers"] } else { holders };
    // Debian wants the years with each holder: those of the project's first and latest commits.
    let years = years()?;
    let holders: Vec<String> = holders.iter().map(|holder| format!("{years} {holder}")).collect();
    let holders = holders.join("\n           ");
    let mut text = String::from(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: tracer\n\n",
    );
    writeln!(text, "Files: *\nCopyright: {holders}\nLicense: MIT or Apache-2.0\n")?;
    writeln!(text, "License: MIT")?;
    for line in mit.trim().lines() {
        if line.trim().is_empty() {
            text.push_str(" .\n");
        } else {
            writeln!(text, " {}", line.trim_end())?;
        }
    }
    text.push_str(
        "\nLicense: Apache-2.0\n On Debian systems, the complete text of the Apache License, Version 2.0\n \
         can be found in /usr/share/common-licenses/Apache-2.0.\n",
    );
    Ok(text)
}

/// `2026`, or `2025-2026`: the years of the first and the latest commit.
fn years() -> Result<String> {
    let output = Command::new("git")
        .current_dir(workspace_root())
        .args(["log", "--format=%cd", "--date=format:%Y"])
        .output()
        .context("cannot run git")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let (Some(latest), Some(first)) = (text.lines().next(), text.lines().last()) else {
        bail!("no git history to take the copyright years from");
    };
    Ok(if first == latest { latest.to_owned() } else { format!("{first}-{latest}") })
}

/// `md5sum` of every file below `root`, by its path inside the package.
fn md5sums(root: &Path) -> Result<String> {
    let mut files = Vec::new();
    collect_files(root, root, &mut files)?;
    files.sort();
    let output = Command::new("md5sum").current_dir(root).args(&files).output().context("cannot run md5sum")?;
    if !output.status.success() {
        bail!("md5sum failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn collect_files(root: &Path, dir: &Path, files: &mut Vec<String>) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            if path != root.join("DEBIAN") {
                collect_files(root, &path, files)?;
            }
        } else {
            files.push(path.strip_prefix(root)?.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

/// The Installed-Size dpkg-gencontrol would compute: KiB per file, rounded up, plus one per
/// folder.
fn installed_kib(dir: &Path) -> Result<u64> {
    let mut total = 1;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        total += if entry.file_type()?.is_dir() {
            installed_kib(&entry.path())?
        } else {
            entry.metadata()?.len().div_ceil(1024)
        };
    }
    Ok(total)
}

/// `lintian`'s tags for `deb`, one per line (`E: tracer: tag …`).
pub fn lintian(deb: &Path) -> Result<Vec<String>> {
    let [lintian] = packages::ensure(&[("lintian", "lintian")])?.try_into().expect("one program asked for");
    let output = Command::new(lintian)
        .args(["--display-info", "--tag-display-limit", "0"])
        .arg(deb)
        .output()
        .context("cannot run lintian")?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect())
}
