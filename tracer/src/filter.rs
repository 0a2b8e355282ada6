//! Which events a user asked for. Task selection mirrors the kernel side's filter exactly
//! (`tracer-ebpf/src/filter.rs`, `cgroup_filter.rs`), so a replay with filters prints what a live
//! run with the same filters would have printed:
//! - values of one flag are alternatives (`-c a -c b`: comm a or b);
//! - different flags must all hold (`-c bash -p 812`: bash tasks of process 812);
//! - with `--follow`, processes created by selected tasks (and theirs, recursively) are selected
//!   too, whatever they exec into;
//! - `--events` picks kinds, independently of the task filters.
use std::collections::{BTreeSet, HashSet};

use tracer_common::{CGROUP_FILTER_VALUES, COMM_LEN, container::ID_LEN};

use crate::{
    cli::FilterArgs,
    event::{Detail, Event, Kind},
    place::container,
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("--comm {name:?} is {len} bytes, but a task's comm holds at most {max} bytes, so it could never match", max = COMM_LEN - 1)]
    CommTooLong { name: String, len: usize },
    #[error("--comm needs a non-empty name")]
    EmptyComm,
    #[error("--events: unknown event kind {0:?} (expected {names})", names = kind_names())]
    UnknownKind(String),
    #[error("--container {0:?}: expected the first 1 to {ID_LEN} characters of a container ID or name")]
    ContainerPrefix(String),
    #[error(
        "--cgroup {0:?}: expected an absolute path in the unified cgroup hierarchy, as /proc/<pid>/cgroup shows it (e.g. /system.slice)"
    )]
    CgroupPath(String),
    #[error("--{0}: at most {CGROUP_FILTER_VALUES} values")]
    TooMany(&'static str),
}

fn kind_names() -> String {
    let names: Vec<&str> = Kind::selectable().map(Kind::name).collect();
    format!("{} or {}", names[..names.len() - 1].join(", "), names[names.len() - 1])
}

/// `path` with single slashes and no trailing one, or None when it is not an absolute path
/// without `.`/`..` components.
fn normal_cgroup_path(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    let valid = path.starts_with('/') && !path.contains('\0') && parts.iter().all(|part| *part != "." && *part != "..");
    valid.then(|| format!("/{}", parts.join("/")))
}

/// The user's filters, validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    pub comms: BTreeSet<String>,
    pub pids: BTreeSet<u32>,
    pub tids: BTreeSet<u32>,
    pub uids: BTreeSet<u32>,
    /// Kinds to show; all when the user named none.
    pub kinds: BTreeSet<Kind>,
    /// The user named the kinds (`--events`): tracer attaches what they need, whatever it costs.
    pub kinds_by_name: bool,
    pub follow: bool,
    /// Inodes of PID namespaces.
    pub pidns: BTreeSet<u32>,
    /// Container ID prefixes.
    pub containers: BTreeSet<String>,
    /// Cgroup paths below the unified hierarchy's root, normalised (`/a/b`).
    pub cgroups: BTreeSet<String>,
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
        let kinds_by_name = !kinds.is_empty();
        if kinds.is_empty() {
            kinds = Kind::selectable().collect();
        }
        for prefix in &args.containers {
            if prefix.is_empty() || prefix.len() > ID_LEN || prefix.contains('/') {
                return Err(FilterError::ContainerPrefix(prefix.clone()));
            }
        }
        let cgroups = args
            .cgroups
            .iter()
            .map(|path| normal_cgroup_path(path).ok_or_else(|| FilterError::CgroupPath(path.clone())))
            .collect::<Result<BTreeSet<_>, _>>()?;
        let containers: BTreeSet<String> = args.containers.iter().cloned().collect();
        if containers.len() > CGROUP_FILTER_VALUES {
            return Err(FilterError::TooMany("container"));
        }
        if cgroups.len() > CGROUP_FILTER_VALUES {
            return Err(FilterError::TooMany("cgroup"));
        }
        Ok(Self {
            comms: args.comms.iter().cloned().collect(),
            pids: args.pids.iter().copied().collect(),
            tids: args.tids.iter().copied().collect(),
            uids: args.uids.iter().copied().collect(),
            kinds,
            kinds_by_name,
            follow: args.follow,
            pidns: args.pidns.iter().copied().collect(),
            containers,
            cgroups,
        })
    }

    /// Whether any task criterion is set.
    pub fn selects_tasks(&self) -> bool {
        !self.comms.is_empty()
            || !self.pids.is_empty()
            || !self.tids.is_empty()
            || !self.uids.is_empty()
            || !self.pidns.is_empty()
            || !self.containers.is_empty()
            || !self.cgroups.is_empty()
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
        for uid in &self.uids {
            args.extend(["--uid".to_owned(), uid.to_string()]);
        }
        for inode in &self.pidns {
            args.extend(["--pidns".to_owned(), inode.to_string()]);
        }
        for prefix in &self.containers {
            args.extend(["--container".to_owned(), prefix.clone()]);
        }
        for path in &self.cgroups {
            args.extend(["--cgroup".to_owned(), path.clone()]);
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
        let cgroup = event.place.cgroup.as_ref().map(|path| path.as_bytes());
        (filters.comms.is_empty() || event.comm.as_str().is_some_and(|comm| filters.comms.contains(comm)))
            && (filters.pids.is_empty() || filters.pids.contains(&event.tgid))
            && (filters.tids.is_empty() || filters.tids.contains(&event.tid))
            && (filters.uids.is_empty() || filters.uids.contains(&event.uid))
            && (filters.pidns.is_empty() || event.place.pidns.is_some_and(|inode| filters.pidns.contains(&inode)))
            && (filters.containers.is_empty()
                || event
                    .place
                    .container
                    .as_ref()
                    .is_some_and(|id| filters.containers.iter().any(|prefix| container::id_starts_with(id, prefix))))
            && (filters.cgroups.is_empty()
                || cgroup.is_some_and(|path| {
                    filters.cgroups.iter().any(|filter| container::in_cgroup(path, filter.as_bytes()))
                }))
    }

    /// Whether `event`'s task is selected; updates the followed set as the kernel side would.
    /// Kinds are chosen in one place, the [`crate::pipeline::Pipeline`].
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
        selected
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
            uids: Vec::new(),
            events: events.iter().map(|kind| kind.to_string()).collect(),
            follow,
            ..FilterArgs::default()
        }
    }

    fn event(comm: &str, tgid: u32, tid: u32, detail: Detail) -> Event {
        test_event(tgid, tid, comm, detail)
    }

    fn fork(comm: &str, tgid: u32, child: u32) -> Event {
        event(comm, tgid, tgid, crate::event::test_fork(child, child, false, None))
    }

    fn exec(comm: &str, tgid: u32) -> Event {
        event(comm, tgid, tgid, crate::event::test_exec("/bin/x", &[], tgid))
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
        let gone = event("cc", 901, 901, Detail::exit(0, true, 1));
        assert!(filter.admits(&gone));
        assert!(!filter.admits(&exec("cc", 901)));
    }
}

#[cfg(test)]
mod place_tests {
    use super::*;
    use crate::{event::test_event, text::Text};

    const ID: &str = "3f2a9c1b7d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";

    /// An exec in the given PID namespace and cgroup.
    fn at(pidns: u32, cgroup: &str) -> Event {
        let mut event = test_event(900, 900, "sh", crate::event::test_exec("/bin/sh", &[], 900));
        event.place.pidns = Some(pidns);
        event.place.cgroup = Some(Text::from(cgroup));
        event.place.container = container::container_of(cgroup.as_bytes());
        event
    }

    fn filter(args: FilterArgs) -> EventFilter {
        EventFilter::new(Filters::from_args(&args).unwrap())
    }

    #[test]
    fn container_cgroup_and_pidns_filters_select_like_the_kernel_side() {
        let inside = at(4026532500, &format!("/libpod_parent/libpod-{ID}"));
        let nested = at(4026532500, &format!("/libpod_parent/libpod-{ID}/init.scope"));
        let host = at(4026531836, "/system.slice/ssh.service");
        let mut by_container = filter(FilterArgs { containers: vec![ID[..12].into()], ..FilterArgs::default() });
        assert!(by_container.admits(&inside) && by_container.admits(&nested) && !by_container.admits(&host));
        let mut by_cgroup = filter(FilterArgs { cgroups: vec!["/libpod_parent/".into()], ..FilterArgs::default() });
        assert!(by_cgroup.admits(&inside) && by_cgroup.admits(&nested) && !by_cgroup.admits(&host));
        let mut by_pidns = filter(FilterArgs { pidns: vec![4026531836], ..FilterArgs::default() });
        assert!(!by_pidns.admits(&inside) && by_pidns.admits(&host));
        // Different flags must all hold; values of one flag are alternatives.
        let mut both = filter(FilterArgs {
            containers: vec!["ffff".into(), ID[..4].into()],
            pidns: vec![4026531836],
            ..FilterArgs::default()
        });
        assert!(!both.admits(&inside) && !both.admits(&host));
        // An event whose cgroup could not be resolved has no container: not selected.
        let mut unknown = inside.clone();
        (unknown.place.cgroup, unknown.place.container) = (None, None);
        assert!(!by_container.admits(&unknown) && !by_cgroup.admits(&unknown));
    }

    #[test]
    fn rejects_values_the_kernel_side_cannot_check() {
        let bad = |args: FilterArgs| Filters::from_args(&args).unwrap_err();
        assert_eq!(
            bad(FilterArgs { containers: vec![String::new()], ..FilterArgs::default() }),
            FilterError::ContainerPrefix(String::new())
        );
        assert!(matches!(
            bad(FilterArgs { containers: vec!["a".repeat(65)], ..FilterArgs::default() }),
            FilterError::ContainerPrefix(_)
        ));
        for path in ["relative", "/a/../b", "/a/./b"] {
            assert_eq!(
                bad(FilterArgs { cgroups: vec![path.into()], ..FilterArgs::default() }),
                FilterError::CgroupPath(path.into())
            );
        }
        let many = (0..9).map(|n| format!("/c{n}")).collect();
        assert_eq!(bad(FilterArgs { cgroups: many, ..FilterArgs::default() }), FilterError::TooMany("cgroup"));
        let filters = Filters::from_args(&FilterArgs { cgroups: vec!["//a//b/".into()], ..FilterArgs::default() });
        assert_eq!(filters.unwrap().cgroups, BTreeSet::from(["/a/b".to_owned()]));
    }
}
