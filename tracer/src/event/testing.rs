//! Events and details for unit tests, built one way everywhere.
use super::*;

impl Event {
    /// The event with its cgroup path and container replaced.
    pub fn with_cgroup(mut self, cgroup: Option<Text>, container: Option<Text>) -> Event {
        self.place.cgroup = cgroup;
        self.place.container = container;
        self
    }
}

/// An event for tests: task `tgid`/`tid` named `comm`, parent 1, uid 0, at a fixed time.
pub fn test_event(tgid: u32, tid: u32, comm: &str, detail: Detail) -> Event {
    Event {
        timestamp_ns: 3_723_000_456_789,
        cpu: 0,
        tgid,
        start_ns: Some(test_start_ns(tgid)),
        tid,
        ppid: 1,
        comm: comm.into(),
        uid: 0,
        source: Source::TpBtf,
        detail,
        place: Place {
            ns_tgid: Some(tgid),
            ns_tid: Some(tid),
            pidns: Some(crate::place::namespaces::INIT_PIDNS_INODE),
            cgroup_id: Some(1),
            cgroup: Some("/".into()),
            container: None,
        },
    }
}

/// A fork event's detail for tests, with no namespace change.
pub fn test_fork(child_tgid: u32, child_tid: u32, thread: bool, clone_flags: Option<CloneFlags>) -> Detail {
    Detail::Fork {
        child_tgid,
        child_tid,
        thread,
        clone_flags,
        child_ns_tgid: Some(child_tgid),
        child_ns_tid: Some(child_tid),
        child_namespaces: NamespaceInodes::default(),
        child_start_ns: Some(test_start_ns(child_tgid)),
        ancestors: Default::default(),
        ancestors_truncated: false,
    }
}

/// The start time [`test_event`] gives process `tgid`.
pub fn test_start_ns(tgid: u32) -> u64 {
    1_000_000 * u64::from(tgid)
}

/// An exec for tests: `filename` with `argv`, by root in `/`, nothing truncated.
pub fn test_exec(filename: &str, argv: &[&str], old_tid: u32) -> Detail {
    let argv: Vec<Text> = argv.iter().map(|argument| Text::from(*argument)).collect();
    Detail::Exec {
        filename: filename.into(),
        argv_bytes: argv.iter().map(|argument| argument.as_bytes().len() as u64 + 1).sum(),
        argv,
        argv_truncated: false,
        env: None,
        env_truncated: false,
        old_tid,
        old_comm: None,
        euid: 0,
        gid: 0,
        egid: 0,
        cwd: Some("/".into()),
        cwd_truncated: false,
        ancestors: Ancestors::default(),
        ancestors_truncated: false,
    }
}
