//! `tracer-workload hostile-names DIR`: a process that names itself, its program and its
//! arguments with terminal control sequences and line breaks, as someone would to retitle or
//! clear the terminal of whoever traces the machine, or to forge rows in its output.
//!
//! It forks a child that renames itself [`COMM`] (`prctl(PR_SET_NAME)`), looks up
//! `/proc/`[`PROC_NAME`] (which does not exist), then execs `DIR/`[`LINK`], a symlink to this
//! very program it creates first, with [`ARGV`]; `tracer-workload true` ignores its arguments
//! and exits 0 (busybox's `true` would look itself up by `argv[0]`). The parent waits for it,
//! removes the link and prints `{"child":PID}`. It exits 1 with one line on stderr when a step
//! fails.
use std::{ffi::CString, os::unix::ffi::OsStrExt, path::PathBuf, process::ExitCode, ptr};

/// The comm the child gives itself: clear screen, bell, newline (10 bytes, within comm's 15).
pub const COMM: &str = "\x1b[2J\x07\nfake";
/// The name the child looks up in /proc: red text and a line break.
pub const PROC_NAME: &str = "\x1b[31mred\nrow";
/// The symlink the child execs, so its exec'd file name and its new comm: a terminal title.
pub const LINK: &str = "\x1b]0;owned\x07\nX";
/// The child's arguments: a title sequence, the scenario that exits 0, a line break, a
/// right-to-left override and a literal backslash sequence.
pub const ARGV: [&str; 5] = ["\x1b]0;owned\x07", "true", "two\nlines", "\u{202e}txt.exe", "\\x1b"];

fn cstring(text: &str) -> CString {
    CString::new(text).expect("no NUL in the names")
}

pub fn run(args: &[String]) -> ExitCode {
    let Some(dir) = args.first().map(PathBuf::from) else {
        eprintln!("usage: tracer-workload hostile-names DIR");
        return ExitCode::from(2);
    };
    let link = dir.join(LINK);
    let target = match std::env::current_exe() {
        Ok(target) => target,
        Err(error) => {
            eprintln!("tracer-workload hostile-names: cannot find this program: {error}");
            return ExitCode::from(1);
        }
    };
    if let Err(error) = std::os::unix::fs::symlink(target, &link) {
        eprintln!("tracer-workload hostile-names: cannot create the link in {}: {error}", dir.display());
        return ExitCode::from(1);
    }
    let program = CString::new(link.as_os_str().as_bytes()).expect("no NUL in the path");
    let comm = cstring(COMM);
    let proc_path = cstring(&format!("/proc/{PROC_NAME}"));
    let arguments: Vec<CString> = ARGV.iter().map(|argument| cstring(argument)).collect();
    let mut argv: Vec<*const libc::c_char> = arguments.iter().map(|argument| argument.as_ptr()).collect();
    argv.push(ptr::null());
    // SAFETY: the child only calls async-signal-safe functions (prctl, stat, execv, _exit) on
    // memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        eprintln!("tracer-workload hostile-names: fork failed: {}", std::io::Error::last_os_error());
        return ExitCode::from(1);
    }
    if pid == 0 {
        unsafe {
            libc::prctl(libc::PR_SET_NAME, comm.as_ptr());
            let mut stat: libc::stat = std::mem::zeroed();
            libc::stat(proc_path.as_ptr(), &mut stat);
            libc::execv(program.as_ptr(), argv.as_ptr());
            libc::_exit(127);
        }
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    let reaped = unsafe { libc::waitpid(pid, &mut status, 0) };
    let _ = std::fs::remove_file(&link);
    if reaped != pid || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        eprintln!("tracer-workload hostile-names: the child {pid} failed (wait status {status:#x})");
        return ExitCode::from(1);
    }
    println!("{{\"child\":{pid}}}");
    ExitCode::SUCCESS
}
