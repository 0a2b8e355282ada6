use super::*;
use crate::event::{test_event, test_exec, test_fork};

/// Nanoseconds per tick of the fake `/proc`s (USER_HZ 100).
const TICK: u64 = 10_000_000;

fn ancestor(tgid: u32, start_ns: u64, comm: &str) -> Ancestor {
    Ancestor { tgid, start_ns: Some(start_ns), comm: comm.into(), exe: None }
}

/// An exit of process `tgid` whose kernel chain is `chain`.
fn exit_under(tgid: u32, tid: u32, chain: &[Ancestor]) -> Event {
    let mut event = test_event(tgid, tid, "worker", Detail::exit(0, false, 1));
    if let Detail::Exit { ancestors, .. } = &mut event.detail {
        *ancestors = chain.to_vec().into();
    }
    event
}

fn programs(event: &Event) -> Vec<Option<String>> {
    let (Detail::Fork { ancestors, .. } | Detail::Exec { ancestors, .. } | Detail::Exit { ancestors, .. }) =
        &event.detail
    else {
        panic!("no ancestors in {event:?}")
    };
    ancestors.iter().map(|ancestor| ancestor.exe.as_ref().map(Text::to_string)).collect()
}

/// A `/proc` holding `processes` (TGID, start in ticks, comm, program), in a directory of this
/// test's own.
fn fake_proc(name: &str, processes: &[(u32, u64, &str, &str)]) -> PathBuf {
    let root = std::env::temp_dir().join(format!("tracer-ancestry-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    for (pid, ticks, comm, exe) in processes {
        let dir = root.join(pid.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        let stat = format!("{pid} ({comm}) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {ticks} 0 0\n");
        std::fs::write(dir.join("stat"), stat).unwrap();
        std::os::unix::fs::symlink(exe, dir.join("exe")).unwrap();
    }
    root
}

#[test]
fn the_start_time_in_stat_is_field_22() {
    let stat = b"812 (a) b (c)) S 1 812 812 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 4242 1000 10 18446744073709551615";
    assert_eq!(stat_start_ticks(stat), Some(4242));
    assert_eq!(stat_start_ticks(b"812 (a) S 1"), None);
}

#[test]
fn a_program_from_proc_is_only_given_to_the_process_that_started_then() {
    // bash has held PID 812 since tick 250.
    let root = fake_proc("reuse", &[(812, 250, "bash", "/usr/bin/bash")]);
    let mut ancestry = Ancestry::from_root(&root, TICK);
    // Within the same tick as /proc says (the kernel's ns truncate to it): bash.
    let mut exit = exit_under(900, 900, &[ancestor(812, 250 * TICK + 7_654_321, "bash")]);
    ancestry.observe(&mut exit);
    assert_eq!(programs(&exit), [Some("/usr/bin/bash".to_owned())]);
    // An earlier process that held 812: unknown, not bash.
    let mut exit = exit_under(901, 901, &[ancestor(812, 100 * TICK, "true")]);
    ancestry.observe(&mut exit);
    assert_eq!(programs(&exit), [None]);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_program_seen_at_exec_is_not_given_to_the_next_process_with_that_pid() {
    let root = fake_proc("exec", &[]);
    let mut ancestry = Ancestry::from_root(&root, TICK);
    // `true` execs at PID 700 and ends; bash later forks at 700, never exec'ing.
    let mut exec = test_event(700, 700, "true", test_exec("/usr/bin/true", &["true"], 700));
    exec.start_ns = Some(5 * TICK);
    ancestry.observe(&mut exec);
    let mut exit = exit_under(701, 701, &[ancestor(700, 5 * TICK, "true")]);
    ancestry.observe(&mut exit);
    assert_eq!(programs(&exit), [Some("/usr/bin/true".to_owned())]);
    let mut gone = test_event(700, 700, "true", Detail::exit(0, true, 1));
    gone.start_ns = Some(5 * TICK);
    ancestry.observe(&mut gone);
    let mut exit = exit_under(702, 702, &[ancestor(700, 9 * TICK, "bash")]);
    ancestry.observe(&mut exit);
    assert_eq!(programs(&exit), [None], "bash at 700 is not `true`");
    assert!(ancestry.seen.is_empty(), "the dead process is forgotten: {:?}", ancestry.seen);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_forked_child_runs_its_creators_program_until_it_execs() {
    let root = fake_proc("fork", &[(812, 250, "bash", "/usr/bin/bash")]);
    let mut ancestry = Ancestry::from_root(&root, TICK);
    let mut fork = test_event(812, 812, "bash", test_fork(950, 950, false, None));
    fork.start_ns = Some(250 * TICK);
    if let Detail::Fork { child_start_ns, .. } = &mut fork.detail {
        *child_start_ns = Some(900 * TICK);
    }
    ancestry.observe(&mut fork);
    let mut exit = exit_under(951, 951, &[ancestor(950, 900 * TICK, "bash"), ancestor(812, 250 * TICK, "bash")]);
    ancestry.observe(&mut exit);
    assert_eq!(programs(&exit), [Some("/usr/bin/bash".to_owned()), Some("/usr/bin/bash".to_owned())]);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_fork_names_its_creators_ancestors_programs() {
    let root = fake_proc("fork-chain", &[(812, 250, "bash", "/usr/bin/bash"), (1, 1, "systemd", "/usr/lib/systemd")]);
    let mut ancestry = Ancestry::from_root(&root, TICK);
    let mut fork = test_event(950, 950, "make", test_fork(951, 951, false, None));
    if let Detail::Fork { ancestors, .. } = &mut fork.detail {
        *ancestors = vec![ancestor(812, 250 * TICK, "bash"), ancestor(1, TICK, "systemd")].into();
    }
    ancestry.observe(&mut fork);
    assert_eq!(programs(&fork), [Some("/usr/bin/bash".to_owned()), Some("/usr/lib/systemd".to_owned())]);
    std::fs::remove_dir_all(root).unwrap();
}

/// An exec of `filename` by process 700 in `cwd`, then the program an exit of its child names
/// for it.
fn program_learnt(name: &str, filename: &str, cwd: &str, cwd_truncated: bool) -> Option<String> {
    let root = fake_proc(name, &[]);
    let mut ancestry = Ancestry::from_root(&root, TICK);
    let mut exec = test_event(700, 700, "tool", test_exec(filename, &[filename], 700));
    exec.start_ns = Some(5 * TICK);
    if let Detail::Exec { cwd: dir, cwd_truncated: cut, .. } = &mut exec.detail {
        (*dir, *cut) = (Some(cwd.into()), cwd_truncated);
    }
    ancestry.observe(&mut exec);
    let mut exit = exit_under(701, 701, &[ancestor(700, 5 * TICK, "tool")]);
    ancestry.observe(&mut exit);
    std::fs::remove_dir_all(root).unwrap();
    programs(&exit).remove(0)
}

#[test]
fn a_program_exec_d_by_a_relative_path_is_named_from_its_working_directory() {
    let named = |filename, cwd, cut| program_learnt("relative", filename, cwd, cut);
    assert_eq!(named("./target/release/tool", "/srv/demo", false).as_deref(), Some("/srv/demo/target/release/tool"));
    assert_eq!(named(".//./bin/tool", "/srv", false).as_deref(), Some("/srv/bin/tool"));
    assert_eq!(named("tool", "/", false).as_deref(), Some("/tool"));
    assert_eq!(named("/usr/bin/tool", "/srv", false).as_deref(), Some("/usr/bin/tool"));
    // `..` is left as it is: across a symbolic link it does not name the parent directory.
    assert_eq!(named("../bin/tool", "/srv/a", false).as_deref(), Some("/srv/a/../bin/tool"));
    // Only the innermost part of a cut directory is known: the path stays as exec'd.
    assert_eq!(named("./tool", "…/deep/dir", true).as_deref(), Some("./tool"));
}

#[test]
fn threads_of_one_process_share_one_chain() {
    let root = fake_proc("share", &[(812, 250, "bash", "/usr/bin/bash")]);
    let mut ancestry = Ancestry::from_root(&root, TICK);
    let chain = [ancestor(812, 250 * TICK, "bash")];
    let (mut first, mut second) = (exit_under(900, 901, &chain), exit_under(900, 902, &chain));
    ancestry.observe(&mut first);
    ancestry.observe(&mut second);
    let (Detail::Exit { ancestors: a, .. }, Detail::Exit { ancestors: b, .. }) = (&first.detail, &second.detail) else {
        unreachable!()
    };
    assert!(Ancestors::ptr_eq(a, b), "one chain for both: {a:?} {b:?}");
    // A renamed parent is a chain of its own.
    let mut third = exit_under(900, 903, &[ancestor(812, 250 * TICK, "bash2")]);
    ancestry.observe(&mut third);
    let Detail::Exit { ancestors: c, .. } = &third.detail else { unreachable!() };
    assert_eq!(c[0].comm, "bash2");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn this_process_is_found_in_the_real_proc_by_its_start() {
    let mut ancestry = Ancestry::from_proc();
    let me = std::process::id();
    let stat = std::fs::read(format!("/proc/{me}/stat")).unwrap();
    let start = stat_start_ticks(&stat).unwrap() * ancestry.tick_ns;
    let mut exit = exit_under(1, 1, &[ancestor(me, start, "test")]);
    ancestry.observe(&mut exit);
    let exe = std::env::current_exe().unwrap();
    assert_eq!(programs(&exit), [Some(exe.to_string_lossy().into_owned())]);
}

#[test]
fn without_exits_the_processes_gone_from_proc_are_forgotten() {
    let root = fake_proc("sweep", &[(812, 250, "bash", "/usr/bin/bash")]);
    let mut ancestry = Ancestry::from_root(&root, TICK);
    for tgid in 1000..1000 + SWEEP_AT as u32 + 10 {
        let mut exec = test_event(tgid, tgid, "job", test_exec("/usr/bin/job", &["job"], tgid));
        exec.start_ns = Some(u64::from(tgid) * TICK);
        ancestry.observe(&mut exec);
    }
    assert!(ancestry.seen.len() < 100, "{} programs kept", ancestry.seen.len());
    assert_eq!(ancestry.proc.len(), 1, "bash still runs");
    std::fs::remove_dir_all(root).unwrap();
}
