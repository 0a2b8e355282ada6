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

pub mod exit_status;
mod kind;
pub mod names;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
mod time;

pub use crate::place::{
    Place,
    namespaces::{NamespaceHow, NamespaceInodes, NamespaceKind},
};
use crate::text::Text;
pub use kind::Source;
pub use names::{CloneFlags, Signal};
#[cfg(test)]
pub use testing::{test_event, test_exec, test_fork, test_start_ns};
pub use time::rfc3339;
use time::wall_time;

/// One event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Wall-clock time, nanoseconds since the Unix epoch; RFC 3339 in JSON.
    #[serde(rename = "ts", with = "wall_time")]
    pub timestamp_ns: u64,
    pub cpu: u32,
    /// The task the event is about (see each [`Detail`] for which task that is).
    pub tgid: u32,
    /// CLOCK_BOOTTIME ns at which that task's process started (its thread group leader's
    /// start): with `tgid`, the name of one process for a boot, whatever PIDs are reused.
    /// `None` for events no task caused (`lost`) and in recordings before format 6.
    pub start_ns: Option<u64>,
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
        /// `clone_flags`, when known: always, live; a recording made by a tracer that handed them
        /// from one hook to another may lack a few.
        clone_flags: Option<CloneFlags>,
        /// The child's TGID and TID in its own PID namespace.
        child_ns_tgid: Option<u32>,
        child_ns_tid: Option<u32>,
        /// The child's namespaces that differ from the creator's, by kind (inode numbers).
        child_namespaces: NamespaceInodes,
        /// When the child's process started (for a thread, the creator's process): with
        /// `child_tgid`, the name of the child's process.
        child_start_ns: Option<u64>,
        /// The creator's ancestors, as for exec (none in recordings before format 8).
        ancestors: Ancestors,
        ancestors_truncated: bool,
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
        /// The parent process, its parent, and so on up to PID 1, nearest first, as they were at
        /// the event (read by the kernel; as many as `--ancestors` asks, 16 by default).
        ancestors: Ancestors,
        /// The chain goes on past the ancestors kept.
        ancestors_truncated: bool,
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
        /// As for exec; for every exit, a thread's too.
        ancestors: Ancestors,
        ancestors_truncated: bool,
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
    /// When it started, as [`Event::start_ns`]: (`tgid`, `start_ns`) names it. `None` when the
    /// kernel could not read it and in recordings before format 7.
    pub start_ns: Option<u64>,
    pub comm: Text,
    /// The program it ran, when tracer saw it exec (or be forked by a process whose program it
    /// knew), or found it in `/proc` with the same start time.
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
    /// The chain of ancestors of the kinds that carry one (fork: the creator's; exec, exit).
    pub fn ancestors(&self) -> Option<&Ancestors> {
        match self {
            Detail::Fork { ancestors, .. } | Detail::Exec { ancestors, .. } | Detail::Exit { ancestors, .. } => {
                Some(ancestors)
            }
            _ => None,
        }
    }

    /// [`Detail::ancestors`], to change.
    pub fn ancestors_mut(&mut self) -> Option<&mut Ancestors> {
        match self {
            Detail::Fork { ancestors, .. } | Detail::Exec { ancestors, .. } | Detail::Exit { ancestors, .. } => {
                Some(ancestors)
            }
            _ => None,
        }
    }

    /// An exit from its `task->exit_code` wait status.
    pub fn exit(status: u32, group_dead: bool, lifetime_ns: u64) -> Detail {
        Detail::Exit {
            exit_code: exit_status::code(status),
            signal: exit_status::signal(status).map(Signal),
            core_dumped: exit_status::core_dumped(status),
            group_dead,
            lifetime_ns,
            ancestors: Ancestors::default(),
            ancestors_truncated: false,
        }
    }
}
