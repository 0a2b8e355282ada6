//! The in-kernel task filter (`--comm`, `--pid`, `--tid`, `--uid`, `--pidns`, `--container`,
//! `--cgroup`, `--follow`), evaluated before any ring-buffer reservation so filtered-out tasks
//! cost a few map look-ups at most.
use tracer_common::{
    comm_filter::{COMM_SLOTS, IN_MAP},
    filter_flags,
};

use crate::{
    cgroup_filter,
    config::{comm_values, settings},
    maps::{COMM_FILTER, FOLLOWED, OWN_TGID, PID_FILTER, PIDNS_FILTER, TID_FILTER, UID_FILTER},
    place, task,
    task::{Comm, Who},
};

/// The current task, when it is selected. A `--comm` filter, which most tasks fail, is checked
/// first and from the comm alone, before anything else about the task is read (not with
/// `--follow`: a followed process is selected whatever its comm).
#[inline(always)]
pub fn selected_current<const BTF: bool>() -> Option<Who> {
    let current = task::current_task::<BTF>();
    let comm = task::comm::<BTF>(current)?;
    let flags = settings().filter_flags;
    let comm_first = flags & filter_flags::COMM != 0 && flags & filter_flags::FOLLOW == 0;
    if comm_first && !comm_selected(&comm) {
        return None;
    }
    let who = task::current_with(current, comm);
    decide(&who, flags, !comm_first).then_some(who)
}

/// Whether `comm` is one of the `--comm` values.
#[inline(always)]
fn comm_selected(comm: &Comm) -> bool {
    let values = comm_values();
    if values.count == IN_MAP {
        return COMM_FILTER.get_ptr(&comm.0).is_some();
    }
    // Two aligned words per name: no byte loads, no helper call.
    let [low, high] = comm.words();
    let mut found = false;
    for slot in 0..COMM_SLOTS {
        let [slot_low, slot_high] = values.words[slot];
        found |= (slot as u32) < values.count && slot_low == low && slot_high == high;
    }
    found
}

/// Whether `task` (global IDs `tgid`, `tid`, comm `comm`) is selected: it is not tracer itself,
/// and it is in a followed process or passes every active criterion.
#[inline(always)]
pub fn selects(who: &Who) -> bool {
    decide(who, settings().filter_flags, true)
}

/// [`selects`] under `flags`; `check_comm` false when the comm has passed already.
#[inline(always)]
fn decide(who: &Who, flags: u32, check_comm: bool) -> bool {
    let (tgid, tid) = (who.tgid, who.tid);
    if OWN_TGID.get(0).is_some_and(|own| *own == tgid) {
        return false;
    }
    if flags == 0 {
        return true;
    }
    if flags & filter_flags::FOLLOW != 0 && FOLLOWED.get_ptr(tgid).is_some() {
        return true;
    }
    if flags & filter_flags::CRITERIA == 0 {
        // Follow-only mode (`tracer run`): only followed processes.
        return false;
    }
    (!check_comm || flags & filter_flags::COMM == 0 || comm_selected(&who.comm))
        && (flags & filter_flags::PID == 0 || PID_FILTER.get_ptr(tgid).is_some())
        && (flags & filter_flags::TID == 0 || TID_FILTER.get_ptr(tid).is_some())
        && (flags & filter_flags::UID == 0 || UID_FILTER.get_ptr(who.uid).is_some())
        && (flags & filter_flags::PIDNS == 0
            || PIDNS_FILTER.get_ptr(place::of::<false>(who.task, tgid, tid).pidns).is_some())
        && (flags & (filter_flags::CONTAINER | filter_flags::CGROUP) == 0 || cgroup_filter::selects(who.task, flags))
}

/// Whether selected tasks' children are followed.
#[inline(always)]
pub fn follows() -> bool {
    settings().filter_flags & filter_flags::FOLLOW != 0
}

/// Starts following a process created by a selected task.
#[inline(always)]
pub fn follow(tgid: u32) {
    // A full map only means a descendant goes unfollowed; nothing better can be done here.
    let _ = FOLLOWED.insert(tgid, 1u8, 0);
}

/// Stops following a process whose last task exited.
#[inline(always)]
pub fn forget(tgid: u32) {
    let _ = FOLLOWED.remove(tgid);
}
