//! Process identity: every event's `start_ns` is its process's start on the timestamps' clock,
//! the instant `/proc/<pid>/stat` gives in clock ticks; a thread's events carry its process's
//! start, and a fork's `child_start_ns` is what the child's own events carry. Once per hook type.
use std::process::Command;

use crate::common::{
    PRINT_SHELL, Tracer, assert_ancestor, field, lifecycle_hook_offered, machine, one, renamed_workload, report,
    run_workload, shell_program, shells_printed,
};
use serde_json::Value;

/// Field 22 of `/proc/<pid>/stat` (the start time in clock ticks since boot), in nanoseconds.
fn stat_start_ns(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the process is alive");
    // Fields after the comm, which is in parentheses and may hold anything.
    let after_comm = &stat[stat.rfind(')').expect("a comm") + 2..];
    let ticks: u64 = after_comm.split(' ').nth(22 - 3).expect("field 22").parse().expect("a number");
    // SAFETY: no preconditions.
    let tick_ns = 1_000_000_000 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    (ticks * tick_ns, tick_ns)
}

fn check_start_matches_proc(hook: &str) {
    if !lifecycle_hook_offered(hook, &["exec", "exit"]) {
        return;
    }
    let hooks = [format!("exec={hook}"), format!("exit={hook}")];
    let tracer = Tracer::start(&["--json", "-c", "sleep", "-e", "exec,exit", "--hook", &hooks[0], "--hook", &hooks[1]]);
    let mut sleep = Command::new("sleep").arg("1").spawn().expect("start sleep");
    let pid = sleep.id();
    let (proc_ns, tick_ns) = stat_start_ns(pid);
    assert!(sleep.wait().expect("wait for sleep").success());
    let stopped = tracer.stop();
    assert!(stopped.status.success(), "tracer failed ({}): {}", stopped.status, stopped.stderr);
    let events: Vec<Value> = stopped.events().into_iter().filter(|event| event["tgid"] == pid).collect();
    let context = format!("[{} {hook}]", machine());
    let exec = one(&events, "exec of sleep", |event| event["event"] == "exec");
    let exit = one(&events, "exit of sleep", |event| event["event"] == "exit");
    let start = field(exec, "start_ns");
    assert_eq!(field(exit, "start_ns"), start, "{context} one process, one start: {exec} {exit}");
    assert!(
        (proc_ns..proc_ns + tick_ns).contains(&start),
        "{context} /proc/{pid}/stat says {proc_ns} ns (ticks of {tick_ns} ns), the events {start}"
    );
}

fn check_threads_and_children(hook: &str) {
    if !lifecycle_hook_offered(hook, &["fork", "exit"]) {
        return;
    }
    let hooks = [format!("fork={hook}"), format!("exit={hook}")];
    let tracer = Tracer::start(&[
        "--json",
        "-c",
        "tracer-workload",
        "-e",
        "fork,exit",
        "--hook",
        &hooks[0],
        "--hook",
        &hooks[1],
    ]);
    let (pid, stdout) = run_workload(&["clones"]);
    let stopped = tracer.stop();
    assert!(stopped.status.success(), "tracer failed ({}): {}", stopped.status, stopped.stderr);
    let ids = report(&stdout);
    let events = stopped.events();
    let context = format!("[{} {hook}]", machine());
    let forks: Vec<&Value> = events.iter().filter(|event| event["event"] == "fork" && event["tgid"] == pid).collect();
    let created = if field(&ids, "clone3_newtime") != 0 { 6 } else { 5 };
    assert_eq!(forks.len(), created, "{context} {forks:?}");
    let start = field(forks[0], "start_ns");
    let mut children = std::collections::BTreeSet::new();
    for fork in &forks {
        assert_eq!(field(fork, "start_ns"), start, "{context} every fork is by the same process: {fork}");
    }
    for key in ["fork", "vfork", "clone", "clone3", "pthread"] {
        let child = field(&ids, key);
        let fork = one(&events, key, |event| event["event"] == "fork" && event["child_tid"] == child);
        let child_start = field(fork, "child_start_ns");
        let exit = one(&events, "the child's exit", |event| event["event"] == "exit" && event["tid"] == child);
        assert_eq!(field(exit, "start_ns"), child_start, "{context} the child's events name it as its fork did");
        if key == "pthread" {
            assert_eq!(child_start, start, "{context} a thread's process is its creator's: {fork}");
        } else {
            assert!(child_start > start, "{context} a child process starts after its parent: {fork}");
            children.insert(child_start);
        }
    }
    assert_eq!(children.len(), 4, "{context} four processes, four start times");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn start_ns_is_the_start_proc_shows_from_tp_btf_hooks() {
    check_start_matches_proc("tp_btf");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn start_ns_is_the_start_proc_shows_from_raw_tracepoints() {
    check_start_matches_proc("raw_tracepoint");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn start_ns_names_the_process_of_threads_and_children_from_tp_btf_hooks() {
    check_threads_and_children("tp_btf");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn start_ns_names_the_process_of_threads_and_children_from_raw_tracepoints() {
    check_threads_and_children("raw_tracepoint");
}

/// PID reuse with only exec traced: `true` execs at PID A and dies; a shell's subshell is then
/// forked at A (`ns_last_pid` set to A - 1 just before) and starts a child. The child's nearest
/// ancestor is that subshell, by its own start, never `true`.
#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn an_ancestor_at_a_reused_pid_is_the_process_that_holds_it_now() {
    let (dir, child) = renamed_workload("reusechild");
    let tracer = Tracer::start(&["--json", "-e", "exec"]);
    // The subshell prints itself, then runs the child; `true` keeps it from exec'ing the child
    // in its place. Another process may take A first: then try again.
    let script = format!("echo $(($1 - 1)) > /proc/sys/kernel/ns_last_pid\n( {PRINT_SHELL}; \"$0\" true; true ); true");
    let reused = (0..20).find_map(|_| {
        let mut dead = Command::new("true").spawn().expect("run true");
        let pid = dead.id();
        assert!(dead.wait().expect("wait for true").success());
        let output =
            Command::new("sh").args(["-c", &script]).arg(&child).arg(pid.to_string()).output().expect("run sh");
        assert!(output.status.success(), "{output:?}");
        let [(subshell, ticks, comm)] = &shells_printed(&output.stdout)[..] else { panic!("{output:?}") };
        (*subshell == u64::from(pid)).then(|| (pid, *ticks, comm.clone()))
    });
    let stopped = tracer.stop();
    let (pid, ticks, comm) = reused.expect("the subshell got the PID `true` had, in one of 20 tries");
    let events = stopped.events();
    let context = format!("[{}]", machine());
    let dead = one(&events, "exec of true at the PID", |event| event["tgid"] == pid && event["comm"] == "true");
    let exec = one(&events, "exec of the child under the reused PID", |event| {
        event["comm"] == "reusechild" && event["ancestors"][0]["tgid"] == pid
    });
    let nearest = &exec["ancestors"][0];
    assert_ancestor(nearest, u64::from(pid), ticks, &comm, &format!("{context} the subshell at the reused PID"));
    assert!(field(nearest, "start_ns") > field(dead, "start_ns"), "{context} {nearest} after {dead}");
    // The shell's program when tracer knows it; `true`'s only where both are one file (busybox).
    let (exe, shell) = (&nearest["exe"], shell_program());
    assert!(exe.is_null() || *exe == shell.as_str(), "{context} {shell}: {exec}");
    let _ = std::fs::remove_dir_all(dir);
}
