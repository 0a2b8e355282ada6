//! tracer's kernel programs: task lifecycle hooks (fork, exec, exit, rename), `/proc` root
//! lookups and namespace changes, each filtering in the kernel and writing records into one BPF
//! ring buffer. Every record says where its task lives (PID namespace, cgroup).
//!
//! The programs are in `hooks/`, one file per event area; the rest is what they share (the task
//! fields they read, where a task lives, the filters, the maps, the ring buffer). Every lifecycle
//! hook has a `tp_btf` entry point (BTF-enabled kernels, 5.11+ for `bpf_get_current_task_btf`)
//! and a raw tracepoint one (4.17+); the lookup and namespace hooks have fentry (5.5+), kprobe,
//! and a syscall fallback. Userspace decides which to load (the probe plan in
//! `tracer/src/probes/`); program names are `tracer_common::program`'s.
#![no_std]
#![no_main]

/// First statement of every entry point. With the bench-only `floor` feature the program returns
/// at once: the hooks stay attached but do nothing, which is the floor `cargo xtask bench`
/// compares tracer against. Without the feature it expands to nothing that survives compilation.
macro_rules! floor_return {
    () => {
        if cfg!(feature = "floor") {
            return 0;
        }
    };
}

mod ancestry;
mod cgroup_filter;
mod config;
mod emit;
mod filter;
mod hooks;
mod maps;
mod place;
mod task;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any reachable panic path, so this is never called.
    loop {}
}
