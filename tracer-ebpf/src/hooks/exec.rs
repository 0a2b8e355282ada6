//! Program replacement: `sched_process_exec(struct task_struct *p, pid_t old_pid,
//! struct linux_binprm *bprm)`, after the new program's memory (argv, environment) and
//! credentials are in place.
//!
//! The record has a fixed part and variable data (file name, arguments, environment, working
//! directory), assembled in a per-CPU scratch buffer and copied into the ring buffer at its
//! actual length: a short command line costs a short record.
use core::ffi::c_void;

use aya_ebpf::{
    EbpfContext,
    helpers::{
        bpf_get_smp_processor_id,
        generated::{bpf_loop, bpf_probe_read_kernel, bpf_probe_read_kernel_str, bpf_probe_read_user},
    },
    macros::{btf_tracepoint, raw_tracepoint},
    programs::{BtfTracePointContext, RawTracePointContext},
};
use tracer_common::{
    ARG_BYTES_MAX, CWD_DEPTH, CWD_LEN, EventKind, ExecEvent, FILENAME_LEN, HookSource, NAME_LEN, exec_flags,
};

use crate::{
    ancestry, config, emit, filter,
    maps::{EXEC_OLD_COMM, EXEC_SCRATCH, ExecScratch},
    place, task,
};

/// Walks the working directory with `bpf_loop` (Linux 5.17+), which the verifier checks once
/// rather than once per level: the program loads in a tenth of the time. On older kernels it
/// does not load, and the raw tracepoint program below serves exec.
#[btf_tracepoint(function = "sched_process_exec")]
pub fn sched_process_exec(ctx: BtfTracePointContext) -> i32 {
    floor_return!();
    on_exec::<_, true, true>(&ctx, HookSource::TpBtf)
}

/// Walks the working directory in an unrolled loop, which any kernel with raw tracepoints loads.
#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn sched_process_exec_raw(ctx: RawTracePointContext) -> i32 {
    floor_return!();
    on_exec::<_, false, false>(&ctx, HookSource::RawTracepoint)
}

/// `BTF`: the arguments are BTF-typed (see [`task`]).
fn on_exec<C: EbpfContext, const LOOP_HELPER: bool, const BTF: bool>(ctx: &C, source: HookSource) -> i32 {
    if !config::emits(EventKind::Exec) {
        return 0;
    }
    let Some(who) = filter::selected_current::<BTF>() else { return 0 };
    let args = ctx.as_ptr() as *const u64;
    // SAFETY: all three arguments exist in this tracepoint's context on every kernel.
    let (task, old_tid, bprm) = unsafe { (*args as *const u8, *args.add(1) as u32, *args.add(2) as *const u8) };
    let offsets = config::offsets();
    let settings = config::settings();
    // SAFETY: plain helper call.
    let cpu = unsafe { bpf_get_smp_processor_id() };
    let Some(scratch) = EXEC_SCRATCH.get_ptr_mut(cpu) else { return 0 };
    let ppid = task::parent_tgid::<BTF>(task, offsets).unwrap_or(0);
    // SAFETY: the scratch entry is this CPU's, and these hooks do not nest on one CPU. Every
    // write below is bounded: offsets and lengths are clamped so that the verifier can prove
    // each copy stays inside `data`.
    unsafe {
        let event = &raw mut (*scratch).event;
        let data = (&raw mut (*scratch).data).cast::<u8>();
        // The task is the current one (see `place::current_cgroup_id`).
        (*event).header = emit::header_at(
            EventKind::Exec,
            source,
            &who,
            ppid,
            &place::of::<BTF>(who.task, who.tgid, who.tid),
            place::current_cgroup_id(),
            task::process_start::<BTF>(who.task, offsets),
        );
        (*event).old_tid = old_tid;
        let mut flags = 0;

        // Plain loads where the pointers are BTF-typed, before any branch (see `fork`).
        let cred: *const u8 = task::get::<_, BTF>(task, offsets.task_cred);
        let filename: *const u8 = task::get::<_, BTF>(bprm, offsets.bprm_filename);
        let mm: *const u8 = task::get::<_, BTF>(task, offsets.task_mm);
        (*event)._pad = 0;
        (*event).euid = task::try_get::<_, BTF>(cred, offsets.cred_euid).unwrap_or(u32::MAX);
        (*event).gid = task::try_get::<_, BTF>(cred, offsets.cred_gid).unwrap_or(u32::MAX);
        (*event).egid = task::try_get::<_, BTF>(cred, offsets.cred_egid).unwrap_or(u32::MAX);
        (*event).old_comm = match EXEC_OLD_COMM.get(&who.tid) {
            Some(old) => {
                flags |= exec_flags::OLD_COMM_KNOWN;
                let old = *old;
                let _ = EXEC_OLD_COMM.remove(&who.tid);
                old
            }
            None => [0; 16],
        };

        // The walks' loops come first, while no length is known yet: the verifier then walks
        // them once, not once per combination of the lengths found before them.
        ancestry::write::<BTF>(who.task, offsets, &raw mut (*event).ancestors);
        let (cwd_len, cwd_flags) = working_directory::<LOOP_HELPER>(task, offsets, scratch, data);
        (*event).cwd_len = cwd_len as u32;
        flags |= cwd_flags;
        let mut at = cwd_len & (CWD_LEN - 1);

        let read = bpf_probe_read_kernel_str(data.add(at).cast(), FILENAME_LEN as u32, filename.cast());
        let filename_len = if read > 0 { (read as usize - 1) & (FILENAME_LEN - 1) } else { 0 };
        (*event).filename_len = filename_len as u32;
        at += filename_len;

        let (argv_len, argv_total) =
            copy_user_range(mm, offsets.mm_arg_start, offsets.mm_arg_end, settings.arg_bytes, data.add(at));
        (*event).argv_len = argv_len as u32;
        (*event).argv_total = argv_total as u32;
        if argv_total > argv_len {
            flags |= exec_flags::ARGV_TRUNCATED;
        }
        at += argv_len;

        (*event).env_len = 0;
        (*event).env_total = 0;
        if settings.env_bytes > 0 {
            flags |= exec_flags::ENV_READ;
            let (env_len, env_total) =
                copy_user_range(mm, offsets.mm_env_start, offsets.mm_env_end, settings.env_bytes, data.add(at));
            (*event).env_len = env_len as u32;
            (*event).env_total = env_total as u32;
            if env_total > env_len {
                flags |= exec_flags::ENV_TRUNCATED;
            }
            at += env_len;
        }
        (*event).flags = flags;

        let len = size_of::<ExecEvent>() + at;
        let record = core::slice::from_raw_parts(scratch.cast::<u8>(), len);
        emit::output(record);
    }
    0
}

/// Copies the user memory between the addresses stored at `start_offset` and `end_offset` of
/// `mm` (at most `limit` bytes, at most [`ARG_BYTES_MAX`]) to `dst`. Returns the bytes copied
/// and the bytes there were.
#[inline(always)]
unsafe fn copy_user_range(
    mm: *const u8,
    start_offset: u32,
    end_offset: u32,
    limit: u32,
    dst: *mut u8,
) -> (usize, usize) {
    let start: u64 = task::read(mm, start_offset).unwrap_or(0);
    let end: u64 = task::read(mm, end_offset).unwrap_or(0);
    let total = end.saturating_sub(start) as usize;
    let mut len = total;
    if len > limit as usize {
        len = limit as usize;
    }
    if len > ARG_BYTES_MAX {
        len = ARG_BYTES_MAX;
    }
    // SAFETY: `dst` has room for ARG_BYTES_MAX bytes; the helper faults safely on bad addresses.
    if len == 0 || unsafe { bpf_probe_read_user(dst.cast(), len as u32, start as *const _) } != 0 {
        return (0, total);
    }
    (len, total)
}

/// Writes the current working directory's components, innermost first, each followed by a NUL,
/// to `dst` (room for [`CWD_LEN`] bytes). Crosses mount points like `d_path`. Returns the bytes
/// written and [`exec_flags`] bits.
///
/// The walk puts level `i`'s name in slot `i` of the scratch entry (a crossed mount leaves its
/// slot empty), so that each pass of the walk has the same shape and the verifier can prune its
/// states; a second, branch-free pass packs the names.
#[inline(always)]
unsafe fn working_directory<const LOOP_HELPER: bool>(
    task: *const u8,
    offsets: &tracer_common::KernelOffsets,
    scratch: *mut ExecScratch,
    dst: *mut u8,
) -> (usize, u32) {
    let fs: *const u8 = task::read(task, offsets.task_fs).unwrap_or(core::ptr::null());
    let (Ok(vfsmount), Ok(dentry)) =
        (task::read::<*const u8>(fs, offsets.fs_pwd_mnt), task::read::<*const u8>(fs, offsets.fs_pwd_dentry))
    else {
        return (0, exec_flags::CWD_UNKNOWN);
    };
    // SAFETY: the caller's scratch entry; the slots and their lengths are inside it.
    let (lens, names) =
        unsafe { ((&raw mut (*scratch).cwd_lens).cast::<u32>(), (&raw mut (*scratch).cwd_names).cast::<u8>()) };
    let mut walk = CwdWalk {
        vfsmount,
        dentry,
        mount: vfsmount.wrapping_sub(offsets.mount_mnt as usize),
        lens,
        names,
        levels: 0,
        flags: exec_flags::CWD_TRUNCATED,
    };
    if LOOP_HELPER {
        // SAFETY: the callback gets `walk`, which outlives the call, as its context.
        unsafe {
            bpf_loop(CWD_DEPTH, cwd_step as *mut c_void, (&raw mut walk).cast(), 0);
        }
    } else {
        for level in 0..CWD_DEPTH as usize {
            if !walk.step(level, offsets) {
                break;
            }
        }
    }
    let (levels, flags) = (walk.levels, walk.flags);
    let mut written = 0usize;
    for level in 0..CWD_DEPTH as usize {
        if level >= levels {
            break;
        }
        // A mask, not a comparison: a branch here would double the paths the verifier walks
        // at every level. Names are at most NAME_LEN bytes, so nothing is lost.
        // SAFETY: `level` < CWD_DEPTH.
        let len = (unsafe { *lens.add(level) } as usize) & (2 * NAME_LEN - 1);
        if written > CWD_LEN - 2 * NAME_LEN {
            return (written, exec_flags::CWD_TRUNCATED);
        }
        // SAFETY: `written + len` < CWD_LEN: inside `dst`; the source is slot `level`'s
        // NAME_LEN bytes and the next slot's (cwd_names is followed by more of the entry).
        if unsafe { bpf_probe_read_kernel(dst.add(written).cast(), len as u32, names.add(level * NAME_LEN).cast()) }
            != 0
        {
            return (written, exec_flags::CWD_UNKNOWN);
        }
        written += len;
    }
    (written, flags)
}

/// Where the working-directory walk stands, between levels.
struct CwdWalk {
    vfsmount: *const u8,
    dentry: *const u8,
    mount: *const u8,
    lens: *mut u32,
    names: *mut u8,
    /// Levels whose slot is written.
    levels: usize,
    flags: u32,
}

impl CwdWalk {
    /// Puts level `level`'s name in its slot and moves up; false when the walk is over.
    #[inline(always)]
    fn step(&mut self, level: usize, offsets: &tracer_common::KernelOffsets) -> bool {
        let Ok(mount_root) = task::read::<*const u8>(self.vfsmount, offsets.vfsmount_mnt_root) else {
            self.flags = exec_flags::CWD_UNKNOWN;
            return false;
        };
        let Ok(parent) = task::read::<*const u8>(self.dentry, offsets.dentry_parent) else {
            self.flags = exec_flags::CWD_UNKNOWN;
            return false;
        };
        let mut len = 0;
        if self.dentry == mount_root {
            // At the root of a mount: continue from where it is mounted, unless it is the root.
            let mount_parent: *const u8 = task::read(self.mount, offsets.mount_parent).unwrap_or(self.mount);
            if mount_parent == self.mount {
                self.flags = 0;
                return false;
            }
            self.dentry = task::read(self.mount, offsets.mount_mountpoint).unwrap_or(self.dentry);
            self.mount = mount_parent;
            self.vfsmount = self.mount.wrapping_add(offsets.mount_mnt as usize);
        } else if parent == self.dentry {
            // A filesystem root that is not a mount's root (a detached tree): the path ends here.
            self.flags = 0;
            return false;
        } else {
            let name: *const u8 = task::read(self.dentry, offsets.dentry_name).unwrap_or(core::ptr::null());
            // SAFETY: slot `level` (< CWD_DEPTH) of the scratch entry holds NAME_LEN bytes.
            let read = unsafe {
                bpf_probe_read_kernel_str(self.names.add(level * NAME_LEN).cast(), NAME_LEN as u32, name.cast())
            };
            len = if read > 0 { read as u32 } else { 0 };
            self.dentry = parent;
        }
        // SAFETY: `level` < CWD_DEPTH.
        unsafe { *self.lens.add(level) = len };
        self.levels = level + 1;
        true
    }
}

/// `bpf_loop` callback: one level of the walk; 1 stops the loop.
unsafe extern "C" fn cwd_step(level: u64, context: *mut c_void) -> i64 {
    // The verifier knows the level only as a number: bound it for the slot arithmetic.
    if level >= u64::from(CWD_DEPTH) {
        return 1;
    }
    // SAFETY: `context` is the caller's `CwdWalk`, alive for the whole loop.
    let walk = unsafe { &mut *context.cast::<CwdWalk>() };
    if walk.step(level as usize, &config::offsets()) { 0 } else { 1 }
}
