//! Configuration userspace writes into the object's read-only globals before load.
use tracer_common::{KernelOffsets, TracerSettings, event_kind};

#[unsafe(no_mangle)]
static OFFSETS: KernelOffsets = unsafe { core::mem::zeroed() };

#[unsafe(no_mangle)]
static SETTINGS: TracerSettings = unsafe { core::mem::zeroed() };

/// Struct field offsets of the running kernel.
#[inline(always)]
pub fn offsets() -> KernelOffsets {
    // Volatile: the compiler must not fold the zero initialiser, userspace rewrites it.
    unsafe { core::ptr::read_volatile(&raw const OFFSETS) }
}

#[inline(always)]
pub fn settings() -> TracerSettings {
    unsafe { core::ptr::read_volatile(&raw const SETTINGS) }
}

/// Whether events of `kind` are to be emitted.
#[inline(always)]
pub fn emits(kind: u32) -> bool {
    settings().event_mask & event_kind::bit(kind) != 0
}
