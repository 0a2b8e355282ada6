//! `--container` and `--cgroup` in the kernel. Both depend only on the task's cgroup (in the
//! unified hierarchy), so each cgroup is judged once and its verdict kept by cgroup ID in
//! `CGROUP_VERDICTS`: userspace judges the cgroups that exist when tracer starts, and
//! `cgroup_mkdir` (`hooks/cgroup.rs`) judges each new one as it is created, before any task can enter it, from
//! its name and its parent's verdict. The container rule is `tracer_common::container`'s, the one
//! userspace applies to recorded paths, so live runs and replays select alike.
use aya_ebpf::helpers::bpf_probe_read_kernel_str_bytes;
use tracer_common::{
    CGROUP_FILTER_VALUES, cgroup_verdict,
    container::{self, NAME_LEN},
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
pub fn read_name(node: *const u8, name: &mut [u8; NAME_LEN]) -> bool {
    let Ok(text) = read::<*const u8>(node, config::ns_offsets().kernfs_name) else { return false };
    *name = [0; NAME_LEN];
    // SAFETY: bounded by the buffer; fails instead of faulting.
    unsafe { bpf_probe_read_kernel_str_bytes(text, name) }.is_ok()
}

/// Whether the container ID `name[start..end]` begins with one of the `--container` prefixes.
#[inline(always)]
pub fn container_selected(name: &[u8; NAME_LEN], start: usize, end: usize) -> bool {
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
