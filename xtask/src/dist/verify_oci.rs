//! The OCI image, as a container host would run it: `podman load` reads the archive, and tracer
//! in a container started with the line docs/distribution.md gives ([`RUN_FLAGS`]) sees a
//! process the test starts on the host and one it starts in another container, whose event
//! names that container's ID.
use std::{
    io::{BufRead, BufReader, Read},
    os::unix::fs::symlink,
    path::Path,
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::{oci, verify::Podman};
use crate::{command::step, packages};

/// The shortest `podman run` flags that trace the whole machine from the image (measured; see
/// docs/distribution.md): BPF needs what `--privileged` grants (podman's seccomp profile
/// refuses bpf() to CAP_BPF alone), `--pid=host` gives tracer the host's /proc (ancestors,
/// names), and the host's cgroup hierarchy names each task's cgroup and container (a container
/// only sees its own cgroups).
pub const RUN_FLAGS: [&str; 4] = ["--privileged", "--pid=host", "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:ro"];
/// How long the traced container runs.
const TRACE_SECONDS: &str = "6";
const HOST_COMM: &str = "oci-host-probe";
const CONTAINER_COMM: &str = "oci-probe";

/// Returns what passed.
pub fn run(podman: &Podman, dir: &Path, archive: &Path) -> Result<String> {
    let version = archive
        .file_name()
        .and_then(|name| name.to_str()?.strip_prefix("tracer-")?.strip_suffix("-oci.tar"))
        .context("an OCI archive named tracer-VERSION-oci.tar")?;
    let image = oci::image_name(version);
    let _ = podman.command().args(["rmi", "--force", &image]).output();
    step(format!("podman load -i {}", archive.display()));
    podman.output(&["load", "--input", &archive.to_string_lossy()])?;
    podman.output(&["image", "exists", &image]).with_context(|| format!("podman load did not make {image}"))?;
    let probe_image = probe_image(podman, dir)?;

    step(format!(
        "tracer from the image (podman run {} {image}) traces a host process and a container",
        RUN_FLAGS.join(" ")
    ));
    let mut tracer = podman
        .command()
        .args(["run", "--rm"])
        .args(RUN_FLAGS)
        .args([&image, "--json", "--duration", TRACE_SECONDS])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start podman run")?;
    let (attached, attached_rx) = mpsc::channel();
    let stderr = tracer.stderr.take().expect("piped");
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("Attached") {
                let _ = attached.send(());
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let mut stdout = tracer.stdout.take().expect("piped");
    let stdout_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let ready = attached_rx.recv_timeout(Duration::from_secs(30)).is_ok();
    let container = if ready { start_both(podman, dir, &probe_image) } else { Ok(String::new()) };
    let status = tracer.wait()?;
    let (stdout, stderr) = (stdout_reader.join().unwrap_or_default(), stderr_reader.join().unwrap_or_default());
    if !ready {
        bail!("tracer in the image never attached ({status}): {}", stderr.trim());
    }
    let container = container?;
    if !matches!(status.code(), Some(0 | 3)) {
        bail!("tracer in the image exited with {status}: {}", stderr.trim());
    }
    let events: Vec<Value> = stdout.lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
    let exec_of = |comm: &str| events.iter().find(|event| event["event"] == "exec" && event["comm"] == comm);
    let host = exec_of(HOST_COMM)
        .with_context(|| format!("no exec event of the host's {HOST_COMM} in {} events", events.len()))?;
    if !host["container"].is_null() {
        bail!("the host process is attributed to a container: {host}");
    }
    let inside = exec_of(CONTAINER_COMM).with_context(|| {
        format!("no exec event of {CONTAINER_COMM} in the other container in {} events", events.len())
    })?;
    if inside["container"] != container.as_str() {
        bail!("{CONTAINER_COMM}'s event names container {} instead of {container}: {inside}", inside["container"]);
    }
    Ok(format!("the OCI image loaded, and traced a host process and a container's (ID {})", &container[..12]))
}

/// Starts the host probe and the probe container; returns the container's ID.
fn start_both(podman: &Podman, dir: &Path, probe_image: &str) -> Result<String> {
    let host_probe = dir.join(HOST_COMM);
    let _ = std::fs::remove_file(&host_probe);
    let [sleep] = packages::ensure(&[("sleep", "coreutils")])?.try_into().expect("one program asked for");
    symlink(sleep, &host_probe)?;
    let status = Command::new(&host_probe).arg("0.1").status().context("cannot run the host probe")?;
    if !status.success() {
        bail!("{} failed ({status})", host_probe.display());
    }
    // The container outlives its probe by a second, so its cgroup is still there to be named.
    let id = podman
        .output(&[
            "run",
            "--detach",
            "--network=none",
            probe_image,
            "/bin/sh",
            "-c",
            &format!("/bin/{CONTAINER_COMM}; sleep 1"),
        ])?
        .trim()
        .to_owned();
    podman.output(&["wait", &id])?;
    podman.output(&["rm", "--force", &id])?;
    if id.len() != 64 {
        bail!("podman run --detach printed {id:?}, not a container ID");
    }
    Ok(id)
}

/// A busybox image whose `/bin/oci-probe` is busybox under another name: exec'd, it carries
/// that comm (and exits at once: busybox has no applet of that name).
fn probe_image(podman: &Podman, dir: &Path) -> Result<String> {
    let name = "localhost/tracer-dist-probe:1".to_owned();
    if podman.output(&["image", "exists", &name]).is_ok() {
        return Ok(name);
    }
    let [busybox] = packages::ensure(&[("busybox", "busybox-static")])?.try_into().expect("one program asked for");
    let root = dir.join("probe-rootfs");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("bin"))?;
    std::fs::copy(&busybox, root.join("bin/busybox"))?;
    for applet in ["sh", "sleep", CONTAINER_COMM] {
        symlink("busybox", root.join("bin").join(applet))?;
    }
    let tarball = dir.join("probe-rootfs.tar");
    crate::command::run(Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tarball).arg("."))?;
    podman.output(&["import", &tarball.to_string_lossy(), &name])?;
    Ok(name)
}
