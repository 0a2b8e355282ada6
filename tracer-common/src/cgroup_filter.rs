//! The `--container` and `--cgroup` filters as the kernel side applies them: each cgroup is
//! judged once, and the verdict kept by cgroup ID.
use crate::container;

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
