//! `/proc/<tid>` lookups of a non-leader thread, through each lookup hook in turn, and the probe
//! plan. What to expect comes from the kernel itself, asked without tracer (`common::kernel`): a
//! hook the kernel offers must attach and deliver the exact event; a hook it refuses (fentry and
//! kprobes on the development kernel) must make a forced `--hook` fail with the kernel's reason.
//! The Debian 6.1 VM requires fentry and kprobes to be offered, so their events are always
//! checked somewhere.

use crate::common::{
    Tracer, field,
    kernel::{self, Offer},
    machine, one, report, require_root, run_tracer, run_workload,
};

/// The kernel function behind every `/proc/<name>` lookup.
const LOOKUP_FUNCTION: &str = "proc_root_lookup";

/// Lookup hooks, best first, as tracer tries them.
const LOOKUP_HOOKS: [&str; 3] = ["fentry", "kprobe", "syscall_entry"];

/// What this kernel offers `hook` for lookups.
fn offer(hook: &str) -> Offer {
    match hook {
        "fentry" => kernel::fentry(LOOKUP_FUNCTION),
        "kprobe" => kernel::kprobe(LOOKUP_FUNCTION),
        // The syscall fallback is a raw tracepoint on every syscall's entry.
        "syscall_entry" => kernel::raw_tracepoint("sys_enter"),
        _ => panic!("unknown lookup hook {hook}"),
    }
}

fn check_lookup(hook: &str) {
    require_root();
    let context = format!("[{} {hook}]", machine());
    if let Offer::Refused { reason, evidence } = offer(hook) {
        let output = run_tracer(&["--json", "-e", "lookup", "--hook", &format!("lookup={hook}"), "-d", "1"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{context} the kernel refuses {hook} ({reason}): {stderr}");
        assert!(
            stderr.starts_with("tracer: no hook for lookup could attach")
                && stderr.contains(&format!("{hook} refused: "))
                && stderr.contains(&evidence),
            "{context} tracer's refusal must quote the kernel's reason ({reason}):\n{stderr}"
        );
        crate::common::skipped(&format!(
            "{context} refused by this kernel ({reason}), and tracer says so; its events were NOT checked here (the VM legs check them)"
        ));
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

/// `tracer probes` picks, for each event kind, the best hook this kernel offers, and says why
/// each better one was refused.
#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn probes_reports_the_plan_for_this_kernel() {
    require_root();
    let output = run_tracer(&["probes"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
    let row = |kind: &str| {
        let line = text
            .lines()
            .find(|line| line.split_whitespace().next() == Some(kind))
            .unwrap_or_else(|| panic!("no {kind} row in:\n{text}"));
        (line.split_whitespace().nth(1).unwrap_or_default().to_owned(), line.to_owned())
    };
    for kind in ["fork", "exec", "exit", "rename"] {
        let offer = kernel::lifecycle_tp_btf(kind);
        let expected = if offer.is_offered() { "tp_btf" } else { "raw_tracepoint" };
        let (hook, line) = row(kind);
        assert_eq!(hook, expected, "[{}] {kind} (what tp_btf needs here: {offer:?}):\n{text}", machine());
        assert!(line.contains("attached "), "[{}] {line}", machine());
        if let Offer::Refused { evidence, .. } = &offer {
            assert!(
                line.contains("tp_btf refused: ") && line.contains(evidence.as_str()),
                "[{}] the plan says why tp_btf was refused for {kind} ({offer:?}):\n{line}",
                machine()
            );
        }
    }
    let offers: Vec<(&str, Offer)> = LOOKUP_HOOKS.iter().map(|hook| (*hook, offer(hook))).collect();
    let expected = offers.iter().find(|(_, offer)| offer.is_offered()).map_or("none", |(hook, _)| hook);
    let (hook, line) = row("lookup");
    assert_eq!(hook, expected, "[{}] the best lookup hook this kernel offers ({offers:?}):\n{text}", machine());
    for (better, offer) in offers.iter().take_while(|(hook, _)| *hook != expected) {
        let Offer::Refused { evidence, .. } = offer else { unreachable!("{better} is refused: it comes first") };
        assert!(
            line.contains(&format!("{better} refused: ")) && line.contains(evidence.as_str()),
            "[{}] the plan says why {better} was refused ({offer:?}):\n{line}",
            machine()
        );
    }
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

/// tracer inside a PID namespace, as in a container: its own reads of `/proc` (at start, and
/// to resolve each lookup's target) must not be reported, or each would cause the next. The
/// kernel side knows tracer by its global TGID, which `getpid()` inside the namespace is not.
#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn tracer_in_a_pid_namespace_never_reports_itself() {
    require_root();
    let context = format!("[{}]", machine());
    let dir = crate::common::scratch_dir("lookup-pidns");
    let events_file = dir.join("events.jsonl");
    // PID 1 of the namespace is sh; tracer runs beside a `cat` that reads a new process's
    // `/proc` entry once tracer says it is attached (a guest on a busy host can take seconds).
    // Should tracer feed on itself, it must still stop at its --duration: SIGKILL after 60 s
    // bounds the damage (and fails the test) otherwise.
    let script = r#"timeout -s KILL 60 "$0" --json -e lookup -d 3 > "$1" 2> "$2" & t=$!
i=0; until grep -q '^Attached' "$2" || [ $i -ge 300 ]; do sleep 0.1; i=$((i+1)); done
sleep 5 & s=$!; cat /proc/$s/comm > /dev/null; echo $s; kill $s; wait $t"#;
    let output = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c", script])
        .arg(crate::common::tracer_bin())
        .arg(&events_file)
        .arg(dir.join("stderr"))
        .output()
        .unwrap_or_else(|error| panic!("{context} cannot run unshare (util-linux or busybox): {error}"));
    assert!(
        output.status.success(),
        "{context} tracer did not end by itself at its --duration ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let sleeper = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let text = std::fs::read_to_string(&events_file).expect("tracer's output");
    let events: Vec<serde_json::Value> =
        text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("{line}"))).collect();
    // The only tracer in the namespace is this one (another one on the machine, in the host's
    // namespace, is traced like any process).
    let host_pidns = std::fs::read_link("/proc/self/ns/pid").expect("readlink").to_string_lossy().into_owned();
    let inside = |event: &serde_json::Value| !host_pidns.contains(&event["pidns"].to_string());
    assert!(
        events.iter().all(|event| !(inside(event) && event["comm"] == "tracer")),
        "{context} tracer reported its own lookups ({} events): {}",
        events.len(),
        text.lines().take(5).collect::<Vec<_>>().join("\n")
    );
    // The namespace's other processes are traced: whose lookups are seen depends on the hook
    // (fentry and kprobes miss names the dcache holds) and on the shell (busybox's applets look
    // up their own entry), but some must be.
    assert!(
        events.iter().any(|e| e["event"] == "lookup" && inside(e)),
        "{context} no lookup of the namespace's processes was reported: {text}\ntracer's stderr: {}",
        std::fs::read_to_string(dir.join("stderr")).unwrap_or_default()
    );
    // The syscall-entry hook sees every lookup, cached or not: there, cat's must be reported.
    if events.iter().all(|e| e["source"] == "syscall_entry") {
        one(&events, &format!("cat's lookup of /proc/{sleeper}"), |e| {
            e["comm"] == "cat" && e["name"] == sleeper.as_str()
        });
    }
    let _ = std::fs::remove_dir_all(dir);
}
