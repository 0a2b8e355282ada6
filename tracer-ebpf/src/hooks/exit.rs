//! Task exit: `sched_process_exit`, once per exiting task. Linux 6.16+ passes `group_dead` as a
//! second argument. Older kernels only pass the task: there, a task whose group's
//! `signal->live` is already zero (every task of the group is exiting) claims the group's death
//! in `GROUP_DEATHS`, and only the first claim wins, so each process is reported gone exactly
//! once. When the last tasks exit concurrently, the winner is the first of them to reach the
//! tracepoint, not necessarily the last to finish.
use aya_ebpf::bindings::BPF_NOEXIST;
use aya_ebpf::{
    EbpfContext,
    macros::{btf_tracepoint, raw_tracepoint},
    programs::{BtfTracePointContext, RawTracePointContext},
};
use tracer_common::{EventKind, ExitEvent, HookSource, KernelOffsets, exit_flags};

use crate::{ancestry, config, emit, filter, maps::GROUP_DEATHS, place, task};

/// For kernels whose tracepoint passes `(task, group_dead)`.
#[btf_tracepoint(function = "sched_process_exit")]
pub fn sched_process_exit(ctx: BtfTracePointContext) -> i32 {
    floor_return!();
    on_exit::<_, true>(&ctx, HookSource::TpBtf, true)
}

/// For kernels whose tracepoint passes only `(task)`.
#[btf_tracepoint(function = "sched_process_exit")]
pub fn sched_process_exit_task_only(ctx: BtfTracePointContext) -> i32 {
    floor_return!();
    on_exit::<_, true>(&ctx, HookSource::TpBtf, false)
}

#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn sched_process_exit_raw(ctx: RawTracePointContext) -> i32 {
    floor_return!();
    on_exit::<_, false>(&ctx, HookSource::RawTracepoint, config::settings().exit_has_group_dead != 0)
}

/// True for the first task of a dying group to ask.
fn claim_group_death(task: *const u8, offsets: &KernelOffsets, tgid: u32) -> bool {
    let leader: *const u8 = task::read(task, offsets.task_group_leader).unwrap_or(core::ptr::null());
    let Ok(started) = task::read::<u64>(leader, offsets.task_start_boottime) else { return true };
    // (TGID, start time) never repeats, so entries of long-gone processes cannot collide.
    GROUP_DEATHS.insert([u64::from(tgid), started], 1u8, BPF_NOEXIST as u64).is_ok()
}

fn on_exit<C: EbpfContext, const BTF: bool>(ctx: &C, source: HookSource, has_group_dead: bool) -> i32 {
    let Some(who) = filter::selected_current::<BTF>() else { return 0 };
    let args = ctx.as_ptr() as *const u64;
    let offsets = config::offsets();
    let tgid = who.tgid;
    // SAFETY: the task is the first argument; the second is only read where it exists.
    let task = unsafe { *args } as *const u8;
    // Read before any branch, where the verifier checks each plain load once (see `fork`).
    let exit_code: u32 = task::get::<_, BTF>(task, offsets.task_exit_code);
    // On the header's clock, so that its timestamp serves as the time of death: one clock read.
    let started: u64 = task::get::<_, BTF>(task, offsets.task_start_boottime);
    let ppid = task::parent_tgid::<BTF>(task, offsets).unwrap_or(0);
    let cgroup_id = place::current_cgroup_id();
    let place = place::of::<BTF>(who.task, who.tgid, who.tid);
    let start_ns = task::process_start::<BTF>(who.task, offsets);
    let group_dead = if has_group_dead {
        (unsafe { *args.add(1) } & 1) != 0
    } else {
        let signal: *const u8 = task::read(task, offsets.task_signal).unwrap_or(core::ptr::null());
        task::read::<i32>(signal, offsets.signal_live).is_ok_and(|live| live == 0)
            && claim_group_death(task, offsets, tgid)
    };
    if group_dead && filter::follows() {
        filter::forget(tgid);
    }
    if !config::emits(EventKind::Exit) {
        return 0;
    }
    let Some(mut entry) = emit::reserve::<ExitEvent>() else { return 0 };
    let event = entry.as_mut_ptr();
    // SAFETY: `event` points at the reserved record, written field by field: the whole record
    // would not fit the stack.
    unsafe {
        (*event).header = emit::header_at(EventKind::Exit, source, &who, ppid, &place, cgroup_id, start_ns);
        (*event).exit_code = exit_code;
        (*event).flags = if group_dead { exit_flags::GROUP_DEAD } else { 0 };
        (*event).lifetime_ns = (*event).header.timestamp_ns.saturating_sub(started);
        ancestry::write::<BTF>(who.task, offsets, &raw mut (*event).ancestors);
    }
    emit::submit(entry);
    0
}
