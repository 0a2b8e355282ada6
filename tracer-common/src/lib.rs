//! Wire types shared by tracer's kernel programs and its userspace: the records the kernel side
//! writes into the ring buffer, and the configuration userspace hands to the kernel before load.
//!
//! Every record is `#[repr(C)]`, starts with an [`EventHeader`], uses explicit padding and holds
//! no `bool` or enum, so any byte pattern is a valid value and userspace can decode it safely.
#![no_std]

/// Bytes of a task's `comm`, NUL included (TASK_COMM_LEN).
pub const COMM_LEN: usize = 16;
/// Bytes of an exec'd file name kept in an [`ExecEvent`], NUL included.
pub const FILENAME_LEN: usize = 256;
/// Bytes of the NUL-separated argument list kept in an [`ExecEvent`].
pub const ARGV_LEN: usize = 512;
/// Bytes of a `/proc` entry name kept in a [`LookupEvent`], NUL included.
pub const LOOKUP_NAME_LEN: usize = 64;

/// Values of [`EventHeader::kind`].
pub mod event_kind {
    pub const FORK: u32 = 1;
    pub const EXEC: u32 = 2;
    pub const EXIT: u32 = 3;
    pub const RENAME: u32 = 4;
    pub const LOOKUP: u32 = 5;
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
}

/// Names of the maps userspace opens.
pub mod map_name {
    pub const EVENTS: &str = "EVENTS";
    pub const LOST: &str = "LOST";
    pub const COMM_FILTER: &str = "COMM_FILTER";
    pub const PID_FILTER: &str = "PID_FILTER";
    pub const TID_FILTER: &str = "TID_FILTER";
    pub const FOLLOWED: &str = "FOLLOWED";
}

/// Names of the globals userspace sets before load.
pub mod global_name {
    pub const OFFSETS: &str = "OFFSETS";
    pub const SETTINGS: &str = "SETTINGS";
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

#[cfg(feature = "user")]
mod pod {
    // SAFETY: all are repr(C) aggregates of integers and byte arrays with explicit padding.
    unsafe impl aya::Pod for super::KernelOffsets {}
    unsafe impl aya::Pod for super::TracerSettings {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    /// The kernel side and userspace must agree on these sizes byte for byte.
    #[test]
    fn record_sizes_are_pinned() {
        assert_eq!(size_of::<EventHeader>(), 48);
        assert_eq!(size_of::<ForkEvent>(), 72);
        assert_eq!(size_of::<ExecEvent>(), 48 + 16 + FILENAME_LEN + ARGV_LEN);
        assert_eq!(size_of::<ExitEvent>(), 64);
        assert_eq!(size_of::<RenameEvent>(), 80);
        assert_eq!(size_of::<LookupEvent>(), 48 + 8 + LOOKUP_NAME_LEN);
        assert_eq!(size_of::<KernelOffsets>(), 64);
        assert_eq!(size_of::<TracerSettings>(), 24);
    }
}
