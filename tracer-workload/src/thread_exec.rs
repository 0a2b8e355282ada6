//! `tracer-workload thread-exec`: a non-leader thread execs `true`. It prints `<tgid> <tid>`
//! first. The kernel kills the other threads (the leader included), and the exec'ing thread
//! takes over the leader's TID, so the new program runs as TID == TGID.
use std::{ffi::CString, io::Write, process::ExitCode};

pub fn run(_args: &[String]) -> ExitCode {
    let thread = std::thread::spawn(|| {
        // SAFETY: no preconditions.
        let tid = unsafe { libc::gettid() };
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{} {tid}", std::process::id());
        let _ = stdout.flush();
        let program = CString::new("true").expect("no NUL");
        let argv = [program.as_ptr(), std::ptr::null()];
        // SAFETY: argv is NUL-terminated; exec replaces the whole process.
        unsafe { libc::execvp(program.as_ptr(), argv.as_ptr()) };
        eprintln!("exec of true failed: {}", std::io::Error::last_os_error());
        std::process::exit(127);
    });
    let _ = thread.join();
    // Only reached if the exec failed.
    ExitCode::FAILURE
}
