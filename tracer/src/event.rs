//! The decoded event model: what tracer knows about one thing that happened to a task, after the
//! kernel record is decoded and enriched. Printers, filters and recordings all work on this.
//!
//! This is the one definition of the schema. [`Detail`]'s variants are the event kinds: [`Kind`]
//! and its names are derived from them, the JSON lines are serde's rendering of [`Event`] (with
//! the detail's fields inlined, see [`crate::output::json`]), and a recording's payload is the
//! postcard encoding of the same value (see [`crate::recording`]). Adding a field therefore
//! touches the kernel record, its decoding into this model, and the table printer only.
//!
//! Recordings store enum variants by position: new variants and fields go at the end.
use serde::{Deserialize, Serialize};
use strum::{EnumCount, EnumDiscriminants, EnumIter, EnumString, IntoStaticStr, VariantArray};
use tracer_common::{EventKind, HookSource};

pub use crate::names::{CloneFlags, Signal};
pub use crate::place::{
    Place,
    namespaces::{NamespaceHow, NamespaceInodes, NamespaceKind},
};
use crate::text::Text;

/// Which hook observed an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, IntoStaticStr, EnumString, VariantArray)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Source {
    TpBtf,
    RawTracepoint,
    Fentry,
    Kprobe,
    SyscallEntry,
    /// Produced by tracer itself (lost-event reports).
    Tracer,
    /// A syscall's effect seen at its exit, against a snapshot taken at its entry.
    SyscallExit,
}

impl From<HookSource> for Source {
    fn from(source: HookSource) -> Source {
        match source {
            HookSource::TpBtf => Source::TpBtf,
            HookSource::RawTracepoint => Source::RawTracepoint,
            HookSource::Fentry => Source::Fentry,
            HookSource::Kprobe => Source::Kprobe,
            HookSource::SyscallEntry => Source::SyscallEntry,
            HookSource::SyscallExit => Source::SyscallExit,
        }
    }
}

impl Source {
    /// The kernel side's value for this source; `None` for tracer's own.
    pub fn wire(self) -> Option<HookSource> {
        match self {
            Source::TpBtf => Some(HookSource::TpBtf),
            Source::RawTracepoint => Some(HookSource::RawTracepoint),
            Source::Fentry => Some(HookSource::Fentry),
            Source::Kprobe => Some(HookSource::Kprobe),
            Source::SyscallEntry => Some(HookSource::SyscallEntry),
            Source::SyscallExit => Some(HookSource::SyscallExit),
            Source::Tracer => None,
        }
    }

    /// Name used in JSON and `tracer probes`.
    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn from_name(name: &str) -> Option<Source> {
        name.parse().ok()
    }
}

impl From<EventKind> for Kind {
    fn from(kind: EventKind) -> Kind {
        match kind {
            EventKind::Fork => Kind::Fork,
            EventKind::Exec => Kind::Exec,
            EventKind::Exit => Kind::Exit,
            EventKind::Rename => Kind::Rename,
            EventKind::Lookup => Kind::Lookup,
            EventKind::Namespace => Kind::Namespace,
        }
    }
}

impl Kind {
    /// The kernel side's kind of record; `None` for tracer's own (lost-event reports).
    pub fn wire(self) -> Option<EventKind> {
        match self {
            Kind::Fork => Some(EventKind::Fork),
            Kind::Exec => Some(EventKind::Exec),
            Kind::Exit => Some(EventKind::Exit),
            Kind::Rename => Some(EventKind::Rename),
            Kind::Lookup => Some(EventKind::Lookup),
            Kind::Namespace => Some(EventKind::Namespace),
            Kind::Lost => None,
        }
    }

    /// Every kind a user can select (`lost` is always shown).
    pub fn selectable() -> impl Iterator<Item = Kind> {
        Kind::VARIANTS.iter().copied().filter(|kind| *kind != Kind::Lost)
    }

    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        name.parse().ok()
    }
}

/// One event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Wall-clock time, nanoseconds since the Unix epoch; RFC 3339 in JSON.
    #[serde(rename = "ts", with = "wall_time")]
    pub timestamp_ns: u64,
    pub cpu: u32,
    /// The task the event is about (see each [`Detail`] for which task that is).
    pub tgid: u32,
    pub tid: u32,
    /// TGID of the task's parent process.
    pub ppid: u32,
    pub comm: Text,
    /// The task's real UID (in the initial user namespace): who ran it.
    pub uid: u32,
    /// What happened; its fields are inlined into the JSON object.
    pub detail: Detail,
    pub source: Source,
    /// Where the task lives; its fields are inlined into the JSON object too.
    pub place: Place,
}

/// What happened: one variant per event kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, EnumDiscriminants)]
#[serde(rename_all = "snake_case")]
#[strum_discriminants(
    name(Kind),
    doc = "Kinds of events, as users name them in `--events` and JSON names them in `event`.",
    derive(Hash, PartialOrd, Ord, IntoStaticStr, EnumString, EnumIter, EnumCount, VariantArray),
    strum(serialize_all = "snake_case")
)]
pub enum Detail {
    /// The task created `child_tid` in process `child_tgid`.
    Fork {
        child_tgid: u32,
        child_tid: u32,
        /// The child is a thread of the creator's process (`child_tgid == tgid`).
        thread: bool,
        /// `clone_flags`, when the `task_newtask` hook saw them.
        clone_flags: Option<CloneFlags>,
        /// The child's TGID and TID in its own PID namespace.
        child_ns_tgid: Option<u32>,
        child_ns_tid: Option<u32>,
        /// The child's namespaces that differ from the creator's, by kind (inode numbers).
        child_namespaces: NamespaceInodes,
    },
    /// The task replaced its program.
    Exec {
        /// The file the kernel ran (for a `#!` script, the interpreter's).
        filename: Text,
        argv: Vec<Text>,
        /// The argument list was longer than the bytes kept (`--arg-bytes`).
        argv_truncated: bool,
        /// Bytes of the whole argument list, NULs included, as the kernel had it.
        argv_bytes: u64,
        /// The environment, when asked for (`--env`; only the `--env-filter` names if given).
        env: Option<Vec<Text>>,
        /// The environment was longer than the bytes kept.
        env_truncated: bool,
        /// TID before exec; differs from `tid` when a non-leader thread exec'd.
        old_tid: u32,
        /// The comm before exec (the event's `comm` is the new one).
        old_comm: Option<Text>,
        /// Credentials after exec (the real UID is the event's `uid`): a set-user-ID program
        /// shows `euid` ≠ `uid`.
        euid: u32,
        gid: u32,
        egid: u32,
        /// The working directory, as an absolute path (from the task's root mount).
        cwd: Option<Text>,
        /// Only the innermost part of a very deep or long working directory was kept.
        cwd_truncated: bool,
        /// The parent process, its parent, and so on up to PID 1 (at most 32), nearest first.
        ancestors: Ancestors,
    },
    /// The task exited.
    Exit {
        /// The exit code, when it exited normally.
        exit_code: Option<u32>,
        /// The signal that killed it.
        signal: Option<Signal>,
        core_dumped: bool,
        /// The last task of its thread group: the process is gone.
        group_dead: bool,
        lifetime_ns: u64,
        /// As for exec; filled in for every exit, a thread's too.
        ancestors: Ancestors,
    },
    /// The task's comm changed; `comm` of the event is the old one.
    Rename { old_comm: Text, new_comm: Text },
    /// The task looked up `name` in `/proc`.
    Lookup {
        name: Text,
        /// TGID of the live task `name` names, when tracer knows it.
        target_tgid: Option<u32>,
        /// `name` is a thread that is not its process's leader: `ls /proc` does not list it.
        hidden_thread: bool,
    },
    /// `count` events were not delivered.
    Lost { count: u64, origin: LostOrigin },
    /// The task's namespaces changed (setns, unshare), or the task is new and starts in
    /// namespaces other than its creator's (clone).
    Namespace {
        how: NamespaceHow,
        /// The kinds that changed.
        changed: Vec<NamespaceKind>,
        /// Inode number of each changed kind's namespace before and after.
        old: NamespaceInodes,
        new: NamespaceInodes,
    },
}

/// An event's chain of ancestors. Shared: the events of one process's threads carry the same
/// chain, built once (encoded as a sequence, as a `Vec` would be).
pub type Ancestors = std::sync::Arc<[Ancestor]>;

/// A process in an event's chain of ancestors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ancestor {
    pub tgid: u32,
    pub comm: Text,
    /// The program it runs, when tracer saw its exec or found it in `/proc`.
    pub exe: Option<Text>,
}

/// Where events were lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum LostOrigin {
    /// The kernel could not reserve a record: the ring buffer was full.
    RingBuffer,
    /// The printer could not keep up with the stream (the recording still holds them).
    Output,
}

impl Event {
    pub fn kind(&self) -> Kind {
        Kind::from(&self.detail)
    }
}

impl Detail {
    /// An exit from its `task->exit_code` wait status.
    pub fn exit(status: u32, group_dead: bool, lifetime_ns: u64) -> Detail {
        Detail::Exit {
            exit_code: exit_status::code(status),
            signal: exit_status::signal(status).map(Signal),
            core_dumped: exit_status::core_dumped(status),
            group_dead,
            lifetime_ns,
            ancestors: Ancestors::default(),
        }
    }
}

#[cfg(test)]
impl Event {
    /// The event with its cgroup path and container replaced.
    pub fn with_cgroup(mut self, cgroup: Option<Text>, container: Option<Text>) -> Event {
        self.place.cgroup = cgroup;
        self.place.container = container;
        self
    }
}

/// An event for tests: task `tgid`/`tid` named `comm`, parent 1, uid 0, at a fixed time.
#[cfg(test)]
pub fn test_event(tgid: u32, tid: u32, comm: &str, detail: Detail) -> Event {
    Event {
        timestamp_ns: 3_723_000_456_789,
        cpu: 0,
        tgid,
        tid,
        ppid: 1,
        comm: comm.into(),
        uid: 0,
        source: Source::TpBtf,
        detail,
        place: Place {
            ns_tgid: Some(tgid),
            ns_tid: Some(tid),
            pidns: Some(crate::place::namespaces::INIT_PIDNS_INODE),
            cgroup_id: Some(1),
            cgroup: Some("/".into()),
            container: None,
        },
    }
}

/// A fork event's detail for tests, with no namespace change.
#[cfg(test)]
pub fn test_fork(child_tgid: u32, child_tid: u32, thread: bool, clone_flags: Option<CloneFlags>) -> Detail {
    Detail::Fork {
        child_tgid,
        child_tid,
        thread,
        clone_flags,
        child_ns_tgid: Some(child_tgid),
        child_ns_tid: Some(child_tid),
        child_namespaces: NamespaceInodes::default(),
    }
}

/// An exec for tests: `filename` with `argv`, by root in `/`, nothing truncated.
#[cfg(test)]
pub fn test_exec(filename: &str, argv: &[&str], old_tid: u32) -> Detail {
    let argv: Vec<Text> = argv.iter().map(|argument| Text::from(*argument)).collect();
    Detail::Exec {
        filename: filename.into(),
        argv_bytes: argv.iter().map(|argument| argument.as_bytes().len() as u64 + 1).sum(),
        argv,
        argv_truncated: false,
        env: None,
        env_truncated: false,
        old_tid,
        old_comm: None,
        euid: 0,
        gid: 0,
        egid: 0,
        cwd: Some("/".into()),
        cwd_truncated: false,
        ancestors: Ancestors::default(),
    }
}

/// Timestamps: RFC 3339 with nanoseconds in JSON, nanoseconds since the epoch elsewhere.
mod wall_time {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(timestamp_ns: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&super::rfc3339(*timestamp_ns))
        } else {
            serializer.serialize_u64(*timestamp_ns)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        if !deserializer.is_human_readable() {
            return u64::deserialize(deserializer);
        }
        let text = String::deserialize(deserializer)?;
        let time: jiff::Timestamp = text.parse().map_err(D::Error::custom)?;
        u64::try_from(time.as_nanosecond()).map_err(D::Error::custom)
    }
}

/// RFC 3339 UTC time with nanoseconds.
pub fn rfc3339(timestamp_ns: u64) -> String {
    match jiff::Timestamp::from_nanosecond(i128::from(timestamp_ns)) {
        Ok(time) => format!("{time:.9}"),
        Err(_) => timestamp_ns.to_string(),
    }
}

/// Decoding of `task->exit_code` wait statuses.
pub mod exit_status {
    /// The exit code, when the task exited normally.
    pub fn code(status: u32) -> Option<u32> {
        (status & 0x7f == 0).then_some((status >> 8) & 0xff)
    }

    /// The signal number, when a signal killed the task.
    pub fn signal(status: u32) -> Option<u32> {
        let signal = status & 0x7f;
        (signal != 0).then_some(signal)
    }

    pub fn core_dumped(status: u32) -> bool {
        status & 0x80 != 0
    }

    /// The wait status of an exit's parts (the inverse of the three functions above).
    pub fn compose(code: Option<u32>, signal: Option<super::Signal>, core_dumped: bool) -> u32 {
        match signal {
            Some(signal) => (signal.0 & 0x7f) | if core_dumped { 0x80 } else { 0 },
            None => (code.unwrap_or(0) & 0xff) << 8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_decodes_codes_signals_and_cores() {
        assert_eq!(exit_status::code(3 << 8), Some(3));
        assert_eq!(exit_status::signal(3 << 8), None);
        assert_eq!(exit_status::code(9), None);
        assert_eq!(exit_status::signal(9), Some(9));
        assert!(!exit_status::core_dumped(9));
        assert!(exit_status::core_dumped(0x80 | 11));
        assert_eq!(exit_status::signal(0x80 | 11), Some(11));
        assert_eq!(
            Detail::exit(0x80 | 11, true, 5),
            Detail::Exit {
                exit_code: None,
                signal: Some(Signal(11)),
                core_dumped: true,
                group_dead: true,
                lifetime_ns: 5,
                ancestors: Ancestors::default()
            }
        );
    }

    #[test]
    fn names_round_trip() {
        for kind in Kind::VARIANTS {
            assert_eq!(Kind::from_name(kind.name()), Some(*kind));
        }
        for source in Source::VARIANTS {
            assert_eq!(Source::from_name(source.name()), Some(*source));
        }
        assert_eq!(
            Kind::selectable().map(Kind::name).collect::<Vec<_>>(),
            ["fork", "exec", "exit", "rename", "lookup", "namespace"]
        );
    }

    /// Userspace's kinds and sources are the kernel's, plus tracer's own: same names both sides,
    /// and each wire value maps back to itself.
    #[test]
    fn kinds_and_sources_are_the_wire_table() {
        for kind in EventKind::ALL {
            assert_eq!(Kind::from(kind).name(), kind.name());
            assert_eq!(Kind::from(kind).wire(), Some(kind));
        }
        assert_eq!(Kind::selectable().filter_map(Kind::wire).collect::<Vec<_>>(), EventKind::ALL);
        for source in HookSource::ALL {
            assert_eq!(Source::from(source).name(), source.name());
            assert_eq!(Source::from(source).wire(), Some(source));
        }
        assert_eq!(Source::VARIANTS.iter().filter(|source| source.wire().is_none()).count(), 1);
    }

    #[test]
    fn timestamps_are_rfc3339_in_json_and_round_trip() {
        let event = test_event(1, 1, "x", Detail::Lost { count: 1, origin: LostOrigin::RingBuffer });
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["ts"], "1970-01-01T01:02:03.000456789Z");
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
    }
}
