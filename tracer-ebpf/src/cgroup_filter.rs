//! `--container` and `--cgroup` in the kernel. Both depend only on the task's cgroup (in the
//! unified hierarchy), so each cgroup is judged once and its verdict kept by cgroup ID in
//! `CGROUP_VERDICTS`: userspace judges the cgroups that exist when tracer starts, and
//! `cgroup_mkdir` below judges each new one as it is created, before any task can enter it, from
//! its name and its parent's verdict. The container rule is `tracer_common::container`'s, the one
//! userspace applies to recorded paths, so live runs and replays select alike.
use aya_ebpf::{
    EbpfContext, helpers::bpf_probe_read_kernel_str_bytes, macros::raw_tracepoint, programs::RawTracePointContext,
};
use tracer_common::{
    CGROUP_FILTER_VALUES, cgroup_verdict,
    container::{self, Component, NAME_LEN},
    filter_flags,
};

use crate::{config, maps::CGROUP_VERDICTS, place, task::read};

/// Whether `task`'s cgroup passes the active cgroup criteria (`flags`); a cgroup without a
/// verdict (the map was full) does not.
#[inline(always)]
pub fn selects(task: *const u8, flags: u32) -> bool {
    let mut needed = 0;
    if flags & filter_flags::CONTAINER != 0 {
        needed |= cgroup_verdict::CONTAINER;
    }
    if flags & filter_flags::CGROUP != 0 {
        needed |= cgroup_verdict::CGROUP;
    }
    // SAFETY: a value of the map, read at once.
    CGROUP_VERDICTS
        .get_ptr(place::cgroup_id::<false>(task))
        .is_some_and(|verdict| unsafe { *verdict } & needed == needed)
}

/// Reads the name of kernfs node `node` into `name`.
#[inline(always)]
fn read_name(node: *const u8, name: &mut [u8; NAME_LEN]) -> bool {
    let Ok(text) = read::<*const u8>(node, config::ns_offsets().kernfs_name) else { return false };
    *name = [0; NAME_LEN];
    // SAFETY: bounded by the buffer; fails instead of faulting.
    unsafe { bpf_probe_read_kernel_str_bytes(text, name) }.is_ok()
}

/// Whether the container ID `name[start..end]` begins with one of the `--container` prefixes.
#[inline(always)]
fn container_selected(name: &[u8; NAME_LEN], start: usize, end: usize) -> bool {
    let filter = config::cgroup_filter();
    for i in 0..CGROUP_FILTER_VALUES {
        if i as u32 >= filter.container_count {
            break;
        }
        if container::id_starts_with(name, start, end, &filter.containers[i], filter.container_lens[i] as usize) {
            return true;
        }
    }
    false
}

/// `cgroup_mkdir(struct cgroup *cgrp, const char *path)`, in every hierarchy; rare (a cgroup
/// is being created), so it may take its time.
#[raw_tracepoint(tracepoint = "cgroup_mkdir")]
pub fn cgroup_mkdir(ctx: RawTracePointContext) -> i32 {
    floor_return!();
    if config::settings().filter_flags & (filter_flags::CONTAINER | filter_flags::CGROUP) == 0 {
        return 0;
    }
    let offsets = config::ns_offsets();
    // SAFETY: the tracepoint passes the cgroup first.
    let cgroup = unsafe { *(ctx.as_ptr() as *const u64) } as *const u8;
    let root: *const u8 = read(cgroup, offsets.cgroup_root).unwrap_or(core::ptr::null());
    if read::<i32>(root, offsets.root_hierarchy_id) != Ok(0) {
        return 0;
    }
    let Ok(node) = read::<*const u8>(cgroup, offsets.cgroup_kn) else { return 0 };
    let (Ok(id), Ok(parent)) = (read::<u64>(node, offsets.kernfs_id), read::<*const u8>(node, offsets.kernfs_parent))
    else {
        return 0;
    };
    let parent_id = read::<u64>(parent, offsets.kernfs_id).unwrap_or(0);
    // SAFETY: a value of the map, read at once.
    let mut verdict = CGROUP_VERDICTS.get_ptr(parent_id).map_or(0, |verdict| unsafe { *verdict });
    let mut name = [0u8; NAME_LEN];
    let below_lxc = read_name(parent, &mut name) && container::is_lxc_parent(&name);
    if read_name(node, &mut name)
        && let Component::Container { start, end } = container::container_directory(&name, below_lxc)
    {
        // The deepest container directory decides; below it, cgroups inherit its verdict.
        verdict &= !cgroup_verdict::CONTAINER;
        if container_selected(&name, start, end) {
            verdict |= cgroup_verdict::CONTAINER;
        }
    }
    let _ = CGROUP_VERDICTS.insert(id, verdict, 0);
    0
}

/// `cgroup_rmdir(struct cgroup *cgrp, const char *path)`: the verdict is not needed any more.
#[raw_tracepoint(tracepoint = "cgroup_rmdir")]
pub fn cgroup_rmdir(ctx: RawTracePointContext) -> i32 {
    floor_return!();
    let offsets = config::ns_offsets();
    // SAFETY: the tracepoint passes the cgroup first.
    let cgroup = unsafe { *(ctx.as_ptr() as *const u64) } as *const u8;
    let root: *const u8 = read(cgroup, offsets.cgroup_root).unwrap_or(core::ptr::null());
    // Node IDs are per hierarchy: only the unified one's are kept.
    if read::<i32>(root, offsets.root_hierarchy_id) != Ok(0) {
        return 0;
    }
    let node: *const u8 = read(cgroup, offsets.cgroup_kn).unwrap_or(core::ptr::null());
    if let Ok(id) = read::<u64>(node, offsets.kernfs_id) {
        let _ = CGROUP_VERDICTS.remove(id);
    }
    0
}
