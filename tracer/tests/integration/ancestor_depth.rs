//! `--ancestors N`: how many ancestors fork, exec and exit events name, the chain then saying it
//! goes on; and an ancestor's program named from its own exec, a relative path made absolute
//! with that exec's working directory. Runs as root on the real kernel, and in the VMs.

use std::process::Command;

use crate::common::{Tracer, ancestor_tgids, machine, one, renamed_workload};
use serde_json::Value;

/// `sh` in the workload's directory exec'ing `./anc-depth nest 2` (so levels 2, 1 and 0 of
/// anc-depth, the outermost exec'd by a relative path), traced with `--ancestors depth`. The
/// events, the levels' PIDs from outermost to innermost, and the workload's path.
fn nest_traced(depth: &str) -> (Vec<Value>, Vec<u64>, String) {
    let (dir, path) = renamed_workload("anc-depth");
    let tracer = Tracer::start(&["--json", "-e", "fork,exec,exit", "-c", "anc-depth", "--ancestors", depth]);
    let output = Command::new("sh")
        .args(["-c", "cd \"$0\" && exec ./anc-depth nest 2"])
        .arg(&dir)
        .output()
        .expect("run the shell");
    assert!(output.status.success(), "{output:?}");
    let stopped = tracer.stop();
    let pids: Vec<u64> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.split(' ').nth(1).and_then(|pid| pid.parse().ok()).unwrap_or_else(|| panic!("{line:?}")))
        .collect();
    assert_eq!(pids.len(), 3, "{output:?}");
    let path = path.to_str().expect("a UTF-8 path").to_owned();
    let _ = std::fs::remove_dir_all(dir);
    (stopped.events(), pids, path)
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn two_ancestors_are_kept_and_the_chain_says_it_goes_on() {
    let (events, pids, path) = nest_traced("2");
    let me = u64::from(std::process::id());
    let exec_of = |pid: u64| one(&events, "exec", |event| event["event"] == "exec" && event["tgid"] == pid);
    let context = machine();
    let innermost = exec_of(pids[2]);
    assert_eq!(ancestor_tgids(innermost), [pids[1], pids[0]], "[{context}] {innermost}");
    assert_eq!(innermost["ancestors_truncated"], true, "[{context}] {innermost}");
    // Level 2 was exec'd as ./anc-depth from the workload's directory: its program is named
    // by its absolute path, as /proc/<pid>/exe would name it.
    for ancestor in innermost["ancestors"].as_array().expect("ancestors") {
        assert_eq!(ancestor["exe"], path.as_str(), "[{context}] {innermost}");
    }
    let outermost = exec_of(pids[0]);
    assert_eq!(outermost["filename"], "./anc-depth", "[{context}] {outermost}");
    assert_eq!(ancestor_tgids(outermost)[0], me, "[{context}] {outermost}");
    assert_eq!(ancestor_tgids(outermost).len(), 2, "[{context}] {outermost}");
    assert_eq!(outermost["ancestors_truncated"], true, "[{context}] {outermost}");
    let fork = one(&events, "fork by level 1", |event| event["event"] == "fork" && event["tgid"] == pids[1]);
    assert_eq!(ancestor_tgids(fork), [pids[0], me], "[{context}] the creator's: {fork}");
    assert_eq!(fork["ancestors_truncated"], true, "[{context}] {fork}");
    let exit = one(&events, "exit of level 0", |event| event["event"] == "exit" && event["tgid"] == pids[2]);
    assert_eq!(exit["ancestors"], innermost["ancestors"], "[{context}] {exit}");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn no_ancestors_leaves_every_chain_empty_and_said_to_go_on() {
    let (events, pids, _) = nest_traced("0");
    let kinds: Vec<&str> = events.iter().filter_map(|event| event["event"].as_str()).collect();
    for kind in ["fork", "exec", "exit"] {
        assert!(kinds.contains(&kind), "[{}] a {kind}: {kinds:?}", machine());
    }
    for event in &events {
        assert_eq!(event["ancestors"], serde_json::json!([]), "[{}] {event}", machine());
        assert_eq!(event["ancestors_truncated"], true, "[{}] {event}", machine());
    }
    assert_eq!(events.iter().filter(|event| event["event"] == "exec").count(), pids.len());
}
