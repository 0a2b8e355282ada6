//! Filters, recording and replay, lost events and error handling, against the
//! real binary and kernel (as root).

use std::{
    io::{BufRead, BufReader, Write},
    os::unix::{fs::PermissionsExt, process::CommandExt},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::{
    Tracer, field, machine, require_root, run_tracer, run_workload, scratch_dir, stderr_of, tracer_bin, workload_bin,
};
use serde_json::Value;

/// The `pair` workload, started and waiting for the go line: (child, tgid, thread tid).
fn start_pair() -> (std::process::Child, u64, u64) {
    let mut child = Command::new(workload_bin())
        .arg("pair")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the pair workload");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).expect("pair prints its ids");
    let mut ids = line.split_whitespace().map(|id| id.parse::<u64>().expect("numeric id"));
    let (tgid, tid) = (ids.next().expect("tgid"), ids.next().expect("tid"));
    (child, tgid, tid)
}

fn finish_pair(mut child: std::process::Child) {
    child.stdin.take().expect("piped").write_all(b"go\n").expect("send go");
    assert!(child.wait().expect("wait for pair").success());
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn pid_and_tid_filters_select_a_process_or_one_thread() {
    let (pair, tgid, tid) = start_pair();
    let whole = Tracer::start(&["--json", "-p", &tgid.to_string(), "-e", "rename,exit"]);
    let thread = Tracer::start(&["--json", "-t", &tid.to_string(), "-e", "rename,exit"]);
    finish_pair(pair);
    let (whole, thread) = (whole.stop().events(), thread.stop().events());
    // Each task's events in order: (kind, new comm). The two tasks' events may interleave: the
    // thread's join wakes the leader before the thread's exit tracepoint runs.
    let of_task = |events: &[Value], task: u64| -> Vec<(String, String)> {
        events
            .iter()
            .filter(|e| field(e, "tid") == task)
            .map(|e| (e["event"].as_str().unwrap().to_owned(), e["new_comm"].as_str().unwrap_or("").to_owned()))
            .collect()
    };
    let context = machine();
    let thread_events = vec![("rename".to_owned(), "pair-thread".to_owned()), ("exit".to_owned(), String::new())];
    let leader_events = vec![("rename".to_owned(), "pair-leader".to_owned()), ("exit".to_owned(), String::new())];
    assert_eq!(thread.len(), 2, "[{context}] --tid {tid} shows that thread only: {thread:?}");
    assert_eq!(of_task(&thread, tid), thread_events, "[{context}] --tid {tid}: {thread:?}");
    assert_eq!(whole.len(), 4, "[{context}] --pid {tgid} shows both tasks: {whole:?}");
    assert_eq!(of_task(&whole, tid), thread_events, "[{context}] --pid {tgid}: {whole:?}");
    assert_eq!(of_task(&whole, tgid), leader_events, "[{context}] --pid {tgid}: {whole:?}");
    assert!(whole.iter().all(|e| field(e, "tgid") == tgid));
    let deaths = whole.iter().filter(|e| e["event"] == "exit" && e["group_dead"] == true).count();
    assert_eq!(deaths, 1, "[{context}] the process dies exactly once: {whole:?}");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn follow_traces_descendants_through_exec() {
    let dir = scratch_dir("follow");
    // A shell whose comm is `fw-root`: its children exec into other programs.
    let root = dir.join("fw-root");
    std::os::unix::fs::symlink("/bin/sh", &root).expect("symlink");
    // Commands that are not last make each shell fork: root -> sh -> cat.
    let script = "sh -c 'cat /proc/self/comm > /dev/null; exit 0'; exit 0";
    let followed = Tracer::start(&["--json", "-c", "fw-root", "-f", "-e", "fork,exec,exit"]);
    let plain = Tracer::start(&["--json", "-c", "fw-root", "-e", "fork,exec,exit"]);
    // argv[0] "sh" keeps a multi-call busybox (the VM's sh) working; comm comes from the file name.
    let mut child = Command::new(&root).arg0("sh").args(["-c", script]).spawn().expect("run fw-root");
    let root_pid = u64::from(child.id());
    assert!(child.wait().expect("wait").success());
    let (followed, plain) = (followed.stop().events(), plain.stop().events());
    let exec_names = |events: &[Value]| -> Vec<String> {
        events.iter().filter(|e| e["event"] == "exec").map(|e| e["comm"].as_str().unwrap().to_owned()).collect()
    };
    // Without --follow only fw-root's own events: its exec, its fork of a child, its exit.
    assert_eq!(exec_names(&plain), ["fw-root"], "[{}] {plain:?}", machine());
    assert!(plain.iter().all(|e| field(e, "tgid") == root_pid), "{plain:?}");
    // With it, the child that exec'd sh, and the grandchild that exec'd cat.
    assert_eq!(exec_names(&followed), ["fw-root", "sh", "cat"], "[{}] {followed:?}", machine());
    let sh = followed.iter().find(|e| e["event"] == "exec" && e["comm"] == "sh").unwrap();
    let cat = followed.iter().find(|e| e["event"] == "exec" && e["comm"] == "cat").unwrap();
    assert_eq!(field(sh, "ppid"), root_pid);
    assert_eq!(field(cat, "ppid"), field(sh, "tgid"));
    for pid in [root_pid, field(sh, "tgid"), field(cat, "tgid")] {
        let exit = followed.iter().find(|e| e["event"] == "exit" && field(e, "tid") == pid);
        assert!(exit.is_some_and(|e| e["group_dead"] == true && e["exit_code"] == 0), "exit of {pid}: {followed:?}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn replay_prints_exactly_what_the_live_run_printed() {
    let dir = scratch_dir("replay");
    for json in [false, true] {
        let file = dir.join(if json { "json.rec" } else { "table.rec" });
        let file_arg = file.to_str().unwrap();
        let mut args = vec!["-c", "tracer-workload", "-f", "-o", file_arg];
        if json {
            args.push("--json");
        }
        let tracer = Tracer::start(&args);
        run_workload(&["lifecycle"]);
        let live = tracer.stop();
        assert!(live.status.success(), "{}", live.stderr);
        assert!(live.lines.len() > 10, "live output: {:?}", live.lines);
        let mode = std::fs::metadata(&file).expect("recording exists").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "recordings are private");
        let mut replay_args = vec!["replay", file_arg];
        if json {
            replay_args.push("--json");
        }
        let replayed = run_tracer(&replay_args);
        assert!(replayed.status.success(), "{}", stderr_of(&replayed));
        let live_text: String = live.lines.iter().map(|line| format!("{line}\n")).collect();
        assert_eq!(
            String::from_utf8_lossy(&replayed.stdout),
            live_text,
            "[{}] replay differs from live (json={json})",
            machine()
        );
        // Filters apply to replays as they do live.
        let exits = run_tracer(&["replay", file_arg, "--json", "-e", "exit"]);
        let exits: Vec<Value> =
            String::from_utf8_lossy(&exits.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert!(!exits.is_empty() && exits.iter().all(|e| e["event"] == "exit"), "{exits:?}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn existing_recordings_are_never_overwritten_silently() {
    require_root();
    let dir = scratch_dir("exists");
    let file = dir.join("keep.rec");
    std::fs::write(&file, b"precious").unwrap();
    let output = run_tracer(&["-o", file.to_str().unwrap(), "-d", "0.2"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr_of(&output);
    assert_eq!(stderr.trim(), format!("tracer: {} already exists (use --force to overwrite it)", file.display()));
    assert_eq!(std::fs::read(&file).unwrap(), b"precious");
    let output = run_tracer(&["-o", file.to_str().unwrap(), "--force", "-q", "-d", "0.2", "-c", "no-such-comm"]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_ne!(std::fs::read(&file).unwrap(), b"precious");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn lost_events_are_reported_inline_totalled_and_in_the_exit_status() {
    let tracer = Tracer::start(&["--json", "--buffer-size", "1", "-c", "tracer-workload", "-e", "fork,exit"]);
    let pid = {
        // A stopped reader lets the 1 MiB ring buffer fill up.
        let stopped = Command::new("kill").args(["-STOP", &tracer_pid(&tracer)]).status().unwrap();
        assert!(stopped.success());
        run_workload(&["storm", "--shape", "fork", "--tasks", "20000", "--cores", "one"]);
        tracer_pid(&tracer)
    };
    assert!(Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    let stopped = tracer.stop();
    let events = stopped.events();
    let lost: u64 = events.iter().filter(|e| e["event"] == "lost").map(|e| field(e, "count")).sum();
    let delivered = events.iter().filter(|e| e["event"] != "lost").count() as u64;
    assert!(lost > 0, "[{}] nothing was lost? delivered {delivered}", machine());
    // 20,000 forks, their 20,000 exits, and the storm process's own exit.
    assert_eq!(lost + delivered, 40_001, "every fork and exit was either delivered or counted lost");
    assert_eq!(stopped.status.code(), Some(3), "{}", stopped.stderr);
    assert!(stopped.stderr.contains(&format!(", {lost} lost, ")), "{}", stopped.stderr);
}

fn tracer_pid(tracer: &Tracer) -> String {
    tracer.pid().to_string()
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn errors_get_one_clear_line_and_a_non_zero_exit() {
    require_root();
    let dir = scratch_dir("errors");
    let not_recording = dir.join("notes.txt");
    std::fs::write(&not_recording, "just text\n").unwrap();
    // (arguments, environment, exit status, the one line on stderr)
    type Case = (Vec<String>, Vec<(&'static str, &'static str)>, i32, String);
    let cases: Vec<Case> = vec![
        (vec!["-e".into(), "fork,bogus".into()], vec![], 2, "tracer: --events: unknown event kind \"bogus\" (expected fork, exec, exit, rename, lookup or namespace)".into()),
        (vec!["--bogus-flag".into()], vec![], 2, "tracer: unexpected argument '--bogus-flag' found".into()),
        (vec!["-c".into(), "sixteen-chars-xx".into()], vec![], 2, "tracer: --comm \"sixteen-chars-xx\" is 16 bytes, but a task's comm holds at most 15 bytes, so it could never match".into()),
        (vec!["-d".into(), "0".into()], vec![], 2, "tracer: --duration 0: expected a positive number of seconds".into()),
        (vec!["--hook".into(), "fork=kprobe".into()], vec![], 2, "tracer: --hook \"fork=kprobe\": fork can be served by tp_btf, raw_tracepoint".into()),
        (vec!["replay".into(), not_recording.display().to_string()], vec![], 1, format!("tracer: {} is not a tracer recording (no tracer header)", not_recording.display())),
        (vec!["replay".into(), "/nonexistent/trace.rec".into()], vec![], 1, "tracer: cannot open /nonexistent/trace.rec: No such file or directory (os error 2)".into()),
        (vec!["-o".into(), "/proc/no-such-dir/trace.rec".into()], vec![], 1, "tracer: cannot create /proc/no-such-dir/trace.rec: No such file or directory (os error 2)".into()),
        (vec!["-d".into(), "1".into()], vec![("TRACER_BTF", "/nonexistent/vmlinux")], 1, "tracer: cannot read kernel BTF from /nonexistent/vmlinux: No such file or directory (os error 2) (tracer needs a kernel built with CONFIG_DEBUG_INFO_BTF)".into()),
    ];
    for (args, env, code, message) in cases {
        let output = Command::new(tracer_bin()).args(&args).envs(env).output().unwrap();
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end(), message, "{args:?}");
    }
    // Without privileges.
    let output = Command::new(tracer_bin()).args(["-d", "1"]).uid(65534).gid(65534).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr_of(&output).trim_end(),
        "tracer: tracer needs root (or CAP_BPF and CAP_PERFMON); this process lacks CAP_BPF and CAP_PERFMON"
    );
    // --help shows examples.
    let help = run_tracer(&["--help"]);
    assert!(help.status.success() && String::from_utf8_lossy(&help.stdout).contains("Examples:"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_closed_pipe_ends_tracer_quietly() {
    require_root();
    let mut child = Command::new(tracer_bin())
        .args(["--json", "-c", "tracer-workload", "-f"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("Attached "), "{line}");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    run_workload(&["lifecycle"]);
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with('{'), "{first}");
    drop(stdout);
    // More events to write into the closed pipe.
    run_workload(&["lifecycle"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "tracer kept running after its output closed");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(status.success(), "exit status {status}: {rest}");
    assert_eq!(rest, "", "nothing more on stderr");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn duration_stops_tracer_with_a_summary() {
    require_root();
    let started = Instant::now();
    let output = run_tracer(&["-d", "1", "-c", "no-such-comm"]);
    let elapsed = started.elapsed();
    let stderr = stderr_of(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(30), "{elapsed:?}");
    let summary = stderr.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("tracer: 0 events (fork 0, exec 0, exit 0, rename 0, lookup 0, namespace 0), 0 lost, 1.0"),
        "{stderr}"
    );
}
