//! Where a task lives: its IDs in its own PID namespace, that namespace's inode, its cgroup in
//! the unified hierarchy, and the inode of each of its namespaces. Offsets come from the
//! kernel's BTF (`NamespaceOffsets`); any kernel with BTF (5.5+) has every field read here.
use aya_ebpf::helpers::{bpf_get_current_cgroup_id, bpf_get_current_task};
use tracer_common::namespace::{INIT_PIDNS_INODE, KINDS, NO_FIELD, kind};

use crate::{
    config,
    task::{get, read_or_zero as read},
};

/// A task's place, as the record header carries it.
#[derive(Clone, Copy)]
pub struct Place {
    pub ns_tgid: u32,
    pub ns_tid: u32,
    pub pidns: u32,
}

/// The `struct upid` of `pid` at `level`.
#[inline(always)]
fn upid(pid: *const u8, level: u32) -> *const u8 {
    let offsets = config::ns_offsets();
    pid.wrapping_add(offsets.pid_numbers as usize + level as usize * offsets.upid_size as usize)
}

/// The task's IDs in its active PID namespace (the deepest level of its `struct pid`, which is
/// what `getpid()`/`gettid()` return inside) and that namespace's inode. `tgid` and `tid` are
/// its global IDs, which are also its own at level 0.
#[inline(always)]
pub fn of<const BTF: bool>(task: *const u8, tgid: u32, tid: u32) -> Place {
    let offsets = config::ns_offsets();
    let pid: *const u8 = get::<_, BTF>(task, offsets.task_thread_pid);
    let level: u32 = get::<_, BTF>(pid, offsets.pid_level);
    if level == 0 {
        return Place { ns_tgid: tgid, ns_tid: tid, pidns: INIT_PIDNS_INODE };
    }
    // `numbers[level]` is at an offset known only now. Plain loads cannot take it, and older
    // verifiers (Linux 6.1) refuse even the arithmetic on a BTF-typed pointer, so the two
    // `struct pid` pointers are probe-read again, as plain numbers, in this less common case.
    let pid: *const u8 = read(task, offsets.task_thread_pid);
    let own = upid(pid, level);
    let ns: *const u8 = read(own, offsets.upid_ns);
    let leader: *const u8 = read(task, config::offsets().task_group_leader);
    let leader_pid: *const u8 = read(leader, offsets.task_thread_pid);
    Place {
        ns_tgid: read(upid(leader_pid, level), offsets.upid_nr),
        ns_tid: read(own, offsets.upid_nr),
        pidns: read(ns, offsets.ns_inum[kind::PID]),
    }
}

/// ID of the current task's cgroup in the unified hierarchy: one helper call. Programs whose
/// task is the current one call this, not [`cgroup_id`]: the verifier checks that function's
/// path for other tasks too, and under tp_btf each load there of a pointer from a trusted one
/// makes it search the kernel's BTF by name (some 0.8 ms a load on Linux 6.18, three loads, on
/// every path that reaches them).
#[inline(always)]
pub fn current_cgroup_id() -> u64 {
    // SAFETY: a plain helper call.
    unsafe { bpf_get_current_cgroup_id() }
}

/// ID of the task's cgroup in the unified hierarchy (0 when unreadable).
#[inline(always)]
pub fn cgroup_id<const BTF: bool>(task: *const u8) -> u64 {
    // SAFETY: a plain helper call.
    if task as u64 == unsafe { bpf_get_current_task() } {
        return current_cgroup_id();
    }
    let offsets = config::ns_offsets();
    let css_set: *const u8 = get::<_, BTF>(task, offsets.task_cgroups);
    let cgroup: *const u8 = get::<_, BTF>(css_set, offsets.css_set_dfl_cgrp);
    let node: *const u8 = get::<_, BTF>(cgroup, offsets.cgroup_kn);
    get::<_, BTF>(node, offsets.kernfs_id)
}

/// Fills in the inode of each kind kept in `nsproxy` (all but pid and user).
#[inline(never)]
pub fn nsproxy_inodes<const BTF: bool>(nsproxy: *const u8, inodes: &mut [u32; KINDS]) {
    let offsets = config::ns_offsets();
    for kind in 0..KINDS {
        let (slot, inum) = (offsets.nsproxy_slot[kind], offsets.ns_inum[kind]);
        if slot == NO_FIELD || inum == NO_FIELD {
            continue;
        }
        let ns: *const u8 = get::<_, BTF>(nsproxy, slot);
        inodes[kind] = get::<_, BTF>(ns, inum);
    }
}

/// Inode of the user namespace of credentials `cred`.
#[inline(always)]
pub fn user_inode<const BTF: bool>(cred: *const u8) -> u32 {
    let offsets = config::ns_offsets();
    let user_ns: *const u8 = get::<_, BTF>(cred, offsets.cred_user_ns);
    get::<_, BTF>(user_ns, offsets.ns_inum[kind::USER])
}

/// The inode of each of the task's namespaces; `pidns` is its active PID namespace's.
#[inline(always)]
pub fn namespaces<const BTF: bool>(task: *const u8, pidns: u32) -> [u32; KINDS] {
    let offsets = config::ns_offsets();
    let mut inodes = [0u32; KINDS];
    let nsproxy: *const u8 = get::<_, BTF>(task, offsets.task_nsproxy);
    nsproxy_inodes::<BTF>(nsproxy, &mut inodes);
    let cred: *const u8 = get::<_, BTF>(task, offsets.task_cred);
    inodes[kind::USER] = user_inode::<BTF>(cred);
    inodes[kind::PID] = pidns;
    inodes
}

/// Whether two tasks hold different nsproxies, or (when `users` is set) user namespaces; cheap:
/// no inode is read.
#[inline(always)]
pub fn namespace_pointers_differ<const BTF: bool>(a: *const u8, b: *const u8, users: bool) -> bool {
    let offsets = config::ns_offsets();
    let nsproxy = |task: *const u8| get::<u64, BTF>(task, offsets.task_nsproxy);
    let user_ns = |task: *const u8| {
        let cred: *const u8 = get::<_, BTF>(task, offsets.task_cred);
        get::<u64, BTF>(cred, offsets.cred_user_ns)
    };
    nsproxy(a) != nsproxy(b) || (users && user_ns(a) != user_ns(b))
}

/// Whether any kind's inode differs. Branch-free: one branch per kind would double the paths
/// the verifier walks at each, for everything after.
#[inline(always)]
pub fn any_differs(old: &[u32; KINDS], new: &[u32; KINDS]) -> bool {
    let mut difference = 0;
    for kind in 0..KINDS {
        difference |= old[kind] ^ new[kind];
    }
    difference != 0
}
