//! `tracer run --tree`, `tracer tree` and `tracer export --perfetto` on real workloads, as root:
//! the lifecycle workload and a real `make -j2` build. The trace is read back with Perfetto's
//! own published protobuf definitions (`perfetto_check.py`, PyPI package `perfetto`) and checked
//! against the very events of the recording: every fork a flow, every exec, exit, rename and
//! lookup an instant on the right thread's track, at the recording's nanosecond.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use crate::common::{
    field, host_only, machine, need_program, report, require_root, run_tracer, scratch_dir, skipped, tracer_bin,
    workload_bin,
};
use serde_json::Value;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn succeed(what: &str, output: Output) -> Output {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

/// In the stock-kernel VM there is no Python and no compiler: the tree is checked there, the
/// Perfetto decoding and the build only on the host.
fn on_host() -> bool {
    machine() == "host"
}

/// The Python with Perfetto's protos that `cargo xtask test` sets up (a virtualenv with PyPI's
/// `perfetto`, named by `$TRACER_PERFETTO_PYTHON`; by default the one it makes under target/).
fn perfetto_python() -> PathBuf {
    let python = std::env::var_os("TRACER_PERFETTO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/perfetto-venv/bin/python"));
    let ready = Command::new(&python)
        .args(["-c", "import perfetto.protos.perfetto.trace.perfetto_trace_pb2"])
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        ready,
        "[{}] needs {} with PyPI's package perfetto; `cargo xtask test` installs it",
        machine(),
        python.display()
    );
    python
}

/// The tree at the end of `stdout`: from the line of process `root` on.
fn tree_of(stdout: &str, root: u64) -> String {
    let start = stdout.find(&format!("{root} ")).unwrap_or_else(|| panic!("no tree of {root} in:\n{stdout}"));
    stdout[start..].to_owned()
}

/// `durations` → `T`, so lines can be compared exactly whatever the timing.
fn untimed(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find("lived ") {
        out.push_str(&rest[..at + 6]);
        rest = &rest[at + 6..];
        let mut end = rest.find([',', '\n']).unwrap_or(rest.len());
        if let Some(to) = rest[..end].find(" to ") {
            out.push_str("T to ");
            rest = &rest[to + 4..];
            end = rest.find([',', '\n']).unwrap_or(rest.len());
        }
        out.push('T');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `tracer run -q --tree -o FILE -- COMMAND` in `dir`: (tracer's pid, its stdout: the command's
/// own output, then the tree; the recording).
fn run_with_tree(dir: &Path, command: &[&str]) -> (u32, String, PathBuf) {
    require_root();
    let recording = dir.join("trace.rec");
    let child = Command::new(tracer_bin())
        .args(["run", "-q", "--tree", "-o"])
        .arg(&recording)
        .arg("--")
        .args(command)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start tracer run");
    let pid = child.id();
    let output = succeed("tracer run --tree", child.wait_with_output().expect("wait for tracer run"));
    (pid, text(&output.stdout), recording)
}

/// The recording's events, as `tracer replay --json` prints them.
fn replay(recording: &Path) -> Vec<Value> {
    let output = succeed("tracer replay", run_tracer(&["replay", recording.to_str().unwrap(), "--json"]));
    text(&output.stdout).lines().map(|line| serde_json::from_str(line).expect("JSON line")).collect()
}

fn wall_ns(event: &Value) -> u64 {
    let ts: jiff::Timestamp = event["ts"].as_str().expect("ts").parse().expect("RFC 3339 time");
    u64::try_from(ts.as_nanosecond()).expect("after 1970")
}

/// Exports `recording` and reads the trace back with Perfetto's protos.
fn export(recording: &Path) -> Value {
    let trace = recording.with_extension("pftrace");
    let output = run_tracer(&["export", recording.to_str().unwrap(), "--perfetto", trace.to_str().unwrap()]);
    succeed("tracer export", output);
    let check = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/perfetto_check.py");
    let output = Command::new(perfetto_python()).arg(check).arg(&trace).output().expect("run perfetto_check.py");
    let output = succeed("perfetto_check.py", output);
    serde_json::from_slice(&output.stdout).expect("the check prints JSON")
}

/// The summary's thread track (uuid, track) of task `tid` in process `pid` alive at `ns`.
fn thread_at(summary: &Value, pid: u64, tid: u64, ns: u64) -> (&str, &Value) {
    let threads = summary["threads"].as_object().expect("threads");
    let found: Vec<_> = threads
        .iter()
        .filter(|(_, thread)| field(thread, "pid") == pid && field(thread, "tid") == tid)
        .filter(|(_, thread)| {
            let slice = &thread["slices"][0];
            field(slice, "begin") <= ns && ns <= field(slice, "end")
        })
        .collect();
    assert_eq!(found.len(), 1, "[{}] one track of thread {pid}/{tid} alive at {ns}: {found:?}", machine());
    (found[0].0.as_str(), found[0].1)
}

fn instant<'a>(thread: &'a Value, ns: u64, name: &str) -> &'a Value {
    let instants = thread["instants"].as_array().expect("instants");
    instants
        .iter()
        .find(|instant| field(instant, "ts") == ns && instant["name"] == name)
        .unwrap_or_else(|| panic!("[{}] no instant {name:?} at {ns} on {thread}", machine()))
}

/// Every event of the recording is in the trace, where and when it happened.
fn check_against_events(summary: &Value, events: &[Value]) {
    let context = machine();
    let flows = summary["flows"].as_array().expect("flows");
    let processes = summary["processes"].as_object().expect("processes");
    let mut pids = BTreeSet::new();
    for event in events {
        let (kind, ns) = (event["event"].as_str().unwrap(), wall_ns(event));
        let (pid, tid) = (field(event, "tgid"), field(event, "tid"));
        pids.insert(pid);
        match kind {
            "fork" => {
                let (child_pid, child_tid) = (field(event, "child_tgid"), field(event, "child_tid"));
                pids.insert(child_pid);
                let (from, _) = thread_at(summary, pid, tid, ns);
                let (to, child) = thread_at(summary, child_pid, child_tid, ns);
                let flow = flows.iter().find(|flow| flow["from"] == from && flow["to"] == to);
                let flow = flow.unwrap_or_else(|| panic!("[{context}] no flow for {event}"));
                assert_eq!((field(flow, "ts"), field(flow, "child_begin")), (ns, ns), "[{context}] {event}");
                assert_eq!(field(&child["slices"][0], "begin"), ns, "[{context}] the child's life starts at the fork");
            }
            "exec" => {
                let (_, thread) = thread_at(summary, pid, field(event, "old_tid"), ns);
                let filename = event["filename"].as_str().unwrap();
                let name = format!("exec {}", filename.rsplit('/').next().unwrap());
                let exec = instant(thread, ns, &name);
                assert_eq!((&exec["args"]["filename"], &exec["args"]["argv"]), (&event["filename"], &event["argv"]));
            }
            "exit" => {
                let (_, thread) = thread_at(summary, pid, tid, ns);
                let name = match (event["exit_code"].as_u64(), event["signal"].as_str()) {
                    (Some(code), _) => format!("exit {code}"),
                    (None, Some(signal)) => format!("killed by {signal}"),
                    _ => panic!("[{context}] exit without code or signal: {event}"),
                };
                let exit = instant(thread, ns, &name);
                assert_eq!(exit["args"]["group_dead"], event["group_dead"], "[{context}] {event}");
                assert_eq!(exit["args"]["lifetime_ns"], event["lifetime_ns"], "[{context}] {event}");
                assert_eq!(field(&thread["slices"][0], "end"), ns, "[{context}] the thread's life ends at its exit");
            }
            "rename" => {
                let (_, thread) = thread_at(summary, pid, tid, ns);
                let name =
                    format!("rename {} → {}", event["old_comm"].as_str().unwrap(), event["new_comm"].as_str().unwrap());
                instant(thread, ns, &name);
            }
            "lookup" => {
                let (_, thread) = thread_at(summary, pid, tid, ns);
                let lookup = instant(thread, ns, &format!("lookup /proc/{}", event["name"].as_str().unwrap()));
                assert_eq!(lookup["args"]["target_tgid"], event["target_tgid"], "[{context}] {event}");
            }
            _ => {}
        }
    }
    let tracked: BTreeSet<u64> = processes.values().map(|process| field(process, "pid")).collect();
    assert_eq!(tracked, pids, "[{context}] one process track per process of the recording");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn lifecycle_tree_and_perfetto_trace() {
    let dir = scratch_dir("lifecycle");
    let workload = workload_bin();
    let (tracer_pid, stdout, recording) = run_with_tree(&dir, &[workload.to_str().unwrap(), "lifecycle"]);
    let context = machine();
    let events = replay(&recording);
    let ids = report(&stdout);
    let tgid = field(&ids, "tgid");
    let (raw, pthread) = (field(&ids, "raw_thread_tid"), field(&ids, "pthread_tid"));
    let (cat, exit3, killed) = (field(&ids, "cat_pid"), field(&ids, "exit3_pid"), field(&ids, "killed_pid"));
    let tree = tree_of(&stdout, tgid);
    let cat_exec =
        events.iter().find(|event| event["event"] == "exec" && field(event, "tgid") == cat).expect("cat's exec");
    let cat_file = cat_exec["filename"].as_str().unwrap();

    let expected = format!(
        "{tgid} {} lifecycle — child of {tracer_pid}, started before the recording, lived T, exit 0, 3 threads\n\
         ├─ {cat} {cat_file} /proc/{pthread}/comm — lived T, exit 0\n\
         ├─ {exit3} (tracer-workload) — lived T, ✗ exit 3\n\
         └─ {killed} (tracer-workload) — lived T, ✗ killed by SIGKILL\n",
        workload.display()
    );
    assert_eq!(untimed(&tree), expected, "[{context}] tracer run --tree:\n{tree}");
    let replayed = succeed("tracer tree", run_tracer(&["tree", recording.to_str().unwrap()]));
    assert_eq!(text(&replayed.stdout), tree, "[{context}] tracer tree draws the recording as tracer run did");
    let threads = succeed("tracer tree --threads", run_tracer(&["tree", recording.to_str().unwrap(), "--threads"]));
    let threads: Vec<String> = text(&threads.stdout).lines().skip(1).take(3).map(untimed).collect();
    assert_eq!(
        threads,
        [
            // tracer run names its child after the command before following it: no "tracer" name.
            format!("│  thread {tgid} tracer-workload — started before the recording, lived T, exit 0"),
            format!("│  thread {raw} tracer-workload — lived T, exit 0"),
            format!("│  thread {pthread} tracer-workload → lc-renamed — lived T, exit 0"),
        ],
        "[{context}]"
    );

    if !on_host() {
        skipped("the Perfetto part of this test was NOT checked: this VM has no Python (the host leg checks it)");
        return;
    }
    let summary = export(&recording);
    check_against_events(&summary, &events);
    let processes: Vec<(u64, String, Value)> = summary["processes"]
        .as_object()
        .unwrap()
        .values()
        .map(|process| {
            (field(process, "pid"), process["name"].as_str().unwrap().to_owned(), process["cmdline"].clone())
        })
        .collect();
    let names: Vec<(u64, &str)> = processes.iter().map(|(pid, name, _)| (*pid, name.as_str())).collect();
    assert_eq!(
        names,
        [(tgid, "tracer-workload"), (cat, "cat"), (exit3, "tracer-workload"), (killed, "tracer-workload")],
        "[{context}] a process track per process, named after what it ran"
    );
    assert_eq!(processes[1].2, serde_json::json!(["cat", format!("/proc/{pthread}/comm")]));
    let threads: Vec<(u64, &str)> = summary["threads"]
        .as_object()
        .unwrap()
        .values()
        .filter(|thread| field(thread, "pid") == tgid)
        .map(|thread| (field(thread, "tid"), thread["name"].as_str().unwrap()))
        .collect();
    assert_eq!(threads, [(tgid, "tracer-workload"), (raw, "tracer-workload"), (pthread, "lc-renamed")], "[{context}]");
    assert_eq!(summary["flows"].as_array().unwrap().len(), 5, "[{context}] a flow per fork");
    let lookups = events
        .iter()
        .filter(|event| event["event"] == "lookup" && event["name"].as_str() == Some(&pthread.to_string()));
    assert!(lookups.count() >= 1, "[{context}] cat's look-up of /proc/{pthread} was recorded");
}

const MAKEFILE: &str = "prog: a.o b.o c.o\n\tcc -o prog a.o b.o c.o\n\n%.o: %.c\n\tcc -c -o $@ $<\n";

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn make_build_tree_and_perfetto_trace() {
    host_only("make, a C compiler and Python");
    need_program("make", "make");
    need_program("cc", "gcc");
    let dir = scratch_dir("make");
    std::fs::write(dir.join("Makefile"), MAKEFILE).unwrap();
    std::fs::write(dir.join("a.c"), "int a(void) { return 1; }\n").unwrap();
    std::fs::write(dir.join("b.c"), "int b(void) { return 2; }\n").unwrap();
    std::fs::write(dir.join("c.c"), "int a(void);\nint b(void);\nint main(void) { return a() + b() - 3; }\n").unwrap();
    let (tracer_pid, stdout, recording) = run_with_tree(&dir, &["make", "-j2"]);
    assert!(dir.join("prog").exists(), "the build ran");
    let events = replay(&recording);
    let execs = |base: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|event| event["event"] == "exec" && event["filename"].as_str().unwrap().ends_with(base))
            .collect()
    };
    let make = execs("/make")[0];
    let ccs = execs("/cc");
    assert_eq!(ccs.len(), 4, "three compilers and a linker: {ccs:?}");
    let (make_pid, cc_file) = (field(make, "tgid"), ccs[0]["filename"].as_str().unwrap());
    let tree = tree_of(&stdout, make_pid);
    let compile_pids: Vec<String> = ccs[..3].iter().map(|cc| field(cc, "tgid").to_string()).collect();
    let lines: Vec<String> = tree.lines().map(untimed).collect();
    assert_eq!(lines.len(), 5, "make, the folded compilers, the linker, collect2 and ld:\n{tree}");
    assert_eq!(
        lines[..3],
        [
            format!(
                "{make_pid} {} -j2 — child of {tracer_pid}, started before the recording, lived T, exit 0",
                make["filename"].as_str().unwrap()
            ),
            format!(
                "├─ × 3 {cc_file} — PIDs {}, lived T to T, exit 0, 2 processes below each",
                compile_pids.join(", ")
            ),
            format!("└─ {} {cc_file} -o prog a.o b.o c.o — lived T, exit 0", field(ccs[3], "tgid")),
        ],
        "{tree}"
    );
    assert!(lines[3].starts_with("   └─ ") && lines[3].contains("/collect2 "), "{tree}");
    assert!(lines[4].starts_with("      └─ ") && lines[4].contains("/ld "), "{tree}");
    let all = succeed("tracer tree --all", run_tracer(&["tree", recording.to_str().unwrap(), "--all"]));
    let all = text(&all.stdout);
    assert_eq!(all.lines().count(), 1 + 3 * 3 + 3, "every process on its own line:\n{all}");
    assert!(all.contains(&format!("├─ {} {cc_file} -c -o a.o a.c — lived", compile_pids[0])), "{all}");

    let summary = export(&recording);
    check_against_events(&summary, &events);
    let mut names: Vec<&str> =
        summary["processes"].as_object().unwrap().values().map(|p| p["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["as", "as", "as", "cc", "cc", "cc", "cc", "cc1", "cc1", "cc1", "collect2", "ld", "make"]);
    let make_slices: Vec<&str> = summary["processes"]
        .as_object()
        .unwrap()
        .values()
        .find(|process| field(process, "pid") == make_pid)
        .map(|process| {
            process["slices"].as_array().unwrap().iter().map(|slice| slice["name"].as_str().unwrap()).collect()
        })
        .unwrap();
    // tracer run's child already bears the command's name when it is first seen.
    assert_eq!(make_slices, ["(make)", "make -j2"], "make's images: tracer's fork, then make");
}
