//! Configuration userspace writes into the object's read-only globals before load.
use tracer_common::{
    CgroupFilter, EventKind, KernelOffsets, TracerSettings, comm_filter::CommFilter, namespace::NamespaceOffsets,
};

#[unsafe(no_mangle)]
static OFFSETS: KernelOffsets = unsafe { core::mem::zeroed() };

#[unsafe(no_mangle)]
static SETTINGS: TracerSettings = unsafe { core::mem::zeroed() };

#[unsafe(no_mangle)]
static NS_OFFSETS: NamespaceOffsets = unsafe { core::mem::zeroed() };

#[unsafe(no_mangle)]
static CGROUP_FILTER: CgroupFilter = unsafe { core::mem::zeroed() };

#[unsafe(no_mangle)]
static COMM_VALUES: CommFilter = unsafe { core::mem::zeroed() };

// Each is read through a reference, never copied: a copy is a volatile load of every field (the
// offsets are 31 of them) on every call, where a hook needs two or three, and the larger ones
// do not fit the BPF stack. The volatile read of the address keeps the compiler from folding the
// zero initialisers into the code.

/// Offsets for namespaces, PID-namespace IDs and cgroups.
#[inline(always)]
pub fn ns_offsets() -> &'static NamespaceOffsets {
    // SAFETY: a global of the object; userspace wrote it before load and it is read-only since.
    unsafe { &*core::ptr::read_volatile(&&raw const NS_OFFSETS) }
}

/// `--comm` values.
#[inline(always)]
pub fn comm_values() -> &'static CommFilter {
    // SAFETY: as below.
    unsafe { &*core::ptr::read_volatile(&&raw const COMM_VALUES) }
}

/// `--container` and `--cgroup` values.
#[inline(always)]
pub fn cgroup_filter() -> &'static CgroupFilter {
    // SAFETY: as above.
    unsafe { &*core::ptr::read_volatile(&&raw const CGROUP_FILTER) }
}

/// Struct field offsets of the running kernel.
#[inline(always)]
pub fn offsets() -> &'static KernelOffsets {
    // SAFETY: as above.
    unsafe { &*core::ptr::read_volatile(&&raw const OFFSETS) }
}

/// What userspace asked for: event kinds, filter flags, wake-up threshold.
#[inline(always)]
pub fn settings() -> &'static TracerSettings {
    // SAFETY: as above.
    unsafe { &*core::ptr::read_volatile(&&raw const SETTINGS) }
}

/// Whether events of `kind` are to be emitted.
#[inline(always)]
pub fn emits(kind: EventKind) -> bool {
    settings().event_mask & kind.bit() != 0
}
