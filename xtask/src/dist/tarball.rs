//! `tracer-VERSION-x86_64-unknown-linux-musl.tar.gz`: one folder, laid out as ripgrep's release
//! archives are: the binary at the top beside README, CHANGELOG, licences and docs/, then `man/`,
//! `completions/{bash,zsh,fish}/` and `tracer.service` (its ExecStart names
//! /usr/local/bin/tracer, where docs/distribution.md says to put the binary).
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::{Release, SHIPPED_FILES, generated, musl::TARGET, put, put_tree, tar};
use crate::command::{step, workspace_root};

pub fn build(release: &Release, out: &Path) -> Result<PathBuf> {
    let name = format!("tracer-{}-{TARGET}", release.version);
    let file = out.join(format!("{name}.tar.gz"));
    step(format!("writing {}", file.display()));
    let root = release.work.join("tarball");
    put(&release.tracer, &root.join("tracer"), 0o755)?;
    for item in generated(release, "/usr/local")? {
        let target = item.target.to_string_lossy();
        let at = match () {
            _ if target.starts_with("bin/") => continue,
            _ if target.starts_with("share/man/") => Path::new("man").to_owned(),
            _ if target.contains("bash-completion") => Path::new("completions/bash").to_owned(),
            _ if target.contains("zsh") => Path::new("completions/zsh").to_owned(),
            _ if target.contains("fish") => Path::new("completions/fish").to_owned(),
            _ if target.ends_with(".service") => PathBuf::new(),
            _ => bail!("the tarball has no place for {target}"),
        };
        put(&item.source, &root.join(at).join(item.target.file_name().expect("a file")), 0o644)?;
    }
    let source = workspace_root();
    for shipped in SHIPPED_FILES {
        put(&source.join(shipped), &root.join(shipped), 0o644)?;
    }
    if source.join("docs").is_dir() {
        put_tree(&source.join("docs"), &root.join("docs"))?;
    }
    tar(&root, &name, release.epoch, &file)?;
    Ok(file)
}
