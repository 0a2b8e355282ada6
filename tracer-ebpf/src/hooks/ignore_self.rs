//! tracer learns its own global TGID: userspace runs this program once from its own process
//! (`BPF_PROG_TEST_RUN`, Linux 5.10+) before attaching any hook, and the filter then drops
//! tracer's own activity. Inside a PID namespace `getpid()` is a local ID that the hooks, which
//! see global ones, would never match. Never attached to anything.
use aya_ebpf::{helpers::bpf_get_current_pid_tgid, macros::raw_tracepoint, programs::RawTracePointContext};

use crate::maps::OWN_TGID;

/// Returns 0 once the calling process's TGID is stored, 1 if it could not be.
#[raw_tracepoint(tracepoint = "ignore_self")]
pub fn ignore_self(_ctx: RawTracePointContext) -> i32 {
    floor_return!();
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    match OWN_TGID.set(0, tgid, 0) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}
