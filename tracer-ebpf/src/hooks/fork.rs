//! Task creation, from `task_newtask`: the last step of `copy_process`, when the new task has
//! its IDs, start time, parent, exit signal, namespaces and cgroup, and before it can run, so its
//! fork record always comes before its own events. It also carries the clone flags, which
//! `sched_process_fork` (just after it, in `kernel_clone`) does not: one program serves a fork.
//! The tracepoint exists since Linux 3.x; the `tp_btf` variant needs BTF (5.5+).
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
    ancestry, config, emit, filter,
    hooks::namespace,
    maps::NAMESPACE_SERVED,
    place,
    task::{self, Who},
};

#[btf_tracepoint(function = "task_newtask")]
pub fn task_newtask(ctx: BtfTracePointContext) -> i32 {
    floor_return!();
    on_newtask::<_, true>(&ctx, HookSource::TpBtf)
}

#[raw_tracepoint(tracepoint = "task_newtask")]
pub fn task_newtask_raw(ctx: RawTracePointContext) -> i32 {
    floor_return!();
    on_newtask::<_, false>(&ctx, HookSource::RawTracepoint)
}

/// `task_newtask(struct task_struct *task, u64 clone_flags)`; current is the creator. `BTF`: the
/// arguments are BTF-typed (see [`task`]).
fn on_newtask<C: EbpfContext, const BTF: bool>(ctx: &C, source: HookSource) -> i32 {
    let args = ctx.as_ptr() as *const u64;
    // SAFETY: both arguments exist in this tracepoint's context on every kernel.
    let (child, clone_flags) = unsafe { (*args as *const u8, *args.add(1)) };
    let Some(who) = filter::selected_current::<BTF>() else { return 0 };
    let parent = who.task;
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
    // the clone flags no longer carry it since Linux 5.3. A written pair, not a `Result`: LLVM
    // reads an `Err`'s payload slot anyway, and Linux 5.10's verifier refuses any read of a stack
    // slot some path left unwritten ("invalid read from stack").
    let (signal_known, exit_signal) = match task::try_get::<i32, BTF>(child, offsets.task_exit_signal) {
        Ok(signal) => (true, signal),
        Err(_) => (false, 0),
    };
    let start_ns = task::process_start::<BTF>(who.task, offsets);
    let child_start_ns = task::process_start::<BTF>(child, offsets);
    let cgroup_id = place::current_cgroup_id();
    let parent_place = place::of::<BTF>(parent, who.tgid, who.tid);
    let child_place = place::of::<BTF>(child, child_tgid, child_tid);
    if filter::follows() {
        filter::follow(child_tgid);
    }
    // The record is reserved and the ancestors walked before the namespaces are compared: the
    // comparison's outcome decides a branch further on, so the verifier would otherwise check
    // the walk once for each way it could come out.
    let mut fork = if config::emits(EventKind::Fork) { emit::reserve::<ForkEvent>() } else { None };
    if let Some(entry) = fork.as_mut() {
        let event = entry.as_mut_ptr();
        // SAFETY: `event` points at the reserved record, written field by field.
        unsafe {
            (*event).header = emit::header_at(EventKind::Fork, source, &who, ppid, &parent_place, cgroup_id, start_ns);
            (*event).child_tgid = child_tgid;
            (*event).child_tid = child_tid;
            (*event).clone_flags = clone_flags;
            (*event).flags =
                fork_flags::CLONE_FLAGS_KNOWN | if signal_known { fork_flags::EXIT_SIGNAL_KNOWN } else { 0 };
            (*event).exit_signal = exit_signal as u32;
            (*event).child_ns_tgid = child_place.ns_tgid;
            (*event).child_ns_tid = child_place.ns_tid;
            (*event).child_start_ns = child_start_ns;
            ancestry::write::<BTF>(who.task, offsets, &raw mut (*event).ancestors);
        }
    }
    let namespaces = config::emits(EventKind::Namespace) && NAMESPACE_SERVED.get(0).is_some_and(|served| *served != 0);
    if fork.is_none() && !namespaces {
        return 0;
    }
    // Namespaces are compared by inode only where the task structs point at different ones:
    // a plain fork shares its creator's nsproxy, and only CLONE_NEWUSER gives it another user
    // namespace.
    let new_user = clone_flags & CLONE_NEWUSER != 0;
    let (mut old, mut new) = ([0u32; KINDS], [0u32; KINDS]);
    let compared =
        child_place.pidns != parent_place.pidns || place::namespace_pointers_differ::<false>(parent, child, new_user);
    if compared {
        old = place::namespaces::<false>(parent, parent_place.pidns);
        new = place::namespaces::<false>(child, child_place.pidns);
    }
    if let Some(mut entry) = fork {
        let event = entry.as_mut_ptr();
        // SAFETY: as above.
        unsafe {
            (*event).ns_compared = u32::from(compared);
            (*event)._pad2 = 0;
            (*event).parent_ns = old;
            (*event).child_ns = new;
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
