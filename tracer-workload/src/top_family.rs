//! `tracer-workload top-family SECONDS`: what `tracer top`'s tests look for. A process with
//! three threads besides its leader, and a short-lived child that exits with code 7. Prints its
//! PID, then after a second and a half forks the child, reaps it and prints the child's PID;
//! lives SECONDS in all.
use std::{io::Write, process::ExitCode, time::Duration};

/// The child's exit code.
pub const CHILD_EXIT: i32 = 7;

pub fn run(args: &[String]) -> ExitCode {
    let Some(seconds) = args.first().and_then(|given| given.parse::<u64>().ok()) else {
        eprintln!("usage: tracer-workload top-family SECONDS");
        return ExitCode::from(2);
    };
    let threads: Vec<_> =
        (0..3).map(|_| std::thread::spawn(move || std::thread::sleep(Duration::from_secs(seconds)))).collect();
    let say = |line: String| {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    };
    say(std::process::id().to_string());
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: the child only calls _exit, which is async-signal-safe.
    let child = unsafe { libc::fork() };
    if child == 0 {
        // SAFETY: ends the child at once, without running the parent's exit handlers.
        unsafe { libc::_exit(CHILD_EXIT) };
    }
    if child < 0 {
        eprintln!("tracer-workload: fork: {}", std::io::Error::last_os_error());
        return ExitCode::FAILURE;
    }
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer; the child is ours to reap.
    unsafe { libc::waitpid(child, &mut status, 0) };
    say(child.to_string());
    for thread in threads {
        let _ = thread.join();
    }
    ExitCode::SUCCESS
}
