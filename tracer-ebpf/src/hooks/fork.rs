//! Task creation: `sched_process_fork` emits the fork record; `task_newtask`, which runs just
//! before it in `copy_process`, supplies the clone flags the fork tracepoint does not carry.
//! Both exist since Linux 3.x; the `tp_btf` variants need BTF (5.5+).
use aya_ebpf::{
    EbpfContext,
    macros::{btf_tracepoint, raw_tracepoint},
    programs::{BtfTracePointContext, RawTracePointContext},
};
use aya_log_ebpf::error;
use tracer_common::{
    EventKind, ForkEvent, HookSource, fork_flags,
    namespace::{CLONE_NEWUSER, KINDS},
    namespace_how,
};

use crate::{
    config, emit, filter,
    hooks::namespace,
    maps::{CLONE_FLAGS, CLONE_SLOTS, NAMESPACE_SERVED},
    place,
    task::{self, Who},
};

#[btf_tracepoint(function = "sched_process_fork")]
pub fn sched_process_fork(ctx: BtfTracePointContext) -> i32 {
    floor_return!();
    on_fork::<_, true>(&ctx, HookSource::TpBtf)
}

#[raw_tracepoint(tracepoint = "sched_process_fork")]
pub fn sched_process_fork_raw(ctx: RawTracePointContext) -> i32 {
    floor_return!();
    on_fork::<_, false>(&ctx, HookSource::RawTracepoint)
}

#[btf_tracepoint(function = "task_newtask")]
pub fn task_newtask(ctx: BtfTracePointContext) -> i32 {
    floor_return!();
    on_newtask::<_, true>(&ctx)
}

#[raw_tracepoint(tracepoint = "task_newtask")]
pub fn task_newtask_raw(ctx: RawTracePointContext) -> i32 {
    floor_return!();
    on_newtask::<_, false>(&ctx)
}

/// `task_newtask(struct task_struct *task, u64 clone_flags)`; current is the creator. The flags
/// are kept only for forks that will be reported: map updates are the costly part here. `BTF`:
/// the arguments are BTF-typed (see [`task`]).
fn on_newtask<C: EbpfContext, const BTF: bool>(ctx: &C) -> i32 {
    if !config::emits(EventKind::Fork) {
        return 0;
    }
    let Some(who) = filter::selected_current::<BTF>() else { return 0 };
    let args = ctx.as_ptr() as *const u64;
    // SAFETY: both arguments exist in this tracepoint's context on every kernel.
    let (child, clone_flags) = unsafe { (*args as *const u8, *args.add(1)) };
    let offsets = config::offsets();
    let (Ok(child_tid), Some(slot)) =
        (task::try_get::<u32, BTF>(child, offsets.task_pid), CLONE_FLAGS.get_ptr_mut(who.tid & (CLONE_SLOTS - 1)))
    else {
        return 0;
    };
    // The tag first, then the flags: a reader that sees its tag before and after reading the
    // flags has read this clone's flags (stores and loads keep their order on x86-64).
    // SAFETY: `slot` points into the array; volatile keeps the order of the two stores.
    unsafe {
        core::ptr::write_volatile(&raw mut (*slot).child_tid, child_tid);
        core::ptr::write_volatile(&raw mut (*slot).flags, clone_flags);
    }
    0
}

/// The flags `task_newtask` stored for `child_tid`, created by `creator_tid`; the slot is freed.
#[inline(always)]
fn take_clone_flags(creator_tid: u32, child_tid: u32) -> Option<u64> {
    let slot = CLONE_FLAGS.get_ptr_mut(creator_tid & (CLONE_SLOTS - 1))?;
    // SAFETY: `slot` points into the array; volatile keeps the order of the reads.
    unsafe {
        let before = core::ptr::read_volatile(&raw const (*slot).child_tid);
        let flags = core::ptr::read_volatile(&raw const (*slot).flags);
        let after = core::ptr::read_volatile(&raw const (*slot).child_tid);
        if before != child_tid || after != child_tid {
            return None;
        }
        core::ptr::write_volatile(&raw mut (*slot).child_tid, 0);
        Some(flags)
    }
}

/// `sched_process_fork(struct task_struct *parent, struct task_struct *child)`.
fn on_fork<C: EbpfContext, const BTF: bool>(ctx: &C, source: HookSource) -> i32 {
    let args = ctx.as_ptr() as *const u64;
    // SAFETY: both arguments exist in this tracepoint's context on every kernel.
    let (parent, child) = unsafe { (*args as *const u8, *args.add(1) as *const u8) };
    let Some(who) = filter::selected_current::<BTF>() else { return 0 };
    let offsets = config::offsets();
    let (Ok(child_tgid), Ok(child_tid)) =
        (task::try_get::<u32, BTF>(child, offsets.task_tgid), task::try_get::<u32, BTF>(child, offsets.task_pid))
    else {
        error!(ctx, "fork: cannot read the child task's ids");
        return 0;
    };
    // The reads the record needs come before any branch: the verifier checks a plain load
    // against BTF again on every path that reaches it, which after the branches below made
    // this program take ten times as long to load.
    let ppid = task::parent_tgid::<BTF>(parent, offsets).unwrap_or(0);
    // copy_process has set it by now (-1 for a thread, the creator's leader's with CLONE_PARENT):
    // the flags `task_newtask` sees no longer carry it since Linux 5.3.
    // A written pair, not a `Result`, for the reason given at the clone flags below.
    let (signal_known, exit_signal) = match task::try_get::<i32, BTF>(child, offsets.task_exit_signal) {
        Ok(signal) => (true, signal),
        Err(_) => (false, 0),
    };
    let start_ns = task::process_start::<BTF>(who.task, offsets);
    let child_start_ns = task::process_start::<BTF>(child, offsets);
    let cgroup_id = place::cgroup_id::<BTF>(who.task);
    let parent_place = place::of::<BTF>(parent, who.tgid, who.tid);
    let child_place = place::of::<BTF>(child, child_tgid, child_tid);
    if filter::follows() {
        filter::follow(child_tgid);
    }
    let forks = config::emits(EventKind::Fork);
    let namespaces = config::emits(EventKind::Namespace) && NAMESPACE_SERVED.get(0).is_some_and(|served| *served != 0);
    if !forks && !namespaces {
        return 0;
    }
    // `task_newtask` stored them under the same conditions, just before. Unknown flags are a
    // written zero, not an `Option`: LLVM reads a `None`'s payload anyway and discards it, and
    // Linux 5.10's verifier refuses any read of a stack slot some path left unwritten ("invalid
    // read from stack"), which refused this program whenever namespace events were on.
    let (flags_known, clone_flags) = match if forks { take_clone_flags(who.tid, child_tid) } else { None } {
        Some(flags) => (true, flags),
        None => (false, 0),
    };
    // Namespaces are compared by inode only where the task structs point at different ones:
    // a plain fork shares its creator's nsproxy, and only CLONE_NEWUSER gives it another user
    // namespace (when the flags are unknown, the pointers tell).
    let new_user = !flags_known || clone_flags & CLONE_NEWUSER != 0;
    let (mut old, mut new) = ([0u32; KINDS], [0u32; KINDS]);
    let compared =
        child_place.pidns != parent_place.pidns || place::namespace_pointers_differ::<false>(parent, child, new_user);
    if compared {
        old = place::namespaces::<false>(parent, parent_place.pidns);
        new = place::namespaces::<false>(child, child_place.pidns);
    }
    if forks {
        let Some(mut entry) = emit::reserve::<ForkEvent>() else { return 0 };
        let event = entry.as_mut_ptr();
        // SAFETY: `event` points at the reserved record, written field by field.
        unsafe {
            (*event).header = emit::header_at(EventKind::Fork, source, &who, ppid, &parent_place, cgroup_id, start_ns);
            (*event).child_tgid = child_tgid;
            (*event).child_tid = child_tid;
            (*event).clone_flags = clone_flags;
            (*event).flags = if flags_known { fork_flags::CLONE_FLAGS_KNOWN } else { 0 }
                | if signal_known { fork_flags::EXIT_SIGNAL_KNOWN } else { 0 };
            (*event).exit_signal = exit_signal as u32;
            (*event).child_ns_tgid = child_place.ns_tgid;
            (*event).child_ns_tid = child_place.ns_tid;
            (*event).ns_compared = u32::from(compared);
            (*event)._pad2 = 0;
            (*event).parent_ns = old;
            (*event).child_ns = new;
            (*event).child_start_ns = child_start_ns;
        }
        emit::submit(entry);
    }
    // The child's own event, after the one that says it was created. It has its creator's
    // comm and credentials until it execs or changes them.
    if namespaces && compared && place::any_differs(&old, &new) {
        let child = Who { task: child, tgid: child_tgid, tid: child_tid, uid: who.uid, comm: who.comm };
        namespace::report(source, namespace_how::CLONE, &child, &old, &new);
    }
    0
}
