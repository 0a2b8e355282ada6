//! What an exec event says beyond the program's name, asserted field by field against commands
//! this test runs itself: complete and exactly cut argument lists, non-UTF-8 and empty
//! arguments, the environment, credentials of a set-user-ID program run by an unprivileged user,
//! and the working directory. Each command runs under a UID of its own, which `--uid` selects in
//! the kernel. Runs as root on the real kernel, and in the Debian 6.1 VM.

use std::{
    ffi::OsStr,
    os::unix::{
        ffi::OsStrExt,
        fs::{PermissionsExt, symlink},
        process::CommandExt,
    },
    path::{Path, PathBuf},
    process::Command,
};

use crate::common::{
    Tracer, field,
    kernel::{self, Offer},
    machine, skipped, workload_bin,
};
use serde_json::{Value, json};

/// A directory of this test's own, readable by every user.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("tracer-exec-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a scratch directory");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Self(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A copy of the workload binary at `path`, with `mode`. Run with arguments it does not know, it
/// prints its usage and exits: all these tests need is its exec.
fn program(path: &Path, mode: u32) {
    std::fs::copy(workload_bin(), path).expect("copy the workload binary");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Runs `program` with `args` as user `uid` (group `uid` too), in `dir`, with `env` only, while
/// tracer records its exec with `options`; returns the exec event.
fn exec_event(uid: u32, options: &[&str], program: &Path, args: &[&OsStr], dir: &Path, env: &[(&str, &str)]) -> Value {
    let uid_text = uid.to_string();
    let mut tracer_args = vec!["--json", "-e", "exec", "--uid", &uid_text];
    tracer_args.extend_from_slice(options);
    let tracer = Tracer::start(&tracer_args);
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .uid(uid)
        .gid(uid)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run the program");
    assert!(status.code().is_some(), "the program ran and exited: {status}");
    let stopped = tracer.stop();
    assert!(stopped.status.success(), "tracer failed ({}): {}", stopped.status, stopped.stderr);
    let events = stopped.events();
    assert_eq!(events.len(), 1, "[{}] exactly the one exec by uid {uid}: {events:?}", machine());
    events.into_iter().next().unwrap()
}

fn strings(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|item| item.as_str().unwrap_or_else(|| panic!("not text: {item}")).to_owned())
        .collect()
}

fn argv_of(event: &Value) -> Vec<String> {
    strings(&event["argv"])
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn long_argument_lists_are_complete_when_allowed_and_cut_exactly_at_the_limit() {
    let scratch = Scratch::new("argv");
    let path = scratch.0.join("ctx-argv");
    program(&path, 0o755);
    // 100 arguments of 1023 bytes: 100 KiB with their NULs, beyond the 32 KiB default.
    let long: Vec<String> = (0..100).map(|n| format!("{n:03}").repeat(341)).collect();
    let args: Vec<&OsStr> = long.iter().map(OsStr::new).collect();
    let argv0 = path.to_str().unwrap().to_owned();
    let total = argv0.len() + 1 + 100 * 1024;

    let complete = exec_event(61001, &["--arg-bytes", "262144"], &path, &args, &scratch.0, &[]);
    let mut expected = vec![argv0.clone()];
    expected.extend(long.iter().cloned());
    assert_eq!(argv_of(&complete), expected, "[{}] every argument, whole", machine());
    assert_eq!((complete["argv_truncated"].clone(), field(&complete, "argv_bytes")), (json!(false), total as u64));

    let cut = exec_event(61002, &[], &path, &args, &scratch.0, &[]);
    assert_eq!((cut["argv_truncated"].clone(), field(&cut, "argv_bytes")), (json!(true), total as u64), "{cut}");
    let kept = argv_of(&cut);
    // Exactly 32768 bytes were kept: whole arguments with their NULs, then the start of the next.
    let last = kept.last().unwrap();
    let whole = &kept[..kept.len() - 1];
    assert_eq!(whole.iter().map(|argument| argument.len() + 1).sum::<usize>() + last.len(), 32 * 1024);
    assert_eq!(&expected[..whole.len()], whole, "the kept arguments are the first ones");
    assert!(expected[whole.len()].starts_with(last.as_str()), "the last one is cut, not changed");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn empty_and_non_utf8_arguments_and_names_are_lossless() {
    let scratch = Scratch::new("bytes");
    let target = scratch.0.join("ctx-bytes");
    program(&target, 0o755);
    // A name that is not UTF-8, reached through a symlink: the kernel runs the link's name.
    let link = scratch.0.join(OsStr::from_bytes(b"ctx-\xff\xfe"));
    symlink(&target, &link).expect("symlink");
    let args = [OsStr::new(""), OsStr::from_bytes(b"\xc3\x28"), OsStr::new("x y")];
    let event = exec_event(61003, &[], &link, &args, &scratch.0, &[]);
    let encoded = |bytes: &[u8]| json!({ "base64": base64_of(bytes) });
    assert_eq!(event["filename"], encoded(link.as_os_str().as_bytes()), "{event}");
    assert_eq!(event["comm"], encoded(b"ctx-\xff\xfe"), "{event}");
    assert_eq!(event["argv"], json!([encoded(link.as_os_str().as_bytes()), "", encoded(b"\xc3\x28"), "x y"]));
}

/// Standard base64, written out here so the test does not share the code it checks.
fn base64_of(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &byte)| n | u32::from(byte) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn the_environment_only_when_asked_and_only_the_named_variables() {
    let scratch = Scratch::new("env");
    let path = scratch.0.join("ctx-env");
    program(&path, 0o755);
    let env = [("LANG", "C"), ("API_TOKEN", "secret"), ("EMPTY", "")];
    let none = exec_event(61004, &[], &path, &[], &scratch.0, &env);
    assert_eq!(none["env"], Value::Null, "the environment is off by default: {none}");
    let all = exec_event(61005, &["--env"], &path, &[], &scratch.0, &env);
    assert_eq!(all["env_truncated"], json!(false), "{all}");
    // std::process::Command orders the variables it passes; compare them as a set.
    let mut variables = strings(&all["env"]);
    variables.sort();
    assert_eq!(variables, ["API_TOKEN=secret", "EMPTY=", "LANG=C"], "{all}");
    let named = exec_event(61006, &["--env-filter", "LANG", "--env-filter", "EMPTY"], &path, &[], &scratch.0, &env);
    let mut variables = strings(&named["env"]);
    variables.sort();
    assert_eq!(variables, ["EMPTY=", "LANG=C"], "{named}");
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_set_user_id_program_run_by_an_unprivileged_user_shows_both_ids() {
    let scratch = Scratch::new("setuid");
    let path = scratch.0.join("ctx-setuid");
    program(&path, 0o4755);
    let event = exec_event(61007, &[], &path, &[], &scratch.0, &[]);
    assert_eq!(
        (field(&event, "uid"), field(&event, "euid"), field(&event, "gid"), field(&event, "egid")),
        (61007, 0, 61007, 61007),
        "[{}] real ids stay the user's, the effective uid is the owner's: {event}",
        machine()
    );
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn the_working_directory_is_the_whole_path_or_its_innermost_part() {
    let scratch = Scratch::new("cwd");
    let path = scratch.0.join("ctx-cwd");
    program(&path, 0o755);
    let mut deep = scratch.0.clone();
    for level in 0..40 {
        deep.push(format!("level-{level:02}"));
    }
    std::fs::create_dir_all(&deep).expect("deep directories");
    let mut deeper = deep.clone();
    for level in 40..70 {
        deeper.push(format!("level-{level:02}"));
    }
    std::fs::create_dir_all(&deeper).expect("deeper directories");
    let innermost: Vec<String> = (6..70).map(|level| format!("level-{level:02}")).collect();
    // tp_btf walks the directories with bpf_loop, the raw tracepoint program in an unrolled loop.
    // Where the kernel refuses tracer's tp_btf exec program (before 5.17), only the unrolled walk
    // can be checked.
    let mut hooks = vec!["raw_tracepoint"];
    match kernel::lifecycle_tp_btf("exec") {
        Offer::Offered => hooks.insert(0, "tp_btf"),
        Offer::Refused { reason, .. } => skipped(&format!(
            "the walk with bpf_loop was NOT checked: this kernel refuses tracer's tp_btf exec program ({reason})"
        )),
    }
    for hook in hooks {
        let forced = format!("exec={hook}");
        let event = exec_event(61008, &["--hook", &forced], &path, &[], &deep, &[]);
        assert_eq!(
            (event["source"].clone(), event["cwd"].clone(), event["cwd_truncated"].clone()),
            (json!(hook), json!(deep.to_str().unwrap()), json!(false)),
            "[{}] {event}",
            machine()
        );
        let event = exec_event(61009, &["--hook", &forced], &path, &[], &deeper, &[]);
        assert_eq!(
            (event["source"].clone(), event["cwd"].clone(), event["cwd_truncated"].clone()),
            (json!(hook), json!(format!("…/{}", innermost.join("/"))), json!(true)),
            "[{}] the 64 innermost levels: {event}",
            machine()
        );
    }
}
