//! apt for the guest kernels: the machine's own configuration for its own suite, and a private
//! one under `target/vm/apt/` for the suites it does not list (bullseye, trixie), from the same
//! mirror. The machine's apt sources are never touched: the private list, package lists and
//! cache are named with `-o Dir::…` on every call.
use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use super::series::Suite;
use crate::{
    command::{is_root, run, step},
    packages,
};

/// The keyring Debian's own sources are signed with, when the machine's sources name none.
const DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// How apt is run for one suite.
#[derive(Clone)]
pub enum Apt {
    /// The machine's own configuration.
    System,
    /// `-o` options pointing apt at the private list, lists and cache.
    Private { options: Vec<String>, lists: PathBuf },
}

impl Apt {
    /// The apt that knows `suite`'s packages; for a private suite, the configuration under
    /// `dir/apt/` (written on first use).
    pub fn for_suite(suite: Suite, dir: &Path) -> Result<Apt> {
        if !suite.is_private() {
            return Ok(Apt::System);
        }
        let root = dir.join("apt");
        let list = root.join("sources.list");
        let lists = root.join("lists");
        let cache = root.join("cache");
        for sub in [lists.join("partial"), cache.join("archives/partial")] {
            fs::create_dir_all(&sub).with_context(|| format!("cannot create {}", sub.display()))?;
        }
        let (mirror, keyring) = machine_mirror()?;
        let text: String = Suite::PRIVATE
            .iter()
            .map(|suite| format!("deb [signed-by={keyring}] {mirror} {} main\n", suite.name()))
            .collect();
        if fs::read_to_string(&list).ok().as_deref() != Some(text.as_str()) {
            fs::write(&list, &text).with_context(|| format!("cannot write {}", list.display()))?;
        }
        let path = |path: &Path| path.display().to_string();
        let options = vec![
            format!("Dir::Etc::SourceList={}", path(&list)),
            "Dir::Etc::SourceParts=/dev/null".to_owned(),
            format!("Dir::State::Lists={}", path(&lists)),
            format!("Dir::Cache={}", path(&cache)),
        ];
        Ok(Apt::Private { options, lists })
    }

    /// `program` (`apt-get`, `apt-cache`) with this configuration.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        if let Apt::Private { options, .. } = self {
            for option in options {
                command.arg("-o").arg(option);
            }
        }
        if is_root() {
            // apt's sandbox user cannot write into folders under target/; root fetches itself.
            command.args(["-o", "APT::Sandbox::User=root"]);
        }
        command.env("DEBIAN_FRONTEND", "noninteractive");
        command
    }

    /// Whether this configuration has package lists at all (a private one starts without).
    pub fn has_lists(&self) -> bool {
        match self {
            Apt::System => true,
            Apt::Private { lists, .. } => fs::read_dir(lists)
                .map(|entries| entries.filter_map(Result::ok).any(|entry| entry.file_name() != "partial"))
                .unwrap_or(false),
        }
    }

    /// `apt-get update`: the machine's lists through `packages`, the private ones directly
    /// (they live under target/, so no root is needed beyond writing there).
    pub fn update(&self) -> Result<()> {
        match self {
            Apt::System => packages::apt_update(),
            Apt::Private { .. } => {
                step(format!(
                    "updating the private package lists of {} (apt-get update, under target/vm/apt/)",
                    Suite::PRIVATE.map(Suite::name).join(" and ")
                ));
                run(self.command("apt-get").arg("update").arg("-q")).context("apt-get update (private lists) failed")
            }
        }
    }
}

/// The Debian mirror the machine's own apt sources name (deb822 `debian.sources` or a
/// one-line `sources.list`), and the keyring they are signed with.
fn machine_mirror() -> Result<(String, String)> {
    let deb822 = Path::new("/etc/apt/sources.list.d/debian.sources");
    if let Ok(text) = fs::read_to_string(deb822) {
        for stanza in text.split("\n\n") {
            let value =
                |key: &str| stanza.lines().find_map(|line| line.strip_prefix(key).map(|rest| rest.trim().to_owned()));
            let (Some(uris), Some(suites)) = (value("URIs:"), value("Suites:")) else { continue };
            // The main archive, not the security one: it is the one carrying the other suites.
            if suites.split_whitespace().any(|suite| !suite.contains('-')) {
                let uri = uris.split_whitespace().next().unwrap_or_default().to_owned();
                let keyring = value("Signed-By:").unwrap_or_else(|| DEBIAN_KEYRING.to_owned());
                return Ok((uri, keyring));
            }
        }
    }
    let list = Path::new("/etc/apt/sources.list");
    if let Ok(text) = fs::read_to_string(list) {
        for line in text.lines().map(str::trim).filter(|line| line.starts_with("deb ")) {
            let words: Vec<&str> = line.split_whitespace().filter(|word| !word.starts_with('[')).collect();
            if let [_, uri, suite, ..] = words.as_slice()
                && !suite.contains('-')
            {
                return Ok(((*uri).to_owned(), DEBIAN_KEYRING.to_owned()));
            }
        }
    }
    bail!("neither {} nor {} names a Debian mirror to fetch other suites from", deb822.display(), list.display())
}
