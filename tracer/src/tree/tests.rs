//! The tree renderer against hand-made streams, compared with the exact expected text.
use super::render::{Options, render};
use crate::{
    event::{Detail, Event, test_event},
    tasks::{Coverage, TaskModel},
};

const MS: u64 = 1_000_000;
const FULL: Coverage = Coverage { births: true, deaths: true };

fn at(ms: u64, tgid: u32, tid: u32, comm: &str, detail: Detail) -> Event {
    Event { timestamp_ns: 1_000 * MS + ms * MS, ppid: 1, ..test_event(tgid, tid, comm, detail) }
}

fn fork(ms: u64, tgid: u32, child_tgid: u32, child_tid: u32, comm: &str) -> Event {
    at(ms, tgid, tgid, comm, crate::event::test_fork(child_tgid, child_tid, child_tgid == tgid, None))
}

fn exec(ms: u64, tgid: u32, filename: &str, argv: &[&str]) -> Event {
    at(ms, tgid, tgid, "x", crate::event::test_exec(filename, argv, tgid))
}

/// An exit of a task the kernel says was created at `born` ms (negative: before the stream).
fn exit(ms: u64, born: i64, tgid: u32, tid: u32, status: u32, group_dead: bool) -> Event {
    let lifetime_ns = (ms as i64 - born) as u64 * MS;
    at(ms, tgid, tid, "x", Detail::exit(status, group_dead, lifetime_ns))
}

pub(crate) fn draw(events: &[Event], options: Options) -> String {
    let mut model = TaskModel::new();
    for event in events {
        model.observe(event);
    }
    let mut out = Vec::new();
    render(&model, options, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

pub(crate) fn plain() -> Options {
    Options { depth: None, threads: false, collapse: true, colour: false, coverage: FULL }
}

/// The lifecycle workload's shape: threads, a renamed thread, an exec, exit 3, SIGKILL.
fn lifecycle() -> Vec<Event> {
    vec![
        exec(0, 100, "/usr/bin/tracer-workload", &["tracer-workload", "lifecycle"]),
        fork(1, 100, 100, 101, "tracer-workload"),
        exit(2, 1, 100, 101, 0, false),
        fork(3, 100, 100, 102, "tracer-workload"),
        at(
            4,
            100,
            102,
            "tracer-workload",
            Detail::Rename { old_comm: "tracer-workload".into(), new_comm: "lc-renamed".into() },
        ),
        fork(5, 100, 103, 103, "tracer-workload"),
        at(
            6,
            103,
            103,
            "tracer-workload",
            Detail::Rename { old_comm: "tracer-workload".into(), new_comm: "cat".into() },
        ),
        exec(6, 103, "/usr/bin/cat", &["cat", "/proc/102/comm"]),
        exit(8, 5, 103, 103, 0, true),
        fork(9, 100, 104, 104, "tracer-workload"),
        exit(10, 9, 104, 104, 3 << 8, true),
        fork(11, 100, 105, 105, "tracer-workload"),
        exit(12, 11, 105, 105, 9, true),
        exit(13, -5, 100, 100, 0, false),
        exit(70, 3, 100, 102, 0, true),
    ]
}

#[test]
fn draws_processes_with_what_they_ran_how_long_and_how_they_ended() {
    let expected = "\
100 /usr/bin/tracer-workload lifecycle — child of 1, started before the recording, lived 75.0ms, exit 0, 3 threads
├─ 103 /usr/bin/cat /proc/102/comm — lived 3.0ms, exit 0
├─ 104 (tracer-workload) — lived 1.0ms, ✗ exit 3
└─ 105 (tracer-workload) — lived 1.0ms, ✗ killed by SIGKILL
";
    assert_eq!(draw(&lifecycle(), plain()), expected);
}

#[test]
fn lists_threads_with_their_names_lifetimes_and_ends() {
    let expected = "\
100 /usr/bin/tracer-workload lifecycle — child of 1, started before the recording, lived 75.0ms, exit 0, 3 threads
│  thread 100 x — started before the recording, lived 18.0ms, exit 0
│  thread 101 tracer-workload — lived 1.0ms, exit 0
│  thread 102 tracer-workload → lc-renamed — lived 67.0ms, exit 0
├─ 103 /usr/bin/cat /proc/102/comm — lived 3.0ms, exit 0
├─ 104 (tracer-workload) — lived 1.0ms, ✗ exit 3
└─ 105 (tracer-workload) — lived 1.0ms, ✗ killed by SIGKILL
";
    assert_eq!(draw(&lifecycle(), Options { threads: true, ..plain() }), expected);
}

#[test]
fn colours_failures_only_when_asked() {
    let coloured = draw(&lifecycle(), Options { colour: true, ..plain() });
    assert!(coloured.contains("\u{1b}[1m\u{1b}[31m✗ exit 3\u{1b}[0m"), "{coloured:?}");
    assert!(!draw(&lifecycle(), plain()).contains('\u{1b}'));
}

/// `make` starting four compilers (each with cc1 and as) and a linker.
fn build() -> Vec<Event> {
    let mut events = vec![exec(0, 200, "/usr/bin/make", &["make", "-j2"])];
    let mut pid = 201;
    for (index, file) in ["a", "b", "c", "d"].iter().enumerate() {
        let t = 10 * index as u64 + 1;
        let cc = pid;
        events.push(fork(t, 200, cc, cc, "make"));
        events.push(exec(t, cc, "/usr/bin/cc", &["cc", "-c", "-o", &format!("{file}.o"), &format!("{file}.c")]));
        for (offset, tool) in ["/usr/libexec/cc1", "/usr/bin/as"].iter().enumerate() {
            let child = cc + 1 + offset as u32;
            events.push(fork(t + 1, cc, child, child, "cc"));
            events.push(exec(t + 1, child, tool, &[tool.rsplit('/').next().unwrap()]));
            events.push(exit(t + 2 + offset as u64, t as i64 + 1, child, child, 0, true));
        }
        events.push(exit(t + 5 + index as u64, t as i64, cc, cc, 0, true));
        pid += 3;
    }
    events.push(fork(50, 200, 300, 300, "make"));
    events.push(exec(50, 300, "/usr/bin/cc", &["cc", "-o", "prog", "a.o", "b.o", "c.o", "d.o"]));
    events.push(exit(60, 50, 300, 300, 1 << 8, true));
    events.push(exit(61, -5, 200, 200, 2 << 8, true));
    events
}

#[test]
fn folds_runs_of_identical_siblings() {
    let expected = "\
200 /usr/bin/make -j2 — child of 1, started before the recording, lived 66.0ms, ✗ exit 2
├─ × 4 /usr/bin/cc — PIDs 201, 204, 207, 210, lived 5.0ms to 8.0ms, exit 0, 2 processes below each
└─ 300 /usr/bin/cc -o prog a.o b.o c.o d.o — lived 10.0ms, ✗ exit 1
";
    assert_eq!(draw(&build(), plain()), expected);
}

#[test]
fn shows_every_process_when_not_folding_and_stops_at_the_depth_asked() {
    let all = draw(&build(), Options { collapse: false, ..plain() });
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 1 + 4 * 3 + 1, "{all}");
    assert_eq!(lines[1], "├─ 201 /usr/bin/cc -c -o a.o a.c — lived 5.0ms, exit 0");
    assert_eq!(lines[2], "│  ├─ 202 /usr/libexec/cc1 — lived 1.0ms, exit 0");
    assert_eq!(lines[3], "│  └─ 203 /usr/bin/as — lived 2.0ms, exit 0");
    let shallow = draw(&build(), Options { depth: Some(1), ..plain() });
    assert_eq!(
        shallow,
        "200 /usr/bin/make -j2 — child of 1, started before the recording, lived 66.0ms, ✗ exit 2, \
         13 processes below not shown\n"
    );
}

#[test]
fn says_when_a_birth_or_death_was_outside_what_was_recorded() {
    let events = [exec(0, 50, "/bin/sleep", &["sleep", "9"]), exec(5, 60, "/bin/true", &["true"])];
    let expected = "\
50 /bin/sleep 9 — child of 1, started before the recording, lived ≥ 5.0ms, still running at the end of the recording
60 /bin/true — child of 1, started before the recording, still running at the end of the recording
";
    assert_eq!(draw(&events, plain()), expected);
    let partial = Options { coverage: Coverage { births: false, deaths: false }, ..plain() };
    let expected = "\
50 /bin/sleep 9 — child of 1, start not recorded, end not recorded
60 /bin/true — child of 1, start not recorded, end not recorded
";
    assert_eq!(draw(&events, partial), expected);
}

#[test]
fn escapes_control_characters_and_shortens_long_arguments() {
    let long = "x".repeat(100);
    let events = [
        exec(0, 70, "/bin/evil\x1b[2J", &["evil", "a\nb", &long]),
        at(1, 70, 70, "evil", Detail::Lost { count: 4, origin: crate::event::LostOrigin::RingBuffer }),
    ];
    let text = draw(&events, plain());
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("70 /bin/evil\\x1b[2J (as evil) 'a\\nb' xxxxxxxx"), "{first}");
    assert!(first.contains("x… — "), "{first}");
    assert!(!text.contains('\u{1b}'));
    assert_eq!(text.lines().last(), Some("(4 events were lost during the recording: tasks or events may be missing)"));
}

/// A recording made by format version 1 (`tracer run -q -o FILE -- tracer-workload lifecycle`),
/// read through the recording reader whatever format this tracer writes.
pub const LIFECYCLE_V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lifecycle-v1.rec");

#[test]
fn draws_a_format_1_recording() {
    let path = std::path::Path::new(LIFECYCLE_V1);
    let reader = crate::recording::RecordingReader::open(path).unwrap();
    let everything = crate::filter::Filters::from_args(&Default::default()).unwrap();
    let coverage = Coverage::of_recording(reader.header(), &everything);
    let (model, skipped) = super::read_model(path, reader, everything);
    assert_eq!(skipped, 0);
    let mut out = Vec::new();
    render(&model, Options { threads: true, coverage, ..plain() }, &mut out).unwrap();
    let expected = "\
15770 /usr/local/bin/tracer-workload lifecycle — child of 15762, started before the recording, lived 56.6ms, exit 0, 3 threads
│  thread 15770 tracer → tracer-workload — started before the recording, lived 5.8ms, exit 0
│  thread 15772 tracer-workload — lived 19.8µs, exit 0
│  thread 15773 tracer-workload → lc-renamed — lived 53.6ms, exit 0
├─ 15774 /usr/bin/cat /proc/15773/comm — lived 1.1ms, exit 0
├─ 15775 (tracer-workload) — lived 96.6µs, ✗ exit 3
└─ 15776 (tracer-workload) — lived 52.2µs, ✗ killed by SIGKILL
";
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}
