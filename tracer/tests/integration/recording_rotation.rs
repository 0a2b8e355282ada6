//! `-o FILE` with rotation, against the real binary and kernel (as root): under a task storm a
//! recording rotated every 300 KiB holds, across its files, exactly the events a single
//! recording made at the same time holds; each rotated file replays on its own (its header, its
//! trailer); `tracer replay` takes them all, by name or by a glob, in time order; and SIGHUP
//! after an outside rename closes the renamed file and starts a new one.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use crate::common::{Tracer, field, machine, rotated_files, run_tracer, run_workload};
use serde_json::Value;

/// `tracer replay ARGS --json`: its stdout and stderr, after checking it exited 0.
fn replay(args: &[&Path]) -> (String, String) {
    let mut all: Vec<&str> = vec!["replay", "--json"];
    all.extend(args.iter().map(|path| path.to_str().unwrap()));
    let output = run_tracer(&all);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "[{}] replay {args:?}: {stderr}", machine());
    (String::from_utf8(output.stdout).expect("JSON is UTF-8"), stderr)
}

/// Events as JSON values without the fields each tracer's program run stamps on its own: the
/// timestamp, the CPU and an exit's lifetime (the difference of two timestamps).
fn untimed(lines: &str) -> Vec<Value> {
    let mut events: Vec<Value> = lines
        .lines()
        .map(|line| {
            let mut event: Value = serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}"));
            let object = event.as_object_mut().expect("an object");
            object.remove("ts");
            object.remove("cpu");
            object.remove("lifetime_ns");
            event
        })
        .collect();
    events.sort_by_key(|event| event.to_string());
    events
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_rotated_recording_holds_what_a_single_one_holds() {
    const LIMIT: u64 = 300 * 1024;
    const TASKS: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let single = dir.path().join("single.rec");
    let rotated = dir.path().join("rotated.rec");
    let common = ["-q", "-c", "tracer-workload", "-e", "fork,exit", "--buffer-size", "64"];
    let one = Tracer::start(&[&common[..], &["-o", single.to_str().unwrap()]].concat());
    let many = Tracer::start(
        &[&common[..], &["-o", rotated.to_str().unwrap(), "--rotate-size", "300K", "--rotate-keep", "1000"]].concat(),
    );
    let (storm, _) = run_workload(&["storm", "--shape", "fork", "--tasks", &TASKS.to_string(), "--cores", "one"]);
    let (one, many) = (one.stop(), many.stop());
    assert!(one.status.success() && many.status.success(), "[{}] {}{}", machine(), one.stderr, many.stderr);

    let files = rotated_files(&rotated);
    assert!(files.len() >= 5, "[{}] about 2 MB in 300 KiB files, got {files:?}", machine());
    let mut union = String::new();
    for file in &files {
        let size = std::fs::metadata(file).unwrap().len();
        // The limit bounds header and records; the trailer (under 200 bytes) comes on top.
        assert!(size <= LIMIT + 200, "[{}] {} is {size} bytes", machine(), file.display());
        // Each file alone: a header, whole records, a trailer that counts them (replay exits 0
        // only then, and says nothing is missing).
        let (events, stderr) = replay(&[file]);
        assert!(!stderr.contains("missing") && !stderr.contains("not closed"), "{}: {stderr}", file.display());
        union.push_str(&events);
    }
    // All of them at once, in any order on the command line or from a glob: the same, in time order.
    let mut reversed: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    reversed.reverse();
    let (by_name, stderr) = replay(&reversed);
    assert!(by_name == union, "[{}] replaying every file differs from replaying each in turn", machine());
    let reading: Vec<&str> = stderr.lines().filter(|line| line.starts_with("tracer: reading ")).collect();
    assert_eq!(reading.len(), files.len(), "a line per file: {stderr}");
    for (line, file) in reading.iter().zip(&files) {
        assert!(line.starts_with(&format!("tracer: reading {}:", file.display())), "oldest first: {stderr}");
    }
    let (by_glob, _) = replay(&[&dir.path().join("rotated.rec*")]);
    assert!(by_glob == union, "[{}] the glob reads the same files in the same order", machine());

    // Exactly the events of the single recording made alongside: none lost, none twice.
    let (whole, _) = replay(&[&single]);
    let (rotated_events, single_events) = (untimed(&union), untimed(&whole));
    assert!(rotated_events.iter().all(|event| event["event"] != "lost"), "[{}] nothing was lost", machine());
    assert_eq!(rotated_events.len(), single_events.len(), "[{}] as many events as one file holds", machine());
    if let Some((a, b)) = rotated_events.iter().zip(&single_events).find(|(a, b)| a != b) {
        panic!("[{}] the rotated files hold {a}\nwhere one file holds {b}", machine());
    }
    let forks = rotated_events
        .iter()
        .filter(|event| event["event"] == "fork" && field(event, "tgid") == u64::from(storm))
        .count();
    assert_eq!(forks as u64, TASKS, "[{}] every fork of the storm", machine());
    assert_eq!(rotated_events.len() as u64, 2 * TASKS + 1, "[{}] its forks and exits, and its own exit", machine());
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn sighup_after_a_rename_closes_the_recording_and_starts_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("t.rec");
    let moved = dir.path().join("t.rec.old");
    let tracer = Tracer::start(&["-q", "-c", "tracer-workload", "-f", "-o", recording.to_str().unwrap()]);
    let first = run_workload(&["lifecycle"]).0;
    std::thread::sleep(Duration::from_millis(300));
    std::fs::rename(&recording, &moved).unwrap();
    // SAFETY: signals the tracer this test started.
    unsafe { libc::kill(tracer.pid() as i32, libc::SIGHUP) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !recording.exists() {
        assert!(Instant::now() < deadline, "[{}] no new recording after SIGHUP", machine());
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = run_workload(&["lifecycle"]).0;
    let stopped = tracer.stop();
    assert!(stopped.status.success(), "[{}] {}", machine(), stopped.stderr);
    let tgids = |path: &Path| -> Vec<u64> {
        let (events, stderr) = replay(&[path]);
        assert!(!stderr.contains("not closed"), "{} has its trailer: {stderr}", path.display());
        untimed(&events).iter().map(|event| field(event, "tgid")).collect()
    };
    let (old, new) = (tgids(&moved), tgids(&recording));
    assert!(old.contains(&u64::from(first)) && !old.contains(&u64::from(second)), "[{}] {old:?}", machine());
    assert!(new.contains(&u64::from(second)) && !new.contains(&u64::from(first)), "[{}] {new:?}", machine());
}
