//! Namespace changes, per thread, through each namespace hook in turn, asserted field by field
//! against what the workloads read in `/proc/<tid>/ns/*`: a thread `setns`es into a network
//! namespace while its sibling stays behind; `unshare(CLONE_NEWUTS)`; `unshare -p -f` (the real
//! command: busybox's in the VM); `clone(CLONE_NEWUSER)` with a uid_map write. This kernel
//! refuses fentry and has no kprobes: here those hooks must be refused cleanly, quoting the
//! kernel's reason, and the syscall path is exercised; in the Debian 6.1 VM all three must
//! deliver the same events. What to expect is asked of the kernel itself (`common/kernel.rs`). Also: `--pidns` in the kernel, and `tracer probes`' namespace row.

use std::process::{Command, Stdio};

use crate::common::{
    Tracer, field,
    kernel::{self, Offer},
    machine, one, report, run_tracer, run_workload, workload_bin,
};
use serde_json::{Value, json};

/// The inode of a namespace of this test process, e.g. `ns("pid")`.
fn ns(kind: &str) -> u64 {
    let link = std::fs::read_link(format!("/proc/self/ns/{kind}")).expect("readlink /proc/self/ns");
    let text = link.to_string_lossy().into_owned();
    text.split_once(":[").and_then(|(_, rest)| rest.trim_end_matches(']').parse().ok()).expect("ns inode")
}

/// Runs `unshare -p -f tracer-workload ns-report` (the real command); returns unshare's PID and
/// the workload's report.
fn unshare_pid_fork() -> (u64, Value) {
    let child = Command::new("unshare")
        .args(["-p", "-f"])
        .arg(workload_bin())
        .arg("ns-report")
        .stdout(Stdio::piped())
        .spawn()
        .expect("run unshare (util-linux on the host, busybox in the VM)");
    let pid = u64::from(child.id());
    let output = child.wait_with_output().expect("wait for unshare");
    assert!(output.status.success(), "unshare -p -f failed: {}", output.status);
    (pid, report(&String::from_utf8_lossy(&output.stdout)))
}

fn is(event: &Value, kind: &str, tid: u64) -> bool {
    event["event"] == kind && event["tid"] == tid
}

/// The kernel functions the fentry and kprobe namespace hooks attach to (both are needed).
const NAMESPACE_FUNCTIONS: [&str; 2] = ["switch_task_namespaces", "commit_creds"];

/// What this kernel offers `hook` for namespace events: the first refusal, if any. The fentry
/// and kprobe programs also need `bpf_task_pt_regs` (5.15+) to tell setns from unshare.
fn offer(hook: &str) -> Offer {
    let each = |probe: fn(&str) -> Offer| {
        NAMESPACE_FUNCTIONS
            .iter()
            .map(|function| probe(function))
            .find(|offer| !offer.is_offered())
            .unwrap_or_else(|| kernel::task_pt_regs(hook))
    };
    match hook {
        "fentry" => each(kernel::fentry),
        "kprobe" => each(kernel::kprobe),
        // The syscall path is a raw tracepoint on every syscall's entry and exit.
        "syscall_exit" => match kernel::raw_tracepoint("sys_enter") {
            Offer::Offered => kernel::raw_tracepoint("sys_exit"),
            refused => refused,
        },
        _ => panic!("unknown namespace hook {hook}"),
    }
}

fn check_namespaces(hook: &str) {
    let context = format!("[{} namespace={hook}]", machine());
    if let Offer::Refused { reason, evidence } = offer(hook) {
        let output = run_tracer(&["--json", "-e", "namespace", "--hook", &format!("namespace={hook}"), "-d", "1"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{context} the kernel refuses {hook} ({reason}): {stderr}");
        assert!(
            stderr.contains("no hook for namespace could attach")
                && stderr.contains(&format!("{hook} refused"))
                && stderr.contains(&evidence),
            "{context} tracer's refusal must quote the kernel's reason ({reason}):\n{stderr}"
        );
        crate::common::skipped(&format!(
            "{context} refused by this kernel ({reason}), and tracer says so; its events were NOT checked here (the VM legs check them)"
        ));
        return;
    }
    let hook_arg = format!("namespace={hook}");
    let tracer = Tracer::start(&[
        "--json",
        "-e",
        "namespace,fork,exec",
        "-c",
        "tracer-workload",
        "-c",
        "unshare",
        "-f",
        "--hook",
        &hook_arg,
    ]);
    let (setns_pid, setns_out) = run_workload(&["ns-setns-thread"]);
    let (uts_pid, uts_out) = run_workload(&["ns-unshare-uts"]);
    let (user_pid, user_out) = run_workload(&["ns-clone-user"]);
    let (unshare_pid, inside) = unshare_pid_fork();
    let stopped = tracer.stop();
    assert!(stopped.status.success(), "{context} tracer failed ({}): {}", stopped.status, stopped.stderr);
    let events = stopped.events();
    let namespace_events: Vec<&Value> = events.iter().filter(|e| e["event"] == "namespace").collect();
    let (host_pid_ns, host_user) = (ns("pid"), ns("user"));

    // 1. One thread setns'es into a network namespace; its sibling stays behind.
    let setns = report(&setns_out);
    let (mover, stayer, helper) =
        (field(&setns, "mover_tid"), field(&setns, "stayer_tid"), field(&setns, "helper_pid"));
    assert_eq!(field(&setns, "tgid"), u64::from(setns_pid));
    let (host_net, new_net) = (field(&setns, "host_net"), field(&setns, "new_net"));
    assert_ne!(host_net, new_net);
    assert_eq!(
        (field(&setns, "mover_net"), field(&setns, "stayer_net")),
        (new_net, host_net),
        "{context} the workload itself sees its two threads in two network namespaces"
    );
    let moved = one(&events, "setns of the moving thread", |e| is(e, "namespace", mover));
    assert_eq!(
        (field(moved, "tgid"), moved["how"].clone()),
        (u64::from(setns_pid), json!("setns")),
        "{context} {moved}"
    );
    assert_eq!(moved["changed"], json!(["net"]), "{context} {moved}");
    assert_eq!((moved["old"].clone(), moved["new"].clone()), (json!({"net": host_net}), json!({"net": new_net})));
    assert_eq!(moved["source"], hook, "{context} {moved}");
    assert_eq!((field(moved, "ns_tgid"), field(moved, "ns_tid")), (u64::from(setns_pid), mover), "{context} {moved}");
    assert!(
        namespace_events.iter().all(|e| e["tid"] != stayer),
        "{context} the sibling never changed namespaces: {namespace_events:?}"
    );
    let created = one(&events, "unshare of the helper", |e| is(e, "namespace", helper));
    assert_eq!((created["how"].clone(), created["changed"].clone()), (json!("unshare"), json!(["net"])), "{context}");
    assert_eq!(created["new"], json!({"net": new_net}), "{context} {created}");

    // 2. unshare(CLONE_NEWUTS).
    let uts = report(&uts_out);
    assert_eq!(uts["hostname"], "tracer-uts", "the new namespace is real");
    let unshared = one(&events, "unshare(CLONE_NEWUTS)", |e| is(e, "namespace", field(&uts, "tid")));
    assert_eq!(field(unshared, "tgid"), u64::from(uts_pid), "{context} {unshared}");
    assert_eq!((unshared["how"].clone(), unshared["changed"].clone()), (json!("unshare"), json!(["uts"])), "{context}");
    assert_eq!(unshared["old"], json!({"uts": field(&uts, "old_uts")}), "{context} {unshared}");
    assert_eq!(unshared["new"], json!({"uts": field(&uts, "new_uts")}), "{context} {unshared}");
    assert_eq!(unshared["source"], hook, "{context} {unshared}");

    // 3. clone(CLONE_NEWUSER), then the parent writes the child's uid_map.
    let user = report(&user_out);
    let child = field(&user, "child_pid");
    assert_eq!((field(&user, "child_uid"), field(&user, "child_status")), (0, 0), "root inside, mapped");
    assert_eq!(field(&user, "parent_user"), host_user);
    let fork = one(&events, "clone(CLONE_NEWUSER)", |e| e["event"] == "fork" && e["child_tid"] == child);
    assert_eq!((field(fork, "tgid"), fork["thread"].clone()), (u64::from(user_pid), json!(false)), "{context} {fork}");
    assert!(
        fork["clone_flags"].as_array().is_some_and(|flags| flags.contains(&json!("CLONE_NEWUSER"))),
        "{context} {fork}"
    );
    assert_eq!(fork["child_namespaces"], json!({"user": field(&user, "child_user")}), "{context} {fork}");
    let cloned = one(&events, "the child's namespace event", |e| is(e, "namespace", child));
    assert_eq!((field(cloned, "tgid"), field(cloned, "ppid")), (child, u64::from(user_pid)), "{context} {cloned}");
    assert_eq!((cloned["how"].clone(), cloned["changed"].clone()), (json!("clone"), json!(["user"])), "{context}");
    assert_eq!(cloned["old"], json!({"user": host_user}), "{context} {cloned}");
    assert_eq!(cloned["new"], json!({"user": field(&user, "child_user")}), "{context} {cloned}");
    assert_eq!(cloned["source"], fork["source"], "{context} clones are seen by the fork hook");

    // 4. unshare -p -f: unshare's children go to a new PID namespace, where the first is PID 1.
    let nspid: Vec<u64> = inside["nspid"].as_array().expect("nspid").iter().filter_map(Value::as_u64).collect();
    let (pidns, global) = (field(&inside, "pidns"), nspid[0]);
    assert_eq!((nspid.len(), nspid[1], field(&inside, "pid")), (2, 1, 1), "{context} {inside}");
    let unshared = one(&events, "unshare(CLONE_NEWPID)", |e| is(e, "namespace", unshare_pid));
    assert_eq!(unshared["changed"], json!(["pid_for_children"]), "{context} {unshared}");
    assert_eq!(unshared["old"], json!({"pid_for_children": host_pid_ns}), "{context} {unshared}");
    assert_eq!(unshared["new"], json!({"pid_for_children": pidns}), "{context} {unshared}");
    assert_eq!(field(unshared, "pidns"), host_pid_ns, "{context} unshare itself stays where it was");
    let fork = one(&events, "unshare's fork", |e| e["event"] == "fork" && e["child_tid"] == global);
    assert_eq!(field(fork, "tgid"), unshare_pid, "{context} {fork}");
    assert_eq!((field(fork, "child_ns_tgid"), field(fork, "child_ns_tid")), (1, 1), "{context} {fork}");
    assert_eq!(fork["child_namespaces"], json!({"pid": pidns}), "{context} {fork}");
    let entered = one(&events, "the child's namespace event", |e| is(e, "namespace", global));
    assert_eq!((entered["how"].clone(), entered["changed"].clone()), (json!("clone"), json!(["pid"])), "{context}");
    assert_eq!((entered["old"].clone(), entered["new"].clone()), (json!({"pid": host_pid_ns}), json!({"pid": pidns})));
    let exec = one(&events, "exec of the workload as PID 1", |e| is(e, "exec", global));
    assert_eq!((field(exec, "ns_tgid"), field(exec, "ns_tid"), field(exec, "pidns")), (1, 1, pidns), "{context}");
    assert_eq!(exec["comm"], "tracer-workload", "{context} {exec}");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn namespace_changes_via_fentry() {
    check_namespaces("fentry");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn namespace_changes_via_kprobe() {
    check_namespaces("kprobe");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn namespace_changes_via_syscall_exit() {
    check_namespaces("syscall_exit");
}

/// `--pidns` in the kernel: the host's PID namespace selects the workloads started here and not
/// the one `unshare -p -f` started in its own; every event says where its task lives.
#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn pidns_selects_tasks_by_their_pid_namespace() {
    let host = ns("pid");
    let tracer = Tracer::start(&["--json", "-e", "exec", "--pidns", &host.to_string(), "-c", "tracer-workload"]);
    let (host_pid, _) = run_workload(&["ns-report"]);
    let (_, inside) = unshare_pid_fork();
    let stopped = tracer.stop();
    let events = stopped.events();
    let context = format!("[{}]", machine());
    let exec = one(&events, "the host workload's exec", |e| e["tgid"] == u64::from(host_pid));
    assert_eq!((field(exec, "ns_tgid"), field(exec, "pidns")), (u64::from(host_pid), host), "{context} {exec}");
    let global = inside["nspid"][0].as_u64().expect("nspid");
    assert!(events.iter().all(|e| field(e, "pidns") == host), "{context} {events:?}");
    assert!(events.iter().all(|e| field(e, "tgid") != global), "{context} the one in its own namespace: {events:?}");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn probes_shows_the_namespace_hook_and_its_cost() {
    let output = run_tracer(&["probes"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
    let row = text.lines().find(|line| line.starts_with("namespace")).unwrap_or_else(|| panic!("no row:\n{text}"));
    let expected = if offer("fentry").is_offered() {
        "fentry"
    } else if offer("kprobe").is_offered() {
        "kprobe"
    } else {
        "syscall_exit"
    };
    assert_eq!(row.split_whitespace().nth(1), Some(expected), "[{}]\n{text}", machine());
    assert_eq!(
        row.contains("attached only when asked for by name"),
        expected == "syscall_exit",
        "[{}] only the syscall path is costly: {row}",
        machine()
    );
    if expected == "syscall_exit" {
        // And a default run leaves it out, saying so.
        let output = run_tracer(&["-d", "0.5"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let attached = stderr.lines().find(|line| line.starts_with("Attached")).unwrap_or_default();
        assert!(attached.contains(" programs: tracing fork, exec, exit, rename, lookup (not namespace: "), "{stderr}");
        assert!(
            attached.contains(
                " (not namespace: this kernel serves it only by syscall_exit, which costs every system call; \
                 -e namespace traces it). "
            ),
            "[{}] the run says what it left out: {stderr}",
            machine()
        );
    }
}
