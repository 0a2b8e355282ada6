//! Fork, exec, exit and rename events of a workload with known outcomes, asserted field by
//! field, once per hook type (tp_btf and raw tracepoints). Runs as root on the real kernel, and
//! in the Debian 6.1 VM (`cargo xtask vm-test`) against that kernel's layouts.

use crate::common::{
    Tracer, field,
    kernel::{self, Offer},
    machine, one, report, run_tracer, run_workload, skipped,
};
use serde_json::Value;

fn names(event: &Value) -> Vec<&str> {
    event["clone_flags"].as_array().expect("clone_flags array").iter().filter_map(Value::as_str).collect()
}

/// The lifecycle workload traced with each kind's hook forced: `hooks` pairs a kind with it.
fn check_lifecycle(hooks: &[(&str, &str)]) {
    let forced: Vec<String> = hooks.iter().map(|(kind, hook)| format!("{kind}={hook}")).collect();
    let mut args = vec!["--json", "-c", "tracer-workload", "-f", "-e", "fork,exec,exit,rename"];
    for hook in &forced {
        args.extend(["--hook", hook.as_str()]);
    }
    let tracer = Tracer::start(&args);
    let (pid, stdout) = run_workload(&["lifecycle"]);
    let stopped = tracer.stop();
    assert!(stopped.status.success(), "tracer failed ({}): {}", stopped.status, stopped.stderr);
    let all = stopped.events();
    let ids = report(&stdout);
    let tgid = field(&ids, "tgid");
    assert_eq!(tgid, u64::from(pid), "the report is the workload's own");
    let (raw, pthread) = (field(&ids, "raw_thread_tid"), field(&ids, "pthread_tid"));
    let (cat, exit3, killed) = (field(&ids, "cat_pid"), field(&ids, "exit3_pid"), field(&ids, "killed_pid"));
    assert_eq!(stdout.lines().next(), Some("lc-renamed"), "cat printed the renamed thread's comm");
    let test_pid = u64::from(std::process::id());
    let ours = [tgid, cat, exit3, killed];
    let events: Vec<Value> = all.into_iter().filter(|event| ours.contains(&field(event, "tgid"))).collect();
    let is = |event: &Value, kind: &str| event["event"] == kind;
    let context = format!("[{} {}]", machine(), forced.join(" "));
    let hook = |event: &Value| {
        let kind = event["event"].as_str().unwrap_or_default();
        hooks.iter().find(|(forced, _)| *forced == kind).map_or("?", |(_, hook)| *hook)
    };

    for event in &events {
        assert_eq!(event["source"], hook(event), "{context} every event comes from the forced hook: {event}");
        assert!(event["ts"].as_str().is_some_and(|ts| ts.starts_with("20") && ts.ends_with('Z')), "{context} {event}");
        assert!(field(event, "cpu") < 4096, "{context} {event}");
    }

    // 1. A raw clone() with CLONE_THREAD is a thread of the creator's group.
    let fork = one(&events, "fork of the raw clone thread", |e| is(e, "fork") && e["child_tid"] == raw);
    assert_eq!(
        (field(fork, "tgid"), field(fork, "tid"), field(fork, "ppid")),
        (tgid, tgid, test_pid),
        "{context} {fork}"
    );
    assert_eq!((field(fork, "child_tgid"), fork["thread"].clone()), (tgid, Value::Bool(true)), "{context} {fork}");
    assert_eq!(fork["comm"], "tracer-workload", "{context} {fork}");
    for flag in ["CLONE_VM", "CLONE_SIGHAND", "CLONE_THREAD"] {
        assert!(names(fork).contains(&flag), "{context} {flag} missing: {fork}");
    }
    let exit = one(&events, "exit of the raw clone thread", |e| is(e, "exit") && e["tid"] == raw);
    assert_eq!(field(exit, "tgid"), tgid, "{context} {exit}");
    assert_eq!((exit["exit_code"].clone(), exit["signal"].clone()), (Value::from(0), Value::Null), "{context} {exit}");
    assert_eq!(exit["group_dead"], false, "{context} a thread's exit leaves its process: {exit}");

    // 2. A pthread that renames itself.
    let fork = one(&events, "fork of the pthread", |e| is(e, "fork") && e["child_tid"] == pthread);
    assert_eq!(
        (field(fork, "tid"), field(fork, "child_tgid"), fork["thread"].clone()),
        (tgid, tgid, Value::Bool(true)),
        "{context} {fork}"
    );
    let rename = one(&events, "rename of the pthread", |e| is(e, "rename") && e["tid"] == pthread);
    assert_eq!(field(rename, "tgid"), tgid, "{context} {rename}");
    assert_eq!(
        (rename["old_comm"].clone(), rename["new_comm"].clone()),
        ("tracer-workload".into(), "lc-renamed".into()),
        "{context} {rename}"
    );

    // 3. A child process that execs cat on the pthread's /proc entry.
    let fork = one(&events, "fork of the cat child", |e| is(e, "fork") && e["child_tgid"] == cat);
    assert_eq!(
        (field(fork, "tgid"), field(fork, "child_tid"), fork["thread"].clone()),
        (tgid, cat, Value::Bool(false)),
        "{context} {fork}"
    );
    assert!(!names(fork).contains(&"CLONE_THREAD"), "{context} {fork}");
    let exec = one(&events, "exec of cat", |e| is(e, "exec") && e["tgid"] == cat);
    assert_eq!((field(exec, "tid"), field(exec, "old_tid"), field(exec, "ppid")), (cat, cat, tgid), "{context} {exec}");
    assert!(exec["filename"].as_str().is_some_and(|name| name.ends_with("cat")), "{context} {exec}");
    let path = format!("/proc/{pthread}/comm");
    assert_eq!(exec["argv"], serde_json::json!(["cat", path]), "{context} {exec}");
    assert_eq!(exec["comm"], "cat", "{context} the exec record carries the new comm: {exec}");
    assert_eq!(exec["old_comm"], "tracer-workload", "{context} the exec says the comm it replaced: {exec}");
    assert!(
        !events.iter().any(|e| is(e, "rename") && e["tgid"] == cat),
        "{context} an exec is one event, not a rename and an exec: {events:?}"
    );
    let exit = one(&events, "exit of cat", |e| is(e, "exit") && e["tgid"] == cat);
    assert_eq!(
        (exit["exit_code"].clone(), exit["group_dead"].clone(), field(exit, "ppid")),
        (0.into(), true.into(), tgid),
        "{context} {exit}"
    );

    // 4. A child that exits with code 3.
    let exit = one(&events, "exit of the exit-3 child", |e| is(e, "exit") && e["tid"] == exit3);
    assert_eq!(field(exit, "tgid"), exit3, "{context} {exit}");
    assert_eq!((exit["exit_code"].clone(), exit["signal"].clone()), (3.into(), Value::Null), "{context} {exit}");
    assert_eq!(
        (exit["core_dumped"].clone(), exit["group_dead"].clone()),
        (false.into(), true.into()),
        "{context} {exit}"
    );
    assert_eq!(field(&ids, "exit3_status"), 3 << 8, "the workload saw the same status");

    // 5. A child killed by SIGKILL.
    let exit = one(&events, "exit of the killed child", |e| is(e, "exit") && e["tid"] == killed);
    assert_eq!(
        (exit["exit_code"].clone(), exit["signal"].clone()),
        (Value::Null, "SIGKILL".into()),
        "{context} {exit}"
    );
    assert_eq!(
        (exit["core_dumped"].clone(), exit["group_dead"].clone()),
        (false.into(), true.into()),
        "{context} {exit}"
    );

    // 6. The leader leaves first (pthread_exit); the renamed thread is the group's last task.
    let leader = one(&events, "exit of the leader", |e| is(e, "exit") && e["tid"] == tgid);
    assert_eq!(
        (field(leader, "tgid"), leader["exit_code"].clone(), leader["group_dead"].clone()),
        (tgid, 0.into(), false.into()),
        "{context} {leader}"
    );
    let last = one(&events, "exit of the last thread", |e| is(e, "exit") && e["tid"] == pthread);
    assert_eq!(
        (field(last, "tgid"), last["exit_code"].clone(), last["group_dead"].clone()),
        (tgid, 0.into(), true.into()),
        "{context} {last}"
    );
    assert_eq!(last["comm"], "lc-renamed", "{context} {last}");
    let position = |wanted: &Value| events.iter().position(|event| event == wanted);
    assert!(position(leader) < position(last), "{context} the leader's exit comes first");
    for exit in events.iter().filter(|e| is(e, "exit")) {
        let lifetime = field(exit, "lifetime_ns");
        assert!(lifetime > 0 && lifetime < 120_000_000_000, "{context} implausible lifetime: {exit}");
    }
}

/// A non-leader thread execs: the kernel kills the leader, and the thread takes over its TID.
#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn exec_from_a_non_leader_thread_takes_over_the_leaders_tid() {
    let tracer = Tracer::start(&["--json", "-c", "tracer-workload", "-f", "-e", "exec,exit"]);
    let (pid, stdout) = run_workload(&["thread-exec"]);
    let stopped = tracer.stop();
    let mut ids = stdout.split_whitespace().map(|id| id.parse::<u64>().expect("numeric id"));
    let (tgid, thread) = (ids.next().expect("tgid"), ids.next().expect("tid"));
    assert_eq!(tgid, u64::from(pid));
    assert_ne!(thread, tgid);
    let events: Vec<Value> = stopped.events().into_iter().filter(|e| field(e, "tgid") == tgid).collect();
    let context = machine();
    let exec = one(&events, "exec of true", |e| e["event"] == "exec" && e["comm"] == "true");
    assert_eq!((field(exec, "tid"), field(exec, "old_tid")), (tgid, thread), "[{context}] {exec}");
    // The leader is made to exit first (the kernel reports status 0 for a task zapped by another
    // thread's exec), and the process lives on.
    let leader = one(&events, "exit of the old leader", |e| e["event"] == "exit" && e["comm"] == "tracer-workload");
    assert_eq!((field(leader, "tid"), leader["exit_code"].clone()), (tgid, 0.into()), "[{context}] {leader}");
    assert_eq!(leader["group_dead"], false, "[{context}] {leader}");
    let end = one(&events, "exit of true", |e| e["event"] == "exit" && e["comm"] == "true");
    assert_eq!(
        (field(end, "tid"), end["exit_code"].clone(), end["group_dead"].clone()),
        (tgid, 0.into(), true.into()),
        "[{context}] {end}"
    );
    let position = |wanted: &Value| events.iter().position(|event| event == wanted);
    assert!(position(leader) < position(exec) && position(exec) < position(end), "[{context}] {events:?}");
}

/// The kernel's `--comm` check reads the task's comm as it is after a rename to a shorter name
/// ("tracer-workload" → "lc-renamed"): only the renamed thread's exit passes, byte for byte.
#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_comm_filter_matches_a_thread_renamed_to_a_shorter_name() {
    let tracer = Tracer::start(&["--json", "-c", "lc-renamed", "-e", "fork,exit"]);
    let (pid, stdout) = run_workload(&["lifecycle"]);
    let stopped = tracer.stop();
    let pthread = field(&report(&stdout), "pthread_tid");
    let events: Vec<Value> =
        stopped.events().into_iter().filter(|event| field(event, "tgid") == u64::from(pid)).collect();
    let context = machine();
    assert_eq!(events.len(), 1, "[{context}] only the renamed thread's exit: {events:?}");
    let exit = &events[0];
    assert_eq!(
        (exit["event"].as_str(), field(exit, "tid"), exit["comm"].as_str(), exit["group_dead"].clone()),
        (Some("exit"), pthread, Some("lc-renamed"), true.into()),
        "[{context}] {exit}"
    );
}

const LIFECYCLE_KINDS: [&str; 4] = ["fork", "exec", "exit", "rename"];

/// Every lifecycle kind through tp_btf where the kernel offers what tracer's tp_btf program for
/// it needs (`kernel::lifecycle_tp_btf`). Where it does not (before 5.11, 5.17 for exec), forcing
/// tp_btf must fail with the kernel's reason, and that kind is checked through its raw
/// tracepoint instead: the test says which were not checked through tp_btf.
#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn lifecycle_events_from_tp_btf_hooks() {
    let mut hooks = Vec::new();
    let mut refused = Vec::new();
    for kind in LIFECYCLE_KINDS {
        match kernel::lifecycle_tp_btf(kind) {
            Offer::Offered => hooks.push((kind, "tp_btf")),
            Offer::Refused { reason, evidence } => {
                let forced = format!("{kind}=tp_btf");
                let output = run_tracer(&["--json", "-e", "fork,exec,exit,rename", "--hook", &forced, "-d", "1"]);
                let stderr = String::from_utf8_lossy(&output.stderr);
                let context = format!("[{} {forced}]", machine());
                assert_eq!(output.status.code(), Some(1), "{context} the kernel refuses it ({reason}): {stderr}");
                assert!(
                    stderr.contains(&format!("no hook for {kind} could attach"))
                        && stderr.contains("tp_btf refused: ")
                        && stderr.contains(&evidence),
                    "{context} tracer's refusal must quote the kernel's reason ({reason}):\n{stderr}"
                );
                hooks.push((kind, "raw_tracepoint"));
                refused.push(format!("{kind} ({reason})"));
            }
        }
    }
    check_lifecycle(&hooks);
    if !refused.is_empty() {
        skipped(&format!(
            "the kernel refuses tp_btf for {}, and tracer says so; those kinds were checked through raw tracepoints only",
            refused.join(", ")
        ));
    }
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn lifecycle_events_from_raw_tracepoints() {
    check_lifecycle(&LIFECYCLE_KINDS.map(|kind| (kind, "raw_tracepoint")));
}
