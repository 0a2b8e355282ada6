//! `cgroup_mkdir` and `cgroup_rmdir`: keep the per-cgroup verdicts of `--container` and
//! `--cgroup` (see `cgroup_filter`) current as cgroups come and go.
use aya_ebpf::{EbpfContext, macros::raw_tracepoint, programs::RawTracePointContext};
use tracer_common::{
    cgroup_verdict,
    container::{self, Component, NAME_LEN},
    filter_flags,
};

use crate::{
    cgroup_filter::{container_selected, read_name},
    config,
    maps::CGROUP_VERDICTS,
    task::read,
};

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
