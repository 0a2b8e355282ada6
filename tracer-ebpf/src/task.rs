//! Reads of `task_struct` fields at offsets userspace found in the kernel's BTF.
use aya_ebpf::helpers::bpf_probe_read_kernel;
use tracer_common::{COMM_LEN, KernelOffsets};

/// Reads a `T` at `base + offset` of kernel memory.
#[inline(always)]
pub fn read<T>(base: *const u8, offset: u32) -> Result<T, i32> {
    // SAFETY: bpf_probe_read_kernel checks the address and fails instead of faulting.
    unsafe { bpf_probe_read_kernel(base.wrapping_add(offset as usize) as *const T) }
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
