//! Ring-buffer reservation, record headers, and counting of records that did not fit.
use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{bpf_get_smp_processor_id, bpf_ktime_get_boot_ns},
    maps::ring_buf::RingBufEntry,
};
use tracer_common::{COMM_LEN, EventHeader};

use crate::{
    config::settings,
    maps::{EVENTS, LOST},
    place,
};

/// Reserves a record, or counts it as lost when the ring buffer is full.
#[inline(always)]
pub fn reserve<T: 'static>() -> Option<RingBufEntry<T>> {
    let entry = EVENTS.reserve::<T>(0);
    if entry.is_none() {
        if let Some(lost) = LOST.get_ptr_mut(0) {
            // SAFETY: per-CPU slot, and programs do not nest on one CPU for these hooks.
            unsafe { *lost += 1 };
        }
    }
    entry
}

/// Publishes a record. Waking the reader costs an interrupt and a cross-CPU wake-up, so under
/// load records are batched: the reader is woken once enough unread data has piled up, and
/// drains the rest on its timer.
#[inline(always)]
pub fn submit<T: 'static>(entry: RingBufEntry<T>) {
    let threshold = u64::from(settings().wakeup_bytes);
    let flags = if threshold == 0 {
        0
    } else if EVENTS.query(BPF_RB_AVAIL_DATA as u64) >= threshold {
        BPF_RB_FORCE_WAKEUP as u64
    } else {
        BPF_RB_NO_WAKEUP as u64
    };
    entry.submit(flags);
}

/// The header of a record about `task` (whose global IDs are `tgid` and `tid`).
#[inline(always)]
pub fn header(
    kind: u32,
    source: u32,
    task: *const u8,
    tgid: u32,
    tid: u32,
    ppid: u32,
    comm: [u8; COMM_LEN],
) -> EventHeader {
    header_at(kind, source, task, tgid, tid, ppid, comm, &place::of(task, tgid, tid))
}

/// [`header`] for a task whose place is known already.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn header_at(
    kind: u32,
    source: u32,
    task: *const u8,
    tgid: u32,
    tid: u32,
    ppid: u32,
    comm: [u8; COMM_LEN],
    place: &place::Place,
) -> EventHeader {
    EventHeader {
        kind,
        source,
        // SAFETY: plain helper calls without arguments.
        timestamp_ns: unsafe { bpf_ktime_get_boot_ns() },
        tgid,
        tid,
        ppid,
        cpu: unsafe { bpf_get_smp_processor_id() },
        comm,
        ns_tgid: place.ns_tgid,
        ns_tid: place.ns_tid,
        pidns: place.pidns,
        _place_pad: 0,
        cgroup_id: place::cgroup_id(task),
    }
}

/// The current task.
#[inline(always)]
pub fn current_task() -> *const u8 {
    // SAFETY: plain helper call.
    unsafe { aya_ebpf::helpers::bpf_get_current_task() as *const u8 }
}
