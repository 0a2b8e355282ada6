//! Reads of `task_struct` fields at offsets userspace found in the kernel's BTF.
use aya_ebpf::helpers::bpf_probe_read_kernel;
use tracer_common::{COMM_LEN, KernelOffsets};

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

/// The identity of a task: who it is and who its parent process is.
pub struct TaskIds {
    pub tgid: u32,
    pub tid: u32,
    pub ppid: u32,
}

#[inline(always)]
pub fn ids(task: *const u8, offsets: &KernelOffsets) -> Result<TaskIds, i32> {
    Ok(TaskIds {
        tgid: read(task, offsets.task_tgid)?,
        tid: read(task, offsets.task_pid)?,
        ppid: parent_tgid(task, offsets)?,
    })
}

/// TGID of the task's parent process (`real_parent`, not a ptracer).
#[inline(always)]
pub fn parent_tgid(task: *const u8, offsets: &KernelOffsets) -> Result<u32, i32> {
    let parent: *const u8 = read(task, offsets.task_real_parent)?;
    read(parent, offsets.task_tgid)
}

#[inline(always)]
pub fn comm(task: *const u8, offsets: &KernelOffsets) -> Result<[u8; COMM_LEN], i32> {
    read(task, offsets.task_comm)
}
