//! The processes already running when `tracer top` starts, from `/proc` (read once the hooks
//! are attached: whatever changes after is an event), chosen by the same filters as the
//! kernel side's, so the view starts with what the stream would go on to show.
use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use crate::{
    event::{Detail, Event, Source},
    filter::{EventFilter, Filters},
    place::{Place, container::container_of},
    text::Text,
    top::{
        model::{Arguments, Group, KTHREADD, Task},
        window::Window,
    },
};

/// Every process under `proc_root` the filters select (with `--follow`, their descendants too).
pub fn from_proc(proc_root: &Path, filters: &Filters, boot_to_wall_ns: i64) -> Vec<Group> {
    let tick_ns = 1_000_000_000 / clock_ticks();
    let found: Vec<(Group, Place)> = std::fs::read_dir(proc_root)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|tgid| read_process(&proc_root.join(tgid.to_string()), tgid, tick_ns, boot_to_wall_ns))
        .collect();
    let mut filter = EventFilter::new(filters.clone());
    let mut chosen: BTreeSet<u32> = found
        .iter()
        .filter(|(group, place)| filter.admits(&as_event(group, place)))
        .map(|(group, _)| group.tgid)
        .collect();
    if filters.follow {
        let parents: BTreeMap<u32, u32> = found.iter().map(|(group, _)| (group.tgid, group.ppid)).collect();
        for (group, _) in &found {
            let mut at = group.ppid;
            for _ in 0..parents.len() {
                if chosen.contains(&at) {
                    chosen.insert(group.tgid);
                    break;
                }
                match parents.get(&at) {
                    Some(&parent) if parent != at => at = parent,
                    _ => break,
                }
            }
        }
    }
    found.into_iter().map(|(group, _)| group).filter(|group| chosen.contains(&group.tgid)).collect()
}

/// The process as an event would show it, for the filters.
fn as_event(group: &Group, place: &Place) -> Event {
    Event {
        timestamp_ns: 0,
        cpu: 0,
        tgid: group.tgid,
        start_ns: None,
        tid: group.tgid,
        ppid: group.ppid,
        comm: group.comm.clone(),
        uid: group.uid,
        source: Source::Tracer,
        detail: Detail::Rename { old_comm: group.comm.clone(), new_comm: group.comm.clone() },
        place: place.clone(),
    }
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf only reads a constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as u64 } else { 100 }
}

/// One process from its directory; `None` when it is gone already or unreadable.
fn read_process(dir: &Path, tgid: u32, tick_ns: u64, boot_to_wall_ns: i64) -> Option<(Group, Place)> {
    let stat = std::fs::read(dir.join("stat")).ok()?;
    // `pid (comm) state ppid …`: the comm may hold spaces and parentheses, so it ends at the last ')'.
    let open = stat.iter().position(|&byte| byte == b'(')?;
    let close = stat.iter().rposition(|&byte| byte == b')')?;
    let comm = Text::from(stat.get(open + 1..close)?);
    let fields: Vec<&str> = std::str::from_utf8(stat.get(close + 1..)?).ok()?.split_whitespace().collect();
    let ppid: u32 = fields.get(1)?.parse().ok()?;
    // Field 22, `starttime`, in clock ticks since boot.
    let start_ticks: u64 = fields.get(19)?.parse().ok()?;
    let born_ns = (start_ticks.saturating_mul(tick_ns) as i64).saturating_add(boot_to_wall_ns).max(0) as u64;
    let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let argv: Vec<Text> = std::fs::read(dir.join("cmdline"))
        .unwrap_or_default()
        .split(|&byte| byte == 0)
        .filter(|argument| !argument.is_empty())
        .map(Text::from)
        .collect();
    let argv = Arguments::new(&argv);
    let tasks: BTreeMap<u32, Task> = std::fs::read_dir(dir.join("task"))
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .map(|tid| {
            let comm = std::fs::read(dir.join(format!("task/{tid}/comm")))
                .map(|name| Text::from(name.strip_suffix(b"\n").unwrap_or(&name)))
                .unwrap_or_else(|_| comm.clone());
            (tid, Task { comm, born_ns: None })
        })
        .collect();
    let cgroup = std::fs::read(dir.join("cgroup")).ok().and_then(|text| {
        text.split(|&byte| byte == b'\n').find_map(|line| line.strip_prefix(b"0::").map(<[u8]>::to_vec))
    });
    let pidns = std::fs::read_link(dir.join("ns/pid")).ok().and_then(|link| {
        let link = link.to_str()?.to_owned();
        link.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
    });
    let container = cgroup.as_deref().and_then(container_of);
    let place = Place { pidns, cgroup: cgroup.map(Text::from), container: container.clone(), ..Place::default() };
    let group = Group {
        tgid,
        start_ns: None,
        ppid,
        uid,
        container,
        comm,
        argv,
        tasks,
        born_ns: Some(born_ns),
        born_seen: false,
        end: None,
        activity: Window::default(),
        kernel: tgid == KTHREADD || ppid == KTHREADD,
    };
    Some((group, place))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_found_with_its_threads() {
        let me = std::process::id();
        let _thread = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(2)));
        let groups = from_proc(Path::new("/proc"), &Filters { pids: [me].into(), ..Filters::default() }, 0);
        assert_eq!(groups.len(), 1, "only the selected process");
        let group = &groups[0];
        assert_eq!((group.tgid, group.ppid), (me, std::os::unix::process::parent_id()));
        assert!(group.tasks.len() >= 2 && group.tasks.contains_key(&me));
        assert!(!group.argv.words.is_empty() && group.born_ns.is_some());
    }
}
