//! Recordings against the real binary: the trailer of a clean stop, and what a SIGKILL loses and
//! how replay reports it. Hostile and damaged files are in `recording_hostile`.

use std::{
    collections::BTreeMap,
    path::Path,
    process::{Command, Output, Stdio},
    time::Duration,
};

use crate::common::{Tracer, field, machine, report, run_tracer, run_workload, scratch_dir, stderr_of, workload_bin};
use serde_json::Value;

pub(crate) fn replay_json(file: &Path) -> (Output, Vec<Value>) {
    let output = run_tracer(&["replay", file.to_str().unwrap(), "--json"]);
    let events = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}")))
        .collect();
    (output, events)
}

fn count_by_kind(events: &[Value]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for event in events {
        *counts.entry(event["event"].as_str().expect("event kind").to_owned()).or_insert(0) += 1;
    }
    counts
}

/// The workload W's own events, by the bench's rules (xtask/src/bench/count.rs): forks by W,
/// exits of W's threads but its main one, and exits of W's children.
fn workload_events(events: &[Value], w: u64) -> usize {
    events
        .iter()
        .filter(|e| {
            let (tgid, tid, ppid) = (field(e, "tgid"), field(e, "tid"), field(e, "ppid"));
            match e["event"].as_str() {
                Some("fork") => tgid == w,
                Some("exit") => (tgid == w && tid != w) || (ppid == w && tgid != w),
                _ => false,
            }
        })
        .count()
}

fn timestamp_ns(event: &Value) -> u64 {
    let ts = event["ts"].as_str().expect("ts");
    ts.parse::<jiff::Timestamp>().unwrap_or_else(|error| panic!("ts {ts}: {error}")).as_nanosecond() as u64
}

fn wall_now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// The frames of a recording after its header, as (marker, payload) with their offsets, read by
/// the documented framing (tracer/src/recording/mod.rs).
pub(crate) fn frames(bytes: &[u8]) -> Vec<(usize, [u8; 4], &[u8])> {
    let header_len = 18 + u32::from_le_bytes(bytes[10..14].try_into().unwrap()) as usize;
    let mut at = header_len;
    let mut frames = Vec::new();
    while at < bytes.len() {
        let marker: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
        let payload = &bytes[at + 12..at + 12 + len];
        assert_eq!(crc32fast::hash(payload), crc, "frame at {at}");
        frames.push((at, marker, payload));
        at += 12 + len;
    }
    frames
}

pub(crate) const RECORD_MARKER: [u8; 4] = [0xf5, 0x1e, 0xc0, 0x8d];
pub(crate) const TRAILER_MARKER: [u8; 4] = [0xf5, 0x1e, 0xc0, 0xed];

/// A trailer payload, decoded by the documented layout: (end ns, kernel losses, output losses,
/// records by kind).
fn decode_trailer(payload: &[u8]) -> (u64, u64, u64, BTreeMap<String, u64>) {
    let u64_at = |at: usize| u64::from_le_bytes(payload[at..at + 8].try_into().unwrap());
    let kinds = u16::from_le_bytes(payload[24..26].try_into().unwrap());
    let mut at = 26;
    let mut records = BTreeMap::new();
    for _ in 0..kinds {
        let len = payload[at] as usize;
        let name = std::str::from_utf8(&payload[at + 1..at + 1 + len]).expect("ASCII kind name").to_owned();
        records.insert(name, u64_at(at + 1 + len));
        at += 1 + len + 8;
    }
    (u64_at(0), u64_at(8), u64_at(16), records)
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_clean_stop_ends_the_file_with_a_trailer_that_replay_checks() {
    let dir = scratch_dir("trailer");
    let file = dir.join("trace.rec");
    let started = wall_now_ns();
    let tracer = Tracer::start(&["--json", "-c", "tracer-workload", "-f", "-o", file.to_str().unwrap()]);
    run_workload(&["lifecycle"]);
    let live = tracer.stop();
    let stopped = wall_now_ns();
    assert!(live.status.success(), "{}", live.stderr);
    let live_events = live.events();
    assert!(live_events.len() > 10, "{:?}", live.lines);

    let bytes = std::fs::read(&file).expect("read the recording");
    let frames = frames(&bytes);
    let (last_at, last_marker, last_payload) = *frames.last().expect("frames");
    assert_eq!(last_marker, TRAILER_MARKER, "[{}] the last frame (at {last_at}) is the trailer", machine());
    assert!(frames[..frames.len() - 1].iter().all(|(_, marker, _)| *marker == RECORD_MARKER));
    let (end_ns, kernel_lost, output_lost, records) = decode_trailer(last_payload);
    assert!((started..=stopped).contains(&end_ns), "end time {end_ns} outside {started}..={stopped}");
    assert_eq!((kernel_lost, output_lost), (0, 0), "{}", live.stderr);
    assert_eq!(records, count_by_kind(&live_events), "the trailer counts what was recorded (and printed)");

    let (replayed, events) = replay_json(&file);
    assert_eq!(replayed.status.code(), Some(0), "{}", stderr_of(&replayed));
    assert_eq!(stderr_of(&replayed).lines().count(), 1, "only the 'reading' line: {}", stderr_of(&replayed));
    assert_eq!(events, live_events);

    // Take one whole record out: every frame is intact, yet replay knows one is missing.
    let (at, _, payload) = frames[2];
    let mut shorter = bytes[..at].to_vec();
    shorter.extend_from_slice(&bytes[at + 12 + payload.len()..]);
    let cut = dir.join("one-less.rec");
    std::fs::write(&cut, &shorter).unwrap();
    let (replayed, events) = replay_json(&cut);
    let stderr = stderr_of(&replayed);
    assert_eq!(replayed.status.code(), Some(1), "{stderr}");
    assert_eq!(events.len(), live_events.len() - 1);
    let mut read = count_by_kind(&events);
    read.retain(|_, count| *count > 0);
    let describe = |counts: &BTreeMap<String, u64>| {
        counts.iter().map(|(kind, count)| format!("{kind} {count}")).collect::<Vec<_>>().join(", ")
    };
    assert_eq!(
        stderr.lines().nth(1),
        Some(
            format!(
                "tracer: {}: the trailer counts {} records, but {} were read: records are missing",
                cut.display(),
                describe(&records),
                describe(&read)
            )
            .as_str()
        ),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The one line replay prints about a recording without a trailer.
fn not_closed_line(file: &Path, last: &Value) -> String {
    format!(
        "tracer: {}: the recording was not closed cleanly (no trailer): events after {} may be missing",
        file.display(),
        last["ts"].as_str().expect("ts")
    )
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn sigkill_after_a_drain_loses_nothing_and_replay_says_it_was_not_closed() {
    let dir = scratch_dir("sigkill-quiet");
    let file = dir.join("trace.rec");
    let tracer = Tracer::start(&["-q", "-c", "tracer-workload", "-f", "-o", file.to_str().unwrap()]);
    let tasks = 200;
    let (w, stdout) = run_workload(&["storm", "--shape", "fork", "--tasks", &tasks.to_string(), "--cores", "one"]);
    assert_eq!(field(&report(&stdout), "tasks"), tasks);
    // Several drains (every 50 ms) happen; then the kill leaves no time to write anything.
    std::thread::sleep(Duration::from_millis(400));
    // SAFETY: signals our own child.
    unsafe { libc::kill(tracer.pid() as i32, libc::SIGKILL) };
    let killed = tracer.wait();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&killed.status), Some(libc::SIGKILL));

    let (replayed, events) = replay_json(&file);
    let stderr = stderr_of(&replayed);
    assert_eq!(replayed.status.code(), Some(1), "{stderr}");
    assert_eq!(
        workload_events(&events, u64::from(w)),
        2 * tasks as usize,
        "[{}] every fork and exit drained before the kill is in the file",
        machine()
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert_eq!(lines[1], not_closed_line(&file, events.last().expect("events")));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn sigkill_in_the_middle_of_a_storm_loses_at_most_the_last_moments() {
    let dir = scratch_dir("sigkill-storm");
    let victim_file = dir.join("victim.rec");
    let reference_file = dir.join("reference.rec");
    let tasks: u64 = if machine() == "host" { 60_000 } else { 4_000 };
    let reference = Tracer::start(&["-q", "-c", "tracer-workload", "-o", reference_file.to_str().unwrap()]);
    let victim = Tracer::start(&["-q", "-c", "tracer-workload", "-o", victim_file.to_str().unwrap()]);
    let storm = Command::new(workload_bin())
        .args(["storm", "--shape", "thread", "--tasks", &tasks.to_string(), "--cores", "one"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the storm");
    let w = u64::from(storm.id());
    std::thread::sleep(Duration::from_millis(if machine() == "host" { 400 } else { 2000 }));
    let killed_at = wall_now_ns();
    // SAFETY: signals our own child.
    unsafe { libc::kill(victim.pid() as i32, libc::SIGKILL) };
    let storm = storm.wait_with_output().expect("wait for the storm");
    assert!(storm.status.success());
    let reference = reference.stop();
    assert!(reference.status.success(), "{}", reference.stderr);
    victim.wait();

    let (output, reference_events) = replay_json(&reference_file);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        workload_events(&reference_events, w),
        2 * tasks as usize,
        "the reference recording is complete (every thread's fork and exit)"
    );
    let (output, victim_events) = replay_json(&victim_file);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let last = victim_events.last().expect("the victim recorded events before the kill");
    assert_eq!(stderr.lines().nth(1), Some(not_closed_line(&victim_file, last).as_str()), "{stderr}");
    assert_eq!(stderr.lines().count(), 2, "no damage, only the missing trailer: {stderr}");

    let recorded = workload_events(&victim_events, w);
    let before_kill: Vec<&Value> = reference_events
        .iter()
        .filter(|e| timestamp_ns(e) < killed_at)
        .filter(|e| workload_events(std::slice::from_ref(*e), w) == 1)
        .collect();
    let lost = before_kill.len().saturating_sub(recorded);
    let last_second = before_kill.iter().filter(|e| timestamp_ns(e) + 1_000_000_000 >= killed_at).count();
    eprintln!(
        "[{}] SIGKILL {:.0} ms into a {tasks}-thread storm: {recorded} of the storm's {} events before the kill \
         were recorded, {lost} lost (the storm made {last_second} in the last second)",
        machine(),
        (killed_at - timestamp_ns(&reference_events[0])) as f64 / 1e6,
        before_kill.len()
    );
    // The victim recorded nothing after its death (a few events of slack: the kill time and the
    // events' times come from clocks sampled apart).
    assert!(recorded > 0 && recorded <= before_kill.len() + 20, "recorded {recorded} of {}", before_kill.len());
    // Only what the kernel still held at the kill is lost: the events of the last drain period
    // (50 ms), with a wide margin for a busy machine, not the last second.
    assert!(lost < last_second / 2 + 100, "lost {lost}; the storm made {last_second} events in the last second");
    let _ = std::fs::remove_dir_all(dir);
}
