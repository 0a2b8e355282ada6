//! tracer's kernel programs: task lifecycle hooks (fork, exec, exit, rename), `/proc` root
//! lookups and namespace changes, each filtering in the kernel and writing records into one BPF
//! ring buffer. Every record says where its task lives (PID namespace, cgroup).
//!
//! Every hook has a `tp_btf` entry point (BTF-enabled kernels, 5.5+) and a raw tracepoint one
//! (4.17+); the lookup and namespace hooks have fentry (5.5+), kprobe, and a syscall fallback. Userspace
//! decides which to load (see the probe plan in `tracer/src/probes.rs`).
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

mod cgroup_filter;
mod config;
mod emit;
mod exec;
mod exit;
mod filter;
mod follow_self;
mod fork;
mod ignore_self;
mod lookup;
mod maps;
mod namespace;
mod place;
mod rename;
mod task;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any reachable panic path, so this is never called.
    loop {}
}
