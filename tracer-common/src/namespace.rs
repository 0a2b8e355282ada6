//! Namespace kinds as the kernel side reports them, and the kernel struct offsets it needs to
//! read a task's namespaces, PID-namespace IDs and cgroup (found in the running kernel's BTF).

/// Namespace kinds, in the order of `/proc/<tid>/ns/` and of every per-kind array here.
pub mod kind {
    pub const CGROUP: usize = 0;
    pub const IPC: usize = 1;
    pub const MNT: usize = 2;
    pub const NET: usize = 3;
    /// The task's own (active) PID namespace: never changes after the task is created.
    pub const PID: usize = 4;
    /// Where the task's future children go (`unshare(CLONE_NEWPID)`, `setns` to a PID namespace).
    pub const PID_FOR_CHILDREN: usize = 5;
    pub const TIME: usize = 6;
    pub const TIME_FOR_CHILDREN: usize = 7;
    pub const USER: usize = 8;
    pub const UTS: usize = 9;
}

/// Number of namespace kinds.
pub const KINDS: usize = 10;

/// Names of the kinds, as in `/proc/<tid>/ns/`, indexed by [`kind`].
pub const NAMES: [&str; KINDS] =
    ["cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children", "user", "uts"];

/// Bit of a kind in a changed-kinds mask.
pub const fn bit(kind: usize) -> u32 {
    1 << kind
}

/// An offset the running kernel does not have (e.g. a kind it was built without).
pub const NO_FIELD: u32 = u32::MAX;

/// Inode number of the initial PID namespace (`PROC_PID_INIT_INO`, fixed since Linux 3.8): a
/// task at PID-namespace level 0 lives there.
pub const INIT_PIDNS_INODE: u32 = 0xEFFF_FFFC;

/// x86-64 syscall numbers of the syscalls that change a task's namespaces.
pub const SYS_UNSHARE: u64 = 272;
pub const SYS_SETNS: u64 = 308;

/// `CLONE_NEWUSER`: in `unshare`'s flags, the user namespace changes after the others.
pub const CLONE_NEWUSER: u64 = 0x1000_0000;

/// Offsets for reading namespaces, PID-namespace IDs and cgroups, from the kernel's BTF.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NamespaceOffsets {
    pub task_thread_pid: u32,
    pub task_nsproxy: u32,
    pub task_cred: u32,
    pub task_cgroups: u32,
    /// `struct pid`: its level and its `numbers[]` (`struct upid { int nr; struct pid_namespace
    /// *ns; }`, `upid_size` bytes each).
    pub pid_level: u32,
    pub pid_numbers: u32,
    pub upid_size: u32,
    pub upid_nr: u32,
    pub upid_ns: u32,
    pub cred_user_ns: u32,
    /// `css_set.dfl_cgrp`: the task's cgroup in the unified hierarchy.
    pub css_set_dfl_cgrp: u32,
    pub cgroup_kn: u32,
    /// `cgroup.root` and `cgroup_root.hierarchy_id` (0 for the unified hierarchy).
    pub cgroup_root: u32,
    pub root_hierarchy_id: u32,
    /// `kernfs_node.parent` (`__parent` since Linux 6.15), `.name` and `.id`.
    pub kernfs_parent: u32,
    pub kernfs_name: u32,
    pub kernfs_id: u32,
    /// `pt_regs` offset of the syscall number (x86-64: `orig_ax`).
    pub regs_syscall_nr: u32,
    /// Offset in `struct nsproxy` of the pointer to each kind's namespace; [`NO_FIELD`] for the
    /// kinds not kept there (pid: the task's `struct pid`; user: its credentials).
    pub nsproxy_slot: [u32; KINDS],
    /// Offset of `ns.inum` in each kind's namespace struct; [`NO_FIELD`] when absent.
    pub ns_inum: [u32; KINDS],
}

impl Default for NamespaceOffsets {
    fn default() -> Self {
        Self {
            task_thread_pid: 0,
            task_nsproxy: 0,
            task_cred: 0,
            task_cgroups: 0,
            pid_level: 0,
            pid_numbers: 0,
            upid_size: 0,
            upid_nr: 0,
            upid_ns: 0,
            cred_user_ns: 0,
            css_set_dfl_cgrp: 0,
            cgroup_kn: 0,
            cgroup_root: 0,
            root_hierarchy_id: 0,
            kernfs_parent: 0,
            kernfs_name: 0,
            kernfs_id: 0,
            regs_syscall_nr: 0,
            nsproxy_slot: [NO_FIELD; KINDS],
            ns_inum: [NO_FIELD; KINDS],
        }
    }
}
