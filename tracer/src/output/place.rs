//! How the table shows where tasks live and how their namespaces change, without ten new
//! columns: a task's container (short ID) and its IDs in its own PID namespace are appended to
//! the details only where they differ from the host's.
use std::fmt::Write;

use crate::{
    event::{Event, NamespaceHow, NamespaceInodes, NamespaceKind},
    text::escape,
};

/// Characters of a container ID the table shows (as `docker ps` does).
const SHORT_ID: usize = 12;

/// ` [ctr 3f2a9c1b7d4e ns 1/1]`: the container and the task's IDs in its PID namespace where
/// they differ from the global ones; empty on the host.
pub fn suffix(event: &Event) -> String {
    let mut parts = Vec::new();
    if let Some(container) = &event.place.container {
        // Cut before escaping, so that the cut never splits an escape.
        let short: String = container.to_str_lossy().chars().take(SHORT_ID).collect();
        parts.push(format!("ctr {}", escape(&short)));
    }
    if let (Some(ns_tgid), Some(ns_tid)) = (event.place.ns_tgid, event.place.ns_tid)
        && (ns_tgid, ns_tid) != (event.tgid, event.tid)
    {
        parts.push(format!("ns {ns_tgid}/{ns_tid}"));
    }
    if parts.is_empty() { String::new() } else { format!(" [{}]", parts.join(" ")) }
}

/// `(ns 1)` or `(ns 3/4)` after a new task's global IDs, when its own differ.
pub fn child_ids(thread: bool, global: (u32, u32), own: (Option<u32>, Option<u32>)) -> String {
    match own {
        (Some(tgid), Some(tid)) if (tgid, tid) != global => {
            if thread {
                format!(" (ns {tgid}/{tid})")
            } else {
                format!(" (ns {tgid})")
            }
        }
        _ => String::new(),
    }
}

/// `, in other namespaces: pid 4026532454, user 4026532500`, for a new task's namespaces that
/// differ from its creator's.
pub fn child_namespaces(namespaces: &NamespaceInodes) -> String {
    if namespaces.is_empty() {
        return String::new();
    }
    let list: Vec<String> = namespaces.0.iter().map(|(kind, inode)| format!("{} {inode}", kind.name())).collect();
    format!(", in other namespaces: {}", list.join(", "))
}

/// `setns: net 4026531833 -> 4026532451, uts …`.
pub fn namespace_change(
    how: NamespaceHow,
    changed: &[NamespaceKind],
    old: &NamespaceInodes,
    new: &NamespaceInodes,
) -> String {
    let mut text = format!("{}:", how.name());
    for (index, kind) in changed.iter().enumerate() {
        let inode = |inodes: &NamespaceInodes| inodes.get(*kind).map_or("?".to_owned(), |inode| inode.to_string());
        let separator = if index == 0 { " " } else { ", " };
        let _ = write!(text, "{separator}{} {} -> {}", kind.name(), inode(old), inode(new));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        event::{Detail, test_event},
        text::Text,
    };

    #[test]
    fn shows_the_place_only_where_it_differs_from_the_hosts() {
        let mut event = test_event(900, 901, "sh", Detail::exit(0, false, 1));
        assert_eq!(suffix(&event), "");
        event.place.container = Some(Text::from("3f2a9c1b7d4e5f60718293a4b5c6d7e8"));
        assert_eq!(suffix(&event), " [ctr 3f2a9c1b7d4e]");
        (event.place.ns_tgid, event.place.ns_tid) = (Some(1), Some(2));
        assert_eq!(suffix(&event), " [ctr 3f2a9c1b7d4e ns 1/2]");
        event.place.container = Some(Text::from("ev\u{1b}[2J"));
        assert_eq!(suffix(&event), r" [ctr ev\x1b[2J ns 1/2]");
        event.place.container = Some(Text::from("a\u{202e}\u{2028}\\b"));
        assert_eq!(suffix(&event), r" [ctr a\u{202e}\u{2028}\\b ns 1/2]");
    }

    #[test]
    fn describes_namespace_changes() {
        let inodes = |pairs: &[(NamespaceKind, u32)]| NamespaceInodes(pairs.iter().copied().collect());
        let text = namespace_change(
            NamespaceHow::Unshare,
            &[NamespaceKind::PidForChildren, NamespaceKind::Uts],
            &inodes(&[(NamespaceKind::PidForChildren, 1), (NamespaceKind::Uts, 3)]),
            &inodes(&[(NamespaceKind::PidForChildren, 2), (NamespaceKind::Uts, 4)]),
        );
        assert_eq!(text, "unshare: pid_for_children 1 -> 2, uts 3 -> 4");
        assert_eq!(child_ids(false, (900, 900), (Some(1), Some(1))), " (ns 1)");
        assert_eq!(child_ids(true, (900, 902), (Some(1), Some(3))), " (ns 1/3)");
        assert_eq!(child_ids(false, (900, 900), (Some(900), Some(900))), "");
        assert_eq!(
            child_namespaces(&inodes(&[(NamespaceKind::Pid, 7), (NamespaceKind::User, 8)])),
            ", in other namespaces: pid 7, user 8"
        );
    }
}
