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
    /// Only tasks whose real UID is in the `UID_FILTER` map.
    pub const UID: u32 = 16;
    /// Only tasks whose active PID namespace's inode is in the `PIDNS_FILTER` map.
    pub const PIDNS: u32 = 32;
    /// Only tasks in a container whose ID starts with one of [`crate::CgroupFilter::containers`]
    /// (judged per cgroup: [`crate::cgroup_verdict`]).
    pub const CONTAINER: u32 = 64;
    /// Only tasks in one of the `--cgroup` cgroups or below (judged per cgroup).
    pub const CGROUP: u32 = 128;
    /// Every criterion that selects tasks (as opposed to following them).
    pub const CRITERIA: u32 = COMM | PID | TID | UID | PIDNS | CONTAINER | CGROUP;
}

/// Names of the maps userspace opens.
pub mod map_name {
    pub const EVENTS: &str = "EVENTS";
    pub const LOST: &str = "LOST";
    pub const COMM_FILTER: &str = "COMM_FILTER";
    pub const PID_FILTER: &str = "PID_FILTER";
    pub const TID_FILTER: &str = "TID_FILTER";
    pub const UID_FILTER: &str = "UID_FILTER";
    pub const EXEC_SCRATCH: &str = "EXEC_SCRATCH";
    pub const FOLLOWED: &str = "FOLLOWED";
    /// tracer's own global TGID (entry 0): its activity (reading `/proc`, writing output) is
    /// never reported. Set after load by the `ignore_self` program, before any hook attaches.
    pub const OWN_TGID: &str = "OWN_TGID";
    pub const PIDNS_FILTER: &str = "PIDNS_FILTER";
    pub const CGROUP_VERDICTS: &str = "CGROUP_VERDICTS";
    pub const NAMESPACE_SERVED: &str = "NAMESPACE_SERVED";

    /// Every map userspace opens (a test finds each in the built object).
    pub const ALL: [&str; 12] = [
        EVENTS,
        LOST,
        COMM_FILTER,
        PID_FILTER,
        TID_FILTER,
        UID_FILTER,
        EXEC_SCRATCH,
        FOLLOWED,
        OWN_TGID,
        PIDNS_FILTER,
        CGROUP_VERDICTS,
        NAMESPACE_SERVED,
    ];
}

/// Names of the globals userspace sets before load.
pub mod global_name {
    pub const OFFSETS: &str = "OFFSETS";
    pub const SETTINGS: &str = "SETTINGS";
    pub const NS_OFFSETS: &str = "NS_OFFSETS";
    pub const CGROUP_FILTER: &str = "CGROUP_FILTER";
    pub const COMM_VALUES: &str = "COMM_VALUES";

    /// Every global userspace sets (a test finds each in the built object).
    pub const ALL: [&str; 5] = [OFFSETS, SETTINGS, NS_OFFSETS, CGROUP_FILTER, COMM_VALUES];
}

/// Capacity of the filter maps.
pub const FILTER_MAP_ENTRIES: u32 = 1024;
/// Capacity of the map of followed processes.
pub const FOLLOWED_MAP_ENTRIES: u32 = 16384;

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

/// Offsets of the kernel struct fields the kernel programs read, found in the running kernel's
/// BTF by userspace (Rust eBPF has no CO-RE relocations).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelOffsets {
    pub task_pid: u32,
    pub task_tgid: u32,
    pub task_real_parent: u32,
    pub task_exit_code: u32,
    /// `start_boottime` (`real_start_time` before Linux 5.5): CLOCK_BOOTTIME at creation, the
    /// clock of the record headers' timestamps.
    pub task_start_boottime: u32,
    pub task_comm: u32,
    pub task_mm: u32,
    pub task_signal: u32,
    pub task_group_leader: u32,
    /// `signal_struct.live` (an `atomic_t`, whose counter is its first member).
    pub signal_live: u32,
    pub mm_arg_start: u32,
    pub mm_arg_end: u32,
    pub mm_env_start: u32,
    pub mm_env_end: u32,
    pub task_cred: u32,
    pub cred_uid: u32,
    pub cred_euid: u32,
    pub cred_gid: u32,
    pub cred_egid: u32,
    pub task_fs: u32,
    /// `fs_struct.pwd.mnt` and `fs_struct.pwd.dentry`.
    pub fs_pwd_mnt: u32,
    pub fs_pwd_dentry: u32,
    pub dentry_parent: u32,
    pub vfsmount_mnt_root: u32,
    /// Offset of `struct vfsmount mnt` inside `struct mount`.
    pub mount_mnt: u32,
    pub mount_parent: u32,
    pub mount_mountpoint: u32,
    /// Bit offset of the `in_execve` bit field in `task_struct`.
    pub task_in_execve_bit: u32,
    pub dentry_name: u32,
    pub bprm_filename: u32,
    /// `pt_regs` offsets of the first two syscall arguments (x86-64: `di`, `si`).
    pub regs_arg0: u32,
    pub regs_arg1: u32,
    pub task_exit_signal: u32,
}

/// What the kernel programs report, set by userspace before load.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TracerSettings {
    /// Kinds to emit: OR of [`EventKind::bit`].
    pub event_mask: u32,
    /// [`filter_flags`].
    pub filter_flags: u32,
    /// Non-zero when `sched_process_exit` passes `group_dead` as its second argument.
    pub exit_has_group_dead: u32,
    /// Unread bytes in the ring buffer at which a submit wakes the reader; below it, submits
    /// do not wake it (it drains on a timer too). 0: wake on every submit that finds the reader
    /// caught up (the kernel's default).
    pub wakeup_bytes: u32,
    /// Bytes of the argument list an exec record carries (at most [`ARG_BYTES_MAX`]).
    pub arg_bytes: u32,
    /// Bytes of the environment an exec record carries (0: the environment is not read).
    pub env_bytes: u32,
    /// Ancestors a fork, exec or exit record carries (at most [`ANCESTOR_DEPTH`]; 0: none).
    pub ancestor_depth: u32,
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
