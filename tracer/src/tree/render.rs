//! Draws the process tree of a [`TaskModel`]: one line per process (PID, what it ran, how long it
//! lived, how it ended), its threads on request, runs of identical siblings folded into one line.
use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    io::{self, Write},
};

use anstyle::{AnsiColor, Style};

use super::text::{ending, shorten};
use crate::{
    tasks::{Coverage, End, Process, ProcessKey, Start, TaskModel, Thread},
    text::{duration, escape, shell_word},
};

/// Most characters of a program's arguments shown per exec.
const MAX_ARGS: usize = 60;
/// Fewest identical siblings in a row that are folded into one line.
const MIN_RUN: usize = 3;

#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Levels of processes to show (1: only the roots); all when `None`.
    pub depth: Option<usize>,
    /// List each process's threads.
    pub threads: bool,
    /// Fold runs of identical siblings.
    pub collapse: bool,
    /// ANSI colours (a terminal, no `NO_COLOR`).
    pub colour: bool,
    /// Whether an unseen birth or death happened outside the recording.
    pub coverage: Coverage,
}

const PID: Style = Style::new().bold();
const FAILED: Style = AnsiColor::Red.on_default().bold();
const UNSEEN: Style = Style::new().dimmed();
const FOLDED: Style = AnsiColor::Cyan.on_default().bold();

/// One child line: a process, or a run of identical processes.
enum Item {
    One(ProcessKey),
    Run(Vec<ProcessKey>),
}

struct Renderer<'a> {
    model: &'a TaskModel,
    options: Options,
    signatures: HashMap<ProcessKey, u64>,
    out: Vec<String>,
}

/// Writes the tree of every process in `model`, roots in order of first sight.
pub fn render(model: &TaskModel, options: Options, out: &mut dyn Write) -> io::Result<()> {
    let mut renderer = Renderer { model, options, signatures: HashMap::new(), out: Vec::new() };
    for root in model.roots() {
        renderer.process(root, "", "", 1);
    }
    if model.lost() > 0 {
        renderer
            .out
            .push(format!("({} events were lost during the recording: tasks or events may be missing)", model.lost()));
    }
    for line in &renderer.out {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

impl Renderer<'_> {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.options.colour { format!("{}{text}{}", style.render(), style.render_reset()) } else { text.to_owned() }
    }

    fn process(&mut self, key: ProcessKey, lead: &str, cont: &str, depth: usize) {
        let model = self.model;
        let process = model.process(key);
        let deeper = self.options.depth.is_none_or(|limit| depth < limit);
        let mut facts = self.process_facts(key);
        if !deeper && !process.children.is_empty() {
            facts.push(format!("{} processes below not shown", self.descendants(key)));
        }
        let pid = self.paint(PID, &process.tgid.to_string());
        self.out.push(format!("{lead}{pid} {} — {}", what(process), facts.join(", ")));
        let children = if deeper { self.items(&process.children) } else { Vec::new() };
        if self.options.threads && process.threads.len() > 1 {
            let bar = if children.is_empty() { "   " } else { "│  " };
            for &thread in &process.threads {
                let line = self.thread_line(model.thread(thread));
                self.out.push(format!("{cont}{bar}{line}"));
            }
        }
        let count = children.len();
        for (index, item) in children.into_iter().enumerate() {
            let last = index + 1 == count;
            let lead = format!("{cont}{}", if last { "└─ " } else { "├─ " });
            let next = format!("{cont}{}", if last { "   " } else { "│  " });
            match item {
                Item::One(child) => self.process(child, &lead, &next, depth + 1),
                Item::Run(run) => {
                    let line = self.run_line(&run);
                    self.out.push(format!("{lead}{line}"));
                }
            }
        }
    }

    fn process_facts(&self, key: ProcessKey) -> Vec<String> {
        let process = self.model.process(key);
        let mut facts = Vec::new();
        if process.parent.is_none() && process.ppid != 0 {
            facts.push(format!("child of {}", process.ppid));
        }
        let started = self.model.process_started_ns(key);
        facts.extend(self.start(process.start));
        facts.extend(self.lifetime(started, process.end, process.first_seen_ns, process.last_seen_ns));
        facts.push(self.end(process.end));
        if process.threads.len() > 1 {
            facts.push(format!("{} threads", process.threads.len()));
        }
        facts
    }

    fn thread_line(&self, thread: &Thread) -> String {
        let names: Vec<String> = thread.names.iter().map(|name| escape(name).into_owned()).collect();
        let after = thread.tid_after_exec.map(|tid| format!(" (TID {tid} after exec)")).unwrap_or_default();
        let mut facts = Vec::new();
        facts.extend(self.start(thread.start));
        facts.extend(self.lifetime(thread.started_ns(), thread.end, thread.first_seen_ns, thread.last_seen_ns));
        facts.push(self.end(thread.end));
        format!("thread {}{after} {} — {}", thread.tid, names.join(" → "), facts.join(", "))
    }

    fn start(&self, start: Start) -> Option<String> {
        match start {
            Start::Forked { .. } => None,
            Start::Unseen if self.options.coverage.births => Some(self.paint(UNSEEN, "started before the recording")),
            Start::Unseen => Some(self.paint(UNSEEN, "start not recorded")),
        }
    }

    /// "lived 1.5ms", or "lived ≥ 2.00s" when one end is outside what was seen.
    fn lifetime(&self, started: Option<u64>, end: End, first_seen: u64, last_seen: u64) -> Option<String> {
        match (started, end) {
            (Some(started), End::Exited { ns, .. }) => Some(format!("lived {}", duration(ns.saturating_sub(started)))),
            _ => {
                let from = started.unwrap_or(first_seen);
                let to = match end {
                    End::Exited { ns, .. } => ns,
                    End::Unseen if self.options.coverage.deaths => {
                        self.model.span().map_or(last_seen, |(_, last)| last)
                    }
                    End::Unseen => last_seen,
                };
                (to > from).then(|| format!("lived ≥ {}", duration(to - from)))
            }
        }
    }

    fn end(&self, end: End) -> String {
        match end {
            End::Exited { status: 0, .. } => ending(0),
            End::Exited { status, .. } => self.paint(FAILED, &format!("✗ {}", ending(status))),
            End::Unseen if self.options.coverage.deaths => {
                self.paint(UNSEEN, "still running at the end of the recording")
            }
            End::Unseen => self.paint(UNSEEN, "end not recorded"),
        }
    }

    /// One line for a run of identical siblings.
    fn run_line(&self, run: &[ProcessKey]) -> String {
        let model = self.model;
        let first = model.process(run[0]);
        let pids: Vec<String> = run.iter().map(|&key| model.process(key).tgid.to_string()).collect();
        let pids = if pids.len() <= 5 { pids.join(", ") } else { format!("{} … {}", pids[0], pids[pids.len() - 1]) };
        let mut facts = vec![format!("PIDs {pids}")];
        let lifetimes: Vec<u64> = run
            .iter()
            .filter_map(|&key| match (model.process_started_ns(key), model.process(key).end) {
                (Some(started), End::Exited { ns, .. }) => Some(ns.saturating_sub(started)),
                _ => None,
            })
            .collect();
        if let (Some(shortest), Some(longest)) = (lifetimes.iter().min(), lifetimes.iter().max())
            && lifetimes.len() == run.len()
        {
            facts.push(format!("lived {} to {}", duration(*shortest), duration(*longest)));
        }
        facts.push(self.end(first.end));
        let below = self.descendants(run[0]);
        if below > 0 {
            facts.push(format!("{below} processes below each"));
        }
        let count = self.paint(FOLDED, &format!("× {}", run.len()));
        format!("{count} {} — {}", programs(first), facts.join(", "))
    }

    /// Children as lines: runs of identical siblings folded when asked to.
    fn items(&mut self, children: &[ProcessKey]) -> Vec<Item> {
        let mut items = Vec::new();
        let mut index = 0;
        while index < children.len() {
            let mut end = index + 1;
            if self.options.collapse {
                let signature = self.signature(children[index]);
                while end < children.len() && self.signature(children[end]) == signature {
                    end += 1;
                }
            }
            if end - index >= MIN_RUN {
                items.push(Item::Run(children[index..end].to_vec()));
            } else {
                items.extend(children[index..end].iter().map(|&child| Item::One(child)));
            }
            index = end;
        }
        items
    }

    /// What makes siblings identical: the same programs, the same ending, the same number of
    /// threads and identical children, whatever their PIDs, arguments and timing.
    fn signature(&mut self, key: ProcessKey) -> u64 {
        if let Some(&signature) = self.signatures.get(&key) {
            return signature;
        }
        let process = self.model.process(key);
        let mut hasher = DefaultHasher::new();
        programs(process).hash(&mut hasher);
        process.end.status().hash(&mut hasher);
        process.threads.len().hash(&mut hasher);
        for &child in &process.children {
            self.signature(child).hash(&mut hasher);
        }
        let signature = hasher.finish();
        self.signatures.insert(key, signature);
        signature
    }

    fn descendants(&self, key: ProcessKey) -> usize {
        let children = &self.model.process(key).children;
        children.len() + children.iter().map(|&child| self.descendants(child)).sum::<usize>()
    }
}

/// What the process ran: each exec's file and shortened arguments, in order; `(comm)` for a
/// process that never exec'd (it ran its creator's program).
fn what(process: &Process) -> String {
    if process.execs.is_empty() {
        return format!("({})", escape(&process.comm));
    }
    let execs: Vec<String> = process
        .execs
        .iter()
        .map(|exec| {
            let mut text = escape(&exec.filename).into_owned();
            let base = |path: &str| path.rsplit('/').next().unwrap_or(path).to_owned();
            if let Some(argv0) = exec.argv.first()
                && base(argv0) != base(&exec.filename)
            {
                text.push_str(&format!(" (as {})", shell_word(argv0)));
            }
            // Shell words are escaped already; the cut counts the characters shown.
            let args: Vec<String> = exec.argv.iter().skip(1).map(|argument| shell_word(argument)).collect();
            let mut args = args.join(" ");
            if exec.argv_truncated {
                args.push_str(" …");
            }
            if !args.is_empty() {
                text.push(' ');
                text.push_str(&shorten(&args, MAX_ARGS));
            }
            text
        })
        .collect();
    execs.join(" ⇒ ")
}

/// The programs alone, for runs of siblings that differ in their arguments.
fn programs(process: &Process) -> String {
    if process.execs.is_empty() {
        return format!("({})", escape(&process.comm));
    }
    let files: Vec<String> = process.execs.iter().map(|exec| escape(&exec.filename).into_owned()).collect();
    files.join(" ⇒ ")
}
