//! What one frame shows, taken from the model in one short pass (the drain waits meanwhile) so
//! that drawing it takes no lock: the rows of the process tree on screen (as [`super::rows`]
//! lays the tree out), the churn panel's rows and the header's figures. Every name is escaped
//! here, once: nothing from a task reaches the terminal raw.
use std::ops::Range;

use crate::{
    event::exit_status,
    text::{duration, escape, shell_word},
    top::{
        model::{Arguments, COMMAND_CHARS, Group, NEW_NS, TopModel},
        rows::{Layout, Place, RowId, Tree, tree},
        users::Users,
    },
};

/// How a row's process is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Created in the last [`NEW_NS`].
    New,
    Running,
    /// Ended (how, escaped), kept [`GONE_KEEP_NS`].
    Gone(String),
    /// A thread row under its process.
    Thread,
}

/// One line of the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The process's TGID, or the thread's TID.
    pub id: u32,
    /// The TGID of the process the row belongs to (focus takes it).
    pub tgid: u32,
    pub ppid: u32,
    pub user: String,
    pub container: String,
    pub tasks: usize,
    /// Age, or for a gone process its lifetime.
    pub age: String,
    pub state: State,
    /// Tree branches before the name.
    pub branch: String,
    pub comm: String,
    pub command: String,
}

/// A line of the churn panel: per second over the last two seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct ChurnRow {
    pub comm: String,
    pub forks: f64,
    pub execs: f64,
    pub exits: f64,
    pub threads: f64,
    pub lookups: f64,
    pub hidden: f64,
    pub total: u64,
}

/// The header's figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    pub events_per_second: f64,
    pub events: u64,
    pub lost: u64,
    pub processes: usize,
    pub tasks: usize,
}

/// One frame's content.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub figures: Figures,
    /// Every row of the tree, in order.
    pub ids: Vec<RowId>,
    /// The index in `ids` of `rows[0]`.
    pub first: usize,
    /// The rows written out: those on screen.
    pub rows: Vec<Row>,
    pub churn: Vec<ChurnRow>,
}

/// The header's figures now.
pub fn figures(model: &TopModel, now_ns: u64) -> Figures {
    Figures {
        events_per_second: model.events.per_second(now_ns),
        events: model.total_events,
        lost: model.lost,
        processes: model.live.values().filter(|group| !group.kernel).count(),
        tasks: model.live_tasks(),
    }
}

/// Takes the frame's content from `model` as of `now_ns`, laid out as `layout` says, with every
/// row written out.
pub fn take(model: &mut TopModel, now_ns: u64, layout: &Layout, users: &Users) -> Snapshot {
    take_shown(model, now_ns, layout, users, |ids, _| 0..ids.len())
}

/// As [`take`], writing out only the rows `shown` picks, given every row's ID and the number of
/// lines of the churn panel (which takes room from the tree).
pub fn take_shown(
    model: &mut TopModel,
    now_ns: u64,
    layout: &Layout,
    users: &Users,
    shown: impl FnOnce(&[RowId], usize) -> Range<usize>,
) -> Snapshot {
    model.prune(now_ns);
    let churn = churn(model, now_ns);
    let tree = tree(model, now_ns, layout);
    let ids: Vec<RowId> = tree.places.iter().map(|place| tree.id(place)).collect();
    let range = shown(&ids, churn.len());
    let range = range.start.min(ids.len())..range.end.min(ids.len());
    let rows = tree.places[range.clone()].iter().map(|place| write(&tree, place, now_ns, users)).collect();
    Snapshot { figures: figures(model, now_ns), ids, first: range.start, rows, churn }
}

fn churn(model: &TopModel, now_ns: u64) -> Vec<ChurnRow> {
    let mut rows: Vec<ChurnRow> = model
        .churn
        .iter()
        .map(|(comm, churn)| ChurnRow {
            comm: escape(&comm.to_str_lossy()).into_owned(),
            forks: churn.forks.per_second(now_ns),
            execs: churn.execs.per_second(now_ns),
            exits: churn.exits.per_second(now_ns),
            threads: churn.threads.per_second(now_ns),
            lookups: churn.lookups.per_second(now_ns),
            hidden: churn.hidden.per_second(now_ns),
            total: churn.total,
        })
        .collect();
    let rate = |row: &ChurnRow| row.forks + row.execs + row.exits + row.threads + row.lookups;
    rows.sort_by(|a, b| rate(b).total_cmp(&rate(a)).then(b.total.cmp(&a.total)).then(a.comm.cmp(&b.comm)));
    rows
}

/// Writes out the row of `place`, escaped.
fn write(tree: &Tree, place: &Place, now_ns: u64, users: &Users) -> Row {
    let group = tree.groups[place.group];
    let branch = format!("{}{}", tree.prefixes[place.prefix], place.branch.mark());
    let Some(tid) = place.thread else { return group_row(group, now_ns, branch, users) };
    let task = &group.tasks[&tid];
    Row {
        id: tid,
        tgid: group.tgid,
        ppid: group.tgid,
        user: String::new(),
        container: String::new(),
        tasks: 1,
        age: task.born_ns.map(|born| age(now_ns.saturating_sub(born))).unwrap_or_default(),
        state: State::Thread,
        branch,
        comm: escape(&task.comm.to_str_lossy()).into_owned(),
        command: String::new(),
    }
}

fn group_row(group: &Group, now_ns: u64, branch: String, users: &Users) -> Row {
    let (state, age_ns) = match group.end {
        Some(end) => (State::Gone(exit_status::status_ending(end.status)), end.lifetime_ns),
        None => {
            let age_ns = group.born_ns.map(|born| now_ns.saturating_sub(born));
            let new = group.born_seen && age_ns.is_some_and(|age| age <= NEW_NS);
            (if new { State::New } else { State::Running }, age_ns)
        }
    };
    Row {
        id: group.tgid,
        tgid: group.tgid,
        ppid: group.ppid,
        user: users.name(group.uid),
        container: group
            .container
            .as_ref()
            .map(|id| escape(&id.to_str_lossy()).chars().take(12).collect())
            .unwrap_or_default(),
        tasks: group.tasks.len(),
        age: age_ns.map(age).unwrap_or_default(),
        state,
        branch,
        comm: escape(&group.comm.to_str_lossy()).into_owned(),
        command: command_line(&group.argv),
    }
}

/// The arguments as a shell would need them written, cut after [`COMMAND_CHARS`].
fn command_line(argv: &Arguments) -> String {
    let mut line = String::new();
    let mut written = 0;
    for argument in argv.words.iter() {
        if line.len() >= COMMAND_CHARS {
            break;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&shell_word(&argument.to_str_lossy()));
        written += 1;
    }
    if argv.cut || written < argv.words.len() {
        line.push_str(" …");
    }
    line
}

/// An age as htop shows times: short, coarser as it grows.
pub fn age(ns: u64) -> String {
    let seconds = ns / 1_000_000_000;
    match seconds {
        0..10 => duration(ns),
        10..3600 => format!("{}:{:02}", seconds / 60, seconds % 60),
        3600..86_400 => format!("{}h{:02}", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{}d{:02}h", seconds / 86_400, seconds % 86_400 / 3600),
    }
}
