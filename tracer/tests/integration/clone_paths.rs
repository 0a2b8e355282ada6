//! `clone_flags` of every way to create a task, held against what the `clones` workload asked
//! the kernel for and what `strace -f` prints for the same calls: each flag by its kernel name,
//! the exit signal read from the new task (`SIGCHLD` for a process, none for a thread), and
//! clone3's `CLONE_NEWTIME` in the low byte as a flag, never as a signal. Once per hook type.
use crate::common::{Tracer, field, lifecycle_hook_offered, machine, one, report, run_workload};
use serde_json::Value;

fn check_clone_paths(hook: &str) {
    let tracer = Tracer::start(&["--json", "-c", "tracer-workload", "-e", "fork", "--hook", &format!("fork={hook}")]);
    let (pid, stdout) = run_workload(&["clones"]);
    let stopped = tracer.stop();
    assert!(stopped.status.success(), "tracer failed ({}): {}", stopped.status, stopped.stderr);
    let ids = report(&stdout);
    assert_eq!(field(&ids, "tgid"), u64::from(pid), "the report is the workload's own");
    let events: Vec<Value> =
        stopped.events().into_iter().filter(|event| event["event"] == "fork" && event["tgid"] == pid).collect();
    let context = format!("[{} {hook}]", machine());
    let flags_of = |key: &str| {
        let child = field(&ids, key);
        let fork = one(&events, key, |event| event["child_tid"] == child);
        assert_eq!(fork["source"], hook, "{context} {fork}");
        let names: Vec<String> = serde_json::from_value(fork["clone_flags"].clone())
            .unwrap_or_else(|error| panic!("{context} clone_flags of {key} ({error}): {fork}"));
        names
    };

    assert_eq!(flags_of("fork"), ["CLONE_CHILD_CLEARTID", "CLONE_CHILD_SETTID", "SIGCHLD"], "{context}");
    assert_eq!(flags_of("vfork"), ["CLONE_VM", "CLONE_VFORK", "SIGCHLD"], "{context}");
    assert_eq!(flags_of("clone"), ["CLONE_FILES", "SIGUSR1"], "{context}");
    assert_eq!(flags_of("clone3"), ["CLONE_CLEAR_SIGHAND", "SIGUSR2"], "{context}");
    if field(&ids, "clone3_newtime") != 0 {
        assert_eq!(flags_of("clone3_newtime"), ["CLONE_NEWTIME"], "{context} 0x80 is a flag, not SIG128");
    } else {
        eprintln!("{context} this kernel has no time namespaces: clone3 with CLONE_NEWTIME not checked");
    }
    let thread = flags_of("pthread");
    assert!(thread.iter().any(|name| name == "CLONE_THREAD"), "{context} {thread:?}");
    assert!(
        thread.iter().all(|name| name.starts_with("CLONE_")),
        "{context} a thread sends no exit signal: {thread:?}"
    );
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn clone_flags_of_every_clone_path_from_tp_btf_hooks() {
    if lifecycle_hook_offered("tp_btf", &["fork"]) {
        check_clone_paths("tp_btf");
    }
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn clone_flags_of_every_clone_path_from_raw_tracepoints() {
    check_clone_paths("raw_tracepoint");
}
