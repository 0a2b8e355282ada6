//! Program replacement: `sched_process_exec(struct task_struct *p, pid_t old_pid,
//! struct linux_binprm *bprm)`, after the new program's memory (and its argv) is in place.
use aya_ebpf::{
    EbpfContext,
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_probe_read_kernel_str_bytes, bpf_probe_read_user_buf,
    },
    macros::{btf_tracepoint, raw_tracepoint},
    programs::{BtfTracePointContext, RawTracePointContext},
};
use tracer_common::{ARGV_LEN, ExecEvent, event_kind, exec_flags, hook_source};

use crate::{config, emit, filter, task};

#[btf_tracepoint(function = "sched_process_exec")]
pub fn sched_process_exec(ctx: BtfTracePointContext) -> i32 {
    on_exec(&ctx, hook_source::TP_BTF)
}

#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn sched_process_exec_raw(ctx: RawTracePointContext) -> i32 {
    on_exec(&ctx, hook_source::RAW_TRACEPOINT)
}

fn on_exec<C: EbpfContext>(ctx: &C, source: u32) -> i32 {
    if !config::emits(event_kind::EXEC) {
        return 0;
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    let (tgid, tid) = ((pid_tgid >> 32) as u32, pid_tgid as u32);
    let Ok(comm) = bpf_get_current_comm() else { return 0 };
    let args = ctx.as_ptr() as *const u64;
    // SAFETY: all three arguments exist in this tracepoint's context on every kernel.
    let (task, old_tid, bprm) = unsafe { (*args as *const u8, *args.add(1) as u32, *args.add(2) as *const u8) };
    if !filter::selects(task, tgid, tid, &comm) {
        return 0;
    }
    let offsets = config::offsets();
    let ppid = task::parent_tgid(task, &offsets).unwrap_or(0);
    let Some(mut entry) = emit::reserve::<ExecEvent>() else { return 0 };
    let event = entry.as_mut_ptr();
    // SAFETY: `event` points at the reserved record, written field by field below; the arrays
    // are filled by helpers bounded by their lengths.
    unsafe {
        (*event).header = emit::header(event_kind::EXEC, source, task, tgid, tid, ppid, comm);
        (*event).old_tid = old_tid;
        (*event).flags = 0;
        let filename: *const u8 = task::read(bprm, offsets.bprm_filename).unwrap_or(core::ptr::null());
        (*event).filename_len = match bpf_probe_read_kernel_str_bytes(filename, &mut (*event).filename) {
            Ok(name) => name.len() as u32,
            Err(_) => 0,
        };
        (*event).argv_len = 0;
        let mm: *const u8 = task::read(task, offsets.task_mm).unwrap_or(core::ptr::null());
        let arg_start: u64 = task::read(mm, offsets.mm_arg_start).unwrap_or(0);
        let arg_end: u64 = task::read(mm, offsets.mm_arg_end).unwrap_or(0);
        let mut len = arg_end.saturating_sub(arg_start) as usize;
        if len > ARGV_LEN {
            len = ARGV_LEN;
            (*event).flags = exec_flags::ARGV_TRUNCATED;
        }
        if len > 0 && bpf_probe_read_user_buf(arg_start as *const u8, &mut (&mut (*event).argv)[..len]).is_ok() {
            (*event).argv_len = len as u32;
        }
    }
    emit::submit(entry);
    0
}
