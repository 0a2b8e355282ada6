//! Event order under storms on every CPU: a task's fork is printed and recorded before any event
//! of the task, an exec before its process's later events, and a task's exit after all of its
//! own events. Hardest on a PREEMPT_RT kernel, where the hooks themselves can be preempted
//! (the 6.1-rt VM leg); checked on every kernel.
use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::common::{Tracer, field, machine, run_tracer, run_workload, scratch_dir};

/// Tasks per storm shape: enough for the CPUs to race for the ring buffer many times over,
/// fewer in the VM, whose CPUs are emulated.
fn storm_tasks(shape: &str) -> u64 {
    let on_host = machine() == "host";
    match shape {
        "thread" if on_host => 20_000,
        "thread" => 3_000,
        "fork" if on_host => 5_000,
        "fork" => 1_500,
        _ if on_host => 1_000,
        _ => 300,
    }
}

/// The order rules, checked over `events` as printed or recorded; `roots` are the storm
/// processes (their own forks happened before tracer saw them: they start as live tasks).
fn check_order(events: &[Value], roots: &[u64], what: &str) {
    let context = format!("[{}] {what}", machine());
    // The storms' processes: the roots and every process they forked, whatever the order.
    let mut tgids: HashSet<u64> = roots.iter().copied().collect();
    loop {
        let before = tgids.len();
        for event in events.iter().filter(|event| event["event"] == "fork") {
            if tgids.contains(&field(event, "tgid")) {
                tgids.insert(field(event, "child_tgid"));
            }
        }
        if tgids.len() == before {
            break;
        }
    }
    let mut live: HashSet<u64> = roots.iter().copied().collect();
    let mut exec_at: HashMap<u64, usize> = HashMap::new();
    let (mut forks, mut execs, mut exits) = (0, 0, 0);
    for (index, event) in events.iter().enumerate() {
        if !tgids.contains(&field(event, "tgid")) {
            continue;
        }
        let tid = field(event, "tid");
        assert!(
            live.contains(&tid),
            "{context}: event {index} comes from task {tid} before its fork or after its exit: {event}"
        );
        match event["event"].as_str() {
            Some("fork") => {
                forks += 1;
                let child = field(event, "child_tid");
                assert!(
                    live.insert(child),
                    "{context}: event {index} forks task {child}, which has not exited: {event}"
                );
            }
            Some("exec") => {
                execs += 1;
                exec_at.insert(field(event, "tgid"), index);
            }
            Some("exit") => {
                exits += 1;
                live.remove(&tid);
                // Exec'd storm children run /bin/true: their exit must follow their exec.
                if event["comm"] == "true" {
                    let tgid = field(event, "tgid");
                    assert!(
                        exec_at.get(&tgid).is_some_and(|exec| *exec < index),
                        "{context}: event {index}, the exit of {tgid} after it ran /bin/true, comes before its exec: {event}"
                    );
                }
            }
            _ => {}
        }
    }
    assert!(live.is_empty(), "{context}: tasks forked but never seen to exit: {live:?}");
    assert!(forks > 0 && execs > 0 && exits > forks, "{context}: {forks} forks, {execs} execs, {exits} exits");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_fork_comes_before_its_childs_events_and_an_exit_last_under_storms_on_every_cpu() {
    let dir = scratch_dir("ordering");
    let recording = dir.join("storms.rec");
    let tracer = Tracer::start(&[
        "--json",
        "-c",
        "tracer-workload",
        "-f",
        "-e",
        "fork,exec,exit",
        "-o",
        recording.to_str().unwrap(),
    ]);
    let mut roots = Vec::new();
    for shape in ["thread", "fork", "exec"] {
        let tasks = storm_tasks(shape).to_string();
        let (pid, _) = run_workload(&["storm", "--shape", shape, "--tasks", &tasks, "--cores", "all"]);
        roots.push(u64::from(pid));
    }
    let stopped = tracer.stop();
    assert!(stopped.status.success(), "tracer failed ({}): {}", stopped.status, stopped.stderr);
    assert!(
        stopped.stderr.contains("), 0 lost, ") && !stopped.stderr.contains("not printed"),
        "[{}] the order can only be judged on every event: {}",
        machine(),
        stopped.stderr
    );
    check_order(&stopped.events(), &roots, "as printed");
    let replayed = run_tracer(&["replay", recording.to_str().unwrap(), "--json"]);
    assert!(replayed.status.success(), "{}", String::from_utf8_lossy(&replayed.stderr));
    let recorded: Vec<Value> = String::from_utf8_lossy(&replayed.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}")))
        .collect();
    check_order(&recorded, &roots, "as recorded");
    let _ = std::fs::remove_dir_all(dir);
}
