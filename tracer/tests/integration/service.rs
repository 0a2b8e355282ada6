//! The systemd unit's privileges, measured (as root) with the real binary and kernel: tracer run
//! the way the unit runs it (an unprivileged user, exactly the unit's capabilities, no new
//! privileges) sees every event of a workload, resolves `/proc` lookups and writes and reopens
//! its JSON file; every syscall it makes passes the unit's SystemCallFilter; and without any one
//! of those capabilities it refuses to start.

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader, Read},
    os::unix::fs::MetadataExt,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::{field, host_only, need_program, one, report, require_root, run_workload, tracer_bin};
use serde_json::Value;

const UNIT: &str = include_str!("../../../packaging/tracer.service");
/// The user the test runs tracer as, like the unit's DynamicUser.
const NOBODY: u32 = 65534;

/// The values of `key=` in the unit, split on whitespace, all lines joined.
fn unit_values(key: &str) -> Vec<String> {
    let prefix = format!("{key}=");
    UNIT.lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .flat_map(|value| value.split_whitespace().map(str::to_owned))
        .collect()
}

/// `CAP_BPF` → `bpf`, as setpriv spells capabilities.
fn setpriv_cap(cap: &str) -> String {
    cap.strip_prefix("CAP_").unwrap_or_else(|| panic!("{cap} is not a capability name")).to_lowercase()
}

/// setpriv arguments that drop to `NOBODY` with exactly `caps` (inheritable, ambient and bounding
/// sets), as systemd does for AmbientCapabilities= and CapabilityBoundingSet= with
/// NoNewPrivileges=yes.
fn setpriv(caps: &[String]) -> Vec<String> {
    let set: String = std::iter::once("-all".to_owned())
        .chain(caps.iter().map(|cap| format!("+{}", setpriv_cap(cap))))
        .collect::<Vec<_>>()
        .join(",");
    vec![
        format!("--reuid={NOBODY}"),
        format!("--regid={NOBODY}"),
        "--clear-groups".into(),
        format!("--inh-caps={set}"),
        format!("--ambient-caps={set}"),
        format!("--bounding-set={set}"),
        "--no-new-privs".into(),
    ]
}

/// Every syscall in systemd's filter `set` (groups such as @system-service expanded).
fn syscall_set(set: &str, into: &mut BTreeSet<String>) {
    if !set.starts_with('@') {
        into.insert(set.to_owned());
        return;
    }
    let output = Command::new("systemd-analyze").args(["syscall-filter", set]).output().expect("systemd-analyze");
    assert!(
        output.status.success(),
        "systemd-analyze syscall-filter {set}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in String::from_utf8_lossy(&output.stdout).lines().skip(1) {
        let entry = line.trim();
        if !entry.is_empty() && !entry.starts_with('#') {
            syscall_set(entry, into);
        }
    }
}

/// tracer's pid: the child strace started (setpriv execs tracer in place).
fn traced_child(strace: u32) -> u32 {
    let children = std::fs::read_to_string(format!("/proc/{strace}/task/{strace}/children")).unwrap_or_default();
    children.split_whitespace().next().and_then(|pid| pid.parse().ok()).unwrap_or(0)
}

fn signal(pid: u32, signal: i32) {
    // kill(0, …) would signal this test's whole process group.
    assert!(pid > 0, "no tracer pid to signal");
    // SAFETY: signals the tracer this test started.
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0, "signal {signal} to {pid}");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn the_units_capabilities_and_syscall_filter_are_all_tracer_needs() {
    host_only("systemd, strace and setpriv");
    require_root();
    for (program, package) in [("strace", "strace"), ("systemd-analyze", "systemd"), ("setpriv", "util-linux")] {
        need_program(program, package);
    }
    let caps = unit_values("AmbientCapabilities");
    assert_eq!(caps, unit_values("CapabilityBoundingSet"), "the unit grants what it bounds");
    assert_eq!(unit_values("NoNewPrivileges"), ["yes"]);
    assert_eq!(unit_values("DynamicUser"), ["yes"], "tracer runs as an unprivileged user");

    // The unit's command line, writing into a directory the user owns (LogsDirectory=) and
    // rotating often enough to exercise rotation.
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    let json = dir.path().join("events.json");
    let exec = unit_values("ExecStart");
    let mut args: Vec<String> = exec[1..].to_vec();
    for (flag, value) in [("--json-output", json.to_str().unwrap()), ("--rotate-size", "4K"), ("--rotate-keep", "1000")]
    {
        let at = args.iter().position(|arg| arg == flag).unwrap_or_else(|| panic!("ExecStart has no {flag}: {exec:?}"));
        args[at + 1] = value.to_owned();
    }
    let trace = dir.path().join("strace.out");
    let mut strace = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(&trace)
        .arg("setpriv")
        .args(setpriv(&caps))
        .arg(tracer_bin())
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start strace");
    let mut stderr = BufReader::new(strace.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("Attached "), "tracer with {caps:?} as uid {NOBODY}: {line}");
    let pid = traced_child(strace.id());

    let (workload, stdout) = run_workload(&["lifecycle"]);
    // logrotate's way: rename, then SIGHUP; then systemd's stop.
    let rotated = dir.path().join("events.json.renamed");
    std::fs::rename(&json, &rotated).unwrap();
    signal(pid, libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !json.exists() {
        assert!(Instant::now() < deadline, "no new file after SIGHUP");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(pid, libc::SIGTERM);
    let status = strace.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    // 3 (the kernel dropped events on a busy machine) is a success for the unit too.
    let success: Vec<i32> =
        std::iter::once(0).chain(unit_values("SuccessExitStatus").iter().map(|code| code.parse().unwrap())).collect();
    assert!(status.code().is_some_and(|code| success.contains(&code)), "tracer exited {status}: {rest}");
    assert!(rest.starts_with("tracer: ") && rest.contains(" lost, "), "only the summary: {rest}");

    // Every file is the user's own, private; together they hold the workload's events.
    let mut events: Vec<Value> = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("events.json") {
            continue;
        }
        let metadata = std::fs::metadata(&path).unwrap();
        assert_eq!((metadata.uid(), metadata.mode() & 0o777), (NOBODY, 0o600), "{name}");
        let text = std::fs::read_to_string(&path).unwrap();
        events.extend(text.lines().map(|line| serde_json::from_str::<Value>(line).unwrap()));
    }
    let ids = report(&stdout);
    let tgid = u64::from(workload);
    let mine: Vec<Value> =
        events.into_iter().filter(|e| field(e, "tgid") == tgid || field(e, "ppid") == tgid).collect();
    let pthread_name = field(&ids, "pthread_tid").to_string();
    let lookup =
        one(&mine, "lookup of the hidden thread", |e| e["event"] == "lookup" && e["name"] == pthread_name.as_str());
    assert_eq!((field(lookup, "target_tgid"), lookup["hidden_thread"].clone()), (tgid, Value::Bool(true)), "{lookup}");
    let exit3 = one(&mine, "exit(3)", |e| e["event"] == "exit" && field(e, "tgid") == field(&ids, "exit3_pid"));
    assert_eq!(exit3["exit_code"], 3);
    let killed = one(&mine, "SIGKILL", |e| e["event"] == "exit" && field(e, "tgid") == field(&ids, "killed_pid"));
    assert_eq!(killed["signal"], "SIGKILL");
    one(&mine, "rename", |e| e["event"] == "rename" && e["new_comm"] == "lc-renamed");
    one(&mine, "exec of cat", |e| e["event"] == "exec" && e["filename"] == "/usr/bin/cat");
    // The workload runs in this test's cgroup. Without CAP_DAC_READ_SEARCH tracer names it by
    // walking the hierarchy, not by file handle.
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let own = cgroups.lines().find_map(|line| line.strip_prefix("0::")).expect("a unified cgroup");
    assert!(mine.iter().all(|e| e["cgroup_id"].is_u64() && e["cgroup"] == own), "cgroup {own} for all: {mine:?}");

    // The syscalls tracer made (from its exec on; setpriv's are systemd's job in the service).
    let trace = std::fs::read_to_string(&trace).unwrap();
    let exec_line = format!("execve(\"{}\"", tracer_bin().display());
    let start = trace.find(&exec_line).unwrap_or_else(|| panic!("no {exec_line} in the strace output"));
    let used: BTreeSet<String> = trace[start..]
        .lines()
        .skip(1)
        .filter_map(|line| {
            let call = line.split_once(' ')?.1.trim_start();
            let name = call.split_once('(')?.0;
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_').then(|| name.to_owned())
        })
        .collect();
    assert!(used.contains("bpf"), "{used:?}");
    assert!(used.contains("renameat") || used.contains("renameat2"), "the file was rotated: {used:?}");
    let mut allowed = BTreeSet::new();
    for set in unit_values("SystemCallFilter") {
        syscall_set(&set, &mut allowed);
    }
    // Naming a cgroup by file handle takes open_by_handle_at and CAP_DAC_READ_SEARCH (read any
    // file on the machine): the unit grants neither. tracer tried it once, was refused, and
    // named the cgroup by walking the hierarchy, as the events above show.
    assert!(!caps.iter().any(|cap| cap == "CAP_DAC_READ_SEARCH") && !allowed.contains("open_by_handle_at"));
    assert!(used.contains("open_by_handle_at"), "{used:?}");
    allowed.insert("open_by_handle_at".to_owned());
    let refused: Vec<&String> = used.difference(&allowed).collect();
    assert!(refused.is_empty(), "syscalls the unit's SystemCallFilter refuses: {refused:?} (used: {used:?})");

    // Each capability is needed: without it tracer says which one it lacks.
    for missing in &caps {
        let fewer: Vec<String> = caps.iter().filter(|cap| *cap != missing).cloned().collect();
        let output =
            Command::new("setpriv").args(setpriv(&fewer)).arg(tracer_bin()).args(["-d", "1"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "without {missing}: {stderr}");
        assert!(stderr.trim_end().ends_with(&format!("this process lacks {missing}")), "without {missing}: {stderr}");
    }
}
