//! The ancestors exec and exit events carry: complete for a process that started before tracer,
//! and right after a double fork leaves a daemon to a subreaper. Runs as root on the real kernel,
//! and in the Debian 6.1 VM.

use std::{
    io::Write,
    os::unix::fs::PermissionsExt,
    path::PathBuf,
    process::{Command, Stdio},
};

use crate::common::{Tracer, field, machine, workload_bin};
use serde_json::Value;

/// A copy of the workload binary named `name` in a directory of this test's own.
fn program(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("tracer-ancestry-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let path = dir.join(name);
    std::fs::copy(workload_bin(), &path).expect("copy the workload binary");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (dir, path)
}

fn chain(event: &Value) -> Vec<u64> {
    event["ancestors"]
        .as_array()
        .unwrap_or_else(|| panic!("no ancestors: {event}"))
        .iter()
        .map(|ancestor| field(ancestor, "tgid"))
        .collect()
}

/// This process as a child subreaper until dropped. Every test shares the process, so a failing
/// test must not leave the later ones adopting orphans.
struct Subreaper;

impl Subreaper {
    fn on() -> Self {
        // SAFETY: prctl with integer arguments.
        assert_eq!(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }, 0);
        Subreaper
    }
}

impl Drop for Subreaper {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) };
    }
}

/// `tgid`'s parent as the kernel says now.
fn parent_of(tgid: u64) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{tgid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].split_whitespace().nth(1)?.parse().ok()
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_process_older_than_tracer_gives_its_child_a_complete_chain() {
    let (dir, path) = program("anc-child");
    // The shell starts before tracer and waits; once tracer is attached it runs the program.
    let mut shell = Command::new("sh")
        .args(["-c", "read line; \"$0\" >/dev/null 2>&1; true"])
        .arg(&path)
        .stdin(Stdio::piped())
        .spawn()
        .expect("start the shell");
    let tracer = Tracer::start(&["--json", "-e", "exec,exit", "-c", "anc-child"]);
    shell.stdin.take().expect("piped").write_all(b"go\n").expect("release the shell");
    assert!(shell.wait().expect("wait for the shell").success());
    let stopped = tracer.stop();
    let events = stopped.events();
    let exec = events.iter().find(|e| e["event"] == "exec").unwrap_or_else(|| panic!("no exec: {events:?}"));
    let me = u64::from(std::process::id());
    let ancestors = chain(exec);
    assert_eq!(&ancestors[..2], &[u64::from(shell.id()), me], "[{}] the shell, then this test: {exec}", machine());
    assert_eq!(ancestors.last(), Some(&1), "[{}] up to PID 1: {exec}", machine());
    // Each link is the kernel's own parent of the one before (the test's ancestors still live).
    for pair in ancestors[1..].windows(2) {
        assert_eq!(parent_of(pair[0]), Some(pair[1]), "[{}] {ancestors:?}", machine());
    }
    let first = &exec["ancestors"][0];
    assert_eq!(first["comm"], "sh", "{exec}");
    assert!(
        first["exe"].as_str().is_some_and(|exe| exe.ends_with("sh") || exe.contains("dash") || exe.contains("busybox")),
        "{exec}"
    );
    let test_exe = std::env::current_exe().unwrap();
    assert_eq!(exec["ancestors"][1]["exe"], test_exe.to_str().unwrap(), "the test's program, from /proc: {exec}");
    let exit = events.iter().find(|e| e["event"] == "exit").unwrap_or_else(|| panic!("no exit: {events:?}"));
    assert_eq!(chain(exit), ancestors, "{exit}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_double_forked_daemon_shows_the_subreaper_that_adopted_it() {
    let (dir, path) = program("anc-daemon");
    // This test process adopts orphans of its descendants, as a service manager would.
    let subreaper = Subreaper::on();
    let tracer = Tracer::start(&["--json", "-e", "exec", "-c", "anc-daemon"]);
    // The shell's subshell outlives it, is adopted, then execs the daemon.
    let status = Command::new("sh")
        .args(["-c", "(sleep 0.3; exec \"$0\" >/dev/null 2>&1) & exit 0"])
        .arg(&path)
        .status()
        .expect("run the shell");
    assert!(status.success());
    std::thread::sleep(std::time::Duration::from_millis(800));
    reap_orphans();
    let stopped = tracer.stop();
    drop(subreaper);
    let events = stopped.events();
    let exec = events
        .iter()
        .find(|e| e["event"] == "exec" && e["comm"] == "anc-daemon")
        .unwrap_or_else(|| panic!("no exec of the daemon: {events:?}"));
    let me = u64::from(std::process::id());
    assert_eq!(field(exec, "ppid"), me, "[{}] adopted by this test: {exec}", machine());
    assert_eq!(chain(exec)[0], me, "[{}] the adoptive parent comes first: {exec}", machine());
    assert_eq!(chain(exec).last(), Some(&1), "{exec}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Waits for the adopted daemon, so it does not linger as a zombie of this test.
fn reap_orphans() {
    loop {
        // SAFETY: waits for any child of ours without blocking.
        let reaped = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
        if reaped <= 0 {
            break;
        }
    }
}
