//! `tracer run` and signals, against the real binary and kernel (as root): those sent to tracer
//! reach the command once, a terminal's Ctrl-C is not sent twice, a signal after the command
//! exited or before it started stops tracer, and tracer dies of the signal that killed the
//! command. The `signals` workload reports each signal it gets, with its si_code and sender.

use std::{
    io::{BufRead, BufReader, Read},
    os::unix::process::ExitStatusExt,
    process::{Output, Stdio},
    time::{Duration, Instant},
};

use crate::common::run::{
    OnTerminal, assert_summary, caught, events_in, scratch, signal, start_until_ready, text, tracer_command,
    wait_within,
};
use crate::common::{machine, require_root, workload_bin};

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn signals_sent_to_tracer_reach_the_command_once_and_tracing_goes_on() {
    require_root();
    let dir = scratch("forward");
    for sent in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1] {
        let events_file = dir.join(format!("events-{sent}.jsonl"));
        let workload = workload_bin();
        let (mut child, mut stdout) = start_until_ready(&[
            "run",
            "--json",
            "-e",
            "exec,exit",
            "--events-to",
            events_file.to_str().unwrap(),
            "--",
            workload.to_str().unwrap(),
            "signals",
            "--exit",
            "5",
        ]);
        let tracer = child.id();
        signal(tracer, sent);
        let status = wait_within(&mut child, Duration::from_secs(20), "forwarding");
        let mut report = String::new();
        stdout.read_to_string(&mut report).unwrap();
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert_eq!(status.code(), Some(5), "[{}] signal {sent}: {stderr}", machine());
        // Once, from tracer, as kill(2) sends it.
        assert_eq!(caught(&report), [(i64::from(sent), 0, i64::from(tracer))], "signal {sent}: {report}");
        assert_summary(&stderr);
        let events = events_in(&events_file);
        let exit = events.iter().find(|e| e["event"] == "exit" && e["group_dead"] == true);
        assert!(exit.is_some_and(|e| e["exit_code"] == 5), "signal {sent}: traced to the end: {events:?}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_terminals_ctrl_c_reaches_the_command_once() {
    require_root();
    let workload = workload_bin();
    for (key, expected) in [(b"\x03", libc::SIGINT), (b"\x1c", libc::SIGQUIT)] {
        let mut terminal = OnTerminal::start(&[
            "run",
            "-e",
            "exit",
            "--events-to",
            "/dev/null",
            "--",
            workload.to_str().unwrap(),
            "signals",
            "--exit",
            "6",
        ]);
        terminal.wait_for("ready");
        terminal.type_bytes(key);
        let status = wait_within(&mut terminal.child, Duration::from_secs(20), "Ctrl-C");
        terminal.wait_for("\"signals\":");
        terminal.wait_for(" lost, ");
        let output = terminal.output.lock().unwrap().clone();
        assert_eq!(status.code(), Some(6), "[{}] {output}", machine());
        let report = output.lines().find(|line| line.contains("\"signals\":")).unwrap();
        let report = &report[report.find('{').unwrap()..];
        // Once, from the kernel's terminal driver (si_code SI_KERNEL), not again from tracer.
        assert_eq!(caught(report), [(i64::from(expected), 128, 0)], "[{}] {output}", machine());
    }
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn once_the_command_is_gone_a_signal_stops_tracer_waiting_for_what_it_left() {
    require_root();
    let dir = scratch("left-behind");
    let events_file = dir.join("events.jsonl");
    let mut child = tracer_command()
        .args(["run", "--json", "-e", "exec,exit", "--events-to", events_file.to_str().unwrap()])
        .args(["--", "sh", "-c", "sleep 60 & echo $!; exit 6"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let sleeper: u32 = line.trim().parse().unwrap_or_else(|_| panic!("the background pid: {line:?}"));
    // The command's exit is traced, and tracer goes on waiting for the sleep it left.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !events_in(&events_file).iter().any(|e| e["event"] == "exit" && e["exit_code"] == 6) {
        assert!(Instant::now() < deadline, "the command's exit was not traced");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY (both): probes a process this test started.
    assert_eq!(unsafe { libc::kill(sleeper as i32, 0) }, 0, "the sleep ended early: {:?}", events_in(&events_file));
    assert!(child.try_wait().unwrap().is_none(), "tracer stopped while the command's sleep lives");
    signal(child.id(), libc::SIGTERM);
    let status = wait_within(&mut child, Duration::from_secs(5), "a stop after the command exited");
    // The sleep runs on, untraced, as the policy says.
    // SAFETY: probes, then ends, the sleep this test started.
    let alive = unsafe { libc::kill(sleeper as i32, 0) } == 0;
    unsafe { libc::kill(sleeper as i32, libc::SIGKILL) };
    // (Read only now: the sleep held tracer's stderr open.)
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(alive, "the left-behind process was killed: {stderr}");
    assert_eq!(status.code(), Some(6), "the command's status: {stderr}");
    assert_summary(&stderr);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_command_killed_by_a_signal_kills_tracer_the_same_way() {
    require_root();
    let output: Output =
        tracer_command().args(["run", "-e", "exit", "--", "sh", "-c", "kill -TERM $$"]).output().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.signal(), Some(libc::SIGTERM), "[{}] {stderr}", machine());
    assert!(!output.status.core_dumped());
    assert_summary(&stderr);
    assert!(stderr.contains("killed by SIGTERM, process gone"), "{stderr}");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_signal_while_loading_stops_tracer_before_the_command_starts() {
    require_root();
    let mut child = tracer_command()
        .args(["run", "--", "sh", "-c", "echo started"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once tracer holds SIGTERM back (it does before loading), send it.
    let status_file = format!("/proc/{}/status", child.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = std::fs::read_to_string(&status_file).unwrap_or_default();
        let blocked = status.lines().find_map(|line| line.strip_prefix("SigBlk:")).map(str::trim);
        if blocked
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .is_some_and(|bits| bits & (1 << (libc::SIGTERM - 1)) != 0)
        {
            break;
        }
        assert!(Instant::now() < deadline, "tracer never blocked SIGTERM: {status}");
        std::thread::sleep(Duration::from_millis(1));
    }
    signal(child.id(), libc::SIGTERM);
    let status = wait_within(&mut child, Duration::from_secs(20), "a signal while loading");
    let output = child.wait_with_output().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "", "the command started");
    assert_eq!(text(&output.stderr), "", "nothing attached, nothing to report");
}
