//! Names a hostile process picks (terminal escapes, bells, line breaks and a right-to-left
//! override in its comm, its exec'd file, its arguments and a `/proc` lookup), and a recording's
//! header fields, reach the table and stderr escaped: one event is always one line, and the
//! terminal never receives a control character. Real kernel, real workload, as root.

use std::{os::unix::process::CommandExt, process::Command};

use crate::common::{Tracer, field, one, report, require_root, run_workload, scratch_dir, tracer_bin};
use serde_json::Value;

// The workload's names (tracer-workload/src/hostile.rs) and how the table must show them.
const COMM: &str = "\x1b[2J\x07\nfake";
const COMM_SHOWN: &str = r"\x1b[2J\x07\nfake";
const PROC_NAME: &str = "\x1b[31mred\nrow";
const PROC_NAME_SHOWN: &str = r"\x1b[31mred\nrow";
const LINK: &str = "\x1b]0;owned\x07\nX";
const LINK_SHOWN: &str = r"\x1b]0;owned\x07\nX";
const ARGV: [&str; 5] = ["\x1b]0;owned\x07", "true", "two\nlines", "\u{202e}txt.exe", "\\x1b"];
const ARGV_SHOWN: &str = r"['\x1b]0;owned\x07' true 'two\nlines' '\u{202e}txt.exe' '\\x1b']";

/// Whether `text` holds anything a terminal could act on besides the line ends.
fn has_controls(text: &str) -> bool {
    text.chars().any(|c| (c.is_control() && c != '\n') || ('\u{2028}'..='\u{202e}').contains(&c))
}

/// The table line of `kind` about task `tid` whose COMM column and details are as given.
fn table_line<'a>(lines: &'a [String], kind: &str, tid: u64, comm: &str, details: &str) -> &'a str {
    let suffix = format!(" {comm:<16} {details}");
    let found: Vec<&String> = lines
        .iter()
        .filter(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            columns.get(1) == Some(&kind)
                && columns.get(3) == Some(&tid.to_string().as_str())
                && line.ends_with(&suffix)
        })
        .collect();
    assert_eq!(found.len(), 1, "expected one {kind} line ending {suffix:?}; table:\n{}", lines.join("\n"));
    found[0]
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn hostile_names_are_escaped_and_every_event_stays_on_one_line() {
    require_root();
    let dir = scratch_dir("escaping");
    let table = Tracer::start(&["-c", "tracer-workload", "-f"]);
    let json = Tracer::start(&["--json", "-c", "tracer-workload", "-f"]);
    let (workload, stdout) = run_workload(&["hostile-names", dir.to_str().unwrap()]);
    let child = field(&report(&stdout), "child");
    let (table, json) = (table.stop(), json.stop());
    assert!(table.status.success() && json.status.success(), "{}\n{}", table.stderr, json.stderr);

    // The JSON stream carries the raw names: the kernel did deliver the hostile bytes.
    let events = json.events();
    let about_child = |kind: &'static str| move |e: &Value| e["event"] == kind && e["tid"] == child;
    let renamed = one(&events, "the hostile rename", |e| about_child("rename")(e) && e["new_comm"] == COMM);
    assert_eq!(renamed["old_comm"], "tracer-workload");
    let lookup = one(&events, "the hostile lookup", |e| about_child("lookup")(e) && e["name"] == PROC_NAME);
    assert_eq!(lookup["comm"], COMM);
    let exec = one(&events, "the hostile exec", about_child("exec"));
    let link = dir.join(LINK);
    assert_eq!(exec["filename"], link.to_str().unwrap());
    assert_eq!(exec["comm"], LINK);
    assert_eq!(exec["argv"], serde_json::json!(ARGV));
    assert_eq!(exec["old_comm"], COMM, "the exec names the comm it replaced: {exec}");
    one(&events, "the child's exit", about_child("exit"));

    // The table: one line per event, a header, and nothing a terminal would act on.
    assert_eq!(table.lines.len(), 1 + events.len(), "one line per event:\n{}", table.lines.join("\n"));
    assert!(table.lines[0].starts_with("TIME"), "{}", table.lines[0]);
    for line in &table.lines {
        assert!(!has_controls(line), "a control character reached the table: {line:?}");
    }
    table_line(&table.lines, "fork", u64::from(workload), "tracer-workload", &format!("process {child} created"));
    table_line(
        &table.lines,
        "rename",
        child,
        "tracer-workload",
        &format!(r#"comm "tracer-workload" -> "{COMM_SHOWN}""#),
    );
    table_line(&table.lines, "lookup", child, COMM_SHOWN, &format!("/proc/{PROC_NAME_SHOWN}"));
    let shown_path = format!("{}/{LINK_SHOWN}", dir.display());
    let me = std::process::id();
    table_line(
        &table.lines,
        "exec",
        child,
        LINK_SHOWN,
        &format!("{shown_path} {ARGV_SHOWN} ← tracer-workload {workload} ← {} {me}", escaped_comm_of(me)),
    );
    let exit = table.lines.iter().find(|line| {
        let columns: Vec<&str> = line.split_whitespace().collect();
        columns.get(1) == Some(&"exit") && columns.get(3) == Some(&child.to_string().as_str())
    });
    let exit = exit.unwrap_or_else(|| panic!("no exit line for {child}:\n{}", table.lines.join("\n")));
    assert!(exit.contains(&format!(" {LINK_SHOWN:<16} exit 0, process gone, lived ")), "{exit}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_recordings_header_reaches_stderr_escaped_on_replay() {
    require_root();
    let dir = scratch_dir("escaping-header");
    let file = dir.join("hostile.rec");
    let hostname = "evil\x1b]0;owned\x07\nhost";
    // A hostname with control characters, in a UTS namespace of tracer's own, and a comm filter
    // with an escape sequence: both are stored in the header.
    let mut command = Command::new(tracer_bin());
    command.args(["-o", file.to_str().unwrap(), "-q", "-d", "0.3", "-c", "\x1b[2J"]);
    // SAFETY: unshare and sethostname are async-signal-safe and touch only this child.
    unsafe {
        command.pre_exec(move || {
            if libc::unshare(libc::CLONE_NEWUTS) != 0
                || libc::sethostname(hostname.as_ptr().cast(), hostname.len()) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let recorded = command.output().expect("run tracer in its own UTS namespace");
    assert!(recorded.status.success(), "{}", String::from_utf8_lossy(&recorded.stderr));
    let replayed = Command::new(tracer_bin()).args(["replay", file.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8(replayed.stderr).expect("stderr is UTF-8");
    assert!(!has_controls(&stderr), "a control character reached stderr: {stderr:?}");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with(&format!("tracer: reading {}: recorded by tracer ", file.display())), "{first}");
    assert!(first.contains(r" on evil\x1b]0;owned\x07\nhost (Linux "), "{first}");
    assert!(first.contains(r", filters: --comm \x1b[2J --events "), "{first}");
    let _ = std::fs::remove_dir_all(dir);
}

/// This process's comm as the table shows it (the test binary's name, cut to 15 bytes).
fn escaped_comm_of(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).expect("own comm").trim_end().to_owned()
}
