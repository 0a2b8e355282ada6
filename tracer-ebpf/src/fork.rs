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
    ForkEvent, event_kind, fork_flags, hook_source,
    namespace::{CLONE_NEWUSER, KINDS},
    namespace_how,
};

use crate::{
    config, emit, filter,
    maps::{CLONE_FLAGS, NAMESPACE_SERVED},
    namespace, place,
    task::{self, Who},
};

#[btf_tracepoint(function = "sched_process_fork")]
pub fn sched_process_fork(ctx: BtfTracePointContext) -> i32 {
    floor_return!();
    on_fork(&ctx, hook_source::TP_BTF)
}

#[raw_tracepoint(tracepoint = "sched_process_fork")]
pub fn sched_process_fork_raw(ctx: RawTracePointContext) -> i32 {
    floor_return!();
    on_fork(&ctx, hook_source::RAW_TRACEPOINT)
}

#[btf_tracepoint(function = "task_newtask")]
pub fn task_newtask(ctx: BtfTracePointContext) -> i32 {
    floor_return!();
    on_newtask(&ctx)
}

#[raw_tracepoint(tracepoint = "task_newtask")]
pub fn task_newtask_raw(ctx: RawTracePointContext) -> i32 {
    floor_return!();
    on_newtask(&ctx)
}

/// `task_newtask(struct task_struct *task, u64 clone_flags)`; current is the creator. The flags
/// are kept only for forks that will be reported: map updates are the costly part here.
fn on_newtask<C: EbpfContext>(ctx: &C) -> i32 {
    if !config::emits(event_kind::FORK) {
        return 0;
    }
    let Some(who) = task::current() else { return 0 };
    if !filter::selects(&who) {
        return 0;
    }
    let args = ctx.as_ptr() as *const u64;
    // SAFETY: both arguments exist in this tracepoint's context on every kernel.
    let (child, clone_flags) = unsafe { (*args as *const u8, *args.add(1)) };
    let offsets = config::offsets();
    if let Ok(child_tid) = task::read::<u32>(child, offsets.task_pid) {
        let _ = CLONE_FLAGS.insert(child_tid, clone_flags, 0);
    }
    0
}

/// `sched_process_fork(struct task_struct *parent, struct task_struct *child)`.
fn on_fork<C: EbpfContext>(ctx: &C, source: u32) -> i32 {
    let args = ctx.as_ptr() as *const u64;
    // SAFETY: both arguments exist in this tracepoint's context on every kernel.
    let (parent, child) = unsafe { (*args as *const u8, *args.add(1) as *const u8) };
    let offsets = config::offsets();
    let Some(who) = task::current() else { return 0 };
    if !filter::selects(&who) {
        return 0;
    }
    let (Ok(child_tgid), Ok(child_tid)) =
        (task::read::<u32>(child, offsets.task_tgid), task::read::<u32>(child, offsets.task_pid))
    else {
        error!(ctx, "fork: cannot read the child task's ids");
        return 0;
    };
    if filter::follows() {
        filter::follow(child_tgid);
    }
    let forks = config::emits(event_kind::FORK);
    let namespaces = config::emits(event_kind::NAMESPACE) && NAMESPACE_SERVED.get(0).is_some_and(|served| *served != 0);
    if !forks && !namespaces {
        return 0;
    }
    // `task_newtask` stored them under the same conditions, just before.
    let clone_flags = if forks { CLONE_FLAGS.get_ptr(child_tid).map(|flags| unsafe { *flags }) } else { None };
    if clone_flags.is_some() {
        let _ = CLONE_FLAGS.remove(child_tid);
    }
    let parent_place = place::of(parent, who.tgid, who.tid);
    let child_place = place::of(child, child_tgid, child_tid);
    // Namespaces are compared by inode only where the task structs point at different ones:
    // a plain fork shares its creator's nsproxy, and only CLONE_NEWUSER gives it another user
    // namespace (when the flags are unknown, the pointers tell).
    let new_user = clone_flags.is_none_or(|flags| flags & CLONE_NEWUSER != 0);
    let (mut old, mut new) = ([0u32; KINDS], [0u32; KINDS]);
    let compared = child_place.pidns != parent_place.pidns || place::namespace_pointers_differ(parent, child, new_user);
    if compared {
        old = place::namespaces(parent, parent_place.pidns);
        new = place::namespaces(child, child_place.pidns);
    }
    if forks {
        let ppid = task::parent_tgid(parent, &offsets).unwrap_or(0);
        let Some(mut entry) = emit::reserve::<ForkEvent>() else { return 0 };
        let event = entry.as_mut_ptr();
        // SAFETY: `event` points at the reserved record, written field by field.
        unsafe {
            (*event).header = emit::header_at(event_kind::FORK, source, &who, ppid, &parent_place);
            (*event).child_tgid = child_tgid;
            (*event).child_tid = child_tid;
            (*event).clone_flags = clone_flags.unwrap_or(0);
            (*event).flags = if clone_flags.is_some() { fork_flags::CLONE_FLAGS_KNOWN } else { 0 };
            (*event)._pad = 0;
            (*event).child_ns_tgid = child_place.ns_tgid;
            (*event).child_ns_tid = child_place.ns_tid;
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
