//! The packages leg of `cargo xtask test`: builds `target/dist/` as `cargo xtask dist` does, then
//! checks each package where a user would install it:
//! - lintian finds nothing in the .deb beyond the tags docs/distribution.md explains;
//! - the .deb, in clean Debian 11, 12 and 13 root filesystems run by podman (runc):
//!   `dpkg -i` installs it, `tracer --version` runs, `man -w tracer` finds the page,
//!   `systemd-analyze verify` accepts the unit, a two-second trace sees a process the test starts,
//!   and `dpkg --purge` leaves the file tree exactly as it was before the install;
//! - the OCI image ([`super::verify_oci`]).
use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, Result, bail};

use super::{deb, rootfs, verify_oci};
use crate::{
    build::Artifacts,
    command::{step, target_dir},
    packages,
};

/// lintian tags the .deb keeps on purpose; docs/distribution.md says why for each.
const EXPLAINED_TAGS: [&str; 4] = [
    "shared-library-lacks-prerequisites [usr/bin/tracer]",
    "binary-has-unneeded-section .comment [usr/bin/tracer]",
    "package-supports-alternative-init-but-no-init.d-script [usr/lib/systemd/system/tracer.service]",
    "spelling-error-in-binary",
];

/// podman as this machine needs it: runc (crun refuses the hybrid cgroup layout) and default
/// ulimits the sandbox can grant.
pub struct Podman {
    conf: PathBuf,
}

impl Podman {
    pub fn new(dir: &Path) -> Result<Self> {
        packages::ensure(&[("podman", "podman"), ("runc", "runc")])?;
        let conf = dir.join("containers.conf");
        std::fs::write(&conf, "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n")?;
        Ok(Self { conf })
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new("podman");
        command.env("CONTAINERS_CONF", &self.conf).args(["--runtime", "runc"]);
        command
    }

    /// Runs podman with `args`, failing with its stderr; returns its stdout.
    pub fn output(&self, args: &[&str]) -> Result<String> {
        let output = self.command().args(args).output().context("cannot run podman")?;
        if !output.status.success() {
            bail!(
                "podman {} failed ({}): {}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// Runs the leg; returns what passed, with its time.
pub fn run(artifacts: &Artifacts) -> Result<String> {
    let started = Instant::now();
    let files = super::build_all(artifacts)?;
    let find = |suffix: &str| files.iter().find(|file| file.to_string_lossy().ends_with(suffix)).cloned();
    let deb_file = find(".deb").context("no .deb was built")?;
    let oci_file = find("-oci.tar").context("no OCI image was built")?;

    step("lintian on the .deb");
    let tags = deb::lintian(&deb_file)?;
    let unexplained: Vec<&String> =
        tags.iter().filter(|line| !EXPLAINED_TAGS.iter().any(|tag| line.contains(tag))).collect();
    for line in &tags {
        eprintln!("    {line}");
    }
    if !unexplained.is_empty() {
        bail!("lintian tags not explained in docs/distribution.md: {}", unexplained.len());
    }

    let dir = rootfs::cache_dir(&target_dir());
    std::fs::create_dir_all(&dir)?;
    let podman = Podman::new(&dir)?;
    let mut debians = Vec::new();
    for (suite, version) in rootfs::SUITES {
        let image = rootfs::image(&dir, suite, &podman)?;
        step(format!("the .deb on Debian {version} ({suite}): install, run, man, unit, trace, purge"));
        install_and_purge(&podman, &image, &deb_file).with_context(|| format!("on Debian {version} ({suite})"))?;
        debians.push(version);
    }
    let oci = verify_oci::run(&podman, &dir, &oci_file)?;
    Ok(format!(
        "lintian: only the {} tags docs/distribution.md explains; the .deb installed, ran, traced and purged cleanly on Debian {}; {oci} ({:.0} s)",
        tags.len(),
        debians.join(", "),
        started.elapsed().as_secs_f64()
    ))
}

/// What runs inside the clean system: every check, `OK` as the last line when all passed.
const INSTALL_SCRIPT: &str = r#"set -eu
listing() {
    find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /run \
        -o -path /var/cache -o -path /var/lib/dpkg -o -path /var/log \) -prune -o -print | sort
}
listing > /tmp/before
dpkg -i "/dist/$DEB" > /tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
tracer --version | tee /tmp/version
grep -q '^tracer [0-9]' /tmp/version
echo "man page: $(man -w tracer)"
systemd-analyze verify /usr/lib/systemd/system/tracer.service
# A trace of a process started here, picked by its comm (the name it was exec'd under).
tracer --json --duration 3 > /tmp/events 2> /tmp/tracer.err &
tracer=$!
tries=0
until grep -q Attached /tmp/tracer.err; do
    tries=$((tries + 1))
    [ "$tries" -lt 200 ] || { cat /tmp/tracer.err; exit 1; }
    sleep 0.05
done
ln -s /bin/sleep /tmp/deb-probe
/tmp/deb-probe 0.1
wait "$tracer" || [ $? -eq 3 ]
grep '"comm":"deb-probe"' /tmp/events | grep -q '"event":"exec"' || { echo "no exec event of deb-probe"; cat /tmp/tracer.err; exit 1; }
echo "traced: $(grep -c '"comm":"deb-probe"' /tmp/events) events of deb-probe"
rm /tmp/deb-probe
dpkg --purge tracer > /tmp/purge.log 2>&1 || { cat /tmp/purge.log; exit 1; }
listing > /tmp/after
diff /tmp/before /tmp/after || { echo "dpkg --purge left the tree different (above)"; exit 1; }
echo OK
"#;

fn install_and_purge(podman: &Podman, image: &str, deb_file: &Path) -> Result<()> {
    let dist = deb_file.parent().context("the .deb's folder")?;
    let name = deb_file.file_name().context("the .deb's name")?.to_string_lossy().into_owned();
    let output = podman
        .command()
        .args(["run", "--rm", "--privileged", "--pid=host", "--network=none"])
        .arg(format!("--volume={}:/dist:ro", dist.display()))
        .arg(format!("--env=DEB={name}"))
        .args([image, "/bin/sh", "-c", INSTALL_SCRIPT])
        .output()
        .context("cannot run podman")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in stdout.lines().chain(String::from_utf8_lossy(&output.stderr).lines()) {
        eprintln!("    | {line}");
    }
    if !output.status.success() || stdout.lines().last() != Some("OK") {
        bail!("the install test failed ({})", output.status);
    }
    Ok(())
}
