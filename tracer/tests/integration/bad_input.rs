//! Bad input gets one clear line on stderr and the right exit status: a hook the kernel
//! refuses, a hook forced for an event kind that is not traced, a BTF file that is a device or
//! too large, a file name built to drive the terminal. Real binary, real kernel, as root.

use std::process::{Command, Output};

use crate::common::{kernel, machine, require_root, run_tracer, scratch_dir, tracer_bin};

fn tracer(args: &[&str], env: &[(&str, &str)]) -> Output {
    require_root();
    Command::new(tracer_bin()).args(args).envs(env.iter().copied()).output().expect("run tracer")
}

/// The exit code and the single line on stderr.
fn one_line(output: &Output) -> (Option<i32>, String) {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "[{}] one line on stderr, got:\n{stderr}", machine());
    (output.status.code(), stderr.trim_end().to_owned())
}

/// What this kernel answers when a kprobe is asked for, as tracer reports it.
const NO_KPROBES: &str =
    "kprobe refused: `/sys/bus/event_source/devices/kprobe/type` does not exist: this kernel has no kprobe PMU";

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_refused_forced_hook_is_one_line_and_probes_says_why() {
    let run = tracer(&["--hook", "lookup=kprobe", "-d", "0.2", "-c", "no-such-comm"], &[]);
    let probes = tracer(&["probes", "--hook", "lookup=kprobe"], &[]);
    let probes_stdout = String::from_utf8_lossy(&probes.stdout).into_owned();
    if kernel::kprobe("proc_root_lookup").is_offered() {
        // This kernel has kprobes: the forced hook attaches and serves.
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        assert!(probes.status.success(), "{}", String::from_utf8_lossy(&probes.stderr));
        assert!(probes_stdout.lines().any(|line| line.starts_with("lookup   kprobe")), "{probes_stdout}");
        return;
    }
    let expected = format!(
        "tracer: no hook for lookup could attach on this kernel: {NO_KPROBES} (forced with --hook lookup=kprobe; \
         `tracer probes` shows which hooks attach here)"
    );
    assert_eq!(one_line(&run), (Some(1), expected.clone()));
    // `tracer probes` prints the plan on stdout, and says on stderr why it exits 1.
    assert_eq!(one_line(&probes), (Some(1), expected));
    let lookup = probes_stdout.lines().find(|line| line.starts_with("lookup ")).unwrap_or_default();
    assert_eq!(lookup, format!("lookup   none             {NO_KPROBES}"), "{probes_stdout}");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_hook_forced_for_a_kind_that_is_not_traced_is_a_usage_error() {
    let output = tracer(&["-e", "fork,exit", "--hook", "lookup=syscall_entry", "-d", "0.2"], &[]);
    assert_eq!(
        one_line(&output),
        (
            Some(2),
            "tracer: --hook lookup=syscall_entry: lookup events are not traced (--events fork,exit); \
             add lookup to --events or drop the --hook"
                .to_owned()
        )
    );
    // A kind attached for tracer's own needs is traced: lookups need fork and exit events.
    let output = tracer(&["-e", "lookup", "--hook", "fork=raw_tracepoint", "-d", "0.2", "-c", "no-such-comm"], &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_btf_file_that_is_a_device_or_too_large_is_refused_before_it_is_read() {
    let output = tracer(&["-d", "0.2"], &[("TRACER_BTF", "/dev/zero")]);
    assert_eq!(
        one_line(&output),
        (Some(1), "tracer: cannot read kernel BTF from /dev/zero: not a regular file".into())
    );
    let dir = scratch_dir("btf-cap");
    let huge = dir.join("vmlinux");
    // Sparse: 64 MiB and one byte of zeros that take no disk space.
    std::fs::File::create(&huge).unwrap().set_len((64 << 20) + 1).unwrap();
    let output = tracer(&["-d", "0.2"], &[("TRACER_BTF", huge.to_str().unwrap())]);
    assert_eq!(
        one_line(&output),
        (
            Some(1),
            format!(
                "tracer: cannot read kernel BTF from {}: larger than 64 MiB, which no kernel's BTF is",
                huge.display()
            )
        )
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_file_name_another_user_chose_reaches_stderr_escaped() {
    // A glob in a shared directory picks up whatever names were planted there.
    let dir = scratch_dir("hostile-name");
    let planted = dir.join("\x1b]0;owned\x07\nx.rec");
    std::fs::write(&planted, b"not a recording").unwrap();
    let pattern = dir.join("*.rec");
    let out = dir.join("out.pftrace");
    let runs: [&[&str]; 3] = [
        &["replay", pattern.to_str().unwrap()],
        &["tree", planted.to_str().unwrap()],
        &["export", planted.to_str().unwrap(), "--perfetto", out.to_str().unwrap()],
    ];
    for args in runs {
        let command = args[0];
        let output = tracer(args, &[]);
        let (status, line) = one_line(&output);
        assert_eq!(status, Some(1), "{command}: {line}");
        assert!(!line.chars().any(char::is_control), "{command}: a control character reached stderr: {line:?}");
        let shown = format!("{}/\\x1b]0;owned\\x07\\nx.rec", dir.display());
        assert_eq!(line, format!("tracer: {shown} is not a tracer recording (no tracer header)"), "{command}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn tree_and_export_errors_get_one_clear_line() {
    let dir = scratch_dir("tree-export-errors");
    // Carried inside the test binary: the VM has only the binary.
    let fixture = dir.join("lifecycle-v1.rec");
    std::fs::write(&fixture, include_bytes!("../fixtures/lifecycle-v1.rec")).unwrap();
    let fixture = fixture.to_str().unwrap();
    let existing = dir.join("existing.pftrace");
    std::fs::write(&existing, "keep me").unwrap();
    let existing = existing.to_str().unwrap();
    let cases: [(&[&str], i32, String); 6] = [
        (
            &["tree", "/nonexistent/trace.rec"],
            1,
            "tracer: cannot open /nonexistent/trace.rec: No such file or directory (os error 2)".into(),
        ),
        (&["tree", "/etc/passwd"], 1, "tracer: /etc/passwd is not a tracer recording (no tracer header)".into()),
        (
            &["tree", fixture, "--depth", "0"],
            2,
            "tracer: invalid value '0' for '--depth <N>': 0 is not in 1..=4294967295".into(),
        ),
        (
            &["export", fixture],
            2,
            "tracer: the following required arguments were not provided: --perfetto <OUT>".into(),
        ),
        (
            &["export", fixture, "--perfetto", existing],
            1,
            format!("tracer: {existing} already exists (use --force to overwrite it)"),
        ),
        (
            &["run", "--tree", "--json", "--", "true"],
            2,
            "tracer: the argument '--tree' cannot be used with '--json'".into(),
        ),
    ];
    for (args, code, message) in cases {
        let output = run_tracer(args);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(String::from_utf8_lossy(&output.stderr).trim_end(), message, "{args:?}");
    }
    assert_eq!(std::fs::read_to_string(dir.join("existing.pftrace")).unwrap(), "keep me");

    // --force replaces a symlink planted at the path with a new file; its target is untouched.
    let victim = dir.join("victim");
    std::fs::write(&victim, "victim").unwrap();
    let planted = dir.join("planted.pftrace");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let output = run_tracer(&["export", fixture, "--perfetto", planted.to_str().unwrap(), "--force"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim", "--force wrote through the symlink");
    let replaced = std::fs::symlink_metadata(&planted).unwrap();
    assert!(replaced.file_type().is_file() && replaced.len() > 0, "{replaced:?}");
    let _ = std::fs::remove_dir_all(dir);
}
