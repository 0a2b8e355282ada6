//! Which thread group each live task belongs to, so a lookup of `/proc/<n>` can say whose task
//! `<n>` is: seeded from `/proc` at start, kept current from fork, exec and exit events, and
//! asked of `/proc/<n>/status` for tasks created by tasks whose events were filtered out.
use std::collections::HashMap;

use crate::event::{Detail, Event};

#[derive(Debug, Default)]
pub struct TaskTable {
    /// TID → TGID.
    groups: HashMap<u32, u32>,
}

impl TaskTable {
    /// Every task alive now, from `/proc/<tgid>/task/<tid>`.
    pub fn from_proc() -> Self {
        let mut groups = HashMap::new();
        let numbered = |path: &str| -> Vec<u32> {
            std::fs::read_dir(path)
                .into_iter()
                .flatten()
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        };
        for tgid in numbered("/proc") {
            for tid in numbered(&format!("/proc/{tgid}/task")) {
                groups.insert(tid, tgid);
            }
        }
        Self { groups }
    }

    /// Follows task births, exec's TID changes and deaths.
    pub fn observe(&mut self, event: &Event) {
        match event.detail {
            Detail::Fork { child_tgid, child_tid, .. } => {
                self.groups.insert(child_tid, child_tgid);
            }
            Detail::Exec { old_tid, .. } if old_tid != event.tid => {
                // The exec'ing thread took over the leader's TID; its own is gone.
                self.groups.remove(&old_tid);
            }
            Detail::Exit { .. } => {
                self.groups.remove(&event.tid);
            }
            _ => {}
        }
    }

    /// Fills in the thread group a looked-up `/proc/<n>` names, when `<n>` is a live task.
    pub fn resolve_lookup(&mut self, event: &mut Event) {
        if let Detail::Lookup { name, target_tgid, hidden_thread } = &mut event.detail
            && let Some(tid) = name.as_str().and_then(|name| name.parse::<u32>().ok())
        {
            *target_tgid = self.groups.get(&tid).copied().or_else(|| group_from_proc(tid));
            *hidden_thread = target_tgid.is_some_and(|tgid| tgid != tid);
        }
    }
}

/// `Tgid:` of `/proc/<tid>/status`, for a task not seen being created.
fn group_from_proc(tid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status.lines().find_map(|line| line.strip_prefix("Tgid:")?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::test_event;

    fn event(tgid: u32, tid: u32, detail: Detail) -> Event {
        test_event(tgid, tid, "t", detail)
    }

    #[test]
    fn resolves_threads_seen_being_created_and_forgets_dead_ones() {
        let mut table = TaskTable::default();
        table.observe(&event(812, 812, crate::event::test_fork(812, 4_000_001, true, None)));
        let mut lookup =
            event(900, 900, Detail::Lookup { name: "4000001".into(), target_tgid: None, hidden_thread: false });
        table.resolve_lookup(&mut lookup);
        assert_eq!(
            lookup.detail,
            Detail::Lookup { name: "4000001".into(), target_tgid: Some(812), hidden_thread: true }
        );

        table.observe(&event(812, 4_000_001, Detail::exit(0, false, 1)));
        let mut lookup =
            event(900, 900, Detail::Lookup { name: "4000001".into(), target_tgid: None, hidden_thread: false });
        table.resolve_lookup(&mut lookup);
        // PIDs above pid_max's ceiling never exist in /proc either.
        assert_eq!(lookup.detail, Detail::Lookup { name: "4000001".into(), target_tgid: None, hidden_thread: false });
    }

    #[test]
    fn finds_its_own_process_in_proc() {
        let table = TaskTable::from_proc();
        let me = std::process::id();
        assert_eq!(table.groups.get(&me), Some(&me));
    }
}
