//! Wire types shared by tracer's kernel programs and its userspace: the records the kernel side
//! writes into the ring buffer, and the configuration userspace hands to the kernel before load.
//!
//! Every record is `#[repr(C)]`, starts with an [`EventHeader`], uses explicit padding and holds
//! no `bool` or enum, so any byte pattern is a valid value and userspace can decode it safely.
#![no_std]

#[cfg(test)]
extern crate std;

/// Bytes of a task's `comm`, NUL included (TASK_COMM_LEN).
pub const COMM_LEN: usize = 16;
/// Bytes of an exec'd file name kept in an [`ExecEvent`], NUL included.
pub const FILENAME_LEN: usize = 256;
/// Bytes of the NUL-separated argument list kept in an [`ExecEvent`].
pub const ARGV_LEN: usize = 512;
/// Bytes of a `/proc` entry name kept in a [`LookupEvent`], NUL included.
pub const LOOKUP_NAME_LEN: usize = 64;

pub mod container;
pub mod namespace;

/// Values of [`EventHeader::kind`].
pub mod event_kind {
    pub const FORK: u32 = 1;
    pub const EXEC: u32 = 2;
    pub const EXIT: u32 = 3;
    pub const RENAME: u32 = 4;
    pub const LOOKUP: u32 = 5;
    /// A task entered or created namespaces ([`crate::NamespaceEvent`]).
    pub const NAMESPACE: u32 = 6;
    /// Bit of `kind` in [`crate::TracerSettings::event_mask`].
    pub const fn bit(kind: u32) -> u32 {
        1 << kind
    }
}

/// Values of [`EventHeader::source`]: which kind of hook produced the event.
pub mod hook_source {
    pub const TP_BTF: u32 = 1;
    pub const RAW_TRACEPOINT: u32 = 2;
    pub const FENTRY: u32 = 3;
    pub const KPROBE: u32 = 4;
    /// Path arguments of `/proc` syscalls seen at syscall entry.
    pub const SYSCALL_ENTRY: u32 = 5;
    /// A syscall's effect seen at its exit, against a snapshot taken at its entry.
    pub const SYSCALL_EXIT: u32 = 6;
}

/// Bits of [`TracerSettings::filter_flags`].
pub mod filter_flags {
    /// Only tasks whose comm is in the `COMM_FILTER` map.
    pub const COMM: u32 = 1;
    /// Only tasks whose TGID is in the `PID_FILTER` map.
    pub const PID: u32 = 2;
    /// Only tasks whose TID is in the `TID_FILTER` map.
    pub const TID: u32 = 4;
    /// Tasks of processes in the `FOLLOWED` map pass too, and selected tasks' children are added.
    pub const FOLLOW: u32 = 8;
    /// Only tasks whose active PID namespace's inode is in the `PIDNS_FILTER` map.
    pub const PIDNS: u32 = 16;
    /// Only tasks in a container whose ID starts with one of [`crate::CgroupFilter::containers`]
    /// (judged per cgroup: [`crate::cgroup_verdict`]).
    pub const CONTAINER: u32 = 32;
    /// Only tasks in one of the `--cgroup` cgroups or below (judged per cgroup).
    pub const CGROUP: u32 = 64;
    /// Every criterion that selects tasks (as opposed to following them).
    pub const CRITERIA: u32 = COMM | PID | TID | PIDNS | CONTAINER | CGROUP;
}

/// Names of the maps userspace opens.
pub mod map_name {
    pub const EVENTS: &str = "EVENTS";
    pub const LOST: &str = "LOST";
    pub const COMM_FILTER: &str = "COMM_FILTER";
    pub const PID_FILTER: &str = "PID_FILTER";
    pub const TID_FILTER: &str = "TID_FILTER";
    pub const FOLLOWED: &str = "FOLLOWED";
    pub const PIDNS_FILTER: &str = "PIDNS_FILTER";
    pub const CGROUP_VERDICTS: &str = "CGROUP_VERDICTS";
    pub const NAMESPACE_SERVED: &str = "NAMESPACE_SERVED";
}

/// Names of the globals userspace sets before load.
pub mod global_name {
    pub const OFFSETS: &str = "OFFSETS";
    pub const SETTINGS: &str = "SETTINGS";
    pub const NS_OFFSETS: &str = "NS_OFFSETS";
    pub const CGROUP_FILTER: &str = "CGROUP_FILTER";
}

/// Capacity of the filter maps.
pub const FILTER_MAP_ENTRIES: u32 = 1024;
/// Capacity of the map of followed processes.
pub const FOLLOWED_MAP_ENTRIES: u32 = 16384;

/// Fixed start of every ring-buffer record.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventHeader {
    /// One of [`event_kind`].
    pub kind: u32,
    /// One of [`hook_source`].
    pub source: u32,
    /// CLOCK_BOOTTIME nanoseconds when the hook ran.
    pub timestamp_ns: u64,
    /// Thread group ID (userspace's PID) of the task the event is about.
    pub tgid: u32,
    /// Task ID (userspace's thread ID) of the task the event is about.
    pub tid: u32,
    /// TGID of that task's parent process.
    pub ppid: u32,
    /// CPU the hook ran on.
    pub cpu: u32,
    /// The task's comm, NUL-padded.
    pub comm: [u8; COMM_LEN],
    // Where the task lives: its PID namespace and its cgroup.
    /// TGID in the task's own (active) PID namespace; 0 when unreadable.
    pub ns_tgid: u32,
    /// TID in the task's own PID namespace; 0 when unreadable.
    pub ns_tid: u32,
    /// Inode number of the task's active PID namespace; 0 when unreadable.
    pub pidns: u32,
    pub _place_pad: u32,
    /// ID of the task's cgroup in the unified (v2) hierarchy (its directory's inode number).
    pub cgroup_id: u64,
}

/// Bits of [`ForkEvent::flags`].
pub mod fork_flags {
    /// `clone_flags` holds the flags seen by `task_newtask`.
    pub const CLONE_FLAGS_KNOWN: u32 = 1;
}

/// A task created a task (`sched_process_fork`). The header is the creator.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForkEvent {
    pub header: EventHeader,
    pub child_tgid: u32,
    pub child_tid: u32,
    pub clone_flags: u64,
    /// [`fork_flags`].
    pub flags: u32,
    pub _pad: u32,
    /// The child's TGID and TID in its own PID namespace.
    pub child_ns_tgid: u32,
    pub child_ns_tid: u32,
    /// Non-zero when the child's namespaces may differ from the creator's: then `parent_ns` and
    /// `child_ns` hold both tasks' inodes by kind ([`namespace::kind`]); otherwise they are 0.
    pub ns_compared: u32,
    pub _pad2: u32,
    pub parent_ns: [u32; namespace::KINDS],
    pub child_ns: [u32; namespace::KINDS],
}

/// Bits of [`ExecEvent::flags`].
pub mod exec_flags {
    /// The argument list was longer than [`crate::ARGV_LEN`] and was cut.
    pub const ARGV_TRUNCATED: u32 = 1;
}

/// A task replaced its program (`sched_process_exec`). The header is the task after exec.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecEvent {
    pub header: EventHeader,
    /// TID the task had before exec (differs from `tid` when a non-leader thread exec'd).
    pub old_tid: u32,
    /// Bytes of `filename` before its NUL.
    pub filename_len: u32,
    /// Bytes of `argv` holding arguments (each NUL-terminated).
    pub argv_len: u32,
    /// [`exec_flags`].
    pub flags: u32,
    pub filename: [u8; FILENAME_LEN],
    pub argv: [u8; ARGV_LEN],
}

/// Bits of [`ExitEvent::flags`].
pub mod exit_flags {
    /// The last task of its thread group exited: the process is gone.
    pub const GROUP_DEAD: u32 = 1;
}

/// A task exited (`sched_process_exit`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitEvent {
    pub header: EventHeader,
    /// `task->exit_code`: a wait status (exit code << 8, or signal | 0x80 when it dumped core).
    pub exit_code: u32,
    /// [`exit_flags`].
    pub flags: u32,
    /// Nanoseconds since the task was created.
    pub lifetime_ns: u64,
}

/// A task's comm changed (`task_rename`: prctl, a write to `/proc/<tid>/comm`, exec).
/// The header is the renamed task, with its comm before the change.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenameEvent {
    pub header: EventHeader,
    pub old_comm: [u8; COMM_LEN],
    pub new_comm: [u8; COMM_LEN],
}

/// A name was looked up in the `/proc` root directory. The header is the task looking.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupEvent {
    pub header: EventHeader,
    /// Bytes of `name` before its NUL.
    pub name_len: u32,
    pub _pad: u32,
    pub name: [u8; LOOKUP_NAME_LEN],
}

/// Values of [`NamespaceEvent::how`].
pub mod namespace_how {
    pub const SETNS: u32 = 1;
    pub const UNSHARE: u32 = 2;
    /// A new task starts in namespaces other than its creator's.
    pub const CLONE: u32 = 3;
}

/// A task's namespaces changed (setns, unshare) or a new task starts in namespaces other than
/// its creator's (clone). The header is the task whose namespaces changed (for clone, the child).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NamespaceEvent {
    pub header: EventHeader,
    /// [`namespace_how`].
    pub how: u32,
    pub _pad: u32,
    /// Inode per kind before and after, indexed by [`namespace::kind`]. The kernel side only
    /// reports a change; which kinds changed is for the reader to compare (branching per kind
    /// in the kernel multiplies the paths the verifier walks).
    pub old: [u32; namespace::KINDS],
    pub new: [u32; namespace::KINDS],
}

/// Offsets of the kernel struct fields the kernel programs read, found in the running kernel's
/// BTF by userspace (Rust eBPF has no CO-RE relocations).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelOffsets {
    pub task_pid: u32,
    pub task_tgid: u32,
    pub task_real_parent: u32,
    pub task_exit_code: u32,
    pub task_start_time: u32,
    pub task_comm: u32,
    pub task_mm: u32,
    pub task_signal: u32,
    pub task_group_leader: u32,
    /// `signal_struct.live` (an `atomic_t`, whose counter is its first member).
    pub signal_live: u32,
    pub mm_arg_start: u32,
    pub mm_arg_end: u32,
    pub dentry_name: u32,
    pub bprm_filename: u32,
    /// `pt_regs` offsets of the first two syscall arguments (x86-64: `di`, `si`).
    pub regs_arg0: u32,
    pub regs_arg1: u32,
}

/// What the kernel programs report, set by userspace before load.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TracerSettings {
    /// Kinds to emit: OR of [`event_kind::bit`].
    pub event_mask: u32,
    /// [`filter_flags`].
    pub filter_flags: u32,
    /// Non-zero when `sched_process_exit` passes `group_dead` as its second argument.
    pub exit_has_group_dead: u32,
    /// Unread bytes in the ring buffer at which a submit wakes the reader; below it, submits
    /// do not wake it (it drains on a timer too). 0: wake on every submit that finds the reader
    /// caught up (the kernel's default).
    pub wakeup_bytes: u32,
    /// tracer's own TGID: its activity (reading `/proc`, writing output) is never reported.
    pub own_tgid: u32,
    pub _pad: u32,
}

/// Most `--container` and `--cgroup` values.
pub const CGROUP_FILTER_VALUES: usize = 8;
/// Cgroups (of the unified hierarchy) whose verdict the kernel side can keep.
pub const CGROUP_VERDICT_ENTRIES: u32 = 16384;

/// Bits of a cgroup's verdict in the `CGROUP_VERDICTS` map (by cgroup ID). Both filters depend
/// on the task's cgroup only, so each cgroup is judged once: those that exist when tracer starts
/// by userspace, those created later by the kernel side when they are created (before any task
/// can enter them), from their name and their parent's verdict.
pub mod cgroup_verdict {
    /// The cgroup's container (its deepest container directory) matches a `--container` prefix.
    pub const CONTAINER: u8 = 1;
    /// The cgroup is a `--cgroup` or below one.
    pub const CGROUP: u8 = 2;
}

/// `--container` prefixes, set by userspace before load, for judging new cgroups.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CgroupFilter {
    /// Container ID prefixes, NUL-padded; `container_lens` bytes of each count.
    pub containers: [[u8; container::ID_LEN]; CGROUP_FILTER_VALUES],
    pub container_lens: [u32; CGROUP_FILTER_VALUES],
    pub container_count: u32,
    pub _pad: u32,
}

impl Default for CgroupFilter {
    fn default() -> Self {
        Self {
            containers: [[0; container::ID_LEN]; CGROUP_FILTER_VALUES],
            container_lens: [0; CGROUP_FILTER_VALUES],
            container_count: 0,
            _pad: 0,
        }
    }
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: all are repr(C) aggregates of integers and byte arrays with explicit padding.
    unsafe impl aya::Pod for super::KernelOffsets {}
    unsafe impl aya::Pod for super::TracerSettings {}
    unsafe impl aya::Pod for super::namespace::NamespaceOffsets {}
    unsafe impl aya::Pod for super::CgroupFilter {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    /// The kernel side and userspace must agree on these sizes byte for byte.
    #[test]
    fn record_sizes_are_pinned() {
        assert_eq!(size_of::<EventHeader>(), 72);
        assert_eq!(size_of::<ForkEvent>(), 72 + 24 + 16 + 2 * 4 * namespace::KINDS);
        assert_eq!(size_of::<ExecEvent>(), 72 + 16 + FILENAME_LEN + ARGV_LEN);
        assert_eq!(size_of::<ExitEvent>(), 88);
        assert_eq!(size_of::<RenameEvent>(), 104);
        assert_eq!(size_of::<LookupEvent>(), 72 + 8 + LOOKUP_NAME_LEN);
        assert_eq!(size_of::<NamespaceEvent>(), 72 + 8 + 2 * 4 * namespace::KINDS);
        assert_eq!(size_of::<KernelOffsets>(), 64);
        assert_eq!(size_of::<TracerSettings>(), 24);
        assert_eq!(size_of::<namespace::NamespaceOffsets>(), 4 * (18 + 2 * namespace::KINDS));
        assert_eq!(size_of::<CgroupFilter>(), 8 * container::ID_LEN + 4 * 8 + 8);
    }
}
