//! The in-kernel task filter (`--comm`, `--pid`, `--tid`, `--uid`, `--pidns`, `--container`,
//! `--cgroup`, `--follow`), evaluated before any ring-buffer reservation so filtered-out tasks
//! cost a few map look-ups at most.
use tracer_common::filter_flags;

use crate::{
    cgroup_filter,
    config::settings,
    maps::{COMM_FILTER, FOLLOWED, OWN_TGID, PID_FILTER, PIDNS_FILTER, TID_FILTER, UID_FILTER},
    place,
    task::Who,
};

/// Whether `task` (global IDs `tgid`, `tid`, comm `comm`) is selected: it is not tracer itself,
/// and it is in a followed process or passes every active criterion.
#[inline(always)]
pub fn selects(who: &Who) -> bool {
    let (tgid, tid) = (who.tgid, who.tid);
    if OWN_TGID.get(0).is_some_and(|own| *own == tgid) {
        return false;
    }
    let settings = settings();
    let flags = settings.filter_flags;
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
    (flags & filter_flags::COMM == 0 || COMM_FILTER.get_ptr(&who.comm).is_some())
        && (flags & filter_flags::PID == 0 || PID_FILTER.get_ptr(tgid).is_some())
        && (flags & filter_flags::TID == 0 || TID_FILTER.get_ptr(tid).is_some())
        && (flags & filter_flags::UID == 0 || UID_FILTER.get_ptr(who.uid).is_some())
        && (flags & filter_flags::PIDNS == 0 || PIDNS_FILTER.get_ptr(place::of(who.task, tgid, tid).pidns).is_some())
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
