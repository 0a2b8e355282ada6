//! `tracer run` against the real binary and kernel (as root): the command starts as it would
//! untraced, is traced from its exec, keeps its stdout, and tracer ends with it, whatever the
//! task filters, lost events, or PID namespace; its events name their ancestors as the kernel
//! saw them (tracer adopting orphans; global IDs inside a PID namespace). The checks of a
//! command that cannot start load nothing and need no root. Signals are in `run_signals.rs`.

use std::{
    io::Read,
    os::{
        fd::AsRawFd,
        unix::{fs::PermissionsExt, process::CommandExt},
    },
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::run::{assert_summary, events_in, scratch, text, wait_within};
use crate::common::{field, machine, require_root, tracer_bin, workload_bin};
use serde_json::Value;

#[test]
fn a_command_that_cannot_start_gets_one_line_and_a_shells_status() {
    // Nothing is loaded for these, so they need neither root nor the eBPF object.
    let dir = scratch("cannot-start");
    let plain = dir.join("plain.txt");
    std::fs::write(&plain, "not a program\n").unwrap();
    let plain = plain.to_str().unwrap();
    let dir_arg = dir.to_str().unwrap();
    let cases: Vec<(Vec<&str>, i32, String)> = vec![
        (vec!["run"], 2, "tracer: tracer run needs a command: tracer run [OPTIONS] -- COMMAND [ARGS...]".into()),
        (vec!["run", "--"], 2, "tracer: tracer run needs a command: tracer run [OPTIONS] -- COMMAND [ARGS...]".into()),
        (
            vec!["run", "--", "/nonexistent"],
            127,
            "tracer: cannot run /nonexistent: No such file or directory (os error 2)".into(),
        ),
        (
            vec!["run", "--json", "no-such-command-anywhere", "-x"],
            127,
            "tracer: cannot run no-such-command-anywhere: command not found".into(),
        ),
        (vec!["run", "--", plain], 126, format!("tracer: cannot run {plain}: Permission denied (os error 13)")),
        (vec!["run", "--", dir_arg], 126, format!("tracer: cannot run {dir_arg}: Is a directory (os error 21)")),
        (
            vec!["run", "-d", "1", "--", "true"],
            2,
            "tracer: --duration does not apply to tracer run, which ends with its command; to bound the command, \
             run it under timeout: tracer run -- timeout SECS COMMAND"
                .into(),
        ),
        (
            vec!["run", "--force", "true"],
            2,
            "tracer: the following required arguments were not provided: <--output <FILE>|--events-to <FILE>>".into(),
        ),
    ];
    for (args, code, message) in cases {
        let output = Command::new(tracer_bin()).args(&args).output().unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert_eq!(stderr, format!("{message}\n"), "{args:?}: exactly one line, no \"Attached\" before it");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn an_exec_that_fails_after_attaching_gets_a_shells_status_too() {
    require_root();
    let dir = scratch("exec-fails");
    // Found and executable, so only the exec itself can tell: a missing interpreter (127) and
    // a program open for writing (126, "Text file busy").
    let script = dir.join("script");
    std::fs::write(&script, "#!/nonexistent/interpreter\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let busy = dir.join("busy");
    std::fs::copy(workload_bin(), &busy).unwrap();
    let _writer = std::fs::OpenOptions::new().append(true).open(&busy).unwrap();
    for (program, code, reason) in
        [(&script, 127, "No such file or directory (os error 2)"), (&busy, 126, "Text file busy (os error 26)")]
    {
        let output = Command::new(tracer_bin()).arg("run").arg("--").arg(program).output().unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert!(lines.len() == 2 && lines[0].starts_with("Attached "), "{stderr}");
        assert_eq!(lines[1], format!("tracer: cannot run {}: {reason}", program.display()));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn run_traces_the_whole_tree_from_its_exec_and_waits_for_every_process() {
    require_root();
    let dir = scratch("tree");
    let events_file = dir.join("events.jsonl");
    let started = Instant::now();
    // The background part outlives the command's own process: run waits for it too.
    // It waits for the command to be gone (and reaped), so that tracer has adopted it by then.
    let script = "(sleep 0.5; while kill -0 $$ 2>/dev/null; do sleep 0.05; done; cat /proc/self/comm > /dev/null) & \
                  sh -c 'exit 0'; echo out; exit 7";
    let output = Command::new(tracer_bin())
        .args(["run", "--json", "--events-to", events_file.to_str().unwrap(), "--", "sh", "-c", script])
        .output()
        .expect("tracer run");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(7), "[{}] exit status of the command: {stderr}", machine());
    assert!(started.elapsed() >= Duration::from_millis(500), "run returned before the tree was gone");
    assert_eq!(text(&output.stdout), "out\n", "stdout is the command's alone");
    assert_summary(&stderr);
    let events = events_in(&events_file);
    // Traced from its first instruction: the command's exec is the first event, and tracer's
    // own name never shows (the child took the command's name before it was followed).
    let exec = events.first().unwrap_or_else(|| panic!("no events: {stderr}"));
    assert_eq!(
        (exec["event"].as_str(), exec["comm"].as_str(), exec["argv"].clone()),
        (Some("exec"), Some("sh"), serde_json::json!(["sh", "-c", script])),
        "{exec}"
    );
    assert!(!events.iter().any(|e| e["event"] == "rename" && e["old_comm"] == "tracer"), "{events:?}");
    let root = field(exec, "tgid");
    let mut tree = std::collections::HashSet::from([root]);
    for event in &events {
        assert!(tree.contains(&field(event, "tgid")), "[{}] an event outside the tree: {event}", machine());
        if event["event"] == "fork" {
            tree.insert(field(event, "child_tgid"));
        }
    }
    let root_exit = events.iter().find(|e| e["event"] == "exit" && field(e, "tid") == root).expect("root exit");
    assert_eq!((root_exit["exit_code"].clone(), root_exit["group_dead"].clone()), (7.into(), true.into()));
    let cat = events.iter().find(|e| e["event"] == "exec" && e["comm"] == "cat").expect("the background cat's exec");
    assert!(events.iter().any(|e| e["event"] == "exit" && e["tgid"] == cat["tgid"]), "the last process's exit");
    // The background subshell, forked by the command, runs cat as its last command: by then the
    // command has exited, and tracer (a subreaper, to wait for the whole tree) adopted it. Its
    // ancestors, as the kernel named them at the exec: tracer, then this test.
    assert!(
        events.iter().any(|e| e["event"] == "fork"
            && field(e, "tgid") == root
            && e["child_tgid"] == cat["tgid"]
            && e["child_start_ns"] == cat["start_ns"]),
        "[{}] cat runs in the subshell the command forked: {cat}",
        machine()
    );
    let ancestors = cat["ancestors"].as_array().unwrap_or_else(|| panic!("{cat}"));
    assert_eq!((&ancestors[0]["tgid"], &ancestors[0]["comm"]), (&cat["ppid"], &Value::from("tracer")), "{cat}");
    assert_eq!(field(&ancestors[1], "tgid"), u64::from(std::process::id()), "[{}] {cat}", machine());
    // The command's own exit names the same two above it.
    let above_root = root_exit["ancestors"].as_array().unwrap_or_else(|| panic!("{root_exit}"));
    assert_eq!(above_root[..2], ancestors[..2], "[{}] {root_exit}", machine());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn events_stay_apart_from_the_commands_stdout() {
    require_root();
    let script = "for i in 1 2 3; do echo \"line $i\"; cat /proc/self/comm > /dev/null; done";
    // Events on stderr by default: stdout can go to a file and stay the command's own.
    let output = Command::new(tracer_bin()).args(["run", "--json", "--", "sh", "-c", script]).output().unwrap();
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(text(&output.stdout), "line 1\nline 2\nline 3\n");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.first().is_some_and(|line| line.starts_with("Attached ")), "{stderr}");
    assert!(lines.last().is_some_and(|line| line.starts_with("tracer: ")), "{stderr}");
    // Between those, a clean stream of JSON lines (what `jq` would read).
    let events: Vec<Value> = lines[1..lines.len() - 1]
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}")))
        .collect();
    assert_eq!(events.iter().filter(|e| e["event"] == "exec" && e["comm"] == "cat").count(), 3, "{stderr}");

    // A FIFO of tracer's user takes the events while stdout and stderr are the command's.
    let dir = scratch("fifo");
    let fifo = dir.join("events");
    let fifo_c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid path.
    assert_eq!(unsafe { libc::mkfifo(fifo_c.as_ptr(), 0o600) }, 0);
    let reader_path = fifo.clone();
    let reader = std::thread::spawn(move || std::fs::read_to_string(reader_path).unwrap());
    let script = "echo to-stdout; echo to-stderr >&2; cat /proc/self/comm > /dev/null";
    let output = Command::new(tracer_bin())
        .args(["run", "--json", "-e", "exec", "--events-to", fifo.to_str().unwrap(), "--", "sh", "-c", script])
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(text(&output.stdout), "to-stdout\n");
    assert!(stderr.contains("to-stderr\n") && !stderr.contains('{'), "{stderr}");
    let streamed = reader.join().unwrap();
    let execs: Vec<Value> = streamed.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let names: Vec<&str> = execs.iter().map(|e| e["comm"].as_str().unwrap()).collect();
    assert_eq!(names, ["sh", "cat"], "{streamed}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn the_command_starts_with_the_signals_environment_and_descriptors_it_would_have_had() {
    require_root();
    let dir = scratch("inherit");
    let passed = dir.join("passed-as-fd-7");
    std::fs::write(&passed, "x").unwrap();
    let passed_fd = std::fs::File::open(&passed).unwrap();
    // What a parent could hand over: SIGHUP ignored (nohup), SIGUSR1 blocked, descriptor 7,
    // a variable. SIGPIPE is at its default (Rust's Command resets it; tracer's runtime does not
    // keep it that way for itself).
    let prepare = |command: &mut Command| {
        let raw = passed_fd.as_raw_fd();
        command.env("TRACER_RUN_INHERIT", "yes").stdin(Stdio::null()).stderr(Stdio::piped());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(move || {
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGUSR1);
                libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                if libc::dup2(raw, 7) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    };
    let probes: [&[&str]; 4] = [
        &["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"],
        &["ls", "/proc/self/fd"],
        &["readlink", "/proc/self/fd/7"],
        &["env"],
    ];
    for probe in probes {
        let mut untraced = Command::new(probe[0]);
        untraced.args(&probe[1..]);
        prepare(&mut untraced);
        let untraced = untraced.output().unwrap();
        let mut traced = Command::new(tracer_bin());
        traced.args(["run", "-e", "exec", "--"]).args(probe);
        prepare(&mut traced);
        let traced = traced.output().unwrap();
        assert!(untraced.status.success() && traced.status.success(), "{probe:?}: {}", text(&traced.stderr));
        assert_eq!(text(&traced.stdout), text(&untraced.stdout), "[{}] {probe:?} differs under tracer", machine());
    }
    // And what that means, in case both were wrong the same way.
    let mut traced = Command::new(tracer_bin());
    traced.args(["run", "-e", "exec", "--", "grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"]);
    prepare(&mut traced);
    let status = text(&traced.output().unwrap().stdout);
    let mask = |name: &str| {
        let hex = status.lines().find_map(|line| line.strip_prefix(name)).unwrap_or_else(|| panic!("{status}"));
        u64::from_str_radix(hex.trim(), 16).unwrap()
    };
    let bit = |signal: i32| 1u64 << (signal - 1);
    assert_eq!(mask("SigIgn:") & (bit(libc::SIGHUP) | bit(libc::SIGPIPE)), bit(libc::SIGHUP), "{status}");
    assert_eq!(mask("SigBlk:"), bit(libc::SIGUSR1), "{status}");

    // So a pipeline ends as it does untraced: `yes` dies of SIGPIPE, silently.
    let output = Command::new(tracer_bin())
        .args(["run", "--json", "-e", "exit", "--", "sh", "-c", "yes | head -1"])
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!((output.status.code(), text(&output.stdout)), (Some(0), "y\n".into()), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    let yes = stderr
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|e| e["comm"] == "yes")
        .unwrap_or_else(|| panic!("no exit of yes: {stderr}"));
    assert_eq!(yes["signal"], "SIGPIPE", "{yes}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn task_filters_do_not_keep_run_from_ending() {
    require_root();
    for filter in [["-c", "no-such-comm"], ["-p", "1"], ["-c", "sh"]] {
        let mut child = Command::new(tracer_bin())
            .args(["run", "--json"])
            .args(filter)
            .args(["--", "sh", "-c", "sleep 0.2; exit 3"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Without the fix, run waits forever; a guest on a busy host takes 15 s to load and attach.
        let status = wait_within(&mut child, Duration::from_secs(60), &format!("run {filter:?}"));
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert_eq!(status.code(), Some(3), "{filter:?}: {stderr}");
        assert_summary(&stderr);
        if filter[1] == "sh" {
            // Selected by its comm, the command's own exec is among the events.
            assert!(stderr.contains(r#""argv":["sh","-c","sleep 0.2; exit 3"]"#), "{stderr}");
        }
    }
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn run_ends_with_the_command_even_when_the_ring_lost_its_exits() {
    require_root();
    let dir = scratch("lost");
    let events_file = dir.join("events.jsonl");
    // The command stops tracer (its parent), floods a 1 MiB ring with 12,000 forks and exits
    // (1.8 MB of records), then lets tracer go on: many exits, group deaths included, never
    // reach tracer.
    let script = format!(
        "kill -STOP $PPID; {} storm --shape fork --tasks 12000 --cores one; kill -CONT $PPID; exit 4",
        workload_bin().display()
    );
    let mut child = Command::new(tracer_bin())
        .args(["run", "--json", "--buffer-size", "1", "-e", "fork,exit"])
        .args(["--events-to", events_file.to_str().unwrap(), "--", "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Generous: the storm can take a minute in an emulated VM on a busy host.
    let status = wait_within(&mut child, Duration::from_secs(150), "run with lost exits");
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(4), "[{}] the command's status: {stderr}", machine());
    let events = events_in(&events_file);
    let lost: u64 = events.iter().filter(|e| e["event"] == "lost").map(|e| field(e, "count")).sum();
    let exits = events.iter().filter(|e| e["event"] == "exit" && e["group_dead"] == true).count();
    assert!(lost > 0, "[{}] nothing was lost; {exits} group deaths seen", machine());
    assert!(exits < 12_002, "every process's death was seen: nothing tested");
    assert!(stderr.contains(&format!(", {lost} lost, ")), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn run_follows_its_command_when_tracer_runs_in_a_pid_namespace() {
    require_root();
    let dir = scratch("pidns");
    let events_file = dir.join("events.jsonl");
    // tracer is PID 1 of a new PID namespace with its own /proc, as in a container.
    let mut child = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(tracer_bin())
        .args(["run", "--json", "-e", "exec,exit", "--events-to", events_file.to_str().unwrap()])
        .args(["--", "sh", "-c", "echo $$; cat /proc/self/comm > /dev/null; exit 3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("[{}] cannot run unshare (util-linux or busybox): {error}", machine()));
    let status = wait_within(&mut child, Duration::from_secs(30), "run in a PID namespace");
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(3), "[{}] {stderr}", machine());
    let local: u64 = stdout.trim().parse().unwrap_or_else(|_| panic!("{stdout:?}"));
    let events = events_in(&events_file);
    let sh = events.iter().find(|e| e["event"] == "exec" && e["comm"] == "sh").unwrap_or_else(|| panic!("{stderr}"));
    let cat = events.iter().find(|e| e["event"] == "exec" && e["comm"] == "cat").expect("the child's exec");
    // The kernel's (global) IDs, not the namespace's.
    assert_ne!(field(sh, "tgid"), local, "{sh}");
    assert_eq!(field(cat, "ppid"), field(sh, "tgid"));
    let exit = events.iter().find(|e| e["event"] == "exit" && field(e, "tgid") == field(sh, "tgid")).expect("exit");
    assert_eq!(exit["exit_code"], 3);
    // The kernel names the ancestors by their global IDs, though tracer's /proc is the
    // namespace's: the command, tracer (PID 1 in there), unshare, and this test. What runs a
    // process is added only when known for that very process: tracer's /proc has no entry for
    // the global PID of tracer, or has another process's.
    let ancestors = cat["ancestors"].as_array().unwrap_or_else(|| panic!("{cat}"));
    let names: Vec<&str> = ancestors.iter().take(3).map(|a| a["comm"].as_str().unwrap_or_default()).collect();
    assert_eq!(names, ["sh", "tracer", "unshare"], "[{}] {cat}", machine());
    assert_eq!(
        (&ancestors[0]["tgid"], &ancestors[0]["start_ns"], &ancestors[0]["exe"]),
        (&sh["tgid"], &sh["start_ns"], &sh["filename"]),
        "[{}] {cat}",
        machine()
    );
    let tracer_exe = &ancestors[1]["exe"];
    assert!(
        tracer_exe.is_null() || tracer_exe.as_str().is_some_and(|exe| exe.ends_with("/tracer")),
        "[{}] tracer's program, or none: {cat}",
        machine()
    );
    assert_ne!(field(&ancestors[1], "tgid"), 1, "[{}] {cat}", machine());
    assert_eq!(field(&ancestors[3], "tgid"), u64::from(std::process::id()), "[{}] {cat}", machine());
    let _ = std::fs::remove_dir_all(dir);
}
