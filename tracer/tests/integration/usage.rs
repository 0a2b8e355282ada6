//! The command line's answers that need neither root nor the eBPF object, so they run in a plain
//! `cargo test`: bad flags and values, replays of files that are not recordings, a recording
//! that would be overwritten, the help text. Each is one line on stderr and a distinct status.

use std::path::PathBuf;

use crate::common::run_tracer;

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracer-usage-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Runs tracer with `args`; asserts its exit status and its whole stderr (one line).
fn assert_refused(args: &[&str], status: i32, message: &str) {
    let output = run_tracer(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(status), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end(), message, "{args:?}");
    assert!(output.stdout.is_empty(), "{args:?} printed on stdout: {}", String::from_utf8_lossy(&output.stdout));
}

#[test]
fn bad_flags_and_values_are_usage_errors() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["-e", "fork,bogus"],
            "tracer: --events: unknown event kind \"bogus\" (expected fork, exec, exit, rename, lookup or namespace)",
        ),
        (&["--bogus-flag"], "tracer: unexpected argument '--bogus-flag' found"),
        (
            &["-c", "sixteen-chars-xx"],
            "tracer: --comm \"sixteen-chars-xx\" is 16 bytes, but a task's comm holds at most 15 bytes, so it could never match",
        ),
        (&["-d", "0"], "tracer: --duration 0: expected a positive number of seconds"),
        (&["--hook", "fork=kprobe"], "tracer: --hook \"fork=kprobe\": fork can be served by tp_btf, raw_tracepoint"),
    ];
    for (args, message) in cases {
        assert_refused(args, 2, message);
    }
}

#[test]
fn files_that_are_not_recordings_are_refused() {
    let dir = scratch("replay");
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "just text\n").unwrap();
    let notes = notes.to_str().unwrap();
    assert_refused(&["replay", notes], 1, &format!("tracer: {notes} is not a tracer recording (no tracer header)"));
    assert_refused(
        &["replay", "/nonexistent/trace.rec"],
        1,
        "tracer: cannot open /nonexistent/trace.rec: No such file or directory (os error 2)",
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The output file is created before anything is loaded, so these fail the same without root.
#[test]
fn recordings_are_never_overwritten_silently() {
    let dir = scratch("exists");
    let file = dir.join("keep.rec");
    std::fs::write(&file, b"precious").unwrap();
    let path = file.to_str().unwrap();
    assert_refused(
        &["-o", path, "-d", "0.2"],
        1,
        &format!("tracer: {path} already exists (use --force to overwrite it)"),
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"precious");
    assert_refused(
        &["-o", "/proc/no-such-dir/trace.rec", "-d", "0.2"],
        1,
        "tracer: cannot create /proc/no-such-dir/trace.rec: No such file or directory (os error 2)",
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn help_shows_examples() {
    let help = run_tracer(&["--help"]);
    assert!(help.status.success(), "{}", String::from_utf8_lossy(&help.stderr));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Examples:"));
}
