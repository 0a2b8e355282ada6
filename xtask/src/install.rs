//! `cargo xtask install [--prefix DIR] [--destdir DIR]`: builds, then installs the self-contained
//! `tracer` binary, a man page per command, bash, zsh and fish completions and the systemd unit
//! under the prefix. The pages and completions are printed by the freshly built binary
//! (`tracer --generate`), so they describe exactly the options it has.
use std::{
    ffi::CString,
    fs,
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::{
    build,
    command::{is_root, run, step, target_dir, workspace_root},
};

#[derive(clap::Args)]
pub struct Options {
    /// Where tracer is installed: PREFIX/bin/tracer, PREFIX/share/man/man1, …
    #[arg(long, value_name = "DIR", default_value = "/usr/local")]
    pub prefix: PathBuf,
    /// Stage the files under DIR instead of the live system (for packages): DIR/PREFIX/…, while
    /// the unit still runs PREFIX/bin/tracer.
    #[arg(long, value_name = "DIR")]
    pub destdir: Option<PathBuf>,
}

/// The unit template; `@BINDIR@` becomes PREFIX/bin.
const UNIT_TEMPLATE: &str = "packaging/tracer.service";

/// One file to install: where it is now, where it goes (below the prefix), its mode.
#[derive(Debug)]
pub struct Item {
    pub source: PathBuf,
    pub target: PathBuf,
    pub mode: u32,
}

pub fn install(options: &Options) -> Result<()> {
    if !options.prefix.is_absolute() {
        bail!("--prefix {}: expected an absolute path", options.prefix.display());
    }
    let artifacts = build::build()?;
    let staging = target_dir().join("install");
    let items = stage(&artifacts.tracer, &options.prefix, &staging)?;
    let root = match &options.destdir {
        Some(destdir) => destdir.join(options.prefix.strip_prefix("/").expect("absolute")),
        None => options.prefix.clone(),
    };
    put(&items, &root)?;
    for item in &items {
        println!("{}", root.join(&item.target).display());
    }
    if options.destdir.is_none() {
        next_steps(&options.prefix);
    }
    Ok(())
}

/// Generates every file into `staging` (emptied first) and says where each goes below `prefix`.
pub fn stage(tracer: &Path, prefix: &Path, staging: &Path) -> Result<Vec<Item>> {
    step(format!("generating man pages, completions and the unit into {}", staging.display()));
    if staging.exists() {
        fs::remove_dir_all(staging).with_context(|| format!("cannot empty {}", staging.display()))?;
    }
    fs::create_dir_all(staging).with_context(|| format!("cannot create {}", staging.display()))?;
    let mut items = vec![Item { source: tracer.to_owned(), target: "bin/tracer".into(), mode: 0o755 }];
    let list = generated(tracer, "list")?;
    for line in String::from_utf8(list).context("tracer --generate list printed non-UTF-8")?.lines() {
        let (what, file) = line.split_once(' ').with_context(|| format!("unexpected --generate list line {line:?}"))?;
        let dir = match what {
            _ if what == "man" || what.starts_with("man-") => "share/man/man1",
            "complete-bash" => "share/bash-completion/completions",
            "complete-zsh" => "share/zsh/site-functions",
            "complete-fish" => "share/fish/vendor_completions.d",
            _ => bail!("tracer --generate list names {what:?}, which the installer does not know where to put"),
        };
        let source = staging.join(file);
        fs::write(&source, generated(tracer, what)?).with_context(|| format!("cannot write {}", source.display()))?;
        items.push(Item { source, target: Path::new(dir).join(file), mode: 0o644 });
    }
    let template = workspace_root().join(UNIT_TEMPLATE);
    let unit = fs::read_to_string(&template).with_context(|| format!("cannot read {}", template.display()))?;
    let source = staging.join("tracer.service");
    fs::write(&source, render_unit(&unit, prefix)?).with_context(|| format!("cannot write {}", source.display()))?;
    // PREFIX/lib/systemd/system is in systemd's search path for /usr and /usr/local.
    items.push(Item { source, target: "lib/systemd/system/tracer.service".into(), mode: 0o644 });
    Ok(items)
}

/// The unit with the binary's directory filled in.
pub fn render_unit(template: &str, prefix: &Path) -> Result<String> {
    let bindir = prefix.join("bin");
    let bindir = bindir.to_str().context("the prefix is not UTF-8")?;
    if bindir.chars().any(|c| c.is_whitespace() || "\"'\\$%;".contains(c)) {
        bail!("--prefix {}: a unit's ExecStart cannot hold this path as is", prefix.display());
    }
    if !template.contains("@BINDIR@") {
        bail!("{UNIT_TEMPLATE} has no @BINDIR@ placeholder");
    }
    Ok(template.replace("@BINDIR@", bindir))
}

/// `tracer --generate WHAT`'s output.
fn generated(tracer: &Path, what: &str) -> Result<Vec<u8>> {
    let output = Command::new(tracer)
        .args(["--generate", what])
        .output()
        .with_context(|| format!("cannot run {}", tracer.display()))?;
    if !output.status.success() {
        bail!(
            "{} --generate {what} failed ({}): {}",
            tracer.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}

/// Copies the items below `root` with coreutils' `install` (which replaces a running binary
/// safely: it writes a new file rather than into the old one), through sudo when `root` is not
/// ours to write.
fn put(items: &[Item], root: &Path) -> Result<()> {
    let sudo = !is_root() && !writable(root);
    step(format!("installing into {}{}", root.display(), if sudo { " (through sudo)" } else { "" }));
    for item in items {
        let target = root.join(&item.target);
        let mut command = if sudo {
            let mut sudo = Command::new("sudo");
            sudo.arg("install");
            sudo
        } else {
            Command::new("install")
        };
        run(command.arg("-D").arg(format!("-m{:o}", item.mode)).arg(&item.source).arg(&target))?;
    }
    Ok(())
}

/// Whether this user may create files at `path` (checked at its nearest existing ancestor).
fn writable(path: &Path) -> bool {
    let existing = path.ancestors().find(|dir| dir.exists()).unwrap_or(Path::new("/"));
    let Ok(c) = CString::new(existing.as_os_str().as_bytes()) else { return false };
    // SAFETY: a valid C string.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

fn next_steps(prefix: &Path) {
    let on_path =
        std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir == prefix.join("bin")));
    if !on_path {
        println!("note: {} is not on PATH", prefix.join("bin").display());
    }
    if !matches!(prefix.to_str(), Some("/usr" | "/usr/local")) {
        println!(
            "note: systemd does not look for units in {0}; run `sudo systemctl link {0}`",
            prefix.join("lib/systemd/system/tracer.service").display()
        );
    }
    println!("To run tracer as a service: sudo systemctl daemon-reload && sudo systemctl enable --now tracer");
}

#[cfg(test)]
mod tests;
