//! What an exec reports when the kernel runs a `#!` script: the exec the kernel performed, not
//! the one asked for. `filename` is the script's path as passed to execve, comm the script's file
//! name, and `argv` the one the kernel rebuilt for the interpreter: the interpreter, its optional
//! argument (one word), the script's path, then the original arguments without argv[0].

use std::{
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::Path,
    process::Command,
};

use crate::common::{Tracer, field, machine, one};
use serde_json::{Value, json};

fn write_script(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write the script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("make the script executable");
}

/// Runs `command` to success; returns its PID.
fn run(command: &mut Command) -> u64 {
    let mut child = command.spawn().unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    let pid = u64::from(child.id());
    assert!(child.wait().expect("wait for the script").success(), "{command:?} failed");
    pid
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_script_exec_reports_the_interpreter_argv_the_kernel_built() {
    let dir = std::env::temp_dir().join(format!("tracer-test-shebang-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    // Both names fit in a comm (15 bytes), so the filter can match them.
    let with_argument = dir.join("shebang-test");
    write_script(&with_argument, "#!/bin/sh -e\nexit 0\n");
    write_script(&dir.join("shebang-plain"), "#!/bin/sh\nexit 0\n");

    let tracer = Tracer::start(&["--json", "-e", "exec", "-c", "shebang-test", "-c", "shebang-plain"]);
    let absolute = run(Command::new(&with_argument).arg0("given-argv0").args(["first", "two words"]));
    // A relative path stays relative: the kernel reports the path it was given, not a resolved one.
    let relative = run(Command::new("./shebang-plain").current_dir(&dir).arg0("other-argv0"));
    let stopped = tracer.stop();
    assert!(stopped.status.success(), "tracer failed ({}): {}", stopped.status, stopped.stderr);
    let events = stopped.events();
    let test_pid = u64::from(std::process::id());
    let context = machine();

    let path = with_argument.to_str().expect("UTF-8 scratch path");
    let exec = one(&events, "exec of shebang-test", |e| field(e, "tgid") == absolute);
    assert_eq!(exec["filename"], path, "[{context}] the script, as passed to execve: {exec}");
    assert_eq!(
        exec["argv"],
        json!(["/bin/sh", "-e", path, "first", "two words"]),
        "[{context}] the interpreter's argv, rebuilt by the kernel; argv[0] \"given-argv0\" is gone: {exec}"
    );
    assert_eq!(exec["comm"], "shebang-test", "[{context}] {exec}");
    assert_eq!((exec["argv_truncated"].clone(), exec["event"].clone()), (Value::Bool(false), json!("exec")));
    assert_eq!(
        (field(exec, "tid"), field(exec, "old_tid"), field(exec, "ppid")),
        (absolute, absolute, test_pid),
        "[{context}] {exec}"
    );

    let exec = one(&events, "exec of shebang-plain", |e| field(e, "tgid") == relative);
    assert_eq!(exec["filename"], "./shebang-plain", "[{context}] {exec}");
    assert_eq!(exec["argv"], json!(["/bin/sh", "./shebang-plain"]), "[{context}] no interpreter argument: {exec}");
    assert_eq!(exec["comm"], "shebang-plain", "[{context}] {exec}");
    assert_eq!(events.len(), 2, "[{context}] one exec per script, nothing else: {events:?}");
    let _ = std::fs::remove_dir_all(dir);
}
