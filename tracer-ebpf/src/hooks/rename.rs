//! Comm changes: `task_rename(struct task_struct *task, const char *comm)`, fired by
//! `__set_task_comm` for prctl(PR_SET_NAME), writes to `/proc/<tid>/comm` (pthread_setname_np on
//! another thread) and exec. The renamed task need not be the current one. A "rename" to the
//! name a task already has is not reported, and neither is the one an exec makes: the exec event
//! says what the name was (`in_execve` tells them apart).
use aya_ebpf::{
    EbpfContext,
    helpers::bpf_probe_read_kernel_str_bytes,
    macros::{btf_tracepoint, raw_tracepoint},
    programs::{BtfTracePointContext, RawTracePointContext},
};
use tracer_common::{COMM_LEN, EventKind, HookSource, RenameEvent};

use crate::{config, emit, filter, maps::EXEC_OLD_COMM, task};

#[btf_tracepoint(function = "task_rename")]
pub fn task_rename(ctx: BtfTracePointContext) -> i32 {
    floor_return!();
    on_rename::<_, true>(&ctx, HookSource::TpBtf)
}

#[raw_tracepoint(tracepoint = "task_rename")]
pub fn task_rename_raw(ctx: RawTracePointContext) -> i32 {
    floor_return!();
    on_rename::<_, false>(&ctx, HookSource::RawTracepoint)
}

/// `BTF`: the task argument is BTF-typed (the `tp_btf` program), so its fields are plain loads.
fn on_rename<C: EbpfContext, const BTF: bool>(ctx: &C, source: HookSource) -> i32 {
    if !config::emits(EventKind::Rename) && !config::emits(EventKind::Exec) {
        return 0;
    }
    let args = ctx.as_ptr() as *const u64;
    // SAFETY: both arguments exist in this tracepoint's context on every kernel.
    let (renamed, new_name) = unsafe { (*args as *const u8, *args.add(1) as *const u8) };
    let offsets = config::offsets();
    if task::in_execve::<BTF>(renamed, offsets) {
        // The exec event that follows carries the old name: one event per exec, not two. The
        // exec hook applies the filter, to the task after exec. Every exec comes here, so it
        // reads only the two fields it keeps.
        if config::emits(EventKind::Exec)
            && let Some(comm) = task::comm::<BTF>(renamed)
        {
            let tid: u32 = task::get::<_, BTF>(renamed, offsets.task_pid);
            let _ = EXEC_OLD_COMM.insert(tid, comm.0, 0);
        }
        return 0;
    }
    let Ok(who) = task::who(renamed, offsets) else { return 0 };
    let old_comm = who.comm.0;
    if !filter::selects(&who) {
        return 0;
    }
    if !config::emits(EventKind::Rename) {
        return 0;
    }
    let mut new_comm = [0u8; COMM_LEN];
    // SAFETY: the helper bounds the copy by the buffer and NUL-terminates it.
    if unsafe { bpf_probe_read_kernel_str_bytes(new_name, &mut new_comm) }.is_err() {
        return 0;
    }
    if new_comm == old_comm {
        return 0;
    }
    let ppid = task::parent_tgid::<false>(renamed, offsets).unwrap_or(0);
    let Some(mut entry) = emit::reserve::<RenameEvent>() else { return 0 };
    entry.write(RenameEvent {
        header: emit::header::<false>(EventKind::Rename, source, &who, ppid),
        old_comm,
        new_comm,
    });
    emit::submit(entry);
    0
}
