//! Ring-buffer reservation, record headers, and counting of records that did not fit.
use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{bpf_get_smp_processor_id, bpf_ktime_get_boot_ns},
    maps::ring_buf::RingBufEntry,
};
use tracer_common::{EventHeader, EventKind, HookSource};

use crate::{
    config::settings,
    maps::{EVENTS, LOST},
    place,
    task::{self, Who},
};

/// Reserves a record, or counts it as lost when the ring buffer is full.
#[inline(always)]
pub fn reserve<T: 'static>() -> Option<RingBufEntry<T>> {
    let entry = EVENTS.reserve::<T>(0);
    if entry.is_none() {
        count_lost();
    }
    entry
}

#[inline(always)]
fn count_lost() {
    if let Some(lost) = LOST.get_ptr_mut(0) {
        // SAFETY: per-CPU slot, and programs do not nest on one CPU for these hooks.
        unsafe { *lost += 1 };
    }
}

/// Publishes a record. Waking the reader costs an interrupt and a cross-CPU wake-up, so under
/// load records are batched: the reader is woken once enough unread data has piled up, and
/// drains the rest on its timer.
#[inline(always)]
pub fn submit<T: 'static>(entry: RingBufEntry<T>) {
    entry.submit(wakeup_flags());
}

/// Copies a record of variable length into the ring buffer, or counts it as lost.
#[inline(always)]
pub fn output(record: &[u8]) {
    if EVENTS.output::<[u8]>(record, wakeup_flags()).is_err() {
        count_lost();
    }
}

#[inline(always)]
fn wakeup_flags() -> u64 {
    let threshold = u64::from(settings().wakeup_bytes);
    if threshold == 0 {
        0
    } else if EVENTS.query(BPF_RB_AVAIL_DATA as u64) >= threshold {
        BPF_RB_FORCE_WAKEUP as u64
    } else {
        BPF_RB_NO_WAKEUP as u64
    }
}

/// The header of a record about `who`; `BTF` when `who.task` is a BTF-typed pointer.
#[inline(always)]
pub fn header<const BTF: bool>(kind: EventKind, source: HookSource, who: &Who, ppid: u32) -> EventHeader {
    header_at(
        kind,
        source,
        who,
        ppid,
        &place::of::<BTF>(who.task, who.tgid, who.tid),
        place::cgroup_id::<BTF>(who.task),
        task::process_start::<BTF>(who.task, crate::config::offsets()),
    )
}

/// [`header`] for a task whose place, cgroup and process start ([`task::process_start`]) are
/// known already.
#[inline(always)]
pub fn header_at(
    kind: EventKind,
    source: HookSource,
    who: &Who,
    ppid: u32,
    place: &place::Place,
    cgroup_id: u64,
    start_ns: u64,
) -> EventHeader {
    EventHeader {
        kind: kind as u32,
        source: source as u32,
        // SAFETY: plain helper calls without arguments.
        timestamp_ns: unsafe { bpf_ktime_get_boot_ns() },
        tgid: who.tgid,
        tid: who.tid,
        ppid,
        cpu: unsafe { bpf_get_smp_processor_id() },
        comm: who.comm.0,
        uid: who.uid,
        ns_tgid: place.ns_tgid,
        ns_tid: place.ns_tid,
        pidns: place.pidns,
        cgroup_id,
        start_ns,
    }
}
