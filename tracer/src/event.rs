//! The decoded event model: what tracer knows about one thing that happened to a task, after the
//! kernel record is decoded and enriched. Printers, filters and recordings all work on this.

/// Which hook observed an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    TpBtf,
    RawTracepoint,
    Fentry,
    Kprobe,
    SyscallEntry,
    /// Produced by tracer itself (lost-event reports).
    Tracer,
}

impl Source {
    pub const ALL: [Source; 6] =
        [Source::TpBtf, Source::RawTracepoint, Source::Fentry, Source::Kprobe, Source::SyscallEntry, Source::Tracer];

    /// Name used in JSON and `tracer probes`.
    pub fn name(self) -> &'static str {
        match self {
            Source::TpBtf => "tp_btf",
            Source::RawTracepoint => "raw_tracepoint",
            Source::Fentry => "fentry",
            Source::Kprobe => "kprobe",
            Source::SyscallEntry => "syscall_entry",
            Source::Tracer => "tracer",
        }
    }

    pub fn from_name(name: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|source| source.name() == name)
    }
}

/// Kinds of events, as users name them in `--events`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Fork,
    Exec,
    Exit,
    Rename,
    Lookup,
    Lost,
}

impl Kind {
    pub const ALL: [Kind; 6] = [Kind::Fork, Kind::Exec, Kind::Exit, Kind::Rename, Kind::Lookup, Kind::Lost];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Fork => "fork",
            Kind::Exec => "exec",
            Kind::Exit => "exit",
            Kind::Rename => "rename",
            Kind::Lookup => "lookup",
            Kind::Lost => "lost",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// One event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Wall-clock time, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    pub cpu: u32,
    /// The task the event is about (see each [`Detail`] for which task that is).
    pub tgid: u32,
    pub tid: u32,
    /// TGID of the task's parent process.
    pub ppid: u32,
    pub comm: String,
    pub source: Source,
    pub detail: Detail,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Detail {
    /// The task created `child_tid` in process `child_tgid`.
    Fork {
        child_tgid: u32,
        child_tid: u32,
        /// `clone_flags`, when the `task_newtask` hook saw them.
        clone_flags: Option<u64>,
    },
    /// The task replaced its program.
    Exec {
        filename: String,
        argv: Vec<String>,
        /// The argument list was longer than what the kernel side keeps.
        argv_truncated: bool,
        /// TID before exec; differs from `tid` when a non-leader thread exec'd.
        old_tid: u32,
    },
    /// The task exited.
    Exit {
        /// `task->exit_code` wait status.
        status: u32,
        /// The last task of its thread group: the process is gone.
        group_dead: bool,
        lifetime_ns: u64,
    },
    /// The task's comm changed; `comm` of the event is the old one.
    Rename { old_comm: String, new_comm: String },
    /// The task looked up `name` in `/proc`.
    Lookup {
        name: String,
        /// TGID of the live task `name` names, when tracer knows it.
        target_tgid: Option<u32>,
    },
    /// `count` events were dropped on their way: in the kernel, because the ring buffer was full,
    /// or before the printer, because the output did not keep up.
    Lost { count: u64, origin: LostOrigin },
}

/// Where events were lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LostOrigin {
    /// The kernel's ring buffer was full: the events are gone.
    Ring,
    /// The printed output did not keep up: the events were recorded, not printed.
    Output,
}

impl Event {
    pub fn kind(&self) -> Kind {
        match self.detail {
            Detail::Fork { .. } => Kind::Fork,
            Detail::Exec { .. } => Kind::Exec,
            Detail::Exit { .. } => Kind::Exit,
            Detail::Rename { .. } => Kind::Rename,
            Detail::Lookup { .. } => Kind::Lookup,
            Detail::Lost { .. } => Kind::Lost,
        }
    }
}

/// An event for tests: task `tgid`/`tid` named `comm`, parent 1, at a fixed time.
#[cfg(test)]
pub fn test_event(tgid: u32, tid: u32, comm: &str, detail: Detail) -> Event {
    Event {
        timestamp_ns: 3_723_000_456_789,
        cpu: 0,
        tgid,
        tid,
        ppid: 1,
        comm: comm.into(),
        source: Source::TpBtf,
        detail,
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
    }

    #[test]
    fn names_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_name(kind.name()), Some(kind));
        }
        for source in Source::ALL {
            assert_eq!(Source::from_name(source.name()), Some(source));
        }
    }
}
