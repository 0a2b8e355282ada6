//! The ancestors fork, exec and exit events carry, read by the kernel at the event: complete for a
//! process that started before tracer, for a parent already gone under a comm filter, cut at the
//! bound for a deep chain, and right after a double fork leaves a daemon to a subreaper. Runs as
//! root on the real kernel, and in the VMs.

use std::{
    io::Write,
    process::{Command, Stdio},
};

use crate::common::{
    PRINT_SHELL, Tracer, ancestor_tgids, assert_ancestor, field, lifecycle_hook_offered, machine, one,
    renamed_workload, shell_program, shells_printed, stat_start_ticks,
};

/// This process as a child subreaper until dropped. Every test shares the process, so a failing
/// test must not leave the later ones adopting orphans.
struct Subreaper;

impl Subreaper {
    fn on() -> Self {
        // SAFETY: prctl with integer arguments.
        assert_eq!(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }, 0);
        Subreaper
    }
}

impl Drop for Subreaper {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) };
    }
}

/// `tgid`'s parent as the kernel says now.
fn parent_of(tgid: u64) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{tgid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].split_whitespace().nth(1)?.parse().ok()
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_process_older_than_tracer_gives_its_child_a_complete_chain() {
    let (dir, path) = renamed_workload("anc-child");
    // The shell starts before tracer and waits; once tracer is attached it runs the program.
    let mut shell = Command::new("sh")
        .args(["-c", "read line; \"$0\" >/dev/null 2>&1; true"])
        .arg(&path)
        .stdin(Stdio::piped())
        .spawn()
        .expect("start the shell");
    let tracer = Tracer::start(&["--json", "-e", "exec,exit", "-c", "anc-child"]);
    shell.stdin.take().expect("piped").write_all(b"go\n").expect("release the shell");
    assert!(shell.wait().expect("wait for the shell").success());
    let stopped = tracer.stop();
    let events = stopped.events();
    let exec = events.iter().find(|e| e["event"] == "exec").unwrap_or_else(|| panic!("no exec: {events:?}"));
    let me = u64::from(std::process::id());
    let ancestors = ancestor_tgids(exec);
    assert_eq!(&ancestors[..2], &[u64::from(shell.id()), me], "[{}] the shell, then this test: {exec}", machine());
    assert_eq!(ancestors.last(), Some(&1), "[{}] up to PID 1: {exec}", machine());
    // Each link is the kernel's own parent of the one before (the test's ancestors still live).
    for pair in ancestors[1..].windows(2) {
        assert_eq!(parent_of(pair[0]), Some(pair[1]), "[{}] {ancestors:?}", machine());
    }
    let first = &exec["ancestors"][0];
    assert_eq!(first["comm"], "sh", "{exec}");
    assert!(
        first["exe"].as_str().is_some_and(|exe| exe.ends_with("sh") || exe.contains("dash") || exe.contains("busybox")),
        "{exec}"
    );
    let test_exe = std::env::current_exe().unwrap();
    assert_eq!(exec["ancestors"][1]["exe"], test_exe.to_str().unwrap(), "the test's program, from /proc: {exec}");
    let exit = events.iter().find(|e| e["event"] == "exit").unwrap_or_else(|| panic!("no exit: {events:?}"));
    assert_eq!(ancestor_tgids(exit), ancestors, "{exit}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_double_forked_daemon_shows_the_subreaper_that_adopted_it() {
    let (dir, path) = renamed_workload("anc-daemon");
    // This test process adopts orphans of its descendants, as a service manager would.
    let subreaper = Subreaper::on();
    let tracer = Tracer::start(&["--json", "-e", "exec", "-c", "anc-daemon"]);
    // The shell's subshell outlives it, is adopted, then execs the daemon.
    let status = Command::new("sh")
        .args(["-c", "(sleep 0.3; exec \"$0\" >/dev/null 2>&1) & exit 0"])
        .arg(&path)
        .status()
        .expect("run the shell");
    assert!(status.success());
    std::thread::sleep(std::time::Duration::from_millis(800));
    reap_orphans();
    let stopped = tracer.stop();
    drop(subreaper);
    let events = stopped.events();
    let exec = events
        .iter()
        .find(|e| e["event"] == "exec" && e["comm"] == "anc-daemon")
        .unwrap_or_else(|| panic!("no exec of the daemon: {events:?}"));
    let me = u64::from(std::process::id());
    assert_eq!(field(exec, "ppid"), me, "[{}] adopted by this test: {exec}", machine());
    let (my_ticks, my_comm) = this_process();
    assert_ancestor(&exec["ancestors"][0], me, my_ticks, &my_comm, "the adoptive parent comes first");
    assert_eq!(ancestor_tgids(exec).last(), Some(&1), "{exec}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Waits for the adopted daemon, so it does not linger as a zombie of this test.
fn reap_orphans() {
    loop {
        // SAFETY: waits for any child of ours without blocking.
        let reaped = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
        if reaped <= 0 {
            break;
        }
    }
}

/// This test process's start in clock ticks and its comm (its main thread's, which the kernel
/// reads for an ancestor).
fn this_process() -> (u64, String) {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("own stat");
    let comm = std::fs::read_to_string("/proc/self/comm").expect("own comm");
    (stat_start_ticks(&stat), comm.trim_end().to_owned())
}

/// Lines `LEVEL PID` the nested workload printed, as numbers.
fn levels_printed(stdout: &[u8]) -> Vec<(u64, u64)> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| {
            let mut numbers = line.split(' ').map(|number| number.parse().unwrap_or_else(|_| panic!("{line:?}")));
            (numbers.next().expect("a level"), numbers.next().expect("a PID"))
        })
        .collect()
}

/// The `--hook` arguments that serve exec and exit from `hook` programs.
fn hooks(hook: &str) -> [String; 4] {
    ["--hook".into(), format!("exec={hook}"), "--hook".into(), format!("exit={hook}")]
}

/// `-c idchild`, where idchild is started by a shell's subshell that is gone long before tracer
/// reads the event: its exec and exit name the subshell, the shell above it and this test by
/// the TGID, start and comm they had.
fn check_parent_gone_under_a_comm_filter(hook: &str) {
    if !lifecycle_hook_offered(hook, &["exec", "exit"]) {
        return;
    }
    let (dir, path) = renamed_workload("idchild");
    let hooks = hooks(hook);
    let mut args = vec!["--json", "-e", "exec,exit", "-c", "idchild"];
    args.extend(hooks.iter().map(String::as_str));
    let tracer = Tracer::start(&args);
    // Each shell prints itself before going on; the subshell's `true` keeps it from exec'ing
    // the child in its place.
    let script = format!("{PRINT_SHELL}\n( {PRINT_SHELL}; \"$0\" true; true ); true");
    let output = Command::new("sh").args(["-c", &script]).arg(&path).output().expect("run sh");
    assert!(output.status.success(), "{output:?}");
    let stopped = tracer.stop();
    let shells = shells_printed(&output.stdout);
    let [(outer, outer_ticks, outer_comm), (subshell, subshell_ticks, subshell_comm)] = &shells[..] else {
        panic!("{shells:?}")
    };
    let events = stopped.events();
    let context = format!("[{} {hook}]", machine());
    let exec = one(&events, "exec of idchild", |event| event["event"] == "exec");
    let exit = one(&events, "exit of idchild", |event| event["event"] == "exit");
    let me = u64::from(std::process::id());
    let (my_ticks, my_comm) = this_process();
    let shell = shell_program();
    for event in [exec, exit] {
        let ancestors = &event["ancestors"];
        let what = format!("{context} the subshell");
        assert_ancestor(&ancestors[0], *subshell, *subshell_ticks, subshell_comm, &what);
        assert_ancestor(&ancestors[1], *outer, *outer_ticks, outer_comm, &format!("{context} the shell"));
        assert_ancestor(&ancestors[2], me, my_ticks, &my_comm, &format!("{context} this test"));
        // Gone or not when tracer looked, the subshell ran the shell's program, never idchild.
        let exe = &ancestors[0]["exe"];
        assert!(exe.is_null() || *exe == shell.as_str(), "{context} {shell}: {event}");
        assert_eq!(event["ancestors_truncated"], false, "{context} {event}");
        assert_eq!(ancestor_tgids(event).last(), Some(&1), "{context} up to PID 1: {event}");
    }
    assert_eq!(exec["ancestors"], exit["ancestors"], "{context} one chain at exec and at exit");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_parent_gone_before_tracer_reads_is_named_under_a_comm_filter_from_tp_btf_hooks() {
    check_parent_gone_under_a_comm_filter("tp_btf");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_parent_gone_before_tracer_reads_is_named_under_a_comm_filter_from_raw_tracepoints() {
    check_parent_gone_under_a_comm_filter("raw_tracepoint");
}

/// Levels of the nested workload: more than the kernel keeps.
const NEST: u64 = 20;
/// Ancestors an event keeps (`tracer_common::ANCESTOR_DEPTH`).
const KEPT: usize = 16;

/// A chain of 20 processes, each the parent of the next, traced with `-c`: the innermost one's
/// ancestors are the 16 levels above it, by TGID, start and program, and the chain says it was
/// cut, at exec and at exit; the outermost one's nearest ancestor is this test. Each level's
/// fork of the next names the same ancestors as that level's exec: its creator's.
fn check_deep_chain(hook: &str) {
    if !lifecycle_hook_offered(hook, &["fork", "exec", "exit"]) {
        return;
    }
    let (dir, path) = renamed_workload("anc-nest");
    let hooks = hooks(hook);
    let fork_hook = format!("fork={hook}");
    let mut args = vec!["--json", "-e", "fork,exec,exit", "-c", "anc-nest", "--hook", &fork_hook];
    args.extend(hooks.iter().map(String::as_str));
    let tracer = Tracer::start(&args);
    let output = Command::new(&path).args(["nest", &NEST.to_string()]).output().expect("run the workload");
    assert!(output.status.success(), "{output:?}");
    let stopped = tracer.stop();
    // `LEVEL PID` per level, outermost (NEST) first.
    let levels: Vec<(u64, u64)> = levels_printed(&output.stdout);
    assert_eq!(levels.len() as u64, NEST + 1, "{levels:?}");
    let pid_at = |level: u64| levels.iter().find(|(at, _)| *at == level).expect("every level printed").1;
    let events = stopped.events();
    let context = format!("[{} {hook}]", machine());
    let exec_of = |level: u64| {
        let pid = pid_at(level);
        one(&events, &format!("exec of level {level}"), |event| event["event"] == "exec" && event["tgid"] == pid)
    };
    let innermost = exec_of(0);
    let ancestors = innermost["ancestors"].as_array().expect("ancestors");
    assert_eq!(ancestors.len(), KEPT, "{context} as many as the kernel keeps: {innermost}");
    assert_eq!(innermost["ancestors_truncated"], true, "{context} and the chain says it goes on: {innermost}");
    for (index, ancestor) in ancestors.iter().enumerate() {
        let level = exec_of(index as u64 + 1);
        assert_eq!(field(ancestor, "tgid"), field(level, "tgid"), "{context} level {}: {ancestor}", index + 1);
        assert_eq!(field(ancestor, "start_ns"), field(level, "start_ns"), "{context} {ancestor}");
        assert_eq!(ancestor["comm"], "anc-nest", "{context} {ancestor}");
        assert_eq!(ancestor["exe"], path.to_str().unwrap(), "{context} seen to exec: {ancestor}");
    }
    let innermost_exit =
        one(&events, "exit of level 0", |event| event["event"] == "exit" && event["tgid"] == innermost["tgid"]);
    assert_eq!(innermost_exit["ancestors"], innermost["ancestors"], "{context} {innermost_exit}");
    assert_eq!(innermost_exit["ancestors_truncated"], true, "{context} {innermost_exit}");
    let outermost = exec_of(NEST);
    assert_eq!(field(&outermost["ancestors"][0], "tgid"), u64::from(std::process::id()), "{context} {outermost}");
    for level in 1..=NEST {
        let (creator, exec) = (pid_at(level), exec_of(level));
        let fork = one(&events, &format!("fork of level {}", level - 1), |event| {
            event["event"] == "fork" && event["tgid"] == creator && event["thread"] == false
        });
        assert_eq!(fork["child_tgid"], pid_at(level - 1), "{context} {fork}");
        assert_eq!(fork["ancestors"], exec["ancestors"], "{context} the creator's chain: {fork}");
        assert_eq!(fork["ancestors_truncated"], exec["ancestors_truncated"], "{context} {fork}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_chain_deeper_than_the_bound_is_cut_and_says_so_from_tp_btf_hooks() {
    check_deep_chain("tp_btf");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_chain_deeper_than_the_bound_is_cut_and_says_so_from_raw_tracepoints() {
    check_deep_chain("raw_tracepoint");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn an_orphan_exiting_after_adoption_names_its_adoptive_parent() {
    let (dir, path) = renamed_workload("anc-orphan");
    let subreaper = Subreaper::on();
    let tracer = Tracer::start(&["--json", "-e", "exec,exit", "-c", "anc-orphan"]);
    // The orphan execs while its shell still lives, and exits after the shell is gone.
    let status = Command::new("sh")
        .args(["-c", "\"$0\" nest 0 --linger 600 >/dev/null & sleep 0.2; exit 0"])
        .arg(&path)
        .status()
        .expect("run the shell");
    assert!(status.success());
    std::thread::sleep(std::time::Duration::from_millis(800));
    reap_orphans();
    let stopped = tracer.stop();
    drop(subreaper);
    let events = stopped.events();
    let exec = one(&events, "exec of the orphan", |event| event["event"] == "exec");
    let exit = one(&events, "exit of the orphan", |event| event["event"] == "exit");
    let me = u64::from(std::process::id());
    let (my_ticks, my_comm) = this_process();
    assert_eq!(exec["ancestors"][0]["comm"], "sh", "[{}] at exec, the shell: {exec}", machine());
    assert_eq!(field(&exec["ancestors"][1], "tgid"), me, "[{}] {exec}", machine());
    assert_ancestor(&exit["ancestors"][0], me, my_ticks, &my_comm, "at exit, the adoptive parent");
    assert_eq!(field(exit, "ppid"), me, "[{}] {exit}", machine());
    let _ = std::fs::remove_dir_all(dir);
}
