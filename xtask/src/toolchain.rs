//! The toolchain the eBPF object needs: a nightly pinned by date, with `rust-src` (for
//! `-Z build-std=core`), and `bpf-linker` built against that nightly's own libLLVM, installed once
//! under `target/tools/` and reused.
//!
//! The pin matters: bpf-linker must link the same LLVM the nightly's rustc emits, and a floating
//! `nightly` changes LLVM under our feet. Moving to a newer nightly is a deliberate edit of
//! [`NIGHTLY_DATE`] (then `cargo xtask build` rebuilds bpf-linker once).
//!
//! Where the pinned toolchain comes from, first match wins:
//! 1. `nightly-DATE` installed by rustup;
//! 2. `tracer-nightly-DATE`, a rustup link made by an earlier run (3.), if it still holds DATE;
//! 3. another installed nightly of exactly that date (the plain `nightly` channel, typically, on a
//!    machine that cannot download toolchains): linked as `tracer-nightly-DATE` with
//!    `rustup toolchain link` (rustup refuses official-looking names such as `nightly-DATE` for
//!    links);
//! 4. `rustup toolchain install nightly-DATE`.
//!
//! A linked toolchain cannot take components through rustup (`rustup component add --toolchain`
//! rejects custom names), so `rust-src` is added to the toolchain it points at before linking.
use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::command::{run, step, target_dir};

/// The rustup distribution date of the pinned nightly (`date` in its channel manifest). Its rustc
/// is `1.97.0-nightly (e50aa6fba 2026-05-19)`: a nightly is published the day after its last
/// commit, so the commit date shown by `rustc -V` is one day earlier.
pub const NIGHTLY_DATE: &str = "2026-05-20";
const BPF_LINKER_VERSION: &str = "0.13.0";
/// Written into the bpf-linker cache folder: the sysroot whose libLLVM it was linked against.
const BUILT_AGAINST: &str = ".built-against";

/// The pinned nightly, ready to use with `cargo +NAME` / `rustup run NAME`.
pub struct Nightly {
    pub name: String,
    pub sysroot: PathBuf,
}

/// What the eBPF build needs.
pub struct BpfToolchain {
    /// The pinned nightly's rustup name.
    pub nightly: String,
    /// Directory holding `bpf-linker`.
    pub linker_dir: PathBuf,
    /// The nightly's sysroot (its `libLLVM` and `rust-objcopy`).
    pub sysroot: PathBuf,
}

pub fn ensure() -> Result<BpfToolchain> {
    let nightly = pinned_nightly()?;
    ensure_rust_src(&nightly)?;
    let linker_dir = ensure_bpf_linker(&nightly)?;
    Ok(BpfToolchain { nightly: nightly.name, linker_dir, sysroot: nightly.sysroot })
}

fn official_name() -> String {
    format!("nightly-{NIGHTLY_DATE}")
}

fn link_name() -> String {
    format!("tracer-nightly-{NIGHTLY_DATE}")
}

/// An installed toolchain as `rustup toolchain list -v` shows it.
#[derive(Debug, PartialEq)]
struct Installed {
    name: String,
    path: PathBuf,
}

/// Finds, links or installs the pinned nightly.
fn pinned_nightly() -> Result<Nightly> {
    let installed = installed_toolchains()?;
    let official = official_name();
    if let Some(found) = installed.iter().find(|toolchain| is_named(&toolchain.name, &official)) {
        return checked(&official, &found.path);
    }
    let link = link_name();
    if let Some(found) = installed.iter().find(|toolchain| toolchain.name == link) {
        match dist_date(&found.path) {
            Some(date) if date == NIGHTLY_DATE => return checked(&link, &found.path),
            date => {
                // The toolchain it points at was updated in place (`rustup update nightly`).
                step(format!(
                    "{link} points at {}, which now holds a toolchain of {}, not of {NIGHTLY_DATE}: removing that link",
                    found.path.display(),
                    date.as_deref().unwrap_or("an unknown date")
                ));
                run(Command::new("rustup").args(["toolchain", "uninstall", &link]))?;
            }
        }
    }
    let same_date = installed
        .iter()
        .find(|toolchain| toolchain.name != link && dist_date(&toolchain.path).as_deref() == Some(NIGHTLY_DATE));
    if let Some(source) = same_date {
        step(format!(
            "the pinned {official} is not installed, but {} is that very nightly: linking it as {link}",
            source.name
        ));
        if !has_rust_src(&source.path) {
            add_rust_src(&source.name)?;
        }
        let linked = Command::new("rustup").args(["toolchain", "link", &link]).arg(&source.path).status();
        // Another build may have linked it in the meantime.
        let now = installed_toolchains()?;
        if let Some(found) = now.iter().find(|toolchain| toolchain.name == link) {
            return checked(&link, &found.path);
        }
        bail!("`rustup toolchain link {link} {}` failed ({linked:?})", source.path.display());
    }
    step(format!("installing the pinned {official} with rust-src (rustup toolchain install)"));
    let installed = run(Command::new("rustup").args(["toolchain", "install", &official]).args([
        "--profile",
        "minimal",
        "--component",
        "rust-src",
    ]));
    if let Err(error) = installed {
        bail!(
            "the eBPF build needs the nightly toolchain {official} (pinned in xtask/src/toolchain.rs: bpf-linker is \
             built against its LLVM), and rustup could not install it: {error:#}. Install it with \
             `rustup toolchain install {official} --component rust-src`, or, offline, link a local copy of that same \
             nightly: `rustup toolchain link {} <its sysroot>`",
            link_name()
        );
    }
    let found = installed_toolchains()?
        .into_iter()
        .find(|toolchain| is_named(&toolchain.name, &official))
        .with_context(|| format!("rustup installed {official}, but `rustup toolchain list` does not show it"))?;
    checked(&official, &found.path)
}

/// `name` is `wanted`, possibly with the host triple rustup appends.
fn is_named(name: &str, wanted: &str) -> bool {
    name == wanted
        || name.strip_prefix(wanted).is_some_and(|rest| rest.starts_with('-') && rest.matches('-').count() >= 2)
}

/// The toolchain `name` at `path`, after checking that it is the pinned date.
fn checked(name: &str, path: &Path) -> Result<Nightly> {
    match dist_date(path) {
        Some(date) if date == NIGHTLY_DATE => {}
        Some(date) => {
            bail!("toolchain {name} ({}) is the nightly of {date}, not the pinned {NIGHTLY_DATE}", path.display())
        }
        None => bail!(
            "toolchain {name} ({}) has no lib/rustlib/multirust-channel-manifest.toml: cannot tell whether it is the \
             pinned nightly of {NIGHTLY_DATE}",
            path.display()
        ),
    }
    Ok(Nightly { name: name.to_owned(), sysroot: path.to_path_buf() })
}

/// `rustup toolchain list -v`.
fn installed_toolchains() -> Result<Vec<Installed>> {
    let output = Command::new("rustup")
        .args(["toolchain", "list", "-v"])
        .output()
        .context("cannot run rustup: the eBPF build needs rustup to provide a pinned nightly toolchain")?;
    if !output.status.success() {
        bail!("rustup toolchain list failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(parse_toolchain_list(&String::from_utf8_lossy(&output.stdout)))
}

/// Lines like `stable-x86_64-unknown-linux-gnu (active, default) /root/.rustup/toolchains/stable-…`
/// or `my-link /some/path`; "no installed toolchains" yields nothing.
fn parse_toolchain_list(text: &str) -> Vec<Installed> {
    text.lines()
        .filter_map(|line| {
            let (name, _) = line.split_once(' ')?;
            let path = &line[line.find(" /")? + 1..];
            Some(Installed { name: name.to_owned(), path: PathBuf::from(path.trim_end()) })
        })
        .collect()
}

/// The distribution date rustup installed the toolchain at `path` from, e.g. `2026-05-20`.
fn dist_date(path: &Path) -> Option<String> {
    let manifest = fs::read_to_string(path.join("lib/rustlib/multirust-channel-manifest.toml")).ok()?;
    manifest_date(&manifest)
}

fn manifest_date(manifest: &str) -> Option<String> {
    manifest.lines().find_map(|line| {
        let value = line.strip_prefix("date")?.trim_start().strip_prefix('=')?.trim();
        Some(value.trim_matches('"').to_owned())
    })
}

fn has_rust_src(sysroot: &Path) -> bool {
    sysroot.join("lib/rustlib/src/rust/library/core").is_dir()
}

fn add_rust_src(toolchain: &str) -> Result<()> {
    step(format!("installing rust-src for {toolchain} (needed for -Z build-std=core)"));
    run(Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", toolchain]))
        .with_context(|| format!("cannot install rust-src for {toolchain}"))
}

fn ensure_rust_src(nightly: &Nightly) -> Result<()> {
    if has_rust_src(&nightly.sysroot) {
        return Ok(());
    }
    if nightly.name == link_name() {
        bail!(
            "{} links {}, which has no rust-src, and rustup cannot add components to a linked toolchain: add it to \
             the toolchain installed there (`rustup component add rust-src --toolchain <that toolchain>`)",
            nightly.name,
            nightly.sysroot.display()
        );
    }
    add_rust_src(&nightly.name)
}

/// The nightly's libLLVM, e.g. `LLVM-22-rust-1.97.0-nightly`, and its major version.
fn nightly_llvm(sysroot: &Path) -> Result<(String, String)> {
    let lib = sysroot.join("lib");
    let name = fs::read_dir(&lib)
        .with_context(|| format!("cannot list {}", lib.display()))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .find_map(|file| {
            file.strip_prefix("lib")?.strip_suffix(".so").filter(|stem| stem.starts_with("LLVM-")).map(str::to_owned)
        })
        .with_context(|| format!("the nightly toolchain ships no libLLVM-*.so in {}", lib.display()))?;
    let major = name.trim_start_matches("LLVM-").split(['-', '.']).next().unwrap_or_default().to_owned();
    Ok((name, major))
}

/// bpf-linker under `target/tools/`, keyed by its version, the pinned nightly and the libLLVM it
/// links; it also records the sysroot it was linked against (its rpath), and is rebuilt if that
/// changed or the binary no longer starts.
fn ensure_bpf_linker(nightly: &Nightly) -> Result<PathBuf> {
    let (llvm, major) = nightly_llvm(&nightly.sysroot)?;
    let root =
        target_dir().join("tools").join(format!("bpf-linker-{BPF_LINKER_VERSION}-nightly-{NIGHTLY_DATE}-{llvm}"));
    let bin = root.join("bin");
    let lib = nightly.sysroot.join("lib");
    let stamp = format!("{}\n", lib.display());
    let built_against = fs::read_to_string(root.join(BUILT_AGAINST)).unwrap_or_default();
    if built_against == stamp && starts(&bin.join("bpf-linker")) {
        return Ok(bin);
    }
    if root.exists() {
        step(format!("{} is stale (built against another sysroot, or does not start): rebuilding it", root.display()));
        fs::remove_dir_all(&root).with_context(|| format!("cannot remove {}", root.display()))?;
    }
    step(format!("building bpf-linker {BPF_LINKER_VERSION} against {}'s {llvm} (once, about a minute)", nightly.name));
    let rustflags = format!("-L native={lib} -l dylib={llvm} -C link-arg=-Wl,-rpath,{lib}", lib = lib.display());
    run(Command::new("cargo")
        .args([&format!("+{}", nightly.name), "install", "bpf-linker", "--version", BPF_LINKER_VERSION])
        .args(["--locked", "--no-default-features", "--features"])
        .arg(format!("llvm-{major},no-llvm-linking"))
        .arg("--root")
        .arg(&root)
        .env("RUSTFLAGS", rustflags)
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTUP_TOOLCHAIN"))
    .context("cannot build bpf-linker; it needs crates.io and the pinned nightly toolchain")?;
    fs::write(root.join(BUILT_AGAINST), stamp)?;
    Ok(bin)
}

/// Whether `bpf-linker --version` runs (its libLLVM is found through the rpath).
fn starts(linker: &Path) -> bool {
    Command::new(linker).arg("--version").output().is_ok_and(|output| output.status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toolchain_list_lines_give_name_and_path() {
        let text = "stable-x86_64-unknown-linux-gnu (active, default) /root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu\n\
                    nightly-x86_64-unknown-linux-gnu /root/.rustup/toolchains/nightly-x86_64-unknown-linux-gnu\n\
                    tracer-nightly-2026-05-20 /opt/my rust/nightly\n";
        let parsed = parse_toolchain_list(text);
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[0].name, "stable-x86_64-unknown-linux-gnu");
        assert_eq!(parsed[0].path, PathBuf::from("/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu"));
        assert_eq!(
            parsed[2],
            Installed { name: "tracer-nightly-2026-05-20".into(), path: "/opt/my rust/nightly".into() }
        );
        assert!(parse_toolchain_list("no installed toolchains\n").is_empty());
    }

    #[test]
    fn official_names_match_with_or_without_the_host_triple() {
        assert!(is_named("nightly-2026-05-20", "nightly-2026-05-20"));
        assert!(is_named("nightly-2026-05-20-x86_64-unknown-linux-gnu", "nightly-2026-05-20"));
        assert!(!is_named("nightly-2026-05-201", "nightly-2026-05-20"));
        assert!(!is_named("nightly-x86_64-unknown-linux-gnu", "nightly-2026-05-20"));
    }

    #[test]
    fn the_manifest_gives_the_distribution_date() {
        assert_eq!(manifest_date("manifest-version = \"2\"\ndate = \"2026-05-20\"\n").as_deref(), Some("2026-05-20"));
        assert_eq!(manifest_date("manifest-version = \"2\"\n"), None);
    }
}
