//! The lineage of live processes: each one's parent, name and program, learnt from `/proc` once
//! the hooks are attached (so processes older than tracer are known) and kept current from the
//! events, so that exec and exit events can carry their chain of ancestors up to PID 1.
//!
//! Every change after the snapshot is also an event, handled after it: a state the snapshot read
//! too early is overwritten by the events that follow, and one it read late is written again
//! with the same values. The parent comes from each event's `ppid` (the kernel's `real_parent`),
//! so a process adopted by init or a subreaper shows its new parent from its next event on. A
//! parent never seen (its events filtered out) is read from `/proc/<tgid>` when first needed.
//!
//! A chain is built once and shared by every event that carries it until the lineage changes:
//! a storm of threads repeats the same chain on every exit.
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};

use foldhash::HashMap;

use crate::{
    event::{Ancestor, Ancestors, Detail, Event},
    text::Text,
};

/// Longest chain an event carries; deeper ancestors are left out.
pub const MAX_ANCESTORS: usize = 32;

/// Processes known at most, before those that are gone from `/proc` are forgotten (their exits
/// are not seen when exit events are not selected).
const SWEEP_AT: usize = 32 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Process {
    ppid: u32,
    comm: Text,
    /// The program it runs: from its exec, its parent's at fork, or `/proc/<tgid>/exe`.
    exe: Option<Text>,
}

#[derive(Debug)]
pub struct Ancestry {
    processes: HashMap<u32, Process>,
    proc_root: PathBuf,
    /// Chains built since `processes` last changed, by the process they start from.
    chains: HashMap<u32, Ancestors>,
}

impl Ancestry {
    /// Every process alive now. Call it once the hooks are attached.
    pub fn from_proc() -> Self {
        Self::from_root(Path::new("/proc"))
    }

    fn from_root(proc_root: &Path) -> Self {
        let mut ancestry =
            Self { processes: HashMap::default(), proc_root: proc_root.to_owned(), chains: HashMap::default() };
        let tgids: Vec<u32> = std::fs::read_dir(proc_root)
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        for tgid in tgids {
            if let Some(process) = ancestry.read_proc(tgid) {
                ancestry.processes.insert(tgid, process);
            }
        }
        ancestry
    }

    /// Parent and comm from `/proc/<tgid>/stat`, program from `/proc/<tgid>/exe`.
    fn read_proc(&self, tgid: u32) -> Option<Process> {
        let dir = self.proc_root.join(tgid.to_string());
        let stat = std::fs::read(dir.join("stat")).ok()?;
        // `pid (comm) state ppid …`: the comm may hold spaces and parentheses, so it ends at the
        // last ')'.
        let open = stat.iter().position(|&byte| byte == b'(')?;
        let close = stat.iter().rposition(|&byte| byte == b')')?;
        let comm = Text::from(stat.get(open + 1..close)?);
        let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
        let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
        let exe =
            std::fs::read_link(dir.join("exe")).ok().map(|path| Text::from(path.into_os_string().into_encoded_bytes()));
        Some(Process { ppid, comm, exe })
    }

    /// Learns from `event` and, for exec and exit events, fills in their ancestors.
    pub fn observe(&mut self, event: &mut Event) {
        if matches!(event.detail, Detail::Lost { .. }) {
            return;
        }
        let leader = event.tid == event.tgid;
        // Whether the lineage changed: any change may alter a chain built before it.
        let mut changed = false;
        let known = match self.processes.entry(event.tgid) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                changed = true;
                entry.insert(Process { ppid: event.ppid, comm: event.comm.clone(), exe: None })
            }
        };
        if known.ppid != event.ppid {
            known.ppid = event.ppid;
            changed = true;
        }
        if (leader || matches!(event.detail, Detail::Exec { .. })) && known.comm != event.comm {
            known.comm = event.comm.clone();
            changed = true;
        }
        if let Detail::Exec { filename, .. } = &event.detail
            && known.exe.as_ref() != Some(filename)
        {
            known.exe = Some(filename.clone());
            changed = true;
        }
        if let Detail::Fork { child_tgid, thread: false, .. } = event.detail {
            let child = Process { ppid: event.tgid, comm: event.comm.clone(), exe: known.exe.clone() };
            self.processes.insert(child_tgid, child);
            changed = true;
        }
        if changed {
            self.chains.clear();
        }
        let ppid = event.ppid;
        match &mut event.detail {
            Detail::Exec { ancestors, .. } => *ancestors = self.ancestors(ppid),
            Detail::Exit { group_dead, ancestors, .. } => {
                *ancestors = self.ancestors(ppid);
                if *group_dead {
                    self.processes.remove(&event.tgid);
                    self.chains.clear();
                }
            }
            _ => {}
        }
        if self.processes.len() > SWEEP_AT {
            let root = self.proc_root.clone();
            self.processes.retain(|tgid, _| root.join(tgid.to_string()).exists());
            self.chains.clear();
        }
    }

    /// The chain from process `ppid` up to PID 1 (or as far as it is known), nearest first.
    fn ancestors(&mut self, ppid: u32) -> Ancestors {
        if let Some(chain) = self.chains.get(&ppid) {
            return chain.clone();
        }
        let known = self.processes.len();
        let chain: Ancestors = self.walk(ppid).into();
        if self.processes.len() != known {
            // The walk learnt a process from `/proc`, which may extend chains that ended there.
            self.chains.clear();
        }
        self.chains.insert(ppid, chain.clone());
        chain
    }

    fn walk(&mut self, mut ppid: u32) -> Vec<Ancestor> {
        let mut chain: Vec<Ancestor> = Vec::with_capacity(8);
        // A loop in the parent links (a stale entry) ends the chain; it is short enough to scan.
        while ppid != 0 && chain.len() < MAX_ANCESTORS && chain.iter().all(|ancestor| ancestor.tgid != ppid) {
            let process = match self.processes.get(&ppid) {
                Some(process) => process.clone(),
                None => match self.read_proc(ppid) {
                    Some(process) => self.processes.entry(ppid).or_insert(process).clone(),
                    None => break,
                },
            };
            chain.push(Ancestor { tgid: ppid, comm: process.comm, exe: process.exe });
            ppid = process.ppid;
        }
        chain
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{test_event, test_exec};

    fn at(tgid: u32, tid: u32, ppid: u32, comm: &str, detail: Detail) -> Event {
        Event { ppid, ..test_event(tgid, tid, comm, detail) }
    }

    fn chain(event: &Event) -> Vec<(u32, String, Option<String>)> {
        let (Detail::Exec { ancestors, .. } | Detail::Exit { ancestors, .. }) = &event.detail else {
            panic!("no ancestors in {event:?}")
        };
        ancestors
            .iter()
            .map(|ancestor| (ancestor.tgid, ancestor.comm.to_string(), ancestor.exe.as_ref().map(Text::to_string)))
            .collect()
    }

    /// A `/proc` with processes 1 (init), 700 (sshd) and 812 (bash, child of sshd).
    fn fake_proc() -> PathBuf {
        let root = std::env::temp_dir().join(format!(
            "tracer-ancestry-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        for (pid, ppid, comm, exe) in [
            (1, 0, "systemd", "/usr/lib/systemd/systemd"),
            (700, 1, "sshd", "/usr/sbin/sshd"),
            (812, 700, "ba) sh", "/usr/bin/bash"),
        ] {
            let dir = root.join(pid.to_string());
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("stat"), format!("{pid} ({comm}) S {ppid} {pid} {pid} 0 -1")).unwrap();
            std::os::unix::fs::symlink(exe, dir.join("exe")).unwrap();
        }
        root
    }

    #[test]
    fn processes_older_than_tracer_have_their_chain_to_init() {
        let root = fake_proc();
        let mut ancestry = Ancestry::from_root(&root);
        // bash forks a child (never seen before) that execs cat.
        let mut fork = at(812, 812, 700, "ba) sh", crate::event::test_fork(900, 900, false, None));
        ancestry.observe(&mut fork);
        let mut exec = at(900, 900, 812, "cat", test_exec("/usr/bin/cat", &["cat"], 900));
        ancestry.observe(&mut exec);
        assert_eq!(
            chain(&exec),
            [
                (812, "ba) sh".to_owned(), Some("/usr/bin/bash".to_owned())),
                (700, "sshd".to_owned(), Some("/usr/sbin/sshd".to_owned())),
                (1, "systemd".to_owned(), Some("/usr/lib/systemd/systemd".to_owned())),
            ]
        );
        // cat's own child: its parent is cat, whose program is now known from the exec.
        let mut fork = at(900, 900, 812, "cat", crate::event::test_fork(901, 901, false, None));
        ancestry.observe(&mut fork);
        let mut exit = at(901, 901, 900, "cat", Detail::exit(0, true, 1));
        ancestry.observe(&mut exit);
        assert_eq!(chain(&exit)[0], (900, "cat".to_owned(), Some("/usr/bin/cat".to_owned())));
        assert_eq!(chain(&exit).len(), 4);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn an_orphan_shows_its_new_parent() {
        let root = fake_proc();
        let mut ancestry = Ancestry::from_root(&root);
        let mut fork = at(812, 812, 700, "bash", crate::event::test_fork(950, 950, false, None));
        ancestry.observe(&mut fork);
        // bash exits; its child is adopted by init, which the child's next event says.
        let mut gone = at(812, 812, 700, "bash", Detail::exit(0, true, 1));
        ancestry.observe(&mut gone);
        let mut exec = at(950, 950, 1, "daemon", test_exec("/usr/sbin/daemon", &["daemon"], 950));
        ancestry.observe(&mut exec);
        assert_eq!(chain(&exec), [(1, "systemd".to_owned(), Some("/usr/lib/systemd/systemd".to_owned()))]);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_chain_is_shared_until_the_lineage_changes() {
        let root = fake_proc();
        let mut ancestry = Ancestry::from_root(&root);
        let exits = |ancestry: &mut Ancestry, tid: u32| {
            let mut exit = at(900, tid, 812, "worker", Detail::exit(0, false, 1));
            ancestry.observe(&mut exit);
            exit
        };
        let mut fork = at(812, 812, 700, "bash", crate::event::test_fork(900, 900, false, None));
        ancestry.observe(&mut fork);
        let (first, second) = (exits(&mut ancestry, 901), exits(&mut ancestry, 902));
        let shared = |a: &Event, b: &Event| match (&a.detail, &b.detail) {
            (Detail::Exit { ancestors: a, .. }, Detail::Exit { ancestors: b, .. }) => Ancestors::ptr_eq(a, b),
            _ => unreachable!(),
        };
        assert!(shared(&first, &second), "two threads' exits share one chain");
        // sshd execs a new program, then bash renames itself: each shows in the next chain.
        let mut exec = at(700, 700, 1, "sshd-session", test_exec("/usr/libexec/sshd-session", &["sshd"], 700));
        ancestry.observe(&mut exec);
        let third = exits(&mut ancestry, 903);
        assert!(!shared(&second, &third));
        assert_eq!(chain(&third)[1], (700, "sshd-session".to_owned(), Some("/usr/libexec/sshd-session".to_owned())));
        let mut rename =
            at(812, 812, 700, "bash2", Detail::Rename { old_comm: "bash".into(), new_comm: "bash2".into() });
        ancestry.observe(&mut rename);
        assert_eq!(chain(&exits(&mut ancestry, 904))[0].1, "bash2");
        // bash is adopted by init: the next chain skips sshd.
        let mut adopted =
            at(812, 812, 1, "bash2", Detail::Rename { old_comm: "bash2".into(), new_comm: "bash3".into() });
        ancestry.observe(&mut adopted);
        let orphan = exits(&mut ancestry, 905);
        assert_eq!(chain(&orphan).iter().map(|ancestor| ancestor.0).collect::<Vec<_>>(), [812, 1]);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn this_process_is_found_in_the_real_proc() {
        let mut ancestry = Ancestry::from_proc();
        let me = std::process::id();
        let mut exit = at(me, me, std::os::unix::process::parent_id(), "test", Detail::exit(0, false, 1));
        ancestry.observe(&mut exit);
        let chain = chain(&exit);
        assert_eq!(chain.last().map(|ancestor| ancestor.0), Some(1), "the chain reaches PID 1: {chain:?}");
    }
}
