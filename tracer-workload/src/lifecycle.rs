//! `tracer-workload lifecycle`: one of each task event with a known outcome. It prints the ids
//! of everything it created as one JSON line on stdout, then:
//! 1. creates a thread with a raw `clone(CLONE_VM|CLONE_THREAD|CLONE_SIGHAND|…)`, no pthreads;
//! 2. creates a pthread that renames itself to `lc-renamed` (prctl PR_SET_NAME);
//! 3. forks a child that execs `cat /proc/<that pthread's tid>/comm`;
//! 4. forks a child that exits with code 3;
//! 5. forks a child that is killed by SIGKILL;
//! 6. ends with the leader leaving on its own while the renamed pthread lives on; that thread
//!    then exits last, taking the process with it (exit code 0). The leader uses the `exit`
//!    syscall that `pthread_exit` ends in: glibc's `pthread_exit` unwinds the caller's frames,
//!    which Rust's `main` does not allow.
//!
//! Each step finishes before the next starts, so the events come in this order.
use std::{
    ffi::CString,
    io::Write,
    process::ExitCode,
    sync::atomic::{AtomicBool, AtomicI32, Ordering},
    time::Duration,
};

/// Name the pthread gives itself.
pub const RENAMED: &str = "lc-renamed";

static RAW_THREAD_DONE: AtomicBool = AtomicBool::new(false);
static PTHREAD_TID: AtomicI32 = AtomicI32::new(0);
static LEADER_GONE: AtomicBool = AtomicBool::new(false);

fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

extern "C" fn raw_thread(_: *mut libc::c_void) -> libc::c_int {
    RAW_THREAD_DONE.store(true, Ordering::SeqCst);
    // The thread must leave with the exit syscall (not exit_group, not a return into libc).
    // SAFETY: ends only this task; it touches no memory afterwards.
    unsafe { libc::syscall(libc::SYS_exit, 0) };
    0
}

/// Starts a raw-clone thread and waits until it is gone; returns its TID.
fn raw_clone_thread() -> i32 {
    const STACK: usize = 64 * 1024;
    let stack: &'static mut [u8] = Box::leak(vec![0u8; STACK].into_boxed_slice());
    let flags = libc::CLONE_VM
        | libc::CLONE_FS
        | libc::CLONE_FILES
        | libc::CLONE_SIGHAND
        | libc::CLONE_THREAD
        | libc::CLONE_SYSVSEM;
    // SAFETY: the child runs `raw_thread` on its own leaked stack and only stores to an atomic.
    let tid = unsafe { libc::clone(raw_thread, stack.as_mut_ptr().add(STACK).cast(), flags, std::ptr::null_mut()) };
    assert!(tid > 0, "clone failed: {}", std::io::Error::last_os_error());
    while !RAW_THREAD_DONE.load(Ordering::SeqCst) || std::path::Path::new(&format!("/proc/self/task/{tid}")).exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    tid
}

extern "C" fn renamed_thread(_: *mut libc::c_void) -> *mut libc::c_void {
    let name = CString::new(RENAMED).expect("no NUL in the name");
    // SAFETY: PR_SET_NAME reads a NUL-terminated string.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
    PTHREAD_TID.store(gettid(), Ordering::SeqCst);
    // Lives on after the leader's pthread_exit, then ends the process as its last task.
    while !LEADER_GONE.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(50));
    std::ptr::null_mut()
}

fn fork() -> i32 {
    // SAFETY: the children below only call async-signal-safe functions before exec/_exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
    pid
}

fn wait(pid: i32) -> i32 {
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    status
}

pub fn run(_args: &[String]) -> ExitCode {
    let raw_tid = raw_clone_thread();

    let mut pthread: libc::pthread_t = 0;
    // SAFETY: standard pthread creation with default attributes.
    let created = unsafe { libc::pthread_create(&mut pthread, std::ptr::null(), renamed_thread, std::ptr::null_mut()) };
    assert_eq!(created, 0, "pthread_create failed");
    while PTHREAD_TID.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let pthread_tid = PTHREAD_TID.load(Ordering::SeqCst);

    let path = CString::new(format!("/proc/{pthread_tid}/comm")).expect("no NUL");
    let cat = CString::new("cat").expect("no NUL");
    let cat_pid = fork();
    if cat_pid == 0 {
        let argv = [cat.as_ptr(), path.as_ptr(), std::ptr::null()];
        // SAFETY: argv is NUL-terminated; on failure the child leaves at once.
        unsafe {
            libc::execvp(cat.as_ptr(), argv.as_ptr());
            libc::_exit(127);
        }
    }
    let cat_status = wait(cat_pid);

    let exit3_pid = fork();
    if exit3_pid == 0 {
        // SAFETY: leaves the child at once.
        unsafe { libc::_exit(3) };
    }
    let exit3_status = wait(exit3_pid);

    let killed_pid = fork();
    if killed_pid == 0 {
        loop {
            // SAFETY: waits for the signal that ends this child.
            unsafe { libc::pause() };
        }
    }
    // SAFETY: signals our own child.
    unsafe { libc::kill(killed_pid, libc::SIGKILL) };
    let killed_status = wait(killed_pid);

    // SAFETY: no preconditions.
    let (tgid, ppid) = unsafe { (libc::getpid(), libc::getppid()) };
    let report = format!(
        "{{\"tgid\":{tgid},\"ppid\":{ppid},\"raw_thread_tid\":{raw_tid},\"pthread_tid\":{pthread_tid},\
         \"cat_pid\":{cat_pid},\"cat_status\":{cat_status},\"exit3_pid\":{exit3_pid},\
         \"exit3_status\":{exit3_status},\"killed_pid\":{killed_pid},\"killed_status\":{killed_status}}}\n"
    );
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(report.as_bytes());
    let _ = stdout.flush();
    drop(stdout);

    LEADER_GONE.store(true, Ordering::SeqCst);
    // SAFETY: ends only the leader thread; the process lives on in the renamed pthread.
    unsafe { libc::syscall(libc::SYS_exit, 0) };
    unreachable!("the exit syscall returned")
}
