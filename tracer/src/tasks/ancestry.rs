//! The programs of the processes in events' ancestor chains. The kernel names each ancestor at
//! the event (its TGID, start time and comm, see `tracer-ebpf/src/ancestry.rs`); what it runs is
//! all userspace adds, and it adds it only for that very process: a program is filed under the
//! process's TGID *and* start time, whether it was learnt from an exec, inherited at a fork, or
//! read from `/proc` (whose start time, in clock ticks, must match). A process known nowhere
//! gets no program rather than the one of another process that held its PID.
//!
//! Memory stays bounded when exits are not traced: past [`SWEEP_AT`] entries, the processes
//! that `/proc` no longer shows are forgotten, and the shared chains with them.
use std::path::{Path, PathBuf};

use foldhash::{HashMap, HashSet};

use crate::{
    event::{Ancestor, Ancestors, Detail, Event},
    text::Text,
};

/// Processes known at most, before those that are gone are forgotten.
const SWEEP_AT: usize = 32 * 1024;

/// A process, as (TGID, start time in CLOCK_BOOTTIME ns).
type Key = (u32, u64);

/// What `/proc/<tgid>` showed.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ProcEntry {
    /// Field 22 of `stat`: the start time in clock ticks.
    start_ticks: u64,
    exe: Option<Text>,
}

#[derive(Debug)]
pub struct Ancestry {
    /// Programs learnt from events.
    seen: HashMap<Key, Text>,
    /// What `/proc` showed, by TGID (the process there now may be another).
    proc: HashMap<u32, ProcEntry>,
    /// Processes that were in neither when needed, and not in `/proc` either: never read again.
    unknown: HashSet<Key>,
    proc_root: PathBuf,
    /// Nanoseconds per clock tick of `/proc/<pid>/stat`.
    tick_ns: u64,
    /// Chains with their programs, by nearest ancestor, since the programs known last changed:
    /// a storm of threads shares one chain.
    chains: HashMap<Key, Ancestors>,
    /// The chain given last and the one given back for it, while `chains` holds: a storm's
    /// events carry one decoded chain (see [`crate::decode`]), known at once by its address.
    last: Option<(Ancestors, Ancestors)>,
}

impl Ancestry {
    /// Every process alive now. Call it once the hooks are attached.
    pub fn from_proc() -> Self {
        Self::from_root(Path::new("/proc"), clock_tick_ns())
    }

    fn from_root(proc_root: &Path, tick_ns: u64) -> Self {
        let mut ancestry = Self {
            seen: HashMap::default(),
            proc: HashMap::default(),
            unknown: HashSet::default(),
            proc_root: proc_root.to_owned(),
            tick_ns,
            chains: HashMap::default(),
            last: None,
        };
        let tgids: Vec<u32> = std::fs::read_dir(proc_root)
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        for tgid in tgids {
            if let Some(entry) = ancestry.read_proc(tgid) {
                ancestry.proc.insert(tgid, entry);
            }
        }
        ancestry
    }

    fn start_ticks(&self, tgid: u32) -> Option<u64> {
        let stat = std::fs::read(self.proc_root.join(tgid.to_string()).join("stat")).ok()?;
        stat_start_ticks(&stat)
    }

    /// Start and program of whatever process holds `tgid` now; the start is read on both sides
    /// of the program, so that a PID reused in between is not taken for the one before.
    fn read_proc(&self, tgid: u32) -> Option<ProcEntry> {
        let start_ticks = self.start_ticks(tgid)?;
        let exe = std::fs::read_link(self.proc_root.join(tgid.to_string()).join("exe"))
            .ok()
            .map(|path| Text::from(path.into_os_string().into_encoded_bytes()));
        (self.start_ticks(tgid)? == start_ticks).then_some(ProcEntry { start_ticks, exe })
    }

    /// The program of process `key`, when tracer knows it.
    fn exe(&mut self, key: Key) -> Option<Text> {
        if let Some(exe) = self.seen.get(&key) {
            return Some(exe.clone());
        }
        // `/proc` counts whole ticks: the kernel truncates the start when it converts it.
        let ticks = key.1 / self.tick_ns;
        if let Some(entry) = self.proc.get(&key.0)
            && entry.start_ticks == ticks
        {
            return entry.exe.clone();
        }
        if self.unknown.contains(&key) {
            return None;
        }
        match self.read_proc(key.0) {
            Some(entry) if entry.start_ticks == ticks => {
                let exe = entry.exe.clone();
                self.proc.insert(key.0, entry);
                exe
            }
            _ => {
                self.unknown.insert(key);
                None
            }
        }
    }

    /// Learns from `event` and, for fork, exec and exit events, adds their ancestors' programs.
    pub fn observe(&mut self, event: &mut Event) {
        if matches!(event.detail, Detail::Lost { .. }) {
            return;
        }
        let own = event.start_ns.map(|start| (event.tgid, start));
        match &event.detail {
            Detail::Exec { filename, cwd, cwd_truncated, .. } => {
                let program = absolute(filename, cwd.as_ref().filter(|_| !cwd_truncated));
                if let Some(own) = own
                    && self.seen.get(&own) != Some(&program)
                {
                    self.seen.insert(own, program);
                    self.chains.clear();
                    self.last = None;
                }
            }
            Detail::Fork { child_tgid, thread: false, child_start_ns: Some(child_start), .. } => {
                // The child runs its creator's program until it execs.
                if let Some(exe) = own.and_then(|own| self.exe(own)) {
                    self.seen.insert((*child_tgid, *child_start), exe);
                }
            }
            _ => {}
        }
        if let Some(ancestors) = event.detail.ancestors_mut() {
            let chain = std::mem::take(ancestors);
            *ancestors = self.with_programs(chain);
        }
        if let (Detail::Exit { group_dead: true, .. }, Some(own)) = (&event.detail, own) {
            self.forget(own);
        }
        if self.seen.len() + self.proc.len() + self.unknown.len() + self.chains.len() > SWEEP_AT {
            self.sweep();
        }
    }

    /// `chain` (from the kernel) with each ancestor's program.
    fn with_programs(&mut self, chain: Ancestors) -> Ancestors {
        if let Some((given, filled)) = &self.last
            && std::sync::Arc::ptr_eq(given, &chain)
        {
            return filled.clone();
        }
        let Some(key) = chain.first().and_then(key_of) else { return chain };
        let filled = match self.chains.get(&key) {
            Some(known) if same_processes(known, &chain) => known.clone(),
            _ => {
                let filled: Ancestors = chain
                    .iter()
                    .map(|ancestor| Ancestor {
                        exe: key_of(ancestor).and_then(|key| self.exe(key)),
                        ..ancestor.clone()
                    })
                    .collect();
                self.chains.insert(key, filled.clone());
                filled
            }
        };
        self.last = Some((chain, filled.clone()));
        filled
    }

    fn forget(&mut self, key: Key) {
        self.seen.remove(&key);
        if self.proc.get(&key.0).is_some_and(|entry| entry.start_ticks == key.1 / self.tick_ns) {
            self.proc.remove(&key.0);
        }
        self.chains.remove(&key);
        self.last = None;
    }

    /// Forgets the processes `/proc` no longer shows (their exits were not seen).
    fn sweep(&mut self) {
        let tick_ns = self.tick_ns;
        let alive: HashMap<u32, u64> = self
            .seen
            .keys()
            .map(|key| key.0)
            .chain(self.proc.keys().copied())
            .collect::<HashSet<u32>>()
            .into_iter()
            .filter_map(|tgid| Some((tgid, self.start_ticks(tgid)?)))
            .collect();
        self.seen.retain(|key, _| alive.get(&key.0) == Some(&(key.1 / tick_ns)));
        self.proc.retain(|tgid, entry| alive.get(tgid) == Some(&entry.start_ticks));
        self.unknown.clear();
        self.chains.clear();
        self.last = None;
    }
}

/// The program an exec ran as an absolute path, where the exec named it relative to its working
/// directory (`./build/tool`), as `/proc/<pid>/exe` names it (symbolic links aside). `cwd` is
/// `None` when unknown or cut.
fn absolute(filename: &Text, cwd: Option<&Text>) -> Text {
    let name = filename.as_bytes();
    let Some(cwd) = cwd.filter(|_| !name.starts_with(b"/")) else { return filename.clone() };
    let mut rest = name;
    while let Some(stripped) = rest.strip_prefix(b"./").or_else(|| rest.strip_prefix(b"/")) {
        rest = stripped;
    }
    let mut path = cwd.as_bytes().to_vec();
    if !path.ends_with(b"/") {
        path.push(b'/');
    }
    path.extend_from_slice(rest);
    Text::new(path)
}

fn key_of(ancestor: &Ancestor) -> Option<Key> {
    ancestor.start_ns.map(|start| (ancestor.tgid, start))
}

/// Whether two chains name the same processes by the same names (their programs aside).
fn same_processes(a: &[Ancestor], b: &[Ancestor]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.tgid == b.tgid && a.start_ns == b.start_ns && a.comm == b.comm)
}

/// Field 22 of a `/proc/<pid>/stat` line: the start time in clock ticks since boot.
fn stat_start_ticks(stat: &[u8]) -> Option<u64> {
    // `pid (comm) state ppid …`: the comm may hold spaces and parentheses, so it ends at the
    // last ')'; field 3 (state) follows it.
    let close = stat.iter().rposition(|&byte| byte == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
}

/// Nanoseconds per clock tick of `/proc/<pid>/stat` (`USER_HZ`, 100 on every Linux port).
fn clock_tick_ns() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    1_000_000_000 / u64::try_from(hz).ok().filter(|&hz| hz > 0).unwrap_or(100)
}

#[cfg(test)]
mod tests;
