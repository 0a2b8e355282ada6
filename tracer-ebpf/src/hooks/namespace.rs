//! Namespace changes of a task: `setns(2)` and `unshare(2)` (a `clone` into other namespaces is
//! reported by the fork hook). Two ways in:
//!
//! - Kernel functions (fentry, else kprobe; 5.11+ for `bpf_task_pt_regs`):
//!   `switch_task_namespaces(task, new)` swaps every kind kept in `struct nsproxy`, and
//!   `commit_creds(new)` the user namespace. `unshare` switches the nsproxy first and the
//!   credentials second, `setns` the other way round; the first hook keeps its half in
//!   `NS_PENDING` and the second reports both, so each syscall is one event as on the syscall
//!   path. The syscall number in the task's saved registers tells setns from unshare; other
//!   callers (exec entering a time namespace, exit) are not reported.
//! - The syscall path (raw tracepoints `sys_enter` and `sys_exit`, x86-64 syscall numbers): a
//!   snapshot of the task's namespace inodes at the entry of `setns`/`unshare`, compared with
//!   the namespaces at its successful exit.
use aya_ebpf::{
    EbpfContext,
    helpers::{bpf_get_current_pid_tgid, bpf_get_current_task_btf, bpf_task_pt_regs},
    macros::{fentry, kprobe, raw_tracepoint},
    programs::{FEntryContext, ProbeContext, RawTracePointContext},
};
use tracer_common::{
    EventKind, HookSource, NamespaceEvent,
    namespace::{CLONE_NEWUSER, KINDS, SYS_SETNS, SYS_UNSHARE, kind},
    namespace_how,
};

use crate::{
    config, emit, filter,
    maps::{NS_BEFORE, NS_PENDING, Pending},
    place,
    task::{self, Who, read, read_or_zero},
};

/// The current task when it is selected and namespace events are wanted.
#[inline(always)]
fn selected_current() -> Option<Who> {
    if !config::emits(EventKind::Namespace) {
        return None;
    }
    filter::selected_current::<false>()
}

/// Reports that `who`'s namespaces went from `old` to `new` (inodes by kind).
#[inline(always)]
pub fn report(source: HookSource, how: u32, who: &Who, old: &[u32; KINDS], new: &[u32; KINDS]) {
    let ppid = task::parent_tgid::<false>(who.task, &config::offsets()).unwrap_or(0);
    let Some(mut entry) = emit::reserve::<NamespaceEvent>() else { return };
    let event = entry.as_mut_ptr();
    // SAFETY: `event` points at the reserved record, written field by field.
    unsafe {
        (*event).header = emit::header::<false>(EventKind::Namespace, source, who, ppid);
        (*event).how = how;
        (*event)._pad = 0;
        (*event).old = *old;
        (*event).new = *new;
    }
    emit::submit(entry);
}

/// The syscall the current task is in, and its first argument, from its saved user registers.
#[inline(always)]
fn current_syscall() -> Option<(u32, u64)> {
    // SAFETY: helpers on the current task, whose saved registers stay in place while it runs.
    let regs = unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) } as *const u8;
    let number: u64 = read(regs, config::ns_offsets().regs_syscall_nr).ok()?;
    let how = match number {
        SYS_SETNS => namespace_how::SETNS,
        SYS_UNSHARE => namespace_how::UNSHARE,
        _ => return None,
    };
    Some((how, read_or_zero(regs, config::offsets().regs_arg0)))
}

/// Takes the pending half of this task's change, if any.
#[inline(always)]
fn take_pending(tid: u32) -> Option<Pending> {
    // SAFETY: a value of the map, copied at once.
    let pending = NS_PENDING.get_ptr(tid).map(|pending| unsafe { *pending })?;
    let _ = NS_PENDING.remove(tid);
    Some(pending)
}

/// `switch_task_namespaces(struct task_struct *task, struct nsproxy *new)`.
#[inline(always)]
fn on_switch(new_nsproxy: *const u8, source: HookSource) {
    if new_nsproxy.is_null() {
        return;
    }
    let Some((how, flags)) = current_syscall() else { return };
    let Some(who) = selected_current() else { return };
    let pidns = place::of::<false>(who.task, who.tgid, who.tid).pidns;
    let mut old = place::namespaces::<false>(who.task, pidns);
    let mut new = old;
    place::nsproxy_inodes::<false>(new_nsproxy, &mut new);
    if how == namespace_how::UNSHARE && flags & CLONE_NEWUSER != 0 {
        // commit_creds follows with the user namespace and reports both.
        let _ = NS_PENDING.insert(who.tid, Pending { old, new }, 0);
        return;
    }
    if let Some(user) = take_pending(who.tid) {
        old[kind::USER] = user.old[kind::USER];
        new[kind::USER] = user.new[kind::USER];
    }
    if place::any_differs(&old, &new) {
        report(source, how, &who, &old, &new);
    }
}

/// `commit_creds(struct cred *new)`.
#[inline(always)]
fn on_commit_creds(new_cred: *const u8, source: HookSource) {
    let Some((how, _)) = current_syscall() else { return };
    let Some(who) = selected_current() else { return };
    let offsets = config::ns_offsets();
    let cred: *const u8 = read_or_zero(who.task, offsets.task_cred);
    let (old_user, new_user) = (place::user_inode::<false>(cred), place::user_inode::<false>(new_cred));
    if how == namespace_how::SETNS {
        // switch_task_namespaces follows and reports both.
        let mut pending = Pending { old: [0; KINDS], new: [0; KINDS] };
        pending.old[kind::USER] = old_user;
        pending.new[kind::USER] = new_user;
        let _ = NS_PENDING.insert(who.tid, pending, 0);
        return;
    }
    let mut pending = match take_pending(who.tid) {
        Some(pending) => pending,
        None => {
            let now = place::namespaces::<false>(who.task, place::of::<false>(who.task, who.tgid, who.tid).pidns);
            Pending { old: now, new: now }
        }
    };
    pending.old[kind::USER] = old_user;
    pending.new[kind::USER] = new_user;
    if place::any_differs(&pending.old, &pending.new) {
        report(source, how, &who, &pending.old, &pending.new);
    }
}

#[fentry(function = "switch_task_namespaces")]
pub fn switch_task_namespaces(ctx: FEntryContext) -> i32 {
    floor_return!();
    on_switch(ctx.arg(1), HookSource::Fentry);
    0
}

#[fentry(function = "commit_creds")]
pub fn commit_creds(ctx: FEntryContext) -> i32 {
    floor_return!();
    on_commit_creds(ctx.arg(0), HookSource::Fentry);
    0
}

#[kprobe]
pub fn switch_task_namespaces_kprobe(ctx: ProbeContext) -> u32 {
    floor_return!();
    if let Some(new) = ctx.arg::<*const u8>(1) {
        on_switch(new, HookSource::Kprobe);
    }
    0
}

#[kprobe]
pub fn commit_creds_kprobe(ctx: ProbeContext) -> u32 {
    floor_return!();
    if let Some(new) = ctx.arg::<*const u8>(0) {
        on_commit_creds(new, HookSource::Kprobe);
    }
    0
}

/// `sys_enter(struct pt_regs *regs, long id)`: every syscall, so it returns as early as it can.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn namespace_syscalls_enter(ctx: RawTracePointContext) -> i32 {
    floor_return!();
    let args = ctx.as_ptr() as *const u64;
    // SAFETY: sys_enter passes two arguments.
    let syscall = unsafe { *args.add(1) };
    if syscall != SYS_SETNS && syscall != SYS_UNSHARE {
        return 0;
    }
    let Some(who) = selected_current() else { return 0 };
    let before = place::namespaces::<false>(who.task, place::of::<false>(who.task, who.tgid, who.tid).pidns);
    let _ = NS_BEFORE.insert(who.tid, before, 0);
    0
}

/// `sys_exit(struct pt_regs *regs, long ret)`: every syscall too.
#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn namespace_syscalls_exit(ctx: RawTracePointContext) -> i32 {
    floor_return!();
    let args = ctx.as_ptr() as *const u64;
    // SAFETY: sys_exit passes two arguments.
    let (regs, ret) = unsafe { (*args as *const u8, *args.add(1) as i64) };
    let Ok(syscall) = read::<u64>(regs, config::ns_offsets().regs_syscall_nr) else { return 0 };
    let how = match syscall {
        SYS_SETNS => namespace_how::SETNS,
        SYS_UNSHARE => namespace_how::UNSHARE,
        _ => return 0,
    };
    let tid = bpf_get_current_pid_tgid() as u32;
    // SAFETY: a value of the map, copied at once.
    let Some(before) = NS_BEFORE.get_ptr(tid).map(|before| unsafe { *before }) else { return 0 };
    let _ = NS_BEFORE.remove(tid);
    if ret != 0 {
        return 0;
    }
    let Some(who) = task::current() else { return 0 };
    let after = place::namespaces::<false>(who.task, place::of::<false>(who.task, who.tgid, who.tid).pidns);
    if place::any_differs(&before, &after) {
        report(HookSource::SyscallExit, how, &who, &before, &after);
    }
    0
}
