//! `tracer-workload pair`: a process with two tasks, driven step by step so a tracer can be
//! attached with their ids first. It prints `<tgid> <thread tid>` and waits for a line on stdin;
//! then the thread renames itself `pair-thread` and exits, and the leader renames itself
//! `pair-leader` and exits with code 0.
use std::{ffi::CString, io::BufRead, io::Write, process::ExitCode};

fn rename(name: &str) {
    let name = CString::new(name).expect("no NUL");
    // SAFETY: PR_SET_NAME reads a NUL-terminated string.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
}

pub fn run(_args: &[String]) -> ExitCode {
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        // SAFETY: no preconditions.
        let _ = tid_tx.send(unsafe { libc::gettid() });
        let _ = go_rx.recv();
        rename("pair-thread");
    });
    let tid = tid_rx.recv().expect("the thread reports its id");
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{} {tid}", std::process::id());
    let _ = stdout.flush();
    drop(stdout);
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    let _ = go_tx.send(());
    let _ = thread.join();
    rename("pair-leader");
    ExitCode::SUCCESS
}
