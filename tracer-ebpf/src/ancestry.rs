//! A task's ancestors as they are at the event: each process up the `real_parent` links, with
//! the identity userspace cannot learn afterwards (its TGID, its start time, its comm), written
//! straight into the record being built. A parent that is gone, reused or in another PID
//! namespace by the time userspace reads the record is still named right.
use core::ffi::c_void;

use aya_ebpf::helpers::generated::bpf_loop;
use tracer_common::{ANCESTOR_DEPTH, AncestorChain, AncestorRecord, KernelOffsets, ancestor_flags};

use crate::{
    config::{self, settings},
    task,
};

/// Writes the processes above `task` into `chain`, nearest first, up to PID 1 or as many as
/// `--ancestors` asks (at most [`ANCESTOR_DEPTH`]); when there are more, the chain is marked cut.
///
/// Each level is read from the parent's thread group leader: every thread of a process has the
/// same `real_parent`, and the leader holds the process's start time and its name. Every read
/// is made whatever the previous one gave (an unreadable link reads as TGID 0, which ends the
/// chain as the idle task above PID 1 does), so a level has one exit and no value that some path
/// leaves unset. The records are map or ring-buffer memory, never the stack.
///
/// With BTF-typed pointers (`BTF`, the `tp_btf` programs) the levels run in `bpf_loop` (Linux
/// 5.17+), which the verifier checks once instead of once per level: it checks each plain load
/// against the kernel's BTF, about 1.5 ms a level on Linux 6.18, and 16 unrolled levels made
/// each program that walks take 25 ms longer to load. Raw tracepoints unroll the loop, as any
/// kernel loads it.
///
/// # Safety
/// `chain` points at a writable `AncestorChain`.
#[inline(always)]
pub unsafe fn write<const BTF: bool>(task: *const u8, offsets: &KernelOffsets, chain: *mut AncestorChain) {
    let mut walk = Walk {
        below: task,
        // SAFETY: the caller's record; each slot is inside it.
        slots: unsafe { (&raw mut (*chain).ancestors).cast::<AncestorRecord>() },
        depth: settings().ancestor_depth,
        count: 0,
    };
    if BTF {
        // SAFETY: the callback gets `walk`, which outlives the call, as its context.
        unsafe { bpf_loop(ANCESTOR_DEPTH as u32, step::<BTF> as *mut c_void, (&raw mut walk).cast(), 0) };
    } else {
        for level in 0..ANCESTOR_DEPTH {
            if !walk.step::<BTF>(level, offsets) {
                break;
            }
        }
    }
    let mut flags = 0;
    if walk.count == walk.depth {
        let parent: *const u8 = task::get::<_, BTF>(walk.below, offsets.task_real_parent);
        let tgid: u32 = task::get::<_, BTF>(parent, offsets.task_tgid);
        if tgid != 0 {
            flags = ancestor_flags::TRUNCATED;
        }
    }
    // SAFETY: as above.
    unsafe {
        (*chain).count = walk.count;
        (*chain).flags = flags;
    }
}

/// The walk between levels.
struct Walk {
    /// The process whose parent the next level reads.
    below: *const u8,
    slots: *mut AncestorRecord,
    /// Levels asked for.
    depth: u32,
    /// Levels written.
    count: u32,
}

impl Walk {
    /// Writes level `level`; false once the chain ends or is as deep as asked.
    #[inline(always)]
    fn step<const BTF: bool>(&mut self, level: usize, offsets: &KernelOffsets) -> bool {
        if level >= ANCESTOR_DEPTH || level as u32 >= self.depth {
            return false;
        }
        let parent: *const u8 = task::get::<_, BTF>(self.below, offsets.task_real_parent);
        let leader: *const u8 = task::get::<_, BTF>(parent, offsets.task_group_leader);
        let tgid: u32 = task::get::<_, BTF>(leader, offsets.task_tgid);
        if tgid == 0 {
            return false;
        }
        let start_ns: u64 = task::get::<_, BTF>(leader, offsets.task_start_boottime);
        let comm: [u64; 2] = task::get::<_, BTF>(leader, offsets.task_comm);
        // SAFETY: `level` < ANCESTOR_DEPTH: inside the record. The comm is stored as the two
        // words it was read as (the slot's bytes are 8-byte aligned).
        unsafe {
            let slot = self.slots.add(level);
            (*slot).tgid = tgid;
            (*slot)._pad = 0;
            (*slot).start_ns = start_ns;
            *(&raw mut (*slot).comm).cast::<[u64; 2]>() = comm;
        }
        self.count = level as u32 + 1;
        self.below = leader;
        true
    }
}

/// `bpf_loop` callback: one level of the walk; 1 stops the loop.
unsafe extern "C" fn step<const BTF: bool>(level: u64, context: *mut c_void) -> i64 {
    // SAFETY: `context` is the caller's `Walk`, alive for the whole loop.
    let walk = unsafe { &mut *context.cast::<Walk>() };
    if walk.step::<BTF>(level as usize, config::offsets()) { 0 } else { 1 }
}
