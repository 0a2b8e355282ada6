//! `tracer-workload clones`: one task created by each way the kernel offers, each with flags
//! and an exit signal known in advance, so that tests can hold tracer's `clone_flags` against
//! what was asked for. It prints the created task IDs as one JSON line on stdout:
//! 1. `fork()` (glibc: clone with `CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD`);
//! 2. `vfork()` (the vfork syscall: `CLONE_VM|CLONE_VFORK`, exit signal `SIGCHLD`);
//! 3. `clone()` with `CLONE_FILES` and exit signal `SIGUSR1`;
//! 4. `clone3()` with `CLONE_CLEAR_SIGHAND` and exit signal `SIGUSR2`;
//! 5. `clone3()` with `CLONE_NEWTIME` (0x80, in the byte that was once the exit signal) and
//!    no exit signal; 0 in the report when the kernel refuses it (no time namespaces);
//! 6. a pthread (flags chosen by glibc, no exit signal).
//!
//! Each child leaves at once with `_exit(0)` and is reaped before the next is created.
use std::{io::Write, process::ExitCode};

/// From include/uapi/linux/sched.h, which the libc crate does not carry for every target.
const CLONE_NEWTIME: u64 = 0x80;
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;

/// `struct clone_args`, version 0 (64 bytes, Linux 5.3).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
}

/// Waits for a child whatever signal it sends when it ends (`__WALL`).
fn reap(pid: i32) {
    let mut status = 0;
    // SAFETY: waits for our own child.
    let waited = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
    assert_eq!(waited, pid, "waitpid: {}", std::io::Error::last_os_error());
}

fn fork() -> i32 {
    // SAFETY: the child leaves at once.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: leaves the child.
        unsafe { libc::_exit(0) };
    }
    reap(pid);
    pid
}

#[allow(deprecated, reason = "libc deprecates vfork, and vfork is the clone path this tests")]
fn vfork() -> i32 {
    // SAFETY: the child shares the parent's memory and stack until it leaves, so it leaves at
    // once without touching either.
    let pid = unsafe { libc::vfork() };
    if pid == 0 {
        // SAFETY: leaves the child.
        unsafe { libc::_exit(0) };
    }
    assert!(pid > 0, "vfork: {}", std::io::Error::last_os_error());
    reap(pid);
    pid
}

extern "C" fn leave(_: *mut libc::c_void) -> libc::c_int {
    // SAFETY: leaves the child.
    unsafe { libc::_exit(0) }
}

fn clone_with_signal() -> i32 {
    const STACK: usize = 64 * 1024;
    let mut stack = vec![0u8; STACK];
    // SAFETY: the child runs `leave` on its own stack (a copy of ours: no CLONE_VM).
    let pid = unsafe {
        libc::clone(
            leave,
            stack.as_mut_ptr().add(STACK).cast(),
            libc::CLONE_FILES | libc::SIGUSR1,
            std::ptr::null_mut(),
        )
    };
    assert!(pid > 0, "clone: {}", std::io::Error::last_os_error());
    reap(pid);
    pid
}

/// clone3 without a stack: like fork, the child returns from the syscall on a copy of ours.
fn clone3_with(flags: u64, exit_signal: u64) -> std::io::Result<i32> {
    let args = CloneArgs { flags, exit_signal, ..CloneArgs::default() };
    // SAFETY: `args` is a valid clone_args of the size passed; the child leaves at once.
    let pid = unsafe { libc::syscall(libc::SYS_clone3, &args as *const CloneArgs, size_of::<CloneArgs>()) };
    if pid == 0 {
        // SAFETY: leaves the child.
        unsafe { libc::_exit(0) };
    }
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let pid = pid as i32;
    reap(pid);
    Ok(pid)
}

fn pthread() -> i32 {
    let (sender, receiver) = std::sync::mpsc::channel();
    // SAFETY: gettid has no preconditions.
    let sent = std::thread::spawn(move || sender.send(unsafe { libc::gettid() })).join().expect("the thread ran");
    sent.expect("the receiver is alive");
    receiver.recv().expect("the thread sent its tid")
}

pub fn run(_args: &[String]) -> ExitCode {
    // The children of 3 and 4 signal us when they end; those signals would end us otherwise.
    // SAFETY: plain signal dispositions.
    unsafe {
        libc::signal(libc::SIGUSR1, libc::SIG_IGN);
        libc::signal(libc::SIGUSR2, libc::SIG_IGN);
    }
    let fork = fork();
    let vfork = vfork();
    let clone = clone_with_signal();
    let clone3 = clone3_with(CLONE_CLEAR_SIGHAND, libc::SIGUSR2 as u64).expect("clone3");
    let clone3_newtime = clone3_with(CLONE_NEWTIME, 0).unwrap_or(0);
    let pthread = pthread();
    // SAFETY: no preconditions.
    let tgid = unsafe { libc::getpid() };
    let report = format!(
        "{{\"tgid\":{tgid},\"fork\":{fork},\"vfork\":{vfork},\"clone\":{clone},\"clone3\":{clone3},\
         \"clone3_newtime\":{clone3_newtime},\"pthread\":{pthread}}}\n"
    );
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(report.as_bytes());
    let _ = stdout.flush();
    ExitCode::SUCCESS
}
