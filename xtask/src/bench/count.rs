//! Which recorded events belong to the workload, and how many there should be.
//!
//! The workload is one process, W (the pid the bench spawned). It creates tasks of one shape:
//! threads in W, or child processes of W (which `exec` `/bin/true` in the exec shape). With
//! `--cores all` its worker threads (one per CPU) are tasks it creates too. What is counted:
//!
//! - **fork**: fork events whose creator is in W (`tgid == W`): every thread and child W makes;
//! - **exec**: exec events of W's children (`ppid == W`, `tgid != W`);
//! - **exit**: exit events of W's threads other than its main thread (`tgid == W`, `tid != W`)
//!   and of W's children (`ppid == W`, `tgid != W`).
//!
//! W's own exec (it is started by the bench) and the exit of its main thread are not counted.
//! Since W lives through the whole run, its pid cannot be reused meanwhile, so these rules hold
//! however fast the kernel recycles the children's pids.
use serde_json::Value;

/// Events by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub fork: u64,
    pub exec: u64,
    pub exit: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.fork + self.exec + self.exit
    }

    /// What a storm of `tasks` tasks (plus `workers` worker threads) causes.
    pub fn expected(shape: &str, tasks: u64, workers: u64) -> Counts {
        Counts { fork: tasks + workers, exec: if shape.starts_with("exec") { tasks } else { 0 }, exit: tasks + workers }
    }

    /// Counts `kind` if the task (tgid, tid, ppid) is one of the workload `w`'s own, by the rules
    /// above.
    pub fn add(&mut self, w: u64, kind: &str, tgid: u64, tid: u64, ppid: u64) {
        let child = ppid == w && tgid != w;
        match kind {
            "fork" if tgid == w => self.fork += 1,
            "exec" if child => self.exec += 1,
            "exit" if (tgid == w && tid != w) || child => self.exit += 1,
            _ => {}
        }
    }
}

/// What one recording holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// The workload's own events.
    pub workload: Counts,
    /// Every event, `lost` reports excluded.
    pub all: u64,
    /// Sum of the `count` of `lost` reports.
    pub lost: u64,
}

impl Tally {
    /// Adds one line of `tracer replay --json`.
    pub fn add_tracer_json(&mut self, w: u64, line: &str) {
        let Ok(event) = serde_json::from_str::<Value>(line) else { return };
        let number = |name: &str| event.get(name).and_then(Value::as_u64).unwrap_or(0);
        match event.get("event").and_then(Value::as_str) {
            Some("lost") => self.lost += number("count"),
            Some(kind) => {
                self.all += 1;
                self.workload.add(w, kind, number("tgid"), number("tid"), number("ppid"));
            }
            None => {}
        }
    }

    /// Adds one line of the bench's bpftrace script (`KIND TGID TID PPID ARG COMM`), or of its
    /// `Lost N events` reports.
    pub fn add_bpftrace(&mut self, w: u64, line: &str) {
        let mut words = line.split_whitespace();
        let Some(kind) = words.next() else { return };
        if kind == "Lost" {
            self.lost += words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            return;
        }
        if !matches!(kind, "fork" | "exec" | "exit") {
            return;
        }
        let mut number = || words.next().and_then(|n| n.parse::<i64>().ok()).unwrap_or(-1) as u64;
        let (tgid, tid, ppid) = (number(), number(), number());
        self.all += 1;
        self.workload.add(w, kind, tgid, tid, ppid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u64 = 500;

    #[test]
    fn counts_only_the_workloads_tasks() {
        let mut counts = Counts::default();
        counts.add(W, "fork", W, W, 1); // W creates a worker or a task
        counts.add(W, "fork", W, 501, 1); // a worker creates a task
        counts.add(W, "fork", 1, 1, 0); // someone else forks
        counts.add(W, "exec", W, W, 1); // W itself starting: not counted
        counts.add(W, "exec", 600, 600, W); // W's child execs
        counts.add(W, "exec", 700, 700, 600); // a grandchild: not counted
        counts.add(W, "exit", W, 501, 1); // a thread of W
        counts.add(W, "exit", W, W, 1); // W's main thread: not counted
        counts.add(W, "exit", 600, 600, W); // W's child
        counts.add(W, "exit", 700, 700, 1); // someone else
        assert_eq!(counts, Counts { fork: 2, exec: 1, exit: 2 });
        assert_eq!(Counts::expected("exec", 10, 2), Counts { fork: 12, exec: 10, exit: 12 });
        assert_eq!(Counts::expected("thread", 10, 0).total(), 20);
    }

    #[test]
    fn reads_tracer_json_and_bpftrace_lines() {
        let mut tally = Tally::default();
        tally.add_tracer_json(W, r#"{"event":"fork","tgid":500,"tid":500,"ppid":1,"comm":"tracer-workload","child_tgid":500,"child_tid":501}"#);
        tally.add_tracer_json(W, r#"{"event":"exit","tgid":500,"tid":501,"ppid":1,"comm":"tracer-workload"}"#);
        tally.add_tracer_json(W, r#"{"event":"rename","tgid":9,"tid":9,"ppid":1}"#);
        tally.add_tracer_json(W, r#"{"event":"lost","count":7}"#);
        tally.add_tracer_json(W, "not json");
        assert_eq!(tally, Tally { workload: Counts { fork: 1, exec: 0, exit: 1 }, all: 3, lost: 7 });

        let mut tally = Tally::default();
        tally.add_bpftrace(W, "READY");
        tally.add_bpftrace(W, "fork 500 500 1 501 tracer-workload");
        tally.add_bpftrace(W, "exec 601 601 500 601 true");
        tally.add_bpftrace(W, "exit 601 601 500 0 true");
        tally.add_bpftrace(W, "exit 3 3 1 0 kworker/0:1 with space");
        tally.add_bpftrace(W, "Lost 12 events");
        assert_eq!(tally, Tally { workload: Counts { fork: 1, exec: 1, exit: 1 }, all: 4, lost: 12 });
    }
}
