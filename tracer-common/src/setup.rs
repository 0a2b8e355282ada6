//! What userspace hands the kernel programs before load: the offsets of the kernel's fields, the
//! settings, and the names and capacities of the maps and globals it opens or sets.

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
    /// Kinds to emit: OR of [`crate::EventKind::bit`].
    pub event_mask: u32,
    /// [`filter_flags`].
    pub filter_flags: u32,
    /// Non-zero when `sched_process_exit` passes `group_dead` as its second argument.
    pub exit_has_group_dead: u32,
    /// Unread bytes in the ring buffer at which a submit wakes the reader; below it, submits
    /// do not wake it (it drains on a timer too). 0: wake on every submit that finds the reader
    /// caught up (the kernel's default).
    pub wakeup_bytes: u32,
    /// Bytes of the argument list an exec record carries (at most [`crate::ARG_BYTES_MAX`]).
    pub arg_bytes: u32,
    /// Bytes of the environment an exec record carries (0: the environment is not read).
    pub env_bytes: u32,
    /// Ancestors a fork, exec or exit record carries (at most [`crate::ANCESTOR_DEPTH`]; 0: none).
    pub ancestor_depth: u32,
}
