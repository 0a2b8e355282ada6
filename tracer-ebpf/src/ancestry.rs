//! A task's ancestors as they are at the event: each process up the `real_parent` links, with
//! the identity userspace cannot learn afterwards (its TGID, its start time, its comm), written
//! straight into the record being built. A parent that is gone, reused or in another PID
//! namespace by the time userspace reads the record is still named right.
use tracer_common::{ANCESTOR_DEPTH, AncestorChain, AncestorRecord, KernelOffsets, ancestor_flags};

use crate::{config::settings, task};

/// Writes the processes above `task` into `chain`, nearest first, up to PID 1 or as many as
/// `--ancestors` asks (at most [`ANCESTOR_DEPTH`]); when there are more, the chain is marked cut.
///
/// Each level is read from the parent's thread group leader: every thread of a process has the
/// same `real_parent`, and the leader holds the process's start time and its name. Every read
/// is made whatever the previous one gave (an unreadable link reads as TGID 0, which ends the
/// chain as the idle task above PID 1 does), so the loop has one exit per level and no value
/// that some path leaves unset. The records are map or ring-buffer memory, never the stack.
///
/// # Safety
/// `chain` points at a writable `AncestorChain`.
#[inline(always)]
pub unsafe fn write<const BTF: bool>(task: *const u8, offsets: &KernelOffsets, chain: *mut AncestorChain) {
    // SAFETY: the caller's record; each slot is inside it.
    let slots = unsafe { (&raw mut (*chain).ancestors).cast::<AncestorRecord>() };
    let mut below = task;
    let mut count = 0u32;
    let depth = settings().ancestor_depth;
    for level in 0..ANCESTOR_DEPTH {
        if level as u32 >= depth {
            break;
        }
        let parent: *const u8 = task::get::<_, BTF>(below, offsets.task_real_parent);
        let leader: *const u8 = task::get::<_, BTF>(parent, offsets.task_group_leader);
        let tgid: u32 = task::get::<_, BTF>(leader, offsets.task_tgid);
        if tgid == 0 {
            break;
        }
        let start_ns: u64 = task::get::<_, BTF>(leader, offsets.task_start_boottime);
        let comm: [u64; 2] = task::get::<_, BTF>(leader, offsets.task_comm);
        // SAFETY: `level` < ANCESTOR_DEPTH: inside the record. The comm is stored as the two
        // words it was read as (the slot's bytes are 8-byte aligned).
        unsafe {
            let slot = slots.add(level);
            (*slot).tgid = tgid;
            (*slot)._pad = 0;
            (*slot).start_ns = start_ns;
            *(&raw mut (*slot).comm).cast::<[u64; 2]>() = comm;
        }
        count = level as u32 + 1;
        below = leader;
    }
    let mut flags = 0;
    if count == depth {
        let parent: *const u8 = task::get::<_, BTF>(below, offsets.task_real_parent);
        let tgid: u32 = task::get::<_, BTF>(parent, offsets.task_tgid);
        if tgid != 0 {
            flags = ancestor_flags::TRUNCATED;
        }
    }
    // SAFETY: as above.
    unsafe {
        (*chain).count = count;
        (*chain).flags = flags;
    }
}
