//! Look-ups of names in the `/proc` root directory (`proc_root_lookup(struct inode *dir,
//! struct dentry *dentry, unsigned int flags)`), which find any task, thread or not.
//!
//! Three ways in, best first: fentry (5.5+, BTF, and a kernel that allows tracing programs),
//! kprobe (CONFIG_KPROBES), and, where neither attaches, the path arguments of syscalls at
//! syscall entry (x86-64 syscall numbers). The fallback sees absolute `/proc/<name>…` paths
//! only: not look-ups relative to a directory descriptor or working directory inside `/proc`,
//! and not paths reaching `/proc` through another mount or a symlink.
use aya_ebpf::{
    EbpfContext,
    helpers::{bpf_get_current_task, bpf_probe_read_kernel_str_bytes, bpf_probe_read_user_str_bytes},
    macros::{fentry, kprobe, raw_tracepoint},
    programs::{FEntryContext, ProbeContext, RawTracePointContext},
};
use tracer_common::{EventKind, HookSource, LOOKUP_NAME_LEN, LookupEvent};

use crate::{
    config, emit, filter,
    task::{self, Who},
};

#[fentry(function = "proc_root_lookup")]
pub fn proc_root_lookup(ctx: FEntryContext) -> i32 {
    floor_return!();
    let dentry: *const u8 = ctx.arg(1);
    on_dentry_lookup(dentry, HookSource::Fentry)
}

#[kprobe]
pub fn proc_root_lookup_kprobe(ctx: ProbeContext) -> u32 {
    floor_return!();
    if let Some(dentry) = ctx.arg::<*const u8>(1) {
        on_dentry_lookup(dentry, HookSource::Kprobe);
    }
    0
}

fn on_dentry_lookup(dentry: *const u8, source: HookSource) -> i32 {
    if !config::emits(EventKind::Lookup) {
        return 0;
    }
    let Some(who) = filter::selected_current::<false>() else { return 0 };
    let offsets = config::offsets();
    let Ok(name) = task::read::<*const u8>(dentry, offsets.dentry_name) else { return 0 };
    let mut buffer = [0u8; LOOKUP_NAME_LEN];
    // SAFETY: bounded by the buffer; fails instead of faulting.
    let Ok(name) = (unsafe { bpf_probe_read_kernel_str_bytes(name, &mut buffer) }) else {
        return 0;
    };
    let name_len = name.len();
    emit_lookup(source, &who, &buffer, name_len)
}

/// x86-64 syscalls whose path argument can name `/proc/<n>`, and which argument holds it.
#[inline(always)]
fn path_argument(syscall: i64) -> Option<bool> {
    // Some(false): first argument; Some(true): second argument.
    match syscall {
        2 /* open */ | 4 /* stat */ | 6 /* lstat */ | 21 /* access */ | 59 /* execve */
        | 80 /* chdir */ | 89 /* readlink */ => Some(false),
        257 /* openat */ | 262 /* newfstatat */ | 267 /* readlinkat */ | 269 /* faccessat */
        | 322 /* execveat */ | 332 /* statx */ | 437 /* openat2 */ | 439 /* faccessat2 */ => {
            Some(true)
        }
        _ => None,
    }
}

const PROC_PREFIX: &[u8; 6] = b"/proc/";

/// `sys_enter(struct pt_regs *regs, long id)`: every syscall, so it returns as early as it can.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn proc_path_syscalls(ctx: RawTracePointContext) -> i32 {
    floor_return!();
    let args = ctx.as_ptr() as *const u64;
    // SAFETY: sys_enter passes two arguments.
    let syscall = unsafe { *args.add(1) } as i64;
    let Some(second) = path_argument(syscall) else { return 0 };
    if !config::emits(EventKind::Lookup) {
        return 0;
    }
    // With task filters, a task they reject costs no path read. Without, nearly every path is
    // not under /proc: it is read first, and the task's identity only for those that are.
    let filtered = config::settings().filter_flags != 0;
    let early = if filtered {
        let Some(who) = filter::selected_current::<false>() else { return 0 };
        Some(who)
    } else {
        None
    };
    let offsets = config::offsets();
    let regs = unsafe { *args } as *const u8;
    let register = if second { offsets.regs_arg1 } else { offsets.regs_arg0 };
    let Ok(path) = task::read::<u64>(regs, register) else { return 0 };
    // Nearly every path is not under /proc: its first bytes alone tell, and reading the whole
    // name first cost more than the rest of the program.
    let mut head = [0u8; 8];
    // SAFETY: bounded by the buffer; fails instead of faulting.
    if unsafe { bpf_probe_read_user_str_bytes(path as *const u8, &mut head) }.is_err() {
        return 0;
    }
    if head[..PROC_PREFIX.len()] != PROC_PREFIX[..] {
        return 0;
    }
    let mut buffer = [0u8; LOOKUP_NAME_LEN];
    // SAFETY: as above.
    if unsafe { bpf_probe_read_user_str_bytes(path as *const u8, &mut buffer) }.is_err() {
        return 0;
    }
    // The looked-up name is the path component after "/proc/".
    let mut name = [0u8; LOOKUP_NAME_LEN];
    let mut name_len = 0;
    for i in PROC_PREFIX.len()..LOOKUP_NAME_LEN {
        let byte = buffer[i];
        if byte == 0 || byte == b'/' {
            break;
        }
        name[name_len] = byte;
        name_len += 1;
    }
    if name_len == 0 {
        return 0;
    }
    let who = match early {
        Some(who) => who,
        None => {
            let Some(who) = filter::selected_current::<false>() else { return 0 };
            who
        }
    };
    emit_lookup(HookSource::SyscallEntry, &who, &name, name_len)
}

#[inline(always)]
fn emit_lookup(source: HookSource, who: &Who, name: &[u8; LOOKUP_NAME_LEN], name_len: usize) -> i32 {
    let task = unsafe { bpf_get_current_task() } as *const u8;
    let ppid = task::parent_tgid::<false>(task, &config::offsets()).unwrap_or(0);
    let Some(mut entry) = emit::reserve::<LookupEvent>() else { return 0 };
    entry.write(LookupEvent {
        header: emit::header::<false>(EventKind::Lookup, source, who, ppid),
        name_len: name_len as u32,
        _pad: 0,
        name: *name,
    });
    emit::submit(entry);
    0
}
