//! `tracer run`'s command marks itself followed. Userspace runs this program from the command's
//! process between fork and exec (`BPF_PROG_TEST_RUN`, Linux 5.10+), so the kernel files the
//! process under its global TGID: tracer, inside a PID namespace, only knows a local one.
//! Never attached to anything.
use aya_ebpf::{helpers::bpf_get_current_pid_tgid, macros::raw_tracepoint, programs::RawTracePointContext};

use crate::maps::FOLLOWED;

/// Returns 0 once the calling process is followed, 1 when the map is full.
#[raw_tracepoint(tracepoint = "follow_self")]
pub fn follow_self(_ctx: RawTracePointContext) -> i32 {
    floor_return!();
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    match FOLLOWED.insert(tgid, 1u8, 0) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}
