//! Which processes the tree of `tracer top` shows and in which order, as the view's sort,
//! filter, focus and threads settings choose: laid out as indices into the model, so that a
//! frame can write out only the rows on screen however many there are.
use foldhash::HashMap;

use crate::top::model::{GONE_KEEP_NS, Group, TopModel};

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

/// Which row of the tree is which: what the selection follows and focus takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RowId {
    /// The process's TGID, or the thread's TID.
    pub id: u32,
    pub tgid: u32,
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
pub(super) enum Branch {
    Root,
    Child { last: bool },
    Thread { last: bool },
}

impl Branch {
    pub(super) fn mark(self) -> &'static str {
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
pub(super) struct Place {
    pub(super) group: usize,
    pub(super) thread: Option<u32>,
    pub(super) prefix: usize,
    pub(super) branch: Branch,
}

/// The tree's lines in order, over the groups they show.
pub(super) struct Tree<'a> {
    pub(super) groups: Vec<&'a Group>,
    pub(super) places: Vec<Place>,
    /// The prefixes the levels draw, shared by siblings.
    pub(super) prefixes: Vec<String>,
}

impl Tree<'_> {
    pub(super) fn id(&self, place: &Place) -> RowId {
        let tgid = self.groups[place.group].tgid;
        RowId { id: place.thread.unwrap_or(tgid), tgid }
    }
}

/// The tree: live and recently gone processes, kernel threads left out.
pub(super) fn tree<'a>(model: &'a TopModel, now_ns: u64, layout: &Layout) -> Tree<'a> {
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
