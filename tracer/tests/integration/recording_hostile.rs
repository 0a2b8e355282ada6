//! Hostile and damaged recordings replayed by the real binary: header fields built to drive a
//! terminal, a file of packed record headers, cut and damaged files.

use crate::common::{Tracer, run_tracer, run_workload, scratch_dir, stderr_of};
use crate::recording::{RECORD_MARKER, TRAILER_MARKER, frames, replay_json};

/// A version-2 recording header with these fields (the documented layout), and no frames.
fn crafted_header(hostname: &str, kernel: &str, filters: &[&str]) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, s: &str) {
        let mut len = s.len();
        while len >= 0x80 {
            out.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(s.as_bytes());
    }
    let mut body = Vec::new();
    string(&mut body, "0.1.0");
    string(&mut body, kernel);
    string(&mut body, hostname);
    string(&mut body, "boot-id");
    body.extend_from_slice(&1_700_000_000_000_000_000u64.to_le_bytes());
    body.extend_from_slice(&1_690_000_000_000_000_000u64.to_le_bytes());
    body.push(filters.len() as u8);
    for filter in filters {
        string(&mut body, filter);
    }
    let mut bytes = b"\x89TRACER\n".to_vec();
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    bytes.extend_from_slice(&body);
    bytes
}

#[test]
fn header_fields_reach_stderr_escaped() {
    let dir = scratch_dir("escape");
    let file = dir.join("hostile.rec");
    std::fs::write(&file, crafted_header("evil\x1b]0;owned\x07\nFAKE LINE", "6.1\r\x1b[2J", &["--comm", "a\u{9b}b"]))
        .unwrap();
    let output = run_tracer(&["replay", file.to_str().unwrap()]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(1), "no trailer: {stderr}");
    assert!(output.stdout.is_empty());
    assert!(!stderr.chars().any(|c| c.is_control() && c != '\n'), "a raw control character: {stderr:?}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [
            format!(
                "tracer: reading {}: recorded by tracer 0.1.0 on evil\\x1b]0;owned\\x07\\nFAKE LINE (Linux 6.1\\r\\x1b[2J) \
                 at 2023-11-14T22:13:20.000000000Z, filters: --comm a\\u{{9b}}b",
                file.display()
            ),
            format!(
                "tracer: {}: the recording was not closed cleanly (no trailer): events after the start \
                 (2023-11-14T22:13:20.000000000Z) may be missing",
                file.display()
            ),
        ]
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_file_of_packed_record_headers_replays_with_one_skip() {
    // 9 MiB of record headers, each claiming the largest payload (1 MiB): reading must stay
    // linear (checked by the unit tests; `cargo xtask bench` measures the time).
    let dir = scratch_dir("packed");
    let file = dir.join("packed.rec");
    let mut bytes = crafted_header("host", "6.18", &[]);
    let header_len = bytes.len();
    let mut frame = RECORD_MARKER.to_vec();
    frame.extend_from_slice(&(1u32 << 20).to_le_bytes());
    frame.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend(frame.iter().copied().cycle().take(9 << 20));
    std::fs::write(&file, &bytes).unwrap();
    let output = run_tracer(&["replay", file.to_str().unwrap()]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty());
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines[1].starts_with(&format!(
            "tracer: {}: skipped a damaged record at byte {header_len}: record checksum mismatch",
            file.display()
        )),
        "{stderr}"
    );
    // Reading resumes at the first header whose frame runs past the end of the file.
    let tail = 9usize << 20;
    let first_cut = ((tail - 12 - (1 << 20)) / 12 + 1) * 12;
    assert_eq!(
        lines[2],
        format!(
            "tracer: {}: the recording was not closed cleanly (the file ends inside a record at byte {}, {} of {} \
             bytes): events after the start (2023-11-14T22:13:20.000000000Z) may be missing",
            file.display(),
            header_len + first_cut,
            tail - first_cut,
            (1 << 20) + 12
        )
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn cut_and_damaged_recordings_replay_what_is_intact() {
    let dir = scratch_dir("damage");
    let file = dir.join("trace.rec");
    let tracer = Tracer::start(&["--json", "-q", "-c", "tracer-workload", "-f", "-o", file.to_str().unwrap()]);
    run_workload(&["lifecycle"]);
    let stopped = tracer.stop();
    assert!(stopped.status.success() && stopped.lines.is_empty(), "--quiet prints no events: {:?}", stopped.lines);
    let bytes = std::fs::read(&file).expect("read the recording");
    let (full, full_events) = replay_json(&file);
    assert_eq!(full.status.code(), Some(0), "{}", stderr_of(&full));
    assert!(full_events.len() > 10);
    let frame_starts: Vec<usize> = frames(&bytes).iter().map(|(at, _, _)| *at).collect();
    assert_eq!(&bytes[*frame_starts.last().unwrap()..][..4], TRAILER_MARKER);

    // Cut at every byte offset of the last records and the trailer: every complete record
    // still replays, and replay says the recording was not closed cleanly, from when.
    let cut_file = dir.join("cut.rec");
    let mut previous = 0;
    for cut in bytes.len().saturating_sub(300)..bytes.len() {
        std::fs::write(&cut_file, &bytes[..cut]).unwrap();
        let (replayed, events) = replay_json(&cut_file);
        let stderr = stderr_of(&replayed);
        assert_eq!(replayed.status.code(), Some(1), "cut at {cut}: {stderr}");
        assert_eq!(events[..], full_events[..events.len()], "cut at {cut}: replay must be a prefix");
        assert!(events.len() >= previous, "cut at {cut}: fewer events than a shorter cut");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 2, "cut at {cut}: one line about the end: {stderr}");
        let since = format!("): events after {} may be missing", events.last().unwrap()["ts"].as_str().unwrap());
        assert!(lines[1].ends_with(&since), "cut at {cut}: {stderr}");
        if frame_starts.contains(&cut) {
            assert!(lines[1].contains("not closed cleanly (no trailer)"), "cut at {cut}: {stderr}");
        } else {
            assert!(lines[1].contains("not closed cleanly (the file ends inside a "), "cut at {cut}: {stderr}");
        }
        previous = events.len();
    }
    assert_eq!(previous, full_events.len(), "cut inside the trailer, every record is kept");

    // A damaged byte in the middle costs exactly that record, and says where.
    let mut damaged = bytes.clone();
    let middle = bytes.len() / 2;
    damaged[middle] ^= 0x5a;
    std::fs::write(&cut_file, &damaged).unwrap();
    let (replayed, events) = replay_json(&cut_file);
    let stderr = stderr_of(&replayed);
    assert_eq!(replayed.status.code(), Some(1), "damage is reported in the exit status: {stderr}");
    assert!(stderr.contains("skipped a damaged record at byte"), "{stderr}");
    assert!(stderr.contains("records, but"), "the trailer's counts show the loss too: {stderr}");
    assert_eq!(events.len(), full_events.len() - 1, "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}
