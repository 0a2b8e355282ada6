//! `--json-output` with rotation, against the real binary and kernel (as root): under a task
//! storm the rotated files hold every event exactly once, in order, exactly as the recording
//! rotated alongside does (replayed from all its files at once); rotation by age; and reopening
//! on SIGHUP after the real logrotate renamed the file.

use std::{
    collections::HashSet,
    os::unix::fs::PermissionsExt,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use crate::common::{Tracer, field, host_only, machine, need_program, rotated_files, run_tracer, run_workload};
use serde_json::Value;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// `tracer replay FILE --json`'s stdout (FILE may be a glob pattern, which tracer expands).
fn replayed(recording: &Path) -> String {
    let output = run_tracer(&["replay", recording.to_str().unwrap(), "--json"]);
    assert!(output.status.success(), "replay: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("JSON is UTF-8")
}

fn parse(lines: &str) -> Vec<Value> {
    lines.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}"))).collect()
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn rotated_files_hold_every_event_of_a_storm_exactly_once() {
    const LIMIT: u64 = 256 * 1024;
    const TASKS: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("events.json");
    let recording = dir.path().join("all.rec");
    let tracer = Tracer::start(&[
        "-q",
        "-c",
        "tracer-workload",
        "-e",
        "fork,exit",
        "--buffer-size",
        "64",
        "-o",
        recording.to_str().unwrap(),
        "--json-output",
        json.to_str().unwrap(),
        "--rotate-size",
        "256K",
        "--rotate-keep",
        "1000",
    ]);
    let (storm, _) = run_workload(&["storm", "--shape", "fork", "--tasks", &TASKS.to_string(), "--cores", "one"]);
    let stopped = tracer.stop();
    assert!(stopped.status.success(), "[{}] {}", machine(), stopped.stderr);

    let files = rotated_files(&json);
    assert!(files.len() >= 20, "[{}] about 10 MB in 256 KiB files, got {} files", machine(), files.len());
    let mut union = String::new();
    for (index, file) in files.iter().enumerate() {
        let text = read(file);
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
        assert!(text.ends_with('\n'), "{} ends with a whole line", file.display());
        assert!(text.len() as u64 <= LIMIT, "{} is {} bytes", file.display(), text.len());
        if let Some(next) = files.get(index + 1) {
            // Rotated only when the next line would not have fit.
            let first_next = read(next).lines().next().map_or(0, |line| line.len() + 1) as u64;
            assert!(text.len() as u64 + first_next > LIMIT, "{} rotated early ({} bytes)", file.display(), text.len());
        }
        union.push_str(&text);
    }
    // The same events, in the same order, as the recording rotated alongside (each of its files
    // a whole recording, see recording_rotation.rs), replayed from a glob.
    let recordings = rotated_files(&recording);
    assert!(recordings.len() >= 10, "[{}] the recording rotated too: {recordings:?}", machine());
    let recorded = replayed(&dir.path().join("all.rec*"));
    assert!(union == recorded, "[{}] the rotated files differ from the recording", machine());

    // And exactly what the storm did: each of its forks and each exit of its children and itself.
    let events = parse(&union);
    assert!(events.iter().all(|event| event["event"] != "lost"), "nothing was lost");
    let keys: HashSet<(String, u64, String)> = events
        .iter()
        .map(|event| (event["ts"].as_str().unwrap().to_owned(), field(event, "tid"), event["event"].to_string()))
        .collect();
    assert_eq!(keys.len(), events.len(), "no event twice");
    let forks =
        events.iter().filter(|event| event["event"] == "fork" && field(event, "tgid") == u64::from(storm)).count();
    let child_exits =
        events.iter().filter(|event| event["event"] == "exit" && field(event, "ppid") == u64::from(storm)).count();
    let own_exit =
        events.iter().filter(|event| event["event"] == "exit" && field(event, "tgid") == u64::from(storm)).count();
    assert_eq!((forks, child_exits, own_exit), (TASKS as usize, TASKS as usize, 1), "[{}]", machine());
    assert_eq!(events.len() as u64, 2 * TASKS + 1, "[{}] only the storm's tasks", machine());
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn rotation_by_age_starts_a_file_per_burst() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("events.json");
    let recording = dir.path().join("all.rec");
    let tracer = Tracer::start(&[
        "-q",
        "-c",
        "tracer-workload",
        "-f",
        "-o",
        recording.to_str().unwrap(),
        "--json-output",
        json.to_str().unwrap(),
        "--rotate-age",
        "1s",
    ]);
    let start = Instant::now();
    let mut runs = Vec::new();
    for burst in 0..3 {
        // A file is rotated 1 s after its first line: bursts 2 s apart each get one.
        let at = Duration::from_secs(2 * burst);
        std::thread::sleep(at.saturating_sub(start.elapsed()));
        runs.push(u64::from(run_workload(&["lifecycle"]).0));
    }
    let stopped = tracer.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let files = rotated_files(&json);
    let per_file: Vec<Vec<Value>> = files.iter().map(|file| parse(&read(file))).collect();
    let tgids: Vec<HashSet<u64>> =
        per_file.iter().map(|events| events.iter().map(|event| field(event, "tgid")).collect()).collect();
    // Each burst's main process, in its own file, in order (its children have their own TGIDs).
    assert_eq!(files.len(), 3, "[{}] one file per burst: {files:?} {tgids:?}", machine());
    for (file, run) in tgids.iter().zip(&runs) {
        assert!(file.contains(run), "[{}] {tgids:?} {runs:?}", machine());
    }
    let union: String = files.iter().map(|file| read(file)).collect();
    // The recording rotated by age as well: a file per burst.
    assert_eq!(rotated_files(&recording).len(), 3, "[{}] {:?}", machine(), rotated_files(&recording));
    let recorded = replayed(&dir.path().join("all.rec*"));
    assert!(union == recorded, "[{}] the rotated files differ from the recording", machine());
}

/// Runs logrotate once (forced) on `json` with `directives`, signalling tracer as its
/// `postrotate` script.
fn logrotate(dir: &Path, json: &Path, directives: &str, tracer_pid: u32) {
    let config = dir.join("logrotate.conf");
    let text = format!(
        "{} {{\n    rotate 5\n    missingok\n{directives}    postrotate\n        kill -HUP {tracer_pid}\n    endscript\n}}\n",
        json.display()
    );
    std::fs::write(&config, text).unwrap();
    let output = Command::new("logrotate")
        .args(["--force", "--state"])
        .arg(dir.join("logrotate.state"))
        .arg(&config)
        .output()
        .expect("run logrotate");
    assert!(output.status.success(), "logrotate: {}", String::from_utf8_lossy(&output.stderr));
}

/// Gives tracer time to drain and write a workload's last events (it drains every 50 ms): a
/// reopen separates what was written before it from what is written after.
fn settle() {
    std::thread::sleep(Duration::from_millis(300));
}

fn wait_for(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "waited 10 s for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn sighup_reopens_after_logrotate_and_never_writes_into_its_files() {
    host_only("logrotate");
    need_program("logrotate", "logrotate");
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("events.json");
    let rotated = |index: u32| dir.path().join(format!("events.json.{index}"));
    let recording = dir.path().join("all.rec");
    let tracer = Tracer::start(&[
        "-q",
        "-c",
        "tracer-workload",
        "-f",
        "-o",
        recording.to_str().unwrap(),
        "--json-output",
        json.to_str().unwrap(),
    ]);
    let pid = tracer.pid();
    let inode = |path: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).unwrap());

    let first = run_workload(&["lifecycle"]).0;
    settle();
    // logrotate's recommended way for tracer: rename, no new file, then SIGHUP.
    logrotate(dir.path(), &json, "    nocreate\n", pid);
    wait_for("tracer to create a new file", || json.exists());
    let second = run_workload(&["lifecycle"]).0;
    // A SIGHUP without a rename changes nothing.
    let before = inode(&json);
    unsafe { libc::kill(pid as i32, libc::SIGHUP) };
    let third = run_workload(&["lifecycle"]).0;
    settle();
    assert_eq!(inode(&json), before, "the same file");
    // logrotate's `create`: a new file appears before the SIGHUP. tracer must not write into
    // it and keeps writing into the renamed one instead.
    logrotate(dir.path(), &json, "    create 0644 root root\n", pid);
    let fourth = run_workload(&["lifecycle"]).0;
    let stopped = tracer.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert!(
        stopped.stderr.contains(&format!("{} was replaced by a file tracer did not create", json.display())),
        "a warning names the file: {}",
        stopped.stderr
    );

    assert_eq!(read(&json), "", "logrotate's file is left alone");
    let tgids = |path: &Path| -> HashSet<u32> { parse(&read(path)).iter().map(|e| field(e, "tgid") as u32).collect() };
    let (oldest, newer) = (tgids(&rotated(2)), tgids(&rotated(1)));
    assert!(oldest.contains(&first) && ![second, third, fourth].iter().any(|run| oldest.contains(run)), "{oldest:?}");
    assert!([second, third, fourth].iter().all(|run| newer.contains(run)) && !newer.contains(&first), "{newer:?}");
    let union = read(&rotated(2)) + &read(&rotated(1));
    assert!(union == replayed(&recording), "the files hold exactly what was recorded");
}
