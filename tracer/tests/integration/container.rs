//! Containers and cgroups against the real thing.
//!
//! `a_podman_container_is_seen_from_inside_and_selected_by_its_id`: podman (Debian's, with runc)
//! runs an image imported from a rootfs tarball this test builds: busybox, tracer-workload and
//! the libraries it loads. Inside, `tracer-workload container` spawns a thread, forks a child that
//! execs `sh -c 'exit 7'`, reports the IDs each has in the container (its own `NSpid`) and exits
//! with 42. It proves: `container` is podman's own ID and `cgroup` its cgroup; `ns_tgid`/`ns_tid`
//! are the IDs the container reads in `/proc/<id>/status`; and `--container <short ID>`, filtered
//! in the kernel, selects exactly the events an unfiltered tracer attributes to the container,
//! with the same ancestors (named by the kernel by host IDs: conmon, which adopted the container's
//! first process, above it).
//! Podman is not in the VM, whose leg skips this test; on the host a missing podman fails it
//! (`cargo xtask test` installs it).
//!
//! `a_cgroup_and_the_cgroups_created_below_it_are_selected`: `--cgroup` for a cgroup this test
//! creates, with a child cgroup created after tracer started (judged by the kernel side when it is
//! created); runs wherever the unified hierarchy is mounted (the VM mounts it too).

use std::{
    collections::BTreeMap,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::Command,
};

use crate::common::{
    Tracer, field, host_only, machine, need_program, one, report, require_root, run_tracer, workload_bin,
};
use serde_json::{Value, json};

/// A scratch folder removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("tracer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create scratch folder");
        Self(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The shared libraries `ldd` names for `binary` (the loader included).
fn libraries(binary: &Path) -> Vec<PathBuf> {
    let output = Command::new("ldd").arg(binary).output().expect("run ldd");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let path = line.split_once("=>").map_or(line, |(_, resolved)| resolved).split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

fn copy_into(root: &Path, file: &Path, at: &Path) {
    let target = root.join(at.strip_prefix("/").unwrap_or(at));
    std::fs::create_dir_all(target.parent().expect("a parent")).expect("create folder");
    std::fs::copy(file, &target).unwrap_or_else(|error| panic!("copy {}: {error}", file.display()));
}

/// podman with this machine's constraints: runc (crun refuses the hybrid cgroup layout) and
/// modest default ulimits (the sandbox cannot raise rlimits).
fn podman(conf: &Path) -> Command {
    let mut command = Command::new("podman");
    command.env("CONTAINERS_CONF", conf);
    command
}

fn run_podman(command: &mut Command) -> String {
    let output = command.output().expect("run podman");
    assert!(output.status.success(), "{command:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Removes what a test made with podman, however the test ends.
struct Made<'a> {
    conf: &'a Path,
    container: Option<String>,
    image: Option<String>,
}

impl Drop for Made<'_> {
    fn drop(&mut self) {
        if let Some(id) = &self.container {
            let _ = podman(self.conf).args(["rm", "--force", id]).output();
        }
        if let Some(image) = &self.image {
            let _ = podman(self.conf).args(["rmi", "--force", image]).output();
        }
    }
}

/// Builds the image from a rootfs tarball: busybox with `sh`, and tracer-workload with its
/// libraries at the paths it was linked against.
fn import_image(scratch: &Path, conf: &Path, busybox: &Path) -> String {
    let root = scratch.join("rootfs");
    copy_into(&root, busybox, Path::new("/bin/busybox"));
    for applet in ["sh", "cat", "true"] {
        symlink("busybox", root.join("bin").join(applet)).expect("applet link");
    }
    let workload = workload_bin();
    copy_into(&root, &workload, Path::new("/bin/tracer-workload"));
    for library in libraries(&workload) {
        copy_into(&root, &library, &library);
    }
    let tarball = scratch.join("rootfs.tar");
    let tar = Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tarball).arg(".").status().expect("run tar");
    assert!(tar.success(), "tar failed");
    let image = format!("localhost/tracer-test:{}", std::process::id());
    run_podman(podman(conf).arg("import").arg(&tarball).arg(&image));
    image
}

/// An event without its timestamp and the lifetime measured from it (two tracers stamp the
/// same kernel event nanoseconds apart).
fn untimed(event: &Value) -> String {
    let mut event = event.clone();
    let fields = event.as_object_mut().expect("an object");
    fields.remove("ts");
    fields.remove("lifetime_ns");
    // The kernel names the ancestors, whatever the filter; what runs them is what tracer saw
    // exec, or found in /proc, and a short-lived one (runc) may be gone by then.
    if let Some(ancestors) = fields.get_mut("ancestors").and_then(Value::as_array_mut) {
        for ancestor in ancestors {
            ancestor.as_object_mut().expect("an ancestor object").remove("exe");
        }
    }
    event.to_string()
}

#[test]
#[ignore = "needs root, podman and the eBPF object: run by `cargo xtask test`"]
fn a_podman_container_is_seen_from_inside_and_selected_by_its_id() {
    require_root();
    host_only("podman");
    need_program("podman", "podman");
    need_program("runc", "runc");
    let busybox = need_program("busybox", "busybox-static");
    let scratch = Scratch::new("container");
    let conf = scratch.0.join("containers.conf");
    std::fs::write(&conf, "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n")
        .expect("write containers.conf");
    let mut made = Made { conf: &conf, container: None, image: None };
    let image = import_image(&scratch.0, &conf, &busybox);
    made.image = Some(image.clone());
    let id = run_podman(
        podman(&conf)
            .args(["create", "--runtime", "runc", "--network", "none"])
            .arg(&image)
            .args(["/bin/tracer-workload", "container"]),
    );
    made.container = Some(id.clone());
    assert_eq!(id.len(), 64, "podman create prints the container's ID: {id}");
    let kinds = "fork,exec,exit,rename";
    let recording = scratch.0.join("everything.rec");
    let recording_arg = recording.to_string_lossy().into_owned();
    let everything = Tracer::start(&["--json", "-e", kinds, "-o", &recording_arg]);
    let selected = Tracer::start(&["--json", "-e", kinds, "--container", &id[..12]]);
    let started = podman(&conf).args(["start", "--attach", &id]).output().expect("run podman start");
    let (selected, everything) = (selected.stop(), everything.stop());
    drop(made);
    let stdout = String::from_utf8_lossy(&started.stdout);
    assert_eq!(started.status.code(), Some(42), "the container's exit code: {stdout}");
    let inside = report(&stdout);
    let context = format!("[{} container {}]", machine(), &id[..12]);

    // Which container, as the unfiltered tracer sees it.
    let all = everything.events();
    let ours: Vec<&Value> = all.iter().filter(|event| event["container"] == id.as_str()).collect();
    assert!(!ours.is_empty(), "{context} no event carries podman's ID");
    for event in &ours {
        assert!(
            event["cgroup"].as_str().is_some_and(
                |path| path.ends_with(&format!("libpod-{id}")) || path.ends_with(&format!("libpod-{id}.scope"))
            ),
            "{context} {event}"
        );
    }
    let ours: Vec<Value> = ours.into_iter().cloned().collect();

    // The first process: PID 1 inside, exit code 42.
    let exec = one(&ours, "exec of the workload", |e| e["event"] == "exec" && e["comm"] == "tracer-workload");
    let host_pid = field(exec, "tgid");
    let pidns = field(exec, "pidns");
    assert_eq!(inside["nspid"], json!([field(exec, "ns_tgid")]), "{context} {exec} vs {inside}");
    assert_eq!((field(exec, "ns_tgid"), field(exec, "ns_tid")), (1, 1), "{context} {exec}");
    assert_ne!(host_pid, 1, "{context} the host sees another PID");
    let exit = one(&ours, "exit of the first process", |e| {
        e["event"] == "exit" && e["tgid"] == host_pid && e["group_dead"] == true
    });
    assert_eq!((exit["exit_code"].clone(), field(exit, "ns_tgid")), (json!(42), 1), "{context} {exit}");

    // Its thread: the IDs the thread read in its own status.
    let thread_ns = inside["thread_nspid"][0].as_u64().expect("thread NSpid");
    let fork = one(&ours, "the thread's creation", |e| {
        e["event"] == "fork" && e["tgid"] == host_pid && e["thread"] == true && e["comm"] == "tracer-workload"
    });
    assert_eq!((field(fork, "child_ns_tgid"), field(fork, "child_ns_tid")), (1, thread_ns), "{context} {fork}");
    assert_eq!(fork["child_namespaces"], json!({}), "{context} a thread shares its creator's namespaces");
    let thread_exit = one(&ours, "the thread's exit", |e| e["event"] == "exit" && e["tid"] == fork["child_tid"]);
    assert_eq!((field(thread_exit, "ns_tgid"), field(thread_exit, "ns_tid")), (1, thread_ns), "{context}");

    // Its child: forked, exec'd sh, exit 7.
    let child_ns = inside["child_nspid"][0].as_u64().expect("child NSpid");
    assert_eq!(field(&inside, "child_pid"), child_ns, "fork returned the ID the child has inside");
    let fork =
        one(&ours, "the child's creation", |e| e["event"] == "fork" && e["tgid"] == host_pid && e["thread"] == false);
    assert_eq!((field(fork, "child_ns_tgid"), field(fork, "child_ns_tid")), (child_ns, child_ns), "{context}");
    let child = field(fork, "child_tgid");
    let exec = one(&ours, "the child's exec", |e| e["event"] == "exec" && e["tgid"] == child);
    assert_eq!((exec["filename"].clone(), field(exec, "ns_tgid")), (json!("/bin/sh"), child_ns), "{context} {exec}");
    let exit = one(&ours, "the child's exit", |e| e["event"] == "exit" && e["tgid"] == child);
    assert_eq!((exit["exit_code"].clone(), field(exit, "ns_tid")), (json!(7), child_ns), "{context} {exit}");
    for event in ours.iter().filter(|e| e["tgid"] == host_pid || e["tgid"] == child) {
        assert_eq!(field(event, "pidns"), pidns, "{context} one PID namespace: {event}");
    }

    // Ancestors across the namespace's edge, by the host's IDs: the container's first process
    // was adopted by conmon (a subreaper) before it exec'd; its child names it, then conmon.
    let first_exec = one(&ours, "exec of the workload", |e| e["event"] == "exec" && e["comm"] == "tracer-workload");
    let identity =
        |ancestor: &Value| (ancestor["tgid"].clone(), ancestor["start_ns"].clone(), ancestor["comm"].clone());
    let above_first = first_exec["ancestors"].as_array().expect("ancestors");
    assert_eq!(above_first[0]["comm"], "conmon", "{context} {first_exec}");
    assert!(above_first.iter().all(|ancestor| ancestor["start_ns"].is_u64()), "{context} {first_exec}");
    let above_child = exec["ancestors"].as_array().expect("ancestors");
    assert_eq!(
        identity(&above_child[0]),
        (first_exec["tgid"].clone(), first_exec["start_ns"].clone(), json!("tracer-workload")),
        "{context} {exec}"
    );
    assert_eq!(identity(&above_child[1]), identity(&above_first[0]), "{context} {exec}");

    // --container selected exactly these, in the kernel.
    let count = |events: &[Value]| {
        let mut counts = BTreeMap::new();
        for event in events {
            *counts.entry(untimed(event)).or_insert(0) += 1;
        }
        counts
    };
    let chosen = selected.events();
    assert!(chosen.iter().all(|e| e["container"] == id.as_str()), "{context} only the container's events");
    assert_eq!(count(&chosen), count(&ours), "{context} --container selects exactly the container's events");

    // A replay of the unfiltered recording with the same filter selects the same.
    let replayed = run_tracer(&["replay", &recording_arg, "--json", "--container", &id[..12]]);
    assert!(replayed.status.success(), "{context} {}", String::from_utf8_lossy(&replayed.stderr));
    let replayed: Vec<Value> = String::from_utf8_lossy(&replayed.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect();
    assert_eq!(replayed, ours, "{context} the replay selects what --container selected live");
}

/// The unified hierarchy's mount point, if any.
fn unified_mount() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo.lines().find_map(|line| {
        let (mount, filesystem) = line.split_once(" - ")?;
        let fields: Vec<&str> = mount.split(' ').collect();
        (filesystem.starts_with("cgroup2 ") && fields.get(3) == Some(&"/")).then(|| PathBuf::from(fields[4]))
    })
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_cgroup_and_the_cgroups_created_below_it_are_selected() {
    require_root();
    let mount = unified_mount().expect("the unified cgroup hierarchy is mounted (the VM mounts it too)");
    let name = format!("tracer-test-{}", std::process::id());
    let parent = mount.join(&name);
    std::fs::create_dir(&parent).expect("create a cgroup");
    let tracer = Tracer::start(&["--json", "-e", "exec,exit", "--cgroup", &format!("/{name}")]);
    // Created after tracer started: judged by the kernel side as it is created.
    let child = parent.join("later");
    std::fs::create_dir(&child).expect("create a child cgroup");
    let workload = workload_bin();
    let run_in = |cgroup: &Path| {
        let script = format!("echo $$ > {}/cgroup.procs && exec {} ns-report", cgroup.display(), workload.display());
        let output = Command::new("sh").args(["-c", &script]).output().expect("run sh");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        report(&String::from_utf8_lossy(&output.stdout))
    };
    let (in_parent, in_child) = (run_in(&parent), run_in(&child));
    let outside = Command::new(&workload).arg("ns-report").output().expect("run the workload");
    let outside = report(&String::from_utf8_lossy(&outside.stdout));
    let stopped = tracer.stop();
    // A cgroup's ID is its directory's inode number.
    let id_of = |path: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).expect("the cgroup"));
    let (parent_id, child_id) = (id_of(&parent), id_of(&child));
    let _ = std::fs::remove_dir(&child);
    let _ = std::fs::remove_dir(&parent);
    let events = stopped.events();
    let context = format!("[{}]", machine());
    for (report, path, id) in
        [(&in_parent, format!("/{name}"), parent_id), (&in_child, format!("/{name}/later"), child_id)]
    {
        let pid = field(report, "pid");
        let exec = one(&events, "exec in the cgroup", |e| e["event"] == "exec" && e["tgid"] == pid);
        assert_eq!((exec["cgroup"].clone(), field(exec, "cgroup_id")), (json!(path), id), "{context} {exec}");
        assert_eq!(exec["container"], Value::Null, "{context} {exec}");
    }
    assert!(events.iter().all(|e| e["tgid"] != outside["pid"]), "{context} the workload outside is not selected");
    assert!(
        events.iter().all(|e| e["cgroup"].as_str().is_some_and(|path| path.starts_with(&format!("/{name}")))),
        "{context} {events:?}"
    );
}
