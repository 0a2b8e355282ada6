//! What one frame shows, taken from the model in one short pass (the drain waits meanwhile) so
//! that drawing it takes no lock: the rows of the process tree as the view's sort, filter,
//! focus and threads settings lay them out, the churn panel's rows and the header's figures.
//! Every name is escaped here, once: nothing from a task reaches the terminal raw. Only the rows
//! on screen are written out: a fork storm leaves thousands of ended processes in the tree.
use std::ops::Range;

use foldhash::HashMap;

use crate::{
    event::exit_status,
    text::{duration, escape, shell_word},
    top::{
        model::{Arguments, COMMAND_CHARS, GONE_KEEP_NS, Group, NEW_NS, TopModel},
        users::Users,
    },
};

/// How the rows are ordered among siblings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    /// Most events in the last two seconds first.
    #[default]
    Churn,
    /// Youngest first.
    Age,
    /// Most tasks first.
    Tasks,
}

impl Sort {
    pub fn next(self) -> Sort {
        match self {
            Sort::Churn => Sort::Age,
            Sort::Age => Sort::Tasks,
            Sort::Tasks => Sort::Churn,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Sort::Churn => "churn",
            Sort::Age => "age",
            Sort::Tasks => "tasks",
        }
    }
}

/// The view's settings that choose and order rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    pub sort: Sort,
    /// Only processes whose comm or command line holds this, whose PID it is, or whose
    /// container ID starts with it.
    pub filter: String,
    /// Only this process and its descendants.
    pub focus: Option<u32>,
    pub threads: bool,
}

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

/// Which row of the tree is which: what the selection follows and focus takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RowId {
    /// The process's TGID, or the thread's TID.
    pub id: u32,
    pub tgid: u32,
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
    let rows = tree.places[range.clone()].iter().map(|place| tree.row(place, now_ns, users)).collect();
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

fn matches(group: &Group, filter: &str) -> bool {
    if filter.is_empty() {
        return true;
    }
    if filter.parse::<u32>().is_ok_and(|pid| pid == group.tgid) {
        return true;
    }
    let lower = filter.to_lowercase();
    group.comm.to_str_lossy().to_lowercase().contains(&lower)
        || group.argv.words.iter().any(|argument| argument.to_str_lossy().to_lowercase().contains(&lower))
        || group.container.as_ref().is_some_and(|id| id.as_bytes().starts_with(filter.as_bytes()))
}

/// How a line hangs from the one above it.
#[derive(Clone, Copy)]
enum Branch {
    Root,
    Child { last: bool },
    Thread { last: bool },
}

impl Branch {
    fn mark(self) -> &'static str {
        match self {
            Branch::Root => "",
            Branch::Child { last: false } => "├─ ",
            Branch::Child { last: true } => "└─ ",
            Branch::Thread { last: false } => "├┄ ",
            Branch::Thread { last: true } => "└┄ ",
        }
    }
}

/// A line of the tree before it is written out: its group (or one of its threads), and its
/// branch, after the `prefix` its parent's level drew.
struct Place {
    group: usize,
    thread: Option<u32>,
    prefix: usize,
    branch: Branch,
}

/// The tree's lines in order, over the groups they show.
struct Tree<'a> {
    groups: Vec<&'a Group>,
    places: Vec<Place>,
    /// The prefixes the levels draw, shared by siblings.
    prefixes: Vec<String>,
}

impl Tree<'_> {
    fn id(&self, place: &Place) -> RowId {
        let tgid = self.groups[place.group].tgid;
        RowId { id: place.thread.unwrap_or(tgid), tgid }
    }

    fn row(&self, place: &Place, now_ns: u64, users: &Users) -> Row {
        let group = self.groups[place.group];
        let branch = format!("{}{}", self.prefixes[place.prefix], place.branch.mark());
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
}

/// The tree: live and recently gone processes, kernel threads left out.
fn tree<'a>(model: &'a TopModel, now_ns: u64, layout: &Layout) -> Tree<'a> {
    let groups: Vec<&Group> = model
        .live
        .values()
        .chain(model.gone.iter().filter(|group| group.end.is_some_and(|end| end.ns + GONE_KEEP_NS >= now_ns)))
        .filter(|group| !group.kernel)
        .collect();
    // A parent by TGID: the live process, else the last one gone under that TGID.
    let mut by_tgid: HashMap<u32, usize> = HashMap::with_capacity_and_hasher(groups.len(), Default::default());
    for (index, group) in groups.iter().enumerate() {
        let replace = by_tgid.get(&group.tgid).is_none_or(|&other| groups[other].end.is_some());
        if replace {
            by_tgid.insert(group.tgid, index);
        }
    }
    let parent_of = |index: usize| -> Option<usize> {
        let group = groups[index];
        by_tgid.get(&group.ppid).copied().filter(|&parent| parent != index && groups[parent].tgid != group.tgid)
    };
    // Focus: the focused process and what descends from it.
    let in_focus = |index: usize| -> bool {
        let Some(focus) = layout.focus else { return true };
        let mut at = Some(index);
        for _ in 0..groups.len() {
            let Some(current) = at else { return false };
            if groups[current].tgid == focus && groups[current].end.is_none() {
                return true;
            }
            at = parent_of(current);
        }
        false
    };
    let shown: Vec<bool> =
        (0..groups.len()).map(|index| in_focus(index) && matches(groups[index], &layout.filter)).collect();
    // The shown children of each group, by index, and the roots: shown groups whose parent is
    // hidden or unknown.
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); groups.len()];
    let mut roots = Vec::new();
    for index in (0..groups.len()).filter(|&index| shown[index]) {
        match parent_of(index).filter(|&parent| shown[parent]) {
            Some(parent) => children[parent].push(index),
            None => roots.push(index),
        }
    }
    let key = |index: usize| {
        let group = groups[index];
        let order = match layout.sort {
            Sort::Churn => -(group.activity.per_second(now_ns) * 1000.0) as i64,
            Sort::Age => -(group.born_ns.unwrap_or(0) as i64),
            Sort::Tasks => -(group.tasks.len() as i64),
        };
        (order, group.tgid, group.end.map(|end| end.ns))
    };
    for siblings in children.iter_mut().chain([&mut roots]).filter(|siblings| siblings.len() > 1) {
        siblings.sort_by_cached_key(|&index| key(index));
    }
    let mut places = Vec::new();
    let mut prefixes = vec![String::new()];
    // Depth-first: (group, the prefix its level draws, how it hangs there).
    let mut stack: Vec<(usize, usize, Branch)> = roots.iter().rev().map(|&index| (index, 0, Branch::Root)).collect();
    let mut visited = vec![false; groups.len()];
    while let Some((index, prefix, branch)) = stack.pop() {
        if std::mem::replace(&mut visited[index], true) {
            continue;
        }
        let group = groups[index];
        places.push(Place { group: index, thread: None, prefix, branch });
        let kids = &children[index];
        let threads: Vec<u32> = if layout.threads && group.end.is_none() {
            group.tasks.keys().copied().filter(|tid| *tid != group.tgid).collect()
        } else {
            Vec::new()
        };
        if kids.is_empty() && threads.is_empty() {
            continue;
        }
        let below = match branch {
            Branch::Root => String::new(),
            Branch::Child { last } | Branch::Thread { last } => {
                format!("{}{}", prefixes[prefix], if last { "   " } else { "│  " })
            }
        };
        let below = if below.is_empty() {
            0
        } else {
            prefixes.push(below);
            prefixes.len() - 1
        };
        for (position, &tid) in threads.iter().enumerate() {
            let last = position + 1 == threads.len() && kids.is_empty();
            places.push(Place { group: index, thread: Some(tid), prefix: below, branch: Branch::Thread { last } });
        }
        for (position, &child) in kids.iter().enumerate().rev() {
            stack.push((child, below, Branch::Child { last: position + 1 == kids.len() }));
        }
    }
    Tree { groups, places, prefixes }
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
    for argument in argv.words.iter() {
        if line.len() >= COMMAND_CHARS {
            break;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&shell_word(&argument.to_str_lossy()));
    }
    if argv.cut || line.len() >= COMMAND_CHARS && argv.words.len() > 1 {
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
