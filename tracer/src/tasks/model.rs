//! The task model: every process and thread an event stream showed, alive or gone, each with
//! its own entry even when the kernel reused its PID or TID, with who created it, what it ran
//! (the exec chain), its names, and its birth and death as far as the stream saw them.
//!
//! Entries are keyed by their order of first sight ([`ProcessKey`], [`ThreadKey`]), never by
//! PID: a PID names a different process once the first one is gone. Live PIDs and TIDs map to
//! the entries they name now; an event about a PID or TID the model does not know starts a new
//! entry whose birth is unseen ([`Start::Unseen`]). An event whose process start time
//! (`start_ns`) differs from the live entry's names another process that reused the PID, even
//! when neither the old one's exit nor the new one's fork was in the stream (`-e exec`).
use foldhash::HashMap;

use crate::event::{Detail, Event};

/// A process entry: its index in the model, in order of first sight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessKey(pub usize);

/// A thread entry: its index in the model, in order of first sight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadKey(pub usize);

/// How a task's life began, as far as the stream tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Its creation was seen: thread `by` created it at `ns`.
    Forked { ns: u64, by: ThreadKey },
    /// Its creation is not in the stream (before the recording, or filtered out).
    Unseen,
}

/// How a task's life ended, as far as the stream tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// It exited at `ns` with wait status `status` (see [`crate::event::exit_status`]).
    Exited { ns: u64, status: u32 },
    /// No exit seen (still running when the stream ended, or filtered out).
    Unseen,
}

impl End {
    pub fn status(&self) -> Option<u32> {
        match self {
            End::Exited { status, .. } => Some(*status),
            End::Unseen => None,
        }
    }
}

/// One exec: the process replaced its program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exec {
    pub ns: u64,
    pub filename: String,
    pub argv: Vec<String>,
    pub argv_truncated: bool,
    /// The thread that exec'd.
    pub thread: ThreadKey,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    pub tgid: u32,
    /// When the kernel says it started (`start_ns`, CLOCK_BOOTTIME ns): with `tgid`, its
    /// identity. `None` before format 6 and for tracer's own reports.
    pub start_ns: Option<u64>,
    /// TGID of its parent as the kernel reported it when the process was first seen.
    pub ppid: u32,
    /// The process that created it (or, when its creation was not seen, the live process its
    /// `ppid` named then), when the model knows it.
    pub parent: Option<ProcessKey>,
    pub children: Vec<ProcessKey>,
    /// Its threads in order of first sight; the leader first when its creation was seen.
    pub threads: Vec<ThreadKey>,
    pub start: Start,
    pub end: End,
    /// Its comm when first seen: the program it ran before any exec in `execs`.
    pub comm: String,
    /// Its programs, in order.
    pub execs: Vec<Exec>,
    /// First and last time an event was about it (its creation included).
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    pub tid: u32,
    /// The leader's TID it took over when it exec'd as a non-leader thread.
    pub tid_after_exec: Option<u32>,
    pub process: ProcessKey,
    pub start: Start,
    pub end: End,
    /// Its comm when first seen, then each new name in order (renames, including exec's).
    pub names: Vec<String>,
    /// The lifetime the kernel reported at its exit: it dates the thread's creation even when
    /// that was not seen.
    pub lifetime_ns: Option<u64>,
    /// First and last time an event was about it (its creation included).
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
}

impl Thread {
    pub fn name(&self) -> &str {
        self.names.last().map(String::as_str).unwrap_or("")
    }

    /// When it was created, as the kernel dates it: from the lifetime reported at its exit
    /// (the fork event comes a little after the task exists), else from its fork event.
    pub fn started_ns(&self) -> Option<u64> {
        match (self.start, self.end, self.lifetime_ns) {
            (_, End::Exited { ns, .. }, Some(lifetime)) => Some(ns.saturating_sub(lifetime)),
            (Start::Forked { ns, .. }, _, _) => Some(ns),
            (Start::Unseen, _, _) => None,
        }
    }
}

/// The entries an event was about, as [`TaskModel::observe`] filed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observed {
    pub process: ProcessKey,
    pub thread: ThreadKey,
    /// For a fork: the new process (the creator's own for a new thread) and thread.
    pub created: Option<(ProcessKey, ThreadKey)>,
}

/// See the [module documentation](self).
#[derive(Debug, Default)]
pub struct TaskModel {
    processes: Vec<Process>,
    threads: Vec<Thread>,
    /// Live TGID → its entry.
    live_processes: HashMap<u32, ProcessKey>,
    /// Live TID → its entry.
    live_threads: HashMap<u32, ThreadKey>,
    /// Earliest and latest event time seen.
    span: Option<(u64, u64)>,
    lost: u64,
}

impl TaskModel {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn process(&self, key: ProcessKey) -> &Process {
        &self.processes[key.0]
    }

    pub fn thread(&self, key: ThreadKey) -> &Thread {
        &self.threads[key.0]
    }

    /// Every process, in order of first sight.
    pub fn processes(&self) -> impl Iterator<Item = (ProcessKey, &Process)> {
        self.processes.iter().enumerate().map(|(index, process)| (ProcessKey(index), process))
    }

    /// Every thread, in order of first sight.
    pub fn threads(&self) -> impl Iterator<Item = (ThreadKey, &Thread)> {
        self.threads.iter().enumerate().map(|(index, thread)| (ThreadKey(index), thread))
    }

    /// Processes without a known parent, in order of first sight.
    pub fn roots(&self) -> impl Iterator<Item = ProcessKey> + '_ {
        self.processes().filter(|(_, process)| process.parent.is_none()).map(|(key, _)| key)
    }

    /// Earliest and latest event time seen, ns since the epoch.
    pub fn span(&self) -> Option<(u64, u64)> {
        self.span
    }

    /// Events the kernel dropped, as reported in the stream.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// When the process was created: its leader's creation, as [`Thread::started_ns`] dates it.
    pub fn process_started_ns(&self, key: ProcessKey) -> Option<u64> {
        let process = self.process(key);
        let leader = process.threads.iter().map(|&thread| self.thread(thread)).find(|t| t.tid == process.tgid);
        match (leader.and_then(Thread::started_ns), process.start) {
            (Some(ns), _) => Some(ns),
            (None, Start::Forked { ns, .. }) => Some(ns),
            (None, Start::Unseen) => None,
        }
    }

    /// The process's last program: its last exec's file name, or the comm it was first seen with.
    pub fn program(&self, key: ProcessKey) -> &str {
        let process = self.process(key);
        process.execs.last().map(|exec| exec.filename.as_str()).unwrap_or(&process.comm)
    }

    /// Files the event into the model; returns the entries it was about (none for `lost`).
    pub fn observe(&mut self, event: &Event) -> Option<Observed> {
        let ns = event.timestamp_ns;
        self.span = Some(match self.span {
            Some((first, last)) => (first.min(ns), last.max(ns)),
            None => (ns, ns),
        });
        let subject = match &event.detail {
            Detail::Lost { count, .. } => {
                self.lost += count;
                return None;
            }
            // A non-leader thread's exec: the task is filed under the TID it had (`old_tid`) and
            // takes over the leader's, which the event carries.
            Detail::Exec { old_tid, .. } if *old_tid != event.tid => {
                let thread = self.subject(event, *old_tid);
                self.take_over_tid(thread, *old_tid, event.tid);
                thread
            }
            _ => self.subject(event, event.tid),
        };
        let process = self.threads[subject.0].process;
        self.threads[subject.0].last_seen_ns = ns;
        self.processes[process.0].last_seen_ns = ns;
        let mut observed = Observed { process, thread: subject, created: None };
        match &event.detail {
            Detail::Fork { child_tgid, child_tid, child_start_ns, .. } => {
                let start = Start::Forked { ns, by: subject };
                let child_process = if *child_tgid == event.tgid {
                    process
                } else {
                    let identity = (*child_tgid, *child_start_ns);
                    self.new_process(identity, event.tgid, Some(process), start, ns, event.comm.to_string())
                };
                let child = self.new_thread(child_process, *child_tid, start, ns, event.comm.to_string());
                observed.created = Some((child_process, child));
            }
            Detail::Exec { filename, argv, argv_truncated, .. } => {
                self.processes[process.0].execs.push(Exec {
                    ns,
                    filename: filename.to_string(),
                    argv: argv.iter().map(|argument| argument.to_string()).collect(),
                    argv_truncated: *argv_truncated,
                    thread: subject,
                });
                // The exec's own rename: the event's comm is the new name.
                let new = event.comm.to_string();
                let names = &mut self.threads[subject.0].names;
                if names.last() != Some(&new) {
                    names.push(new);
                }
            }
            Detail::Exit { exit_code, signal, core_dumped, group_dead, lifetime_ns, .. } => {
                let status = &crate::event::exit_status::compose(*exit_code, *signal, *core_dumped);
                let thread = &mut self.threads[subject.0];
                thread.end = End::Exited { ns, status: *status };
                thread.lifetime_ns = Some(*lifetime_ns);
                self.live_threads.remove(&event.tid);
                if *group_dead {
                    self.processes[process.0].end = End::Exited { ns, status: *status };
                    if self.live_processes.get(&event.tgid) == Some(&process) {
                        self.live_processes.remove(&event.tgid);
                    }
                }
            }
            Detail::Rename { new_comm, .. } => {
                let new = new_comm.to_string();
                let names = &mut self.threads[subject.0].names;
                if names.last() != Some(&new) {
                    names.push(new);
                }
            }
            Detail::Lookup { .. } | Detail::Lost { .. } | Detail::Namespace { .. } => {}
        }
        Some(observed)
    }

    /// The live thread `tid` of process `event.tgid`, filed anew when the model does not know it.
    fn subject(&mut self, event: &Event, tid: u32) -> ThreadKey {
        if let Some(&thread) = self.live_threads.get(&tid) {
            let process = &self.processes[self.threads[thread.0].process.0];
            if process.tgid == event.tgid && same_start(process.start_ns, event.start_ns) {
                return thread;
            }
            // The TID names a task of another process now: the old one's end went unseen.
            self.live_threads.remove(&tid);
        }
        let ns = event.timestamp_ns;
        let live = self.live_processes.get(&event.tgid).copied();
        let process = match live {
            Some(process) if same_start(self.processes[process.0].start_ns, event.start_ns) => {
                let known = &mut self.processes[process.0].start_ns;
                *known = known.or(event.start_ns);
                process
            }
            // Unknown, or another process that reused the PID after the old one's unseen end.
            _ => {
                let parent = self.live_processes.get(&event.ppid).copied();
                let identity = (event.tgid, event.start_ns);
                self.new_process(identity, event.ppid, parent, Start::Unseen, ns, comm_before(event))
            }
        };
        self.new_thread(process, tid, Start::Unseen, ns, comm_before(event))
    }

    /// A non-leader thread exec'd and now has the leader's TID; a leader still filed under it
    /// left without its exit being seen.
    fn take_over_tid(&mut self, thread: ThreadKey, old_tid: u32, tid: u32) {
        if self.live_threads.get(&old_tid) == Some(&thread) {
            self.live_threads.remove(&old_tid);
        }
        self.live_threads.insert(tid, thread);
        self.threads[thread.0].tid_after_exec = Some(tid);
    }

    /// A process entry for (`tgid`, start time).
    fn new_process(
        &mut self,
        (tgid, start_ns): (u32, Option<u64>),
        ppid: u32,
        parent: Option<ProcessKey>,
        start: Start,
        ns: u64,
        comm: String,
    ) -> ProcessKey {
        let key = ProcessKey(self.processes.len());
        self.processes.push(Process {
            tgid,
            start_ns,
            ppid,
            parent,
            children: Vec::new(),
            threads: Vec::new(),
            start,
            end: End::Unseen,
            comm,
            execs: Vec::new(),
            first_seen_ns: ns,
            last_seen_ns: ns,
        });
        if let Some(parent) = parent {
            self.processes[parent.0].children.push(key);
        }
        // A reused PID: the process that had it left without its end being seen.
        self.live_processes.insert(tgid, key);
        key
    }

    fn new_thread(&mut self, process: ProcessKey, tid: u32, start: Start, ns: u64, comm: String) -> ThreadKey {
        let key = ThreadKey(self.threads.len());
        self.threads.push(Thread {
            tid,
            tid_after_exec: None,
            process,
            start,
            end: End::Unseen,
            names: vec![comm],
            lifetime_ns: None,
            first_seen_ns: ns,
            last_seen_ns: ns,
        });
        self.processes[process.0].threads.push(key);
        self.live_threads.insert(tid, key);
        key
    }
}

/// Whether two process start times can be the same process's: unknown ones match anything.
fn same_start(known: Option<u64>, seen: Option<u64>) -> bool {
    known.zip(seen).is_none_or(|(known, seen)| known == seen)
}

/// The task's comm before `event`: an exec event carries the new one, and the old one apart.
fn comm_before(event: &Event) -> String {
    match &event.detail {
        Detail::Exec { old_comm: Some(old), .. } => old.to_string(),
        _ => event.comm.to_string(),
    }
}
