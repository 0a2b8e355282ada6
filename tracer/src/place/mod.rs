//! Where a task lives: its IDs in its own PID namespace, its namespaces, its cgroup and the
//! container that cgroup belongs to. [`Place`] is that part of every event; the modules beside
//! it read namespaces and cgroups (`/proc`, cgroupfs, the kernel's BTF for the offsets the
//! kernel side needs) and find container IDs in cgroup paths.
pub mod cgroup;
pub mod container;
pub mod namespace_offsets;
pub mod namespaces;

use serde::{Deserialize, Serialize};

use crate::text::Text;

/// Where an event's task lives. Each part is `None` where unknown: tracer's own events, and
/// recordings older than the part.
///
/// In JSON its fields are inlined into the event's object; in a recording they follow the
/// event's other fields in this order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// The task's TGID and TID in its own PID namespace (what `getpid()`/`gettid()` return
    /// there, `NSpid` in `/proc/<tid>/status`); the global IDs on the host.
    pub ns_tgid: Option<u32>,
    pub ns_tid: Option<u32>,
    /// Inode number of the task's PID namespace (`readlink /proc/<tid>/ns/pid`).
    pub pidns: Option<u32>,
    /// ID of the task's cgroup in the unified (v2) hierarchy: its directory's inode number.
    pub cgroup_id: Option<u64>,
    /// That cgroup's path below the hierarchy's root, when tracer could resolve the ID.
    pub cgroup: Option<Text>,
    /// The container ID found in `cgroup` (see [`container`]).
    pub container: Option<Text>,
}
