//! The maps shared with userspace, and the one the fork hooks use between themselves.
use aya_ebpf::{
    macros::map,
    maps::{HashMap, LruHashMap, PerCpuArray, RingBuf},
};
use tracer_common::{COMM_LEN, FILTER_MAP_ENTRIES, FOLLOWED_MAP_ENTRIES};

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

/// TGIDs of processes traced because an ancestor was selected (`--follow`, `tracer run`).
#[map]
pub static FOLLOWED: HashMap<u32, u8> = HashMap::with_max_entries(FOLLOWED_MAP_ENTRIES, 0);

/// Processes whose death an exit hook already reported, keyed by (TGID, the leader's start
/// time), on kernels whose exit tracepoint does not say which task is the group's last.
#[map]
pub static GROUP_DEATHS: LruHashMap<[u64; 2], u8> = LruHashMap::with_max_entries(1024, 0);

/// `clone_flags` seen by `task_newtask`, keyed by the new task's TID, until its fork event
/// (which follows in the same `clone`). Stored only for forks that will be reported, so it only
/// holds forks in flight; a plain preallocated hash is cheaper than an LRU one.
#[map]
pub static CLONE_FLAGS: HashMap<u32, u64> = HashMap::with_max_entries(8192, 0);
