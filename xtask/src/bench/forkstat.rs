//! forkstat (Debian's `forkstat`, the proc connector tool) as a peer: its command line, when it
//! is ready, and which of the events it printed belong to the workload.
//!
//! `forkstat -e fork,exec,exit,clone` prints, per task creation, a `parent` line and a `child`
//! (process) or `thread` line, then `exec` and `exit` lines with the task's pid:
//!
//! ```text
//! Time     Event   PID Info   Duration Process
//! 11:49:43 fork  11610 parent          tracer-workload storm …
//! 11:49:43 fork  11613 child           tracer-workload storm …
//! 11:49:43 exec  11613                 /bin/true
//! 11:49:43 exit  11613      0   0.001s /bin/true
//! 11:49:43 recv ----- nobufs          (No buffer space available)
//! ```
//!
//! It names the parent by the child's `/proc/<pid>/status` (`PPid`, or `Tgid` for a thread), so
//! a creation is the workload W's when its parent line says W. Its `exec` and `exit` lines carry
//! only the pid: they are W's when that pid is a child or thread W's creation lines announced
//! and that has not exited since. A task that is gone before forkstat reads `/proc` is not
//! printed at all (its exit still is, but nothing ties it to W), and a `nobufs` line means the
//! kernel dropped messages forkstat read too slowly; both show as a share below 100 %.
use std::{collections::HashSet, fs, path::Path};

use super::count::Tally;

/// The events tracer reports too; `clone` is forkstat's name for a new thread.
pub const ARGS: [&str; 2] = ["-e", "fork,exec,exit,clone"];

/// What a forkstat output holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub tally: Tally,
    /// `nobufs` lines: times the kernel dropped messages for forkstat (how many, it cannot say).
    pub overruns: u64,
}

/// Reads forkstat's output for workload `w`.
pub fn read(w: u64, text: &str) -> Output {
    let mut output = Output::default();
    let mut children = HashSet::new();
    let mut threads = HashSet::new();
    // The parent of the creation whose second line comes next.
    let mut parent: Option<u64> = None;
    for line in text.lines() {
        let mut words = line.split_whitespace().skip(1);
        let (Some(kind), Some(pid)) = (words.next(), words.next()) else { continue };
        if kind == "recv" && line.contains("nobufs") {
            output.overruns += 1;
            continue;
        }
        let Ok(pid) = pid.parse::<u64>() else { continue };
        let info = words.next().unwrap_or("");
        match (kind, info) {
            ("fork" | "clone", "parent") => parent = Some(pid),
            ("fork" | "clone", "child" | "thread") => {
                output.tally.all += 1;
                if parent.take() == Some(w) {
                    output.tally.workload.fork += 1;
                    if info == "thread" {
                        threads.insert(pid)
                    } else {
                        children.insert(pid)
                    };
                }
            }
            ("exec", _) => {
                output.tally.all += 1;
                if children.contains(&pid) {
                    output.tally.workload.exec += 1;
                }
            }
            ("exit", _) => {
                output.tally.all += 1;
                // Removed on exit: the pid may be reused by a task that is not W's.
                let child = children.remove(&pid);
                let thread = threads.remove(&pid);
                if (child || thread) && pid != w {
                    output.tally.workload.exit += 1;
                }
            }
            _ => {}
        }
    }
    output
}

/// Whether forkstat `pid` listens: it opens its netlink socket only after loading its process
/// table, and then sleeps in `recv`.
pub fn listening(pid: u32) -> bool {
    let has_socket = fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|fd| fs::read_link(fd.path()).is_ok_and(|target| target.to_string_lossy().starts_with("socket:")));
    has_socket && state(pid) == Some('S')
}

/// The scheduler state of `pid` (`R`, `S`, …), from `/proc/<pid>/stat`.
fn state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().next()?.chars().next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::count::Counts;

    const W: u64 = 500;

    #[test]
    fn ties_events_to_the_workload_through_its_creation_lines() {
        let text = "\
Time     Event   PID Info   Duration Process
11:49:43 clone   500 parent          tracer-workload storm
11:49:43 clone   501 thread          tracer-workload storm
11:49:43 fork    501 parent          tracer-workload storm
11:49:43 fork    600 child           tracer-workload storm
11:49:43 fork    500 parent          tracer-workload storm
Time     Event   PID Info   Duration Process
11:49:43 fork    601 child           tracer-workload storm
11:49:43 exec    601                 /bin/true
11:49:43 exec    700                 /bin/true
11:49:43 exit    601      0   0.001s /bin/true
11:49:43 exit    700      0   0.001s /bin/true
11:49:43 recv ----- nobufs          (No buffer space available)
11:49:43 exit    501      0   0.010s tracer-workload storm
11:49:43 exit    601      0   0.001s something else reusing pid 601
11:49:43 exit    500      0   0.020s tracer-workload storm
";
        let output = read(W, text);
        // Forks: the thread 501 and the child 601 (600's parent line says 501, not W).
        assert_eq!(output.tally.workload, Counts { fork: 2, exec: 1, exit: 2 });
        assert_eq!(output.tally.all, 3 + 2 + 5);
        assert_eq!(output.overruns, 1);
    }
}
