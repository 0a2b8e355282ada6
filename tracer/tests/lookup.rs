//! `/proc/<tid>` lookups of a non-leader thread, through each lookup hook in turn. This kernel
//! refuses fentry and has no kprobes: here the test checks that tracer says so and fails
//! cleanly; in the Debian 6.1 VM (`cargo xtask vm-test`, TRACER_EXPECT_KERNEL_HOOKS=1) both must
//! attach and deliver the event.
mod common;

use common::{Tracer, expect_kernel_hooks, field, machine, one, report, run_tracer, run_workload};

fn check_lookup(hook: &str) {
    let kernel_hook = hook != "syscall_entry";
    if kernel_hook && !expect_kernel_hooks() {
        let output = run_tracer(&["--json", "-e", "lookup", "--hook", &format!("lookup={hook}"), "-d", "1"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "[{}] {hook} must be refused here: {stderr}", machine());
        assert!(
            stderr.contains("no hook for lookup could attach") && stderr.contains(&format!("{hook} refused")),
            "{stderr}"
        );
        eprintln!("[{}] lookup={hook} is refused by this kernel, as expected; the VM leg exercises it", machine());
        return;
    }
    let tracer = Tracer::start(&["--json", "-e", "lookup", "-c", "cat", "--hook", &format!("lookup={hook}")]);
    let (_, stdout) = run_workload(&["lifecycle"]);
    let stopped = tracer.stop();
    assert!(stopped.status.success(), "tracer failed ({}): {}", stopped.status, stopped.stderr);
    let ids = report(&stdout);
    let (tgid, pthread, cat) = (field(&ids, "tgid"), field(&ids, "pthread_tid"), field(&ids, "cat_pid"));
    let events = stopped.events();
    assert!(events.iter().all(|event| event["event"] == "lookup"), "only lookups were asked for");
    let name = pthread.to_string();
    let lookup = one(&events, &format!("lookup of /proc/{pthread} via {hook}"), |e| {
        e["tgid"] == cat && e["name"] == name.as_str()
    });
    let context = format!("[{} {hook}]", machine());
    assert_eq!((field(lookup, "tid"), field(lookup, "ppid")), (cat, tgid), "{context} {lookup}");
    assert_eq!(lookup["comm"], "cat", "{context} {lookup}");
    assert_eq!(field(lookup, "target_tgid"), tgid, "{context} the thread belongs to the workload: {lookup}");
    assert_eq!(lookup["hidden_thread"], true, "{context} a non-leader thread is hidden from ls /proc: {lookup}");
    assert_eq!(lookup["source"], hook, "{context} {lookup}");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn lookup_via_fentry() {
    check_lookup("fentry");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn lookup_via_kprobe() {
    check_lookup("kprobe");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn lookup_via_syscall_entry() {
    check_lookup("syscall_entry");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn probes_reports_the_plan_for_this_kernel() {
    let output = run_tracer(&["probes"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
    let row = |kind: &str| {
        text.lines()
            .find(|line| line.starts_with(kind))
            .unwrap_or_else(|| panic!("no {kind} row in:\n{text}"))
            .to_owned()
    };
    for kind in ["fork", "exec", "exit", "rename"] {
        assert!(
            row(kind).split_whitespace().nth(1) == Some("tp_btf"),
            "[{}] {kind} should use tp_btf:\n{text}",
            machine()
        );
    }
    let lookup = row("lookup");
    let expected = if expect_kernel_hooks() { "fentry" } else { "syscall_entry" };
    assert_eq!(lookup.split_whitespace().nth(1), Some(expected), "[{}]\n{text}", machine());
}

/// Resolving a lookup of an unknown TID reads `/proc/<tid>/status`, itself a `/proc` lookup:
/// tracer must not report its own activity, or it would feed on itself.
#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn tracer_does_not_report_itself() {
    let tracer = Tracer::start(&["--json", "-e", "lookup"]);
    let own = u64::from(tracer.pid());
    // TIDs above the kernel's pid_max ceiling never exist, so tracer has to ask /proc.
    for _ in 0..20 {
        let _ = std::fs::read_to_string("/proc/4194999/status");
    }
    let stopped = tracer.stop();
    let events = stopped.events();
    assert!(events.iter().any(|e| e["name"] == "4194999"), "[{}] the test's own lookups are seen", machine());
    assert!(events.iter().all(|e| field(e, "tgid") != own), "[{}] tracer reported itself", machine());
    assert!(events.len() < 10_000, "[{}] {} events: tracer fed on its own lookups", machine(), events.len());
}
