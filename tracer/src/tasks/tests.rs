//! The task model against hand-made event streams: births, exec chains, deaths, PID reuse.
use super::*;
use crate::event::{Detail, Event, test_event};

fn at(ns: u64, tgid: u32, tid: u32, ppid: u32, comm: &str, detail: Detail) -> Event {
    Event { timestamp_ns: ns, ppid, ..test_event(tgid, tid, comm, detail) }
}

fn fork(ns: u64, tgid: u32, tid: u32, child_tgid: u32, child_tid: u32, comm: &str) -> Event {
    at(ns, tgid, tid, 1, comm, crate::event::test_fork(child_tgid, child_tid, child_tgid == tgid, None))
}

fn exec(ns: u64, tgid: u32, tid: u32, ppid: u32, old_tid: u32, filename: &str, argv: &[&str]) -> Event {
    let comm = filename.rsplit('/').next().unwrap_or(filename);
    at(ns, tgid, tid, ppid, comm, crate::event::test_exec(filename, argv, old_tid))
}

fn exit(ns: u64, tgid: u32, tid: u32, ppid: u32, status: u32, group_dead: bool, lifetime_ns: u64) -> Event {
    at(ns, tgid, tid, ppid, "x", Detail::exit(status, group_dead, lifetime_ns))
}

#[test]
fn files_forks_execs_renames_and_exits() {
    let mut model = TaskModel::new();
    let shell = model.observe(&fork(100, 10, 10, 20, 20, "sh")).unwrap();
    let thread = model.observe(&fork(150, 20, 20, 20, 21, "sh")).unwrap();
    model.observe(&at(160, 20, 21, 10, "sh", Detail::Rename { old_comm: "sh".into(), new_comm: "worker".into() }));
    model.observe(&exit(170, 20, 21, 10, 0, false, 20));
    model.observe(&exec(200, 20, 20, 10, 20, "/bin/cc", &["cc", "-c", "a.c"]));
    model.observe(&exec(300, 20, 20, 10, 20, "/usr/bin/as", &["as"]));
    model.observe(&exit(400, 20, 20, 10, 1 << 8, true, 300));

    let (child, leader) = shell.created.unwrap();
    assert_eq!(model.process(shell.process).tgid, 10);
    assert_eq!(model.process(shell.process).start, Start::Unseen);
    assert_eq!(model.process(shell.process).children, [child]);
    let process = model.process(child);
    assert_eq!((process.tgid, process.ppid, process.parent), (20, 10, Some(shell.process)));
    assert_eq!(process.start, Start::Forked { ns: 100, by: shell.thread });
    assert_eq!(process.end, End::Exited { ns: 400, status: 1 << 8 });
    assert_eq!(process.comm, "sh");
    let programs: Vec<_> = process.execs.iter().map(|exec| (exec.ns, exec.filename.as_str())).collect();
    assert_eq!(programs, [(200, "/bin/cc"), (300, "/usr/bin/as")]);
    assert_eq!(process.execs[0].argv, ["cc", "-c", "a.c"]);
    assert_eq!(model.program(child), "/usr/bin/as");
    assert_eq!(process.threads.len(), 2);
    let (same, worker) = thread.created.unwrap();
    assert_eq!(same, child, "a new thread joins its creator's process");
    let worker = model.thread(worker);
    assert_eq!((worker.tid, worker.names.clone()), (21, vec!["sh".to_owned(), "worker".to_owned()]));
    assert_eq!((worker.start, worker.end), (Start::Forked { ns: 150, by: leader }, End::Exited { ns: 170, status: 0 }));
    assert_eq!(model.process_started_ns(child), Some(100));
    assert_eq!(model.span(), Some((100, 400)));
}

#[test]
fn a_reused_pid_is_a_new_process() {
    let mut model = TaskModel::new();
    let parent = model.observe(&fork(100, 10, 10, 20, 20, "sh")).unwrap();
    let first = parent.created.unwrap().0;
    model.observe(&exit(200, 20, 20, 10, 0, true, 100));
    let second = model.observe(&fork(300, 10, 10, 20, 20, "sh")).unwrap().created.unwrap().0;
    assert_ne!(first, second);
    let exec = model.observe(&exec(310, 20, 20, 10, 20, "/bin/true", &["true"])).unwrap();
    assert_eq!(exec.process, second, "events about PID 20 go to the live process");
    assert_eq!(model.process(first).end, End::Exited { ns: 200, status: 0 });
    assert!(model.process(first).execs.is_empty());
    assert_eq!(model.process(parent.process).children, [first, second]);
}

#[test]
fn a_reused_pid_whose_exit_went_unseen_starts_a_new_entry() {
    let mut model = TaskModel::new();
    let old = model.observe(&exec(100, 30, 30, 1, 30, "/bin/old", &["old"])).unwrap();
    let new = model.observe(&fork(200, 10, 10, 30, 30, "sh")).unwrap().created.unwrap();
    assert_ne!(old.process, new.0);
    assert_eq!(model.process(old.process).end, End::Unseen);
    assert_eq!(model.process(old.process).last_seen_ns, 100);
    let later = model.observe(&exit(300, 30, 30, 10, 0, true, 100)).unwrap();
    assert_eq!((later.process, later.thread), new);
}

#[test]
fn a_non_leader_exec_takes_over_the_leader_tid() {
    let mut model = TaskModel::new();
    model.observe(&fork(100, 40, 40, 40, 41, "app"));
    model.observe(&exit(150, 40, 40, 1, 0, false, 1_000));
    let exec = model.observe(&exec(200, 40, 40, 1, 41, "/bin/new", &["new"])).unwrap();
    let thread = model.thread(exec.thread);
    assert_eq!((thread.tid, thread.tid_after_exec), (41, Some(40)));
    let gone = model.observe(&exit(300, 40, 40, 1, 0, true, 200)).unwrap();
    assert_eq!(gone.thread, exec.thread, "the exec'd thread now answers to the leader's TID");
    assert_eq!(model.process(exec.process).threads.len(), 2);
}

#[test]
fn an_unseen_birth_is_dated_from_the_lifetime_at_exit_and_linked_to_its_live_parent() {
    let mut model = TaskModel::new();
    let parent = model.observe(&exec(100, 50, 50, 1, 50, "/bin/make", &["make"])).unwrap().process;
    let child = model.observe(&exec(120, 51, 51, 50, 51, "/bin/cc", &["cc"])).unwrap().process;
    model.observe(&exit(500, 51, 51, 50, 0, true, 450));
    assert_eq!(model.process(child).parent, Some(parent));
    assert_eq!(model.process(child).start, Start::Unseen);
    assert_eq!(model.process_started_ns(child), Some(50));
    assert_eq!(model.process_started_ns(parent), None);
    assert_eq!(model.roots().collect::<Vec<_>>(), [parent]);
}

#[test]
fn lost_events_are_counted_and_belong_to_no_task() {
    let mut model = TaskModel::new();
    assert_eq!(
        model.observe(&at(
            5,
            1,
            1,
            0,
            "tracer",
            Detail::Lost { count: 7, origin: crate::event::LostOrigin::RingBuffer }
        )),
        None
    );
    assert_eq!(model.lost(), 7);
    assert_eq!(model.processes().count(), 0);
}

/// With exits not selected (`-e exec`), a PID reused by another process shows only in the start
/// time its events carry: the two are two entries, each with its own programs.
#[test]
fn a_reused_pid_whose_end_went_unseen_is_a_new_process_by_its_start_time() {
    let mut model = TaskModel::new();
    let first = model.observe(&exec(100, 30, 30, 1, 30, "/bin/true", &["true"])).unwrap();
    let again = model.observe(&exec(150, 30, 30, 1, 30, "/bin/true", &["true"])).unwrap();
    assert_eq!(again.process, first.process, "the same start: the same process");
    let reused = Event {
        start_ns: Some(first_start(&model, first.process) + 1),
        ..exec(200, 30, 30, 7, 30, "/bin/bash", &["bash"])
    };
    let second = model.observe(&reused).unwrap();
    assert_ne!(second.process, first.process);
    assert_ne!(second.thread, first.thread, "its TID names another task too");
    let programs = |key| model.process(key).execs.iter().map(|exec| exec.filename.clone()).collect::<Vec<_>>();
    assert_eq!(programs(first.process), ["/bin/true", "/bin/true"]);
    assert_eq!(programs(second.process), ["/bin/bash"]);
    assert_eq!(model.process(second.process).start_ns, reused.start_ns);
    assert_eq!(model.process(second.process).ppid, 7);
}

fn first_start(model: &TaskModel, key: ProcessKey) -> u64 {
    model.process(key).start_ns.expect("a start time")
}

/// A fork's child is known by the start time the fork reported: its own events join it, a
/// thread's events join their process, and recordings without start times still file by PID.
#[test]
fn a_forked_child_is_joined_by_its_start_time() {
    let mut model = TaskModel::new();
    let forked = model.observe(&fork(100, 10, 10, 20, 20, "sh")).unwrap();
    let (child, _) = forked.created.unwrap();
    assert_eq!(model.process(child).start_ns, Some(crate::event::test_start_ns(20)));
    let own = model.observe(&exec(120, 20, 20, 10, 20, "/bin/cc", &["cc"])).unwrap();
    assert_eq!(own.process, child);
    let thread = model.observe(&fork(130, 20, 20, 20, 21, "cc")).unwrap();
    assert_eq!(thread.created.unwrap().0, child);
    let unknown = Event { start_ns: None, ..exec(140, 20, 21, 10, 21, "/bin/as", &["as"]) };
    assert_eq!(model.observe(&unknown).unwrap().process, child, "no start time: filed by PID");
}
