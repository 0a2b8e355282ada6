//! The one table of event kinds and hook sources: the value each has on the wire (a record
//! header's `kind` and `source`), the name users and JSON see, and the eBPF programs that serve
//! each kind. The kernel programs write these values, userspace decodes them with `TryFrom`,
//! and which program serves a kind on a given kernel is decided by the probe plan in userspace.

/// Kinds of records the kernel programs write: [`crate::EventHeader::kind`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// A task created a task ([`crate::ForkEvent`]).
    Fork = 1,
    /// A task replaced its program ([`crate::ExecEvent`]).
    Exec = 2,
    /// A task exited ([`crate::ExitEvent`]).
    Exit = 3,
    /// A task's comm changed ([`crate::RenameEvent`]).
    Rename = 4,
    /// A name was looked up in `/proc` ([`crate::LookupEvent`]).
    Lookup = 5,
    /// A task entered or created namespaces ([`crate::NamespaceEvent`]).
    Namespace = 6,
}

impl EventKind {
    /// Every kind, in wire order.
    pub const ALL: [EventKind; 6] =
        [EventKind::Fork, EventKind::Exec, EventKind::Exit, EventKind::Rename, EventKind::Lookup, EventKind::Namespace];

    /// The name users pass to `--events` and JSON writes as `event`.
    pub const fn name(self) -> &'static str {
        match self {
            EventKind::Fork => "fork",
            EventKind::Exec => "exec",
            EventKind::Exit => "exit",
            EventKind::Rename => "rename",
            EventKind::Lookup => "lookup",
            EventKind::Namespace => "namespace",
        }
    }

    /// This kind's bit in [`crate::TracerSettings::event_mask`].
    pub const fn bit(self) -> u32 {
        1 << self as u32
    }

    /// The programs of the eBPF object that produce this kind, one set per hook (see
    /// [`program`]); the probe plan picks which set to attach.
    pub const fn programs(self) -> &'static [&'static str] {
        use program as p;
        match self {
            EventKind::Fork => &[p::TASK_NEWTASK, p::TASK_NEWTASK_RAW],
            EventKind::Exec => &[p::SCHED_PROCESS_EXEC, p::SCHED_PROCESS_EXEC_RAW],
            EventKind::Exit => &[p::SCHED_PROCESS_EXIT, p::SCHED_PROCESS_EXIT_TASK_ONLY, p::SCHED_PROCESS_EXIT_RAW],
            EventKind::Rename => &[p::TASK_RENAME, p::TASK_RENAME_RAW],
            EventKind::Lookup => &[p::PROC_ROOT_LOOKUP, p::PROC_ROOT_LOOKUP_KPROBE, p::PROC_PATH_SYSCALLS],
            EventKind::Namespace => &[
                p::SWITCH_TASK_NAMESPACES,
                p::COMMIT_CREDS,
                p::SWITCH_TASK_NAMESPACES_KPROBE,
                p::COMMIT_CREDS_KPROBE,
                p::NAMESPACE_SYSCALLS_ENTER,
                p::NAMESPACE_SYSCALLS_EXIT,
            ],
        }
    }
}

/// A `kind` value no [`EventKind`] has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownKind(pub u32);

impl TryFrom<u32> for EventKind {
    type Error = UnknownKind;

    fn try_from(value: u32) -> Result<Self, UnknownKind> {
        EventKind::ALL.into_iter().find(|kind| *kind as u32 == value).ok_or(UnknownKind(value))
    }
}

/// Which kind of hook produced a record: [`crate::EventHeader::source`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookSource {
    /// A BTF-typed tracepoint (`tp_btf`).
    TpBtf = 1,
    /// A raw tracepoint.
    RawTracepoint = 2,
    /// An fentry program on a kernel function.
    Fentry = 3,
    /// A kprobe on a kernel function.
    Kprobe = 4,
    /// Path arguments of `/proc` syscalls seen at syscall entry.
    SyscallEntry = 5,
    /// A syscall's effect seen at its exit, against a snapshot taken at its entry.
    SyscallExit = 6,
}

impl HookSource {
    /// Every source, in wire order.
    pub const ALL: [HookSource; 6] = [
        HookSource::TpBtf,
        HookSource::RawTracepoint,
        HookSource::Fentry,
        HookSource::Kprobe,
        HookSource::SyscallEntry,
        HookSource::SyscallExit,
    ];

    /// The name JSON writes as `source` and `--hook` and `tracer probes` use.
    pub const fn name(self) -> &'static str {
        match self {
            HookSource::TpBtf => "tp_btf",
            HookSource::RawTracepoint => "raw_tracepoint",
            HookSource::Fentry => "fentry",
            HookSource::Kprobe => "kprobe",
            HookSource::SyscallEntry => "syscall_entry",
            HookSource::SyscallExit => "syscall_exit",
        }
    }
}

/// A `source` value no [`HookSource`] has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownSource(pub u32);

impl TryFrom<u32> for HookSource {
    type Error = UnknownSource;

    fn try_from(value: u32) -> Result<Self, UnknownSource> {
        HookSource::ALL.into_iter().find(|source| *source as u32 == value).ok_or(UnknownSource(value))
    }
}

/// Names of the programs in the eBPF object: each is the name of its function in `tracer-ebpf`,
/// which the object gives the program. A test in userspace finds every one in the built object.
pub mod program {
    /// `tp_btf/task_newtask`: a new task, its creator and its clone flags.
    pub const TASK_NEWTASK: &str = "task_newtask";
    pub const TASK_NEWTASK_RAW: &str = "task_newtask_raw";
    pub const SCHED_PROCESS_EXEC: &str = "sched_process_exec";
    pub const SCHED_PROCESS_EXEC_RAW: &str = "sched_process_exec_raw";
    /// `tp_btf/sched_process_exit` with `group_dead` (Linux 6.16+).
    pub const SCHED_PROCESS_EXIT: &str = "sched_process_exit";
    /// `tp_btf/sched_process_exit` where the tracepoint passes the task only.
    pub const SCHED_PROCESS_EXIT_TASK_ONLY: &str = "sched_process_exit_task_only";
    pub const SCHED_PROCESS_EXIT_RAW: &str = "sched_process_exit_raw";
    pub const TASK_RENAME: &str = "task_rename";
    pub const TASK_RENAME_RAW: &str = "task_rename_raw";
    pub const PROC_ROOT_LOOKUP: &str = "proc_root_lookup";
    pub const PROC_ROOT_LOOKUP_KPROBE: &str = "proc_root_lookup_kprobe";
    /// `raw_tracepoint/sys_enter`: `/proc` paths in syscall arguments.
    pub const PROC_PATH_SYSCALLS: &str = "proc_path_syscalls";
    pub const SWITCH_TASK_NAMESPACES: &str = "switch_task_namespaces";
    pub const COMMIT_CREDS: &str = "commit_creds";
    pub const SWITCH_TASK_NAMESPACES_KPROBE: &str = "switch_task_namespaces_kprobe";
    pub const COMMIT_CREDS_KPROBE: &str = "commit_creds_kprobe";
    pub const NAMESPACE_SYSCALLS_ENTER: &str = "namespace_syscalls_enter";
    pub const NAMESPACE_SYSCALLS_EXIT: &str = "namespace_syscalls_exit";
    /// `raw_tracepoint/cgroup_mkdir` and `cgroup_rmdir`: keep the per-cgroup verdicts of
    /// `--container` and `--cgroup` current.
    pub const CGROUP_MKDIR: &str = "cgroup_mkdir";
    pub const CGROUP_RMDIR: &str = "cgroup_rmdir";
    /// Run once by userspace (`BPF_PROG_TEST_RUN`) to tell the kernel side tracer's own TGID.
    pub const IGNORE_SELF: &str = "ignore_self";
    /// Run once by `tracer run` to mark its own process as followed before it forks the command.
    pub const FOLLOW_SELF: &str = "follow_self";

    /// Every program the object holds.
    pub const ALL: [&str; 22] = [
        TASK_NEWTASK,
        TASK_NEWTASK_RAW,
        SCHED_PROCESS_EXEC,
        SCHED_PROCESS_EXEC_RAW,
        SCHED_PROCESS_EXIT,
        SCHED_PROCESS_EXIT_TASK_ONLY,
        SCHED_PROCESS_EXIT_RAW,
        TASK_RENAME,
        TASK_RENAME_RAW,
        PROC_ROOT_LOOKUP,
        PROC_ROOT_LOOKUP_KPROBE,
        PROC_PATH_SYSCALLS,
        SWITCH_TASK_NAMESPACES,
        COMMIT_CREDS,
        SWITCH_TASK_NAMESPACES_KPROBE,
        COMMIT_CREDS_KPROBE,
        NAMESPACE_SYSCALLS_ENTER,
        NAMESPACE_SYSCALLS_EXIT,
        CGROUP_MKDIR,
        CGROUP_RMDIR,
        IGNORE_SELF,
        FOLLOW_SELF,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_round_trip() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::try_from(kind as u32), Ok(kind));
        }
        for source in HookSource::ALL {
            assert_eq!(HookSource::try_from(source as u32), Ok(source));
        }
        assert_eq!(EventKind::try_from(0), Err(UnknownKind(0)));
        assert_eq!(EventKind::try_from(7), Err(UnknownKind(7)));
        assert_eq!(HookSource::try_from(0), Err(UnknownSource(0)));
    }

    #[test]
    fn every_kind_program_is_in_the_list_of_programs() {
        for kind in EventKind::ALL {
            for name in kind.programs() {
                assert!(program::ALL.contains(name), "{name} of {} is not in program::ALL", kind.name());
            }
        }
    }

    #[test]
    fn bits_are_distinct() {
        let mask = EventKind::ALL.iter().fold(0u32, |mask, kind| {
            assert_eq!(mask & kind.bit(), 0);
            mask | kind.bit()
        });
        assert_eq!(mask.count_ones() as usize, EventKind::ALL.len());
    }
}
