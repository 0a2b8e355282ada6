//! Reads of `task_struct` fields at offsets userspace found in the kernel's BTF.
//!
//! Two ways to read, chosen per program by a `BTF` const parameter. Where the pointers are
//! BTF-typed (the arguments of a `tp_btf` program, `bpf_get_current_task_btf`, and pointers
//! loaded through them) a field is a plain load: the offsets are read-only globals, so the
//! verifier knows each one and checks the access against the kernel's BTF, and the JIT guards
//! the load (a fault reads zero), where `bpf_probe_read_kernel` is a helper call of about 12 ns
//! (measured on the exit hook), made about a dozen times per hook. Raw tracepoints get untyped
//! pointers and keep the probe reads; so do offsets known only at run time (`numbers[level]`).
use aya_ebpf::helpers::{
    bpf_get_current_pid_tgid, bpf_get_current_task, bpf_get_current_task_btf, bpf_get_current_uid_gid,
    bpf_probe_read_kernel,
};
use tracer_common::{COMM_LEN, KernelOffsets, comm_filter::up_to_nul};

use crate::config;

/// Reads a `T` at `base + offset` of kernel memory.
#[inline(always)]
pub fn read<T>(base: *const u8, offset: u32) -> Result<T, i32> {
    // SAFETY: bpf_probe_read_kernel checks the address and fails instead of faulting.
    unsafe { bpf_probe_read_kernel(base.wrapping_add(offset as usize) as *const T) }
}

/// Reads a `T` at `base + offset`, or zeroes when that fails (the helper zeroes its destination
/// on failure). Without a branch on the outcome: each such branch, with a known zero on one side,
/// doubles the states older verifiers (Linux 6.1) walk for the rest of the program.
#[inline(always)]
pub fn read_or_zero<T: Copy>(base: *const u8, offset: u32) -> T {
    let mut value = core::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: the helper writes at most size_of::<T>() bytes into `value`, which is zeroed and
    // stays valid whatever it writes (T is a plain integer or pointer here).
    unsafe {
        aya_ebpf::helpers::generated::bpf_probe_read_kernel(
            value.as_mut_ptr().cast(),
            size_of::<T>() as u32,
            base.wrapping_add(offset as usize).cast(),
        );
        value.assume_init()
    }
}

/// Reads a `T` at `base + offset`: a plain load of a BTF-typed pointer's field (`BTF`), or a
/// probe read that yields zeroes when it fails.
#[inline(always)]
pub fn get<T: Copy, const BTF: bool>(base: *const u8, offset: u32) -> T {
    if BTF {
        // SAFETY: the verifier checks the access against the kernel's BTF at load time, and the
        // JIT turns a fault into a zero.
        unsafe { core::ptr::read_volatile(base.wrapping_add(offset as usize).cast::<T>()) }
    } else {
        read_or_zero(base, offset)
    }
}

/// [`get`] where the caller tells a failed probe read apart; a plain load does not fail.
#[inline(always)]
pub fn try_get<T: Copy, const BTF: bool>(base: *const u8, offset: u32) -> Result<T, i32> {
    if BTF { Ok(get::<T, true>(base, offset)) } else { read(base, offset) }
}

/// TGID of the task's parent process (`real_parent`, not a ptracer).
#[inline(always)]
pub fn parent_tgid<const BTF: bool>(task: *const u8, offsets: &KernelOffsets) -> Result<u32, i32> {
    let parent: *const u8 = try_get::<_, BTF>(task, offsets.task_real_parent)?;
    try_get::<_, BTF>(parent, offsets.task_tgid)
}

/// CLOCK_BOOTTIME ns at which the task's process started: its thread group leader's
/// `start_boottime` (a thread's own start is not the process's; after a non-leader thread's
/// exec the kernel hands it the old leader's). 0 when unreadable.
#[inline(always)]
pub fn process_start<const BTF: bool>(task: *const u8, offsets: &KernelOffsets) -> u64 {
    let leader: *const u8 = get::<_, BTF>(task, offsets.task_group_leader);
    get::<_, BTF>(leader, offsets.task_start_boottime)
}

/// A task's comm, aligned so that it can be compared as two words.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
pub struct Comm(pub [u8; COMM_LEN]);

impl Comm {
    #[inline(always)]
    fn from_words(words: [u64; 2]) -> Comm {
        // SAFETY: two u64s are 16 plain bytes; bpfel stores them little-endian, as
        // `comm_filter::comm_words` reads names.
        Comm(unsafe { core::mem::transmute::<[u64; 2], [u8; COMM_LEN]>(words) })
    }

    /// The two little-endian words of its bytes (as `comm_filter::comm_words` makes them).
    #[inline(always)]
    pub fn words(&self) -> [u64; 2] {
        // SAFETY: the 16 bytes are 8-byte aligned, and any bytes are valid u64s.
        unsafe { *(self as *const Comm).cast::<[u64; 2]>() }
    }
}

/// A task's comm, read from its `task_struct`. For the current task `bpf_get_current_comm`
/// copies the same bytes but cost as much as about five field reads (a padded string copy, and
/// the buffer zeroed before it, which Linux 6.1's unpadded copy needs).
#[inline(always)]
pub fn comm<const BTF: bool>(task: *const u8) -> Option<Comm> {
    let words: [u64; 2] = try_get::<_, BTF>(task, config::offsets().task_comm).ok()?;
    Some(Comm::from_words(up_to_nul(words)))
}

/// The task an event is about, as the filter and the record header need it.
pub struct Who {
    /// Its `task_struct`.
    pub task: *const u8,
    pub tgid: u32,
    pub tid: u32,
    /// Real UID, in the initial user namespace.
    pub uid: u32,
    pub comm: Comm,
}

/// The current task's `task_struct`, BTF-typed when `BTF` (Linux 5.11+).
#[inline(always)]
pub fn current_task<const BTF: bool>() -> *const u8 {
    // SAFETY: plain helper calls.
    if BTF {
        unsafe { bpf_get_current_task_btf() as *const u8 }
    } else {
        unsafe { bpf_get_current_task() as *const u8 }
    }
}

/// The current task.
#[inline(always)]
pub fn current() -> Option<Who> {
    let task = current_task::<false>();
    Some(current_with(task, comm::<false>(task)?))
}

/// The current task (`task`), whose comm was read already.
#[inline(always)]
pub fn current_with(task: *const u8, comm: Comm) -> Who {
    let pid_tgid = bpf_get_current_pid_tgid();
    Who { task, tgid: (pid_tgid >> 32) as u32, tid: pid_tgid as u32, uid: bpf_get_current_uid_gid() as u32, comm }
}

/// Any task, from its `task_struct`.
#[inline(always)]
pub fn who(task: *const u8, offsets: &KernelOffsets) -> Result<Who, i32> {
    let cred: *const u8 = read(task, offsets.task_cred)?;
    Ok(Who {
        task,
        tgid: read(task, offsets.task_tgid)?,
        tid: read(task, offsets.task_pid)?,
        uid: read(cred, offsets.cred_uid)?,
        comm: Comm::from_words(up_to_nul(read(task, offsets.task_comm)?)),
    })
}

/// Whether the task is between the start and the end of an `execve`.
#[inline(always)]
pub fn in_execve<const BTF: bool>(task: *const u8, offsets: &KernelOffsets) -> bool {
    let bit = offsets.task_in_execve_bit;
    get::<u8, BTF>(task, bit / 8) & (1 << (bit % 8)) != 0
}
