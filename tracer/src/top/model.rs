//! What `tracer top` shows, kept current by events: the thread groups alive now (seeded from
//! `/proc`, then followed through their forks, execs, renames and exits), the ones that just
//! ended (kept [`GONE_KEEP_NS`] with how they ended and how long they lived), and the churn per
//! comm. Unlike [`crate::tasks::TaskModel`], which keeps a whole history for the tree of a
//! recording, this forgets what is gone: `top` runs for days.
use std::{
    collections::{BTreeMap, VecDeque},
    sync::Arc,
};

use foldhash::HashMap;

use crate::{
    event::{Detail, Event, LostOrigin, exit_status},
    text::Text,
    top::window::Window,
};

/// How long an ended process stays in the view, dimmed.
pub const GONE_KEEP_NS: u64 = 5_000_000_000;
/// Ended processes kept at most, the latest: a fork storm ends thousands a second, more rows than
/// anyone reads, and each one kept costs every frame (their churn is still counted).
pub const GONE_MAX: usize = 1024;
/// How long a new process is highlighted.
pub const NEW_NS: u64 = 2_000_000_000;
/// A comm without churn for this long leaves the churn panel.
const CHURN_KEEP_NS: u64 = 30_000_000_000;
/// Characters of a command line the view shows: more than any terminal is wide. A compiler's
/// argument list can run to tens of kilobytes, which neither the model nor a frame should hold.
pub const COMMAND_CHARS: usize = 512;

/// A process's arguments, as far as [`COMMAND_CHARS`] can show them; shared by a fork child.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Arguments {
    pub words: Arc<[Text]>,
    /// Arguments were left out after `words`.
    pub cut: bool,
}

impl Arguments {
    pub fn new(argv: &[Text]) -> Self {
        let mut length = 0;
        let kept = argv
            .iter()
            .take_while(|argument| {
                let room = length < COMMAND_CHARS;
                length += argument.as_bytes().len() + 1;
                room
            })
            .count();
        Arguments { words: argv[..kept].into(), cut: kept < argv.len() }
    }
}

/// One task of a thread group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    pub comm: Text,
    /// When it was created (wall clock ns), when known.
    pub born_ns: Option<u64>,
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ending {
    pub ns: u64,
    /// Its wait status (see [`crate::event::exit_status`]).
    pub status: u32,
    pub lifetime_ns: Option<u64>,
}

/// A thread group: one row of the view.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub tgid: u32,
    /// CLOCK_BOOTTIME start of its leader: with `tgid`, which process this is (`None` until an
    /// event says; `/proc` only gives it in clock ticks).
    pub start_ns: Option<u64>,
    pub ppid: u32,
    pub uid: u32,
    pub container: Option<Text>,
    /// The leader's comm.
    pub comm: Text,
    /// Its arguments as of its last exec (a forked child runs its parent's), when known.
    pub argv: Arguments,
    /// Live tasks by TID.
    pub tasks: BTreeMap<u32, Task>,
    /// When it was created (wall clock ns), when known.
    pub born_ns: Option<u64>,
    /// Its creation was in the stream (not found already running).
    pub born_seen: bool,
    pub end: Option<Ending>,
    /// Its events, for sorting by churn.
    pub activity: Window,
    /// A kernel thread (kthreadd and its children), which the view leaves out as htop does.
    pub kernel: bool,
}

impl Group {
    /// A group first met in `event`, whose creation was not seen.
    fn unseen(event: &Event, boot_to_wall_ns: i64) -> Self {
        let born_ns = event.start_ns.map(|start| wall(start, boot_to_wall_ns));
        Group {
            tgid: event.tgid,
            start_ns: event.start_ns,
            ppid: event.ppid,
            uid: event.uid,
            container: event.place.container.clone(),
            comm: event.comm.clone(),
            argv: Arguments::default(),
            tasks: BTreeMap::from([(event.tid, Task { comm: event.comm.clone(), born_ns: None })]),
            born_ns,
            born_seen: false,
            end: None,
            activity: Window::default(),
            kernel: event.tgid == KTHREADD || event.ppid == KTHREADD,
        }
    }
}

/// kthreadd, the parent of every kernel thread.
pub const KTHREADD: u32 = 2;

fn wall(boot_ns: u64, boot_to_wall_ns: i64) -> u64 {
    (boot_ns as i64).saturating_add(boot_to_wall_ns).max(0) as u64
}

/// Lifecycle churn of one comm.
#[derive(Clone, Debug, Default)]
pub struct Churn {
    pub forks: Window,
    pub execs: Window,
    pub exits: Window,
    pub threads: Window,
    pub lookups: Window,
    pub hidden: Window,
    /// Events counted since the start.
    pub total: u64,
    pub last_ns: u64,
}

/// What happened to a comm, for [`Churn`].
#[derive(Clone, Copy)]
enum Happening {
    Fork,
    Exec,
    Exit,
    Thread,
    Lookup { hidden: bool },
}

/// Where "now" comes from: the wall clock, or the replayed recording's own time.
#[derive(Clone, Copy, Debug)]
pub enum TimeSource {
    Wall,
    /// The event at `event_ns` was due at `at`; the recording plays `speed` times as fast.
    Replay {
        event_ns: u64,
        at: std::time::Instant,
        speed: f64,
        ended_at: Option<u64>,
    },
}

/// See the [module documentation](self).
#[derive(Clone, Debug)]
pub struct TopModel {
    pub live: HashMap<u32, Group>,
    /// Ended processes, oldest end first, at most [`GONE_MAX`].
    pub gone: VecDeque<Group>,
    pub churn: HashMap<Text, Churn>,
    pub events: Window,
    pub total_events: u64,
    /// Events the kernel dropped.
    pub lost: u64,
    boot_to_wall_ns: i64,
    pub time: TimeSource,
}

impl TopModel {
    /// An empty model; `boot_to_wall_ns` dates CLOCK_BOOTTIME starts (the live clock's, or the
    /// recording's).
    pub fn new(boot_to_wall_ns: i64, time: TimeSource) -> Self {
        TopModel {
            live: HashMap::default(),
            gone: VecDeque::new(),
            churn: HashMap::default(),
            events: Window::default(),
            total_events: 0,
            lost: 0,
            boot_to_wall_ns,
            time,
        }
    }

    /// The time the view is drawn at.
    pub fn now_ns(&self) -> u64 {
        match self.time {
            TimeSource::Wall => crate::clock::Clock::wall_now_ns(),
            TimeSource::Replay { ended_at: Some(ns), .. } => ns,
            TimeSource::Replay { event_ns, at, speed, ended_at: None } => {
                event_ns.saturating_add((at.elapsed().as_secs_f64() * speed * 1e9) as u64)
            }
        }
    }

    /// A process found running (from `/proc`): inserted unless an event already told of it.
    pub fn seed(&mut self, group: Group) {
        self.live.entry(group.tgid).or_insert(group);
    }

    /// Files one event.
    pub fn observe(&mut self, event: &Event) {
        let ns = event.timestamp_ns;
        if let Detail::Lost { count, origin } = event.detail {
            if origin == LostOrigin::RingBuffer {
                self.lost += count;
            }
            return;
        }
        self.total_events += 1;
        self.events.add(ns);
        let boot_to_wall_ns = self.boot_to_wall_ns;
        let group = self.group(event);
        group.activity.add(ns);
        match &event.detail {
            Detail::Fork { child_tgid, child_tid, child_start_ns, .. } => {
                // A new thread's event carries its process's start, not its own.
                let thread = *child_tgid == event.tgid;
                let born_ns = match child_start_ns {
                    Some(start) if !thread => Some(wall(*start, boot_to_wall_ns)),
                    _ => Some(ns),
                };
                let task = Task { comm: event.comm.clone(), born_ns };
                if thread {
                    group.tasks.insert(*child_tid, task);
                    self.count(&event.comm, Happening::Thread, ns);
                } else {
                    // A fork child runs its parent's program until it execs.
                    let child = Group {
                        tgid: *child_tgid,
                        start_ns: *child_start_ns,
                        ppid: event.tgid,
                        uid: group.uid,
                        container: group.container.clone(),
                        comm: group.comm.clone(),
                        argv: group.argv.clone(),
                        tasks: BTreeMap::from([(*child_tid, task)]),
                        born_ns,
                        born_seen: true,
                        end: None,
                        activity: Window::default(),
                        kernel: event.tgid == KTHREADD,
                    };
                    let same = |known: &Group| known.start_ns.zip(*child_start_ns).is_none_or(|(a, b)| a == b);
                    match self.live.get_mut(child_tgid) {
                        // The child's own events came first (another CPU's ring order): what
                        // they said, its exec included, stands.
                        Some(known) if same(known) => {
                            known.born_ns = born_ns;
                            known.born_seen = true;
                        }
                        // Else a live entry under the same TGID left without its exit seen.
                        _ => {
                            self.live.insert(*child_tgid, child);
                        }
                    }
                    self.count(&event.comm, Happening::Fork, ns);
                }
            }
            Detail::Exec { argv, old_tid, .. } => {
                // The other threads are gone (their exits may still be on their way).
                group.tasks.remove(old_tid);
                group.tasks.retain(|tid, _| *tid == event.tid);
                let born_ns = group.tasks.get(&event.tid).and_then(|task| task.born_ns);
                group.tasks.insert(event.tid, Task { comm: event.comm.clone(), born_ns });
                group.comm = event.comm.clone();
                group.argv = Arguments::new(argv);
                self.count(&event.comm, Happening::Exec, ns);
            }
            Detail::Exit { exit_code, signal, core_dumped, group_dead, lifetime_ns, .. } => {
                group.tasks.remove(&event.tid);
                if *group_dead {
                    // The leader's own lifetime is the kernel's count; else from its birth.
                    let lifetime_ns = if event.tid == event.tgid {
                        Some(*lifetime_ns)
                    } else {
                        group.born_ns.map(|born| ns.saturating_sub(born))
                    };
                    let status = exit_status::compose(*exit_code, *signal, *core_dumped);
                    if let Some(mut group) = self.live.remove(&event.tgid) {
                        group.end = Some(Ending { ns, status, lifetime_ns });
                        if self.gone.len() == GONE_MAX {
                            self.gone.pop_front();
                        }
                        self.gone.push_back(group);
                    }
                    self.count(&event.comm, Happening::Exit, ns);
                }
            }
            Detail::Rename { new_comm, .. } => {
                if let Some(task) = group.tasks.get_mut(&event.tid) {
                    task.comm = new_comm.clone();
                }
                if event.tid == event.tgid {
                    group.comm = new_comm.clone();
                }
            }
            Detail::Lookup { hidden_thread, .. } => {
                self.count(&event.comm, Happening::Lookup { hidden: *hidden_thread }, ns)
            }
            Detail::Namespace { .. } | Detail::Lost { .. } => {}
        }
    }

    /// The live group `event` is about, filed anew when unknown (or when its TGID now names
    /// another process), with what the event says of it brought up to date.
    fn group(&mut self, event: &Event) -> &mut Group {
        let boot_to_wall_ns = self.boot_to_wall_ns;
        let same = |group: &Group| group.start_ns.zip(event.start_ns).is_none_or(|(known, seen)| known == seen);
        let reused = self.live.get(&event.tgid).is_some_and(|group| !same(group));
        if reused {
            self.live.remove(&event.tgid);
        }
        let group = self.live.entry(event.tgid).or_insert_with(|| Group::unseen(event, boot_to_wall_ns));
        group.start_ns = group.start_ns.or(event.start_ns);
        if group.born_ns.is_none() {
            group.born_ns = event.start_ns.map(|start| wall(start, boot_to_wall_ns));
        }
        // Reparented when its parent died; a set-user-ID exec changes the real UID only rarely.
        group.ppid = event.ppid;
        group.uid = event.uid;
        if event.place.container.is_some() {
            group.container = event.place.container.clone();
        }
        let comm = &event.comm;
        group.tasks.entry(event.tid).or_insert_with(|| Task { comm: comm.clone(), born_ns: None });
        group
    }

    fn count(&mut self, comm: &Text, happening: Happening, ns: u64) {
        let churn = self.churn.entry(comm.clone()).or_default();
        churn.total += 1;
        churn.last_ns = churn.last_ns.max(ns);
        match happening {
            Happening::Fork => churn.forks.add(ns),
            Happening::Exec => churn.execs.add(ns),
            Happening::Exit => churn.exits.add(ns),
            Happening::Thread => churn.threads.add(ns),
            Happening::Lookup { hidden } => {
                churn.lookups.add(ns);
                if hidden {
                    churn.hidden.add(ns);
                }
            }
        }
    }

    /// Forgets processes that ended more than [`GONE_KEEP_NS`] before `now_ns`, and comms idle
    /// for long.
    pub fn prune(&mut self, now_ns: u64) {
        while self.gone.front().is_some_and(|group| group.end.is_some_and(|end| end.ns + GONE_KEEP_NS < now_ns)) {
            self.gone.pop_front();
        }
        self.churn.retain(|_, churn| churn.last_ns + CHURN_KEEP_NS >= now_ns);
    }

    /// Tasks alive now, every group together.
    pub fn live_tasks(&self) -> usize {
        self.live.values().filter(|group| !group.kernel).map(|group| group.tasks.len()).sum()
    }
}
