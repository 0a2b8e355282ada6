//! Which events a user asked for. Task selection mirrors the kernel side's filter exactly
//! (`tracer-ebpf/src/filter.rs`), so a replay with filters prints what a live run with the same
//! filters would have printed:
//! - values of one flag are alternatives (`-c a -c b`: comm a or b);
//! - different flags must all hold (`-c bash -p 812`: bash tasks of process 812);
//! - with `--follow`, processes created by selected tasks (and theirs, recursively) are selected
//!   too, whatever they exec into;
//! - `--events` picks kinds, independently of the task filters.
use std::collections::{BTreeSet, HashSet};

use tracer_common::COMM_LEN;

use crate::{
    cli::FilterArgs,
    event::{Detail, Event, Kind},
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("--comm {name:?} is {len} bytes, but a task's comm holds at most {max} bytes, so it could never match", max = COMM_LEN - 1)]
    CommTooLong { name: String, len: usize },
    #[error("--comm needs a non-empty name")]
    EmptyComm,
    #[error("--events: unknown event kind {0:?} (expected fork, exec, exit, rename or lookup)")]
    UnknownKind(String),
}

/// The user's filters, validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    pub comms: BTreeSet<String>,
    pub pids: BTreeSet<u32>,
    pub tids: BTreeSet<u32>,
    /// Kinds to show; all when the user named none.
    pub kinds: BTreeSet<Kind>,
    pub follow: bool,
}

impl Filters {
    pub fn from_args(args: &FilterArgs) -> Result<Self, FilterError> {
        for name in &args.comms {
            if name.is_empty() {
                return Err(FilterError::EmptyComm);
            }
            if name.len() >= COMM_LEN {
                return Err(FilterError::CommTooLong { name: name.clone(), len: name.len() });
            }
        }
        let mut kinds = BTreeSet::new();
        for name in args.events.iter().map(|name| name.trim()).filter(|name| !name.is_empty()) {
            match Kind::from_name(name) {
                Some(kind) if kind != Kind::Lost => kinds.insert(kind),
                _ => return Err(FilterError::UnknownKind(name.to_owned())),
            };
        }
        if kinds.is_empty() {
            kinds = [Kind::Fork, Kind::Exec, Kind::Exit, Kind::Rename, Kind::Lookup].into();
        }
        Ok(Self {
            comms: args.comms.iter().cloned().collect(),
            pids: args.pids.iter().copied().collect(),
            tids: args.tids.iter().copied().collect(),
            kinds,
            follow: args.follow,
        })
    }

    /// Whether any task criterion is set.
    pub fn selects_tasks(&self) -> bool {
        !self.comms.is_empty() || !self.pids.is_empty() || !self.tids.is_empty()
    }

    /// The filters as command-line arguments, for recording headers.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for comm in &self.comms {
            args.extend(["--comm".to_owned(), comm.clone()]);
        }
        for pid in &self.pids {
            args.extend(["--pid".to_owned(), pid.to_string()]);
        }
        for tid in &self.tids {
            args.extend(["--tid".to_owned(), tid.to_string()]);
        }
        let kinds: Vec<&str> = self.kinds.iter().map(|kind| kind.name()).collect();
        args.extend(["--events".to_owned(), kinds.join(",")]);
        if self.follow {
            args.push("--follow".to_owned());
        }
        args
    }
}

/// Applies [`Filters`] to a stream of events, following descendants like the kernel side does.
#[derive(Debug)]
pub struct EventFilter {
    filters: Filters,
    followed: HashSet<u32>,
}

impl EventFilter {
    pub fn new(filters: Filters) -> Self {
        Self { filters, followed: HashSet::new() }
    }

    fn selects_task(&self, event: &Event) -> bool {
        let filters = &self.filters;
        if !filters.selects_tasks() {
            return true;
        }
        if filters.follow && self.followed.contains(&event.tgid) {
            return true;
        }
        (filters.comms.is_empty() || filters.comms.contains(&event.comm))
            && (filters.pids.is_empty() || filters.pids.contains(&event.tgid))
            && (filters.tids.is_empty() || filters.tids.contains(&event.tid))
    }

    /// Whether to show `event`; updates the followed set as the kernel side would.
    pub fn admits(&mut self, event: &Event) -> bool {
        if let Detail::Lost { .. } = event.detail {
            return true;
        }
        let selected = self.selects_task(event);
        if selected && self.filters.follow {
            match event.detail {
                Detail::Fork { child_tgid, .. } => {
                    self.followed.insert(child_tgid);
                }
                Detail::Exit { group_dead: true, .. } => {
                    self.followed.remove(&event.tgid);
                }
                _ => {}
            }
        }
        selected && self.filters.kinds.contains(&event.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::test_event;

    fn args(comms: &[&str], pids: &[u32], events: &[&str], follow: bool) -> FilterArgs {
        FilterArgs {
            comms: comms.iter().map(|comm| comm.to_string()).collect(),
            pids: pids.to_vec(),
            tids: Vec::new(),
            events: events.iter().map(|kind| kind.to_string()).collect(),
            follow,
        }
    }

    fn event(comm: &str, tgid: u32, tid: u32, detail: Detail) -> Event {
        test_event(tgid, tid, comm, detail)
    }

    fn fork(comm: &str, tgid: u32, child: u32) -> Event {
        event(comm, tgid, tgid, Detail::Fork { child_tgid: child, child_tid: child, clone_flags: None })
    }

    fn exec(comm: &str, tgid: u32) -> Event {
        event(
            comm,
            tgid,
            tgid,
            Detail::Exec { filename: "/bin/x".into(), argv: vec![], argv_truncated: false, old_tid: tgid },
        )
    }

    #[test]
    fn rejects_comms_the_kernel_cannot_hold_and_unknown_kinds() {
        let long = "a-very-long-name";
        assert_eq!(long.len(), 16);
        assert_eq!(
            Filters::from_args(&args(&[long], &[], &[], false)),
            Err(FilterError::CommTooLong { name: long.into(), len: 16 })
        );
        assert!(Filters::from_args(&args(&["fifteen-bytes-x"], &[], &[], false)).is_ok());
        assert_eq!(
            Filters::from_args(&args(&[], &[], &["fork", "forks"], false)),
            Err(FilterError::UnknownKind("forks".into()))
        );
    }

    #[test]
    fn flags_combine_with_and_values_with_or() {
        let filters = Filters::from_args(&args(&["bash", "sh"], &[812], &[], false)).unwrap();
        let mut filter = EventFilter::new(filters);
        assert!(filter.admits(&exec("bash", 812)));
        assert!(filter.admits(&exec("sh", 812)));
        assert!(!filter.admits(&exec("bash", 900)));
        assert!(!filter.admits(&exec("zsh", 812)));
    }

    #[test]
    fn follow_selects_descendants_through_exec_until_they_die() {
        let filters = Filters::from_args(&args(&["make"], &[], &["exec", "fork", "exit"], true)).unwrap();
        let mut filter = EventFilter::new(filters);
        assert!(!filter.admits(&exec("cc", 901)));
        assert!(filter.admits(&fork("make", 900, 901)));
        assert!(filter.admits(&exec("cc", 901)));
        assert!(filter.admits(&fork("cc", 901, 902)));
        assert!(filter.admits(&exec("as", 902)));
        let gone = event("cc", 901, 901, Detail::Exit { status: 0, group_dead: true, lifetime_ns: 1 });
        assert!(filter.admits(&gone));
        assert!(!filter.admits(&exec("cc", 901)));
    }

    #[test]
    fn event_kinds_filter_independently() {
        let filters = Filters::from_args(&args(&[], &[], &["exit"], false)).unwrap();
        let mut filter = EventFilter::new(filters);
        assert!(!filter.admits(&exec("bash", 1)));
        assert!(filter.admits(&event("bash", 1, 1, Detail::Exit { status: 0, group_dead: true, lifetime_ns: 1 })));
        assert!(filter.admits(&event(
            "tracer",
            1,
            1,
            Detail::Lost { count: 3, origin: crate::event::LostOrigin::Ring }
        )));
    }
}
