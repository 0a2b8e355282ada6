//! The maps shared with userspace, and the ones the hooks keep for themselves.
use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, LruHashMap, PerCpuArray, RingBuf},
};
use tracer_common::{
    CGROUP_VERDICT_ENTRIES, COMM_LEN, CWD_DEPTH, EXEC_DATA_LEN, ExecEvent, FILTER_MAP_ENTRIES, FOLLOWED_MAP_ENTRIES,
    NAME_LEN, namespace::KINDS,
};

/// Event records; userspace sets the size before load.
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(256 * 1024, 0);

/// Per-CPU count of records dropped because `EVENTS` was full.
#[map]
pub static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// `--comm` names, NUL-padded to 16 bytes.
#[map]
pub static COMM_FILTER: HashMap<[u8; COMM_LEN], u8> = HashMap::with_max_entries(FILTER_MAP_ENTRIES, 0);

/// `--pid` TGIDs.
#[map]
pub static PID_FILTER: HashMap<u32, u8> = HashMap::with_max_entries(FILTER_MAP_ENTRIES, 0);

/// `--tid` TIDs.
#[map]
pub static TID_FILTER: HashMap<u32, u8> = HashMap::with_max_entries(FILTER_MAP_ENTRIES, 0);

/// `--uid` real UIDs.
#[map]
pub static UID_FILTER: HashMap<u32, u8> = HashMap::with_max_entries(FILTER_MAP_ENTRIES, 0);

/// TGIDs of processes traced because an ancestor was selected (`--follow`, `tracer run`).
#[map]
pub static FOLLOWED: HashMap<u32, u8> = HashMap::with_max_entries(FOLLOWED_MAP_ENTRIES, 0);

/// tracer's own global TGID, in entry 0 (see `ignore_self`). An array: its look-up is inlined.
#[map]
pub static OWN_TGID: Array<u32> = Array::with_max_entries(1, 0);

/// Processes whose death an exit hook already reported, keyed by (TGID, the leader's start
/// time), on kernels whose exit tracepoint does not say which task is the group's last.
#[map]
pub static GROUP_DEATHS: LruHashMap<[u64; 2], u8> = LruHashMap::with_max_entries(1024, 0);

/// Where an exec record is assembled before it is copied into `EVENTS` at its actual length: one
/// per CPU (userspace sets the entry count), since a ring-buffer reservation has a fixed size.
/// A plain array, as per-CPU map values are limited to 32 KiB.
#[map]
pub static EXEC_SCRATCH: Array<ExecScratch> = Array::with_max_entries(1, 0);

/// The comm a task had before the rename its exec makes, until the exec hook (same task, same
/// `execve`) reads it, keyed by TID.
#[map]
pub static EXEC_OLD_COMM: LruHashMap<u32, [u8; COMM_LEN]> = LruHashMap::with_max_entries(1024, 0);

/// An exec record and its data, and room to walk the working directory in.
#[repr(C)]
pub struct ExecScratch {
    pub event: ExecEvent,
    pub data: [u8; EXEC_DATA_LEN],
    /// Bytes of each directory level's name in `cwd_names`, NUL included (0: a mount crossed).
    pub cwd_lens: [u32; CWD_DEPTH as usize],
    /// Directory level `i`'s name at `i * NAME_LEN`.
    pub cwd_names: [u8; CWD_DEPTH as usize * NAME_LEN],
}
/// `--pidns` inodes.
#[map]
pub static PIDNS_FILTER: HashMap<u32, u8> = HashMap::with_max_entries(FILTER_MAP_ENTRIES, 0);

/// Which of `--container` and `--cgroup` tasks of a cgroup (by ID) pass (`cgroup_verdict`
/// bits), judged once per cgroup. Not an LRU: a forgotten verdict would wrongly deselect.
#[map]
pub static CGROUP_VERDICTS: HashMap<u64, u8> = HashMap::with_max_entries(CGROUP_VERDICT_ENTRIES, 0);

/// Namespace inodes of a task (by TID) at the entry of a `setns`/`unshare` in progress, for the
/// syscall-exit hook to compare with. LRU: a task killed inside the syscall leaves its entry.
#[map]
pub static NS_BEFORE: LruHashMap<u32, [u32; KINDS]> = LruHashMap::with_max_entries(1024, 0);

/// A namespace change seen by one kernel-function hook that another completes (the user
/// namespace is switched apart from the others), by TID.
#[map]
pub static NS_PENDING: LruHashMap<u32, Pending> = LruHashMap::with_max_entries(1024, 0);

/// Half of a namespace change, kept between the two kernel-function hooks.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Pending {
    pub old: [u32; KINDS],
    pub new: [u32; KINDS],
}

/// Non-zero once userspace attached a hook for setns/unshare: only then does the fork hook report
/// clones into other namespaces too (namespace events come whole or not at all). Set after the
/// probe plan is known, which is after load, so not a read-only global.
#[map]
pub static NAMESPACE_SERVED: Array<u32> = Array::with_max_entries(1, 0);
