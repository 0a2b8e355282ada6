//! Namespace workloads with known outcomes; each prints one JSON line with the IDs and namespace
//! inodes (as `/proc/<tid>/ns/*` shows them) a test compares tracer's events with:
//! - `ns-setns-thread`: a helper process creates a network namespace; one thread of this
//!   process `setns`es into it while its sibling stays behind, and both report where they are;
//! - `ns-unshare-uts`: `unshare(CLONE_NEWUTS)`, then a hostname set inside;
//! - `ns-clone-user`: `clone(CLONE_NEWUSER)`; the parent writes the child's uid_map (root inside
//!   maps to this uid outside) and the child reports the uid it then has;
//! - `ns-report`: what this process is in its PID namespace (run under `unshare -p -f`).
//!
//! Root is needed for all but `ns-clone-user` and `ns-report`.
use std::{
    ffi::CString,
    io::Write,
    process::ExitCode,
    sync::{Arc, Barrier, Mutex},
};

/// The inode of a namespace file such as `/proc/self/ns/net` (`net:[4026531840]`).
pub fn inode(path: &str) -> u64 {
    let link = std::fs::read_link(path).unwrap_or_else(|error| panic!("readlink {path}: {error}"));
    let text = link.to_string_lossy();
    text.split_once(":[")
        .and_then(|(_, rest)| rest.strip_suffix(']'))
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("{path} -> {text}: not a namespace"))
}

/// The `NSpid:` IDs in a `/proc/.../status` file, outermost first.
pub fn nspid(status: &str) -> Vec<u32> {
    let text = std::fs::read_to_string(status).unwrap_or_else(|error| panic!("{status}: {error}"));
    text.lines()
        .find_map(|line| line.strip_prefix("NSpid:"))
        .map(|ids| ids.split_whitespace().filter_map(|id| id.parse().ok()).collect())
        .unwrap_or_default()
}

fn gettid() -> i32 {
    // SAFETY: no preconditions.
    unsafe { libc::gettid() }
}

fn check(result: libc::c_int, what: &str) {
    assert!(result >= 0, "{what} failed: {}", std::io::Error::last_os_error());
}

fn print(report: String) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{report}");
    let _ = stdout.flush();
}

fn pipe() -> [libc::c_int; 2] {
    let mut ends = [0; 2];
    // SAFETY: pipe fills the two descriptors.
    check(unsafe { libc::pipe(ends.as_mut_ptr()) }, "pipe");
    ends
}

fn read_byte(fd: libc::c_int) {
    let mut byte = 0u8;
    // SAFETY: reads one byte into a local.
    unsafe { libc::read(fd, (&raw mut byte).cast(), 1) };
}

fn write_byte(fd: libc::c_int) {
    // SAFETY: writes one byte from a constant.
    unsafe { libc::write(fd, b"x".as_ptr().cast(), 1) };
}

fn wait(pid: libc::pid_t) -> libc::c_int {
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    status
}

pub fn setns_thread(_args: &[String]) -> ExitCode {
    let host_net = inode("/proc/thread-self/ns/net");
    let (ready, release) = (pipe(), pipe());
    // SAFETY: the child only makes syscalls before _exit.
    let helper = unsafe { libc::fork() };
    check(helper, "fork");
    if helper == 0 {
        unsafe {
            if libc::unshare(libc::CLONE_NEWNET) != 0 {
                libc::_exit(1);
            }
            write_byte(ready[1]);
            read_byte(release[0]);
            libc::_exit(0);
        }
    }
    read_byte(ready[0]);
    let path = CString::new(format!("/proc/{helper}/ns/net")).expect("no NUL");
    // SAFETY: opens a NUL-terminated path.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    check(fd, "open the helper's network namespace");
    let new_net = inode(&format!("/proc/{helper}/ns/net"));

    // Both threads are alive, each in its namespace, while the main thread looks at them.
    let moved = Arc::new(Barrier::new(3));
    let done = Arc::new(Barrier::new(3));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let spawn = |mover: bool| {
        let (moved, done, seen) = (moved.clone(), done.clone(), seen.clone());
        std::thread::spawn(move || {
            if mover {
                // SAFETY: setns on a namespace descriptor we own; only this thread moves.
                check(unsafe { libc::setns(fd, libc::CLONE_NEWNET) }, "setns");
            }
            seen.lock().unwrap().push((mover, gettid(), inode("/proc/thread-self/ns/net")));
            moved.wait();
            done.wait();
        })
    };
    let (mover, stayer) = (spawn(true), spawn(false));
    moved.wait();
    let seen_by_thread = seen.lock().unwrap().clone();
    let tid_of = |mover: bool| seen_by_thread.iter().find(|entry| entry.0 == mover).map(|entry| entry.1).unwrap_or(0);
    let (mover_tid, stayer_tid) = (tid_of(true), tid_of(false));
    // As anyone else sees them, from outside: the process's two threads in two namespaces.
    let mover_net = inode(&format!("/proc/self/task/{mover_tid}/ns/net"));
    let stayer_net = inode(&format!("/proc/self/task/{stayer_tid}/ns/net"));
    done.wait();
    let _ = (mover.join(), stayer.join());
    write_byte(release[1]);
    let helper_status = wait(helper);
    print(format!(
        "{{\"tgid\":{},\"mover_tid\":{mover_tid},\"stayer_tid\":{stayer_tid},\"helper_pid\":{helper},\
         \"helper_status\":{helper_status},\"host_net\":{host_net},\"new_net\":{new_net},\
         \"mover_net\":{mover_net},\"stayer_net\":{stayer_net}}}",
        std::process::id()
    ));
    ExitCode::SUCCESS
}

pub fn unshare_uts(_args: &[String]) -> ExitCode {
    let old_uts = inode("/proc/thread-self/ns/uts");
    // SAFETY: plain syscalls on this (single-threaded) process.
    check(unsafe { libc::unshare(libc::CLONE_NEWUTS) }, "unshare(CLONE_NEWUTS)");
    let name = b"tracer-uts";
    check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }, "sethostname");
    let new_uts = inode("/proc/thread-self/ns/uts");
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    print(format!(
        "{{\"tgid\":{},\"tid\":{},\"old_uts\":{old_uts},\"new_uts\":{new_uts},\"hostname\":\"{}\"}}",
        std::process::id(),
        gettid(),
        hostname.trim()
    ));
    ExitCode::SUCCESS
}

pub fn clone_user(_args: &[String]) -> ExitCode {
    let (go, back) = (pipe(), pipe());
    // SAFETY: no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    // A raw clone without a new stack behaves like fork; the child only makes syscalls.
    let child = unsafe { libc::syscall(libc::SYS_clone, libc::CLONE_NEWUSER | libc::SIGCHLD, 0, 0, 0, 0) } as i32;
    check(child, "clone(CLONE_NEWUSER)");
    if child == 0 {
        unsafe {
            read_byte(go[0]);
            let uid = libc::getuid();
            libc::write(back[1], (&raw const uid).cast(), 4);
            libc::_exit(0);
        }
    }
    std::fs::write(format!("/proc/{child}/uid_map"), format!("0 {uid} 1\n")).expect("write uid_map");
    std::fs::write(format!("/proc/{child}/setgroups"), "deny").expect("write setgroups");
    std::fs::write(format!("/proc/{child}/gid_map"), format!("0 {gid} 1\n")).expect("write gid_map");
    let parent_user = inode("/proc/self/ns/user");
    let child_user = inode(&format!("/proc/{child}/ns/user"));
    write_byte(go[1]);
    let mut child_uid = u32::MAX;
    // SAFETY: reads four bytes into a local.
    unsafe { libc::read(back[0], (&raw mut child_uid).cast(), 4) };
    let status = wait(child);
    print(format!(
        "{{\"tgid\":{},\"child_pid\":{child},\"parent_user\":{parent_user},\"child_user\":{child_user},\
         \"child_uid\":{child_uid},\"child_status\":{status},\"uid\":{uid}}}",
        std::process::id()
    ));
    ExitCode::SUCCESS
}

pub fn report(_args: &[String]) -> ExitCode {
    // SAFETY: no preconditions.
    let pid = unsafe { libc::getpid() };
    let nspid: Vec<String> = nspid("/proc/self/status").iter().map(u32::to_string).collect();
    print(format!(
        "{{\"pid\":{pid},\"tid\":{},\"nspid\":[{}],\"pidns\":{}}}",
        gettid(),
        nspid.join(","),
        inode("/proc/self/ns/pid")
    ));
    ExitCode::SUCCESS
}
