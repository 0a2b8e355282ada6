//! The task model against a reference under random fork/exec/exit sequences in a small PID
//! space, where PIDs are reused all the time and forks and exits are often not in the stream
//! (filtered out, or not selected): every event must be filed under the one entry of the process
//! it is about, whatever held its PID before.
use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use crate::event::{Detail, Event, test_event, test_exec, test_fork};

/// One step: what happens, to which live process (an index), the PID a fork asks for, and
/// whether the stream shows the fork or exit.
#[derive(Clone, Debug)]
enum Step {
    Fork { parent: usize, pid: u32, shown: bool },
    Exec { process: usize },
    Exit { process: usize, shown: bool },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (any::<usize>(), 2u32..8, any::<bool>()).prop_map(|(parent, pid, shown)| Step::Fork { parent, pid, shown }),
        any::<usize>().prop_map(|process| Step::Exec { process }),
        (any::<usize>(), any::<bool>()).prop_map(|(process, shown)| Step::Exit { process, shown }),
    ]
}

/// A live process of the reference: its PID, start time and number.
#[derive(Clone, Copy)]
struct Live {
    tgid: u32,
    start: u64,
    id: usize,
}

fn event(ns: u64, process: Live, ppid: u32, detail: Detail) -> Event {
    Event {
        timestamp_ns: ns,
        ppid,
        start_ns: Some(process.start),
        ..test_event(process.tgid, process.tgid, "p", detail)
    }
}

proptest! {
    #[test]
    fn every_event_is_filed_under_its_own_process(steps in proptest::collection::vec(step(), 1..80)) {
        let mut model = TaskModel::new();
        let mut alive = vec![Live { tgid: 1, start: 1, id: 0 }];
        let mut parents: HashMap<usize, u32> = HashMap::from([(0, 0)]);
        let mut next_id = 1;
        // Reference process number → the model's entry, as first filed.
        let mut entries: HashMap<usize, ProcessKey> = HashMap::new();
        let mut file = |id: usize, key: ProcessKey| -> Result<(), TestCaseError> {
            let known = *entries.entry(id).or_insert(key);
            prop_assert_eq!(known, key, "process {} filed under two entries", id);
            prop_assert_eq!(entries.values().filter(|&&other| other == key).count(), 1, "two processes, one entry");
            Ok(())
        };
        for (ns, step) in (10..).step_by(10).zip(steps) {
            match step {
                Step::Fork { parent, pid, shown } => {
                    let parent = alive[parent % alive.len()];
                    let Some(tgid) = (pid..8).chain(2..pid).find(|pid| alive.iter().all(|live| live.tgid != *pid)) else {
                        continue;
                    };
                    let child = Live { tgid, start: ns, id: next_id };
                    next_id += 1;
                    alive.push(child);
                    parents.insert(child.id, parent.tgid);
                    if shown {
                        let mut detail = test_fork(tgid, tgid, false, None);
                        if let Detail::Fork { child_start_ns, .. } = &mut detail {
                            *child_start_ns = Some(child.start);
                        }
                        let observed = model.observe(&event(ns, parent, parents[&parent.id], detail)).unwrap();
                        file(parent.id, observed.process)?;
                        file(child.id, observed.created.unwrap().0)?;
                    }
                }
                Step::Exec { process } => {
                    let process = alive[process % alive.len()];
                    let filename = format!("/bin/p{}-{ns}", process.id);
                    let detail = test_exec(&filename, &[], process.tgid);
                    let observed = model.observe(&event(ns, process, parents[&process.id], detail)).unwrap();
                    file(process.id, observed.process)?;
                    let programs = &model.process(observed.process).execs;
                    let own = format!("/bin/p{}-", process.id);
                    prop_assert!(programs.iter().all(|exec| exec.filename.starts_with(&own)), "{:?}", programs);
                }
                Step::Exit { process, shown } => {
                    // PID 1 stays, as init does.
                    let index = process % alive.len();
                    if index == 0 {
                        continue;
                    }
                    let process = alive.remove(index);
                    if shown {
                        let detail = Detail::exit(0, true, ns - process.start);
                        let observed = model.observe(&event(ns, process, parents[&process.id], detail)).unwrap();
                        file(process.id, observed.process)?;
                    }
                }
            }
        }
    }
}
