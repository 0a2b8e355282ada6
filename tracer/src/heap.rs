//! How tracer's process gives memory back to the system: glibc keeps what a program frees for
//! later unless told otherwise, and tracer frees megabytes while it starts (the kernel's BTF, the
//! attach IDs' placeholder types) that it never needs again.
//!
//! glibc only: the static (musl) build has neither call, and its allocator unmaps large blocks
//! by itself.

/// Blocks of at least this many bytes are mappings of their own. No record, line or buffer of a
/// running tracer is this large; only what loading builds is.
#[cfg(target_env = "gnu")]
const OWN_MAPPING_BYTES: libc::c_int = 1 << 20;

/// From now on, a block of [`OWN_MAPPING_BYTES`] or more is mapped on its own and unmapped when
/// freed. glibc's default raises that threshold to the largest block freed so far, so the
/// vectors the loader grows and drops (about 8 MiB of BTF types) came back from the heap, and
/// their freed halves stayed in tracer's RSS for its whole run.
pub fn return_large_blocks() {
    // SAFETY: mallopt only changes the allocator's policy for later allocations.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_MAPPING_BYTES)
    };
}

/// Hands the free parts of the heap back to the system.
pub fn release_free() {
    // SAFETY: malloc_trim only releases memory that is free.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::malloc_trim(0)
    };
}
