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
/// Bytes of an exec'd file name kept in an [`ExecEvent`] (PATH_MAX, NUL included).
pub const FILENAME_LEN: usize = 4096;
/// Most bytes of the argument list, and separately of the environment, an [`ExecEvent`] can
/// carry; userspace picks how many up to this (`--arg-bytes`).
pub const ARG_BYTES_MAX: usize = 256 * 1024;
/// Bytes of the working directory's path kept in an [`ExecEvent`] (PATH_MAX).
pub const CWD_LEN: usize = 4096;
/// Directory levels of the working directory walked before the path is reported cut.
pub const CWD_DEPTH: u32 = 64;
/// Bytes after the fixed part of an [`ExecEvent`] record: the working directory, file name,
/// argument list and environment, back to back.
pub const EXEC_DATA_LEN: usize = FILENAME_LEN + 2 * ARG_BYTES_MAX + CWD_LEN;
/// Ancestors a fork, exec or exit record can carry (`--ancestors`, this by default): the parent
/// process of the task (of the creator, for a fork), its parent, and so on;
/// a chain that goes on past them is marked cut ([`ancestor_flags::TRUNCATED`]). Deep enough for
/// real process trees (a desktop terminal's shell is about 8 levels below PID 1, a container's
/// process about 6); each level costs the walk five reads and the record 32 bytes.
pub const ANCESTOR_DEPTH: usize = 16;
/// Longest name of one directory entry, NUL included (NAME_MAX + 1).
pub const NAME_LEN: usize = 256;
/// Bytes of a `/proc` entry name kept in a [`LookupEvent`], NUL included.
pub const LOOKUP_NAME_LEN: usize = 64;

pub mod cgroup_filter;
pub mod comm_filter;
pub mod container;
pub mod kind;

pub use cgroup_filter::{CGROUP_FILTER_VALUES, CGROUP_VERDICT_ENTRIES, CgroupFilter, cgroup_verdict};
pub use kind::{EventKind, HookSource, UnknownKind, UnknownSource, program};
pub mod namespace;
pub mod setup;
pub use setup::{
    FILTER_MAP_ENTRIES, FOLLOWED_MAP_ENTRIES, KernelOffsets, TracerSettings, filter_flags, global_name, map_name,
};

/// Fixed start of every ring-buffer record.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventHeader {
    /// An [`EventKind`] as a number (a record holds no enum: any bytes decode safely).
    pub kind: u32,
    /// A [`HookSource`] as a number.
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
    /// The task's real UID (in the initial user namespace).
    pub uid: u32,
    // Where the task lives: its PID namespace and its cgroup.
    /// TGID in the task's own (active) PID namespace; 0 when unreadable.
    pub ns_tgid: u32,
    /// TID in the task's own PID namespace; 0 when unreadable.
    pub ns_tid: u32,
    /// Inode number of the task's active PID namespace; 0 when unreadable.
    pub pidns: u32,
    /// ID of the task's cgroup in the unified (v2) hierarchy (its directory's inode number).
    pub cgroup_id: u64,
    /// CLOCK_BOOTTIME nanoseconds at which the task's process started (its thread group
    /// leader's `start_boottime`); with `tgid`, it names one process for a boot. 0 when
    /// unreadable.
    pub start_ns: u64,
}

/// Bits of [`ForkEvent::flags`].
pub mod fork_flags {
    /// `clone_flags` holds the flags seen by `task_newtask`.
    pub const CLONE_FLAGS_KNOWN: u32 = 1;
    /// `exit_signal` was read from the child.
    pub const EXIT_SIGNAL_KNOWN: u32 = 2;
}

/// A task created a task (`task_newtask`). The header is the creator.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForkEvent {
    pub header: EventHeader,
    pub child_tgid: u32,
    pub child_tid: u32,
    pub clone_flags: u64,
    /// [`fork_flags`].
    pub flags: u32,
    /// The child's `exit_signal` (a C `int`): the signal its parent gets when it ends; -1 for a
    /// thread, 0 for none. The kernel keeps it apart from the flags `task_newtask` sees.
    pub exit_signal: u32,
    /// The child's TGID and TID in its own PID namespace.
    pub child_ns_tgid: u32,
    pub child_ns_tid: u32,
    /// Non-zero when the child's namespaces may differ from the creator's: then `parent_ns` and
    /// `child_ns` hold both tasks' inodes by kind ([`namespace::kind`]); otherwise they are 0.
    pub ns_compared: u32,
    pub _pad2: u32,
    pub parent_ns: [u32; namespace::KINDS],
    pub child_ns: [u32; namespace::KINDS],
    /// When the child's process started (for a thread, the creator's process); 0 when unreadable.
    pub child_start_ns: u64,
    /// The creator's ancestors: its parent process, that one's parent, and so on.
    pub ancestors: AncestorChain,
}

/// A process above an event's task, as it was at the event.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AncestorRecord {
    pub tgid: u32,
    pub _pad: u32,
    /// Its thread group leader's `start_boottime`, as [`EventHeader::start_ns`]; 0 when unreadable.
    pub start_ns: u64,
    /// Its thread group leader's comm, NUL-padded.
    pub comm: [u8; COMM_LEN],
}

/// Bits of [`AncestorChain::flags`].
pub mod ancestor_flags {
    /// The chain goes on past the [`crate::ANCESTOR_DEPTH`] ancestors kept.
    pub const TRUNCATED: u32 = 1;
}

/// The ancestors of an event's task, nearest first, read by walking `real_parent` at the event.
/// It ends below the idle task (PID 0): at PID 1 for a process, at `kthreadd` for a kernel thread.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AncestorChain {
    /// Entries of `ancestors` written (at most [`ANCESTOR_DEPTH`]); the rest hold old bytes.
    pub count: u32,
    /// [`ancestor_flags`].
    pub flags: u32,
    pub ancestors: [AncestorRecord; ANCESTOR_DEPTH],
}

/// Bits of [`ExecEvent::flags`].
pub mod exec_flags {
    /// The argument list was longer than the bytes kept.
    pub const ARGV_TRUNCATED: u32 = 1;
    /// The environment was longer than the bytes kept.
    pub const ENV_TRUNCATED: u32 = 2;
    /// The environment was read (`--env`).
    pub const ENV_READ: u32 = 4;
    /// The working directory is deeper than [`crate::CWD_DEPTH`] levels or longer than
    /// [`crate::CWD_LEN`] bytes: only its innermost part is kept.
    pub const CWD_TRUNCATED: u32 = 8;
    /// The working directory could not be read.
    pub const CWD_UNKNOWN: u32 = 16;
    /// `old_comm` holds the comm before exec (the exec's rename was seen).
    pub const OLD_COMM_KNOWN: u32 = 32;
}

/// A task replaced its program (`sched_process_exec`). The header is the task after exec.
///
/// The record is this fixed part followed by `cwd_len + filename_len + argv_len + env_len` bytes:
/// the working directory's components innermost first, each followed by a NUL (the root has
/// none), the file name, the NUL-separated arguments, and the NUL-separated environment.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecEvent {
    pub header: EventHeader,
    /// TID the task had before exec (differs from `tid` when a non-leader thread exec'd).
    pub old_tid: u32,
    /// [`exec_flags`].
    pub flags: u32,
    pub filename_len: u32,
    /// Bytes of arguments that follow.
    pub argv_len: u32,
    /// Bytes of the whole argument list in the new program's memory.
    pub argv_total: u32,
    /// Bytes of environment that follow.
    pub env_len: u32,
    /// Bytes of the whole environment in the new program's memory.
    pub env_total: u32,
    pub cwd_len: u32,
    /// Credentials after exec (set-user-ID programs change the effective ones; the real UID is
    /// the header's).
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    pub _pad: u32,
    /// The comm before exec.
    pub old_comm: [u8; COMM_LEN],
    pub ancestors: AncestorChain,
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
    pub ancestors: AncestorChain,
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

#[cfg(feature = "user")]
mod pod {
    // SAFETY: all are repr(C) aggregates of integers and byte arrays with explicit padding.
    unsafe impl aya::Pod for super::KernelOffsets {}
    unsafe impl aya::Pod for super::TracerSettings {}
    unsafe impl aya::Pod for super::namespace::NamespaceOffsets {}
    unsafe impl aya::Pod for super::CgroupFilter {}
    unsafe impl aya::Pod for super::comm_filter::CommFilter {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    /// The kernel side and userspace must agree on these sizes byte for byte.
    #[test]
    fn record_sizes_are_pinned() {
        assert_eq!(size_of::<EventHeader>(), 80);
        assert_eq!(size_of::<ForkEvent>(), 80 + 24 + 16 + 2 * 4 * namespace::KINDS + 8 + size_of::<AncestorChain>());
        assert_eq!(size_of::<AncestorChain>(), 8 + 32 * ANCESTOR_DEPTH);
        assert_eq!(size_of::<ExecEvent>(), 80 + 48 + COMM_LEN + size_of::<AncestorChain>());
        assert_eq!(size_of::<ExecEvent>() % 8, 0, "records stay 8-byte aligned");
        assert_eq!(size_of::<ExitEvent>(), 96 + size_of::<AncestorChain>());
        assert_eq!(size_of::<RenameEvent>(), 112);
        assert_eq!(size_of::<LookupEvent>(), 80 + 8 + LOOKUP_NAME_LEN);
        assert_eq!(size_of::<NamespaceEvent>(), 80 + 8 + 2 * 4 * namespace::KINDS);
        assert_eq!(size_of::<KernelOffsets>(), 132);
        assert_eq!(size_of::<TracerSettings>(), 28);
        assert_eq!(size_of::<namespace::NamespaceOffsets>(), 4 * (18 + 2 * namespace::KINDS));
        assert_eq!(size_of::<CgroupFilter>(), 8 * container::ID_LEN + 4 * 8 + 8);
    }
}
