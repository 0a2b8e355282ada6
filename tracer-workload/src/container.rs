//! `tracer-workload container`: what a test runs as a container's first process. It spawns a
//! thread, forks a child that execs `sh -c 'exit 7'`, prints one JSON line with the IDs each of
//! them has in the container's PID namespace (`NSpid` of `/proc/<id>/status`, as the container
//! sees it) and exits with code 42.
use std::{ffi::CString, io::Write, process::ExitCode};

use crate::namespaces::nspid;

/// Exit code of the container's first process.
const EXIT_CODE: u8 = 42;

fn list(ids: &[u32]) -> String {
    format!("[{}]", ids.iter().map(u32::to_string).collect::<Vec<_>>().join(","))
}

pub fn run(_args: &[String]) -> ExitCode {
    let own = nspid("/proc/self/status");
    let thread = std::thread::spawn(|| nspid("/proc/thread-self/status")).join().expect("the thread reports");

    let mut gate = [0; 2];
    // SAFETY: pipe fills the two descriptors.
    assert_eq!(unsafe { libc::pipe(gate.as_mut_ptr()) }, 0, "pipe");
    let shell = CString::new("/bin/sh").expect("no NUL");
    let (dash_c, code) = (CString::new("-c").expect("no NUL"), CString::new("exit 7").expect("no NUL"));
    let argv = [shell.as_ptr(), dash_c.as_ptr(), code.as_ptr(), std::ptr::null()];
    // SAFETY: the child only reads a pipe and execs (or leaves) before touching anything else.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed: {}", std::io::Error::last_os_error());
    if child == 0 {
        unsafe {
            let mut byte = 0u8;
            libc::read(gate[0], (&raw mut byte).cast(), 1);
            libc::execv(shell.as_ptr(), argv.as_ptr());
            libc::_exit(127);
        }
    }
    // Read while the child waits, before it becomes the shell.
    let child_ids = nspid(&format!("/proc/{child}/status"));
    // SAFETY: releases the child; waits for our own child.
    let mut status = 0;
    unsafe {
        libc::write(gate[1], b"g".as_ptr().cast(), 1);
        libc::waitpid(child, &mut status, 0);
    }
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(
        stdout,
        "{{\"nspid\":{},\"thread_nspid\":{},\"child_pid\":{child},\"child_nspid\":{},\"child_exit\":{},\"exit\":{EXIT_CODE}}}",
        list(&own),
        list(&thread),
        list(&child_ids),
        libc::WEXITSTATUS(status)
    );
    let _ = stdout.flush();
    ExitCode::from(EXIT_CODE)
}
