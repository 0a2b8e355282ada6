//! Shared harness of the privileged integration tests: start the real tracer binary (which
//! embeds the real eBPF object) as root, wait until it is attached, run a workload, stop tracer
//! and collect its JSON events.

pub mod kernel;
pub mod run;

use std::{
    io::{BufRead, BufReader, Read, Write},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use serde_json::Value;

/// The tracer binary under test: `$TRACER_BIN` (set by xtask and in the VM) or cargo's build.
pub fn tracer_bin() -> PathBuf {
    std::env::var_os("TRACER_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_tracer")))
}

/// The workload binary: `$TRACER_WORKLOAD`, or beside the tracer binary.
pub fn workload_bin() -> PathBuf {
    std::env::var_os("TRACER_WORKLOAD")
        .map(PathBuf::from)
        .unwrap_or_else(|| tracer_bin().with_file_name("tracer-workload"))
}

/// Where the tests run: "host", or the VM's kernel name.
pub fn machine() -> String {
    std::env::var("TRACER_VM").unwrap_or_else(|_| "host".into())
}

pub fn require_root() {
    // SAFETY: no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "these tests load BPF programs and must run as root (cargo xtask test does)"
    );
}

/// A running tracer.
pub struct Tracer {
    child: Child,
    stdout: mpsc::Receiver<String>,
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

pub struct Stopped {
    pub lines: Vec<String>,
    pub stderr: String,
    pub status: std::process::ExitStatus,
}

impl Stopped {
    /// Every stdout line parsed as JSON.
    pub fn events(&self) -> Vec<Value> {
        self.lines
            .iter()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}")))
            .collect()
    }
}

impl Tracer {
    /// Starts tracer with `args` and waits for its "Attached" line.
    pub fn start(args: &[&str]) -> Tracer {
        require_root();
        let mut child = Command::new(tracer_bin())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", tracer_bin().display()));
        let (line_tx, stdout) = mpsc::channel();
        let out = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (attached_tx, attached) = mpsc::channel();
        let err = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let attached = line.starts_with("Attached ");
                {
                    let mut text = sink.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                }
                if attached {
                    let _ = attached_tx.send(());
                }
            }
        });
        let mut tracer = Tracer { child, stdout, stderr };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if attached.recv_timeout(Duration::from_millis(50)).is_ok() {
                return tracer;
            }
            if let Ok(Some(status)) = tracer.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                panic!("tracer {args:?} exited ({status}) before attaching:\n{}", tracer.stderr.lock().unwrap());
            }
            assert!(Instant::now() < deadline, "tracer {args:?} did not attach within 60 s");
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops tracer with SIGINT after the kernel had time to deliver pending events.
    pub fn stop(self) -> Stopped {
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: signals our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        self.wait()
    }

    /// Waits for tracer to exit by itself.
    pub fn wait(mut self) -> Stopped {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for tracer") {
                break status;
            }
            assert!(Instant::now() < deadline, "tracer did not exit within 60 s");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut lines = Vec::new();
        // The reader thread ends at EOF, after the last line.
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_secs(5)) {
            lines.push(line);
        }
        std::thread::sleep(Duration::from_millis(50));
        let stderr = self.stderr.lock().unwrap().clone();
        Stopped { lines, stderr, status }
    }
}

/// Runs tracer to completion with `args` (commands that exit by themselves).
pub fn run_tracer(args: &[&str]) -> Output {
    Command::new(tracer_bin())
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", tracer_bin().display()))
}

/// Runs the workload scenario; returns its pid and its stdout.
pub fn run_workload(args: &[&str]) -> (u32, String) {
    let mut child = Command::new(workload_bin())
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", workload_bin().display()));
    let pid = child.id();
    let mut stdout = String::new();
    child.stdout.take().expect("piped").read_to_string(&mut stdout).expect("read workload output");
    let status = child.wait().expect("wait for the workload");
    assert!(status.success(), "workload {args:?} failed: {status}");
    (pid, stdout)
}

/// The workload's JSON report: its last line starting with '{'.
pub fn report(stdout: &str) -> Value {
    let line =
        stdout.lines().rev().find(|line| line.starts_with('{')).unwrap_or_else(|| panic!("no report in {stdout:?}"));
    serde_json::from_str(line).expect("report is JSON")
}

pub fn field(value: &Value, key: &str) -> u64 {
    value[key].as_u64().unwrap_or_else(|| panic!("{key} missing from {value}"))
}

/// The single event matching `predicate`, with a readable failure listing what was seen.
pub fn one<'a>(events: &'a [Value], what: &str, predicate: impl Fn(&Value) -> bool) -> &'a Value {
    let found: Vec<&Value> = events.iter().filter(|event| predicate(event)).collect();
    if found.len() != 1 {
        let seen: Vec<String> = events.iter().map(Value::to_string).collect();
        panic!("[{}] expected exactly one {what}, found {}; events:\n{}", machine(), found.len(), seen.join("\n"));
    }
    found[0]
}

/// A child's stderr, as text.
pub fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A fresh scratch directory for one test, `/tmp/tracer-test-NAME-PID` (root's tests own it).
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracer-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Says that the running test could not check all of itself on this machine, and why. The VM
/// legs count the tests that say so as skipped, not passed (`SKIP_MARKER` in
/// xtask/src/vm/init_script.rs); libtest itself still reports them `ok`. Written to the
/// process's stderr, past libtest's capture, on a line of its own.
pub fn skipped(why: &str) {
    let test = std::thread::current().name().unwrap_or("unnamed test").to_owned();
    let _ = writeln!(std::io::stderr(), "\nSKIPPED: {test} — [{}] {why}", machine());
}

/// Guards a test that needs what only the host has (podman, systemd, rsyslog…). The VM leg
/// does not run such tests (`HOST_ONLY` in xtask/src/vm.rs skips them by name, so libtest counts
/// them as filtered out, not passed); run in a VM anyway, one fails rather than pass untested.
pub fn host_only(needs: &str) {
    assert_eq!(
        machine(),
        "host",
        "this test needs {needs}, which the VM does not have: the VM leg skips it (HOST_ONLY in xtask/src/vm.rs)"
    );
}

/// `program` on PATH or in the usual bin and sbin folders. Packages are installed by
/// `cargo xtask test` alone (`HOST_PROGRAMS` in xtask/src/test.rs), never by a test: a missing
/// program fails the test with one line naming the Debian package that provides it.
pub fn need_program(program: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
        .unwrap_or_else(|| {
            panic!("[{}] needs {program} from Debian's package {package}; `cargo xtask test` installs it", machine())
        })
}

/// A rotated file's set, FILE.N … FILE.1 then FILE (the order they were written in), for those
/// that exist.
pub fn rotated_files(path: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..)
        .map(|index| PathBuf::from(format!("{}.{index}", path.display())))
        .take_while(|rotated| rotated.exists())
        .collect();
    files.reverse();
    if path.exists() {
        files.push(path.to_owned());
    }
    files
}

/// A copy of the workload binary named `name`, so that its comm is `name`, in a directory of its
/// own; returns the directory and the copy's path.
pub fn renamed_workload(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch_dir(name);
    let path = dir.join(name);
    std::fs::copy(workload_bin(), &path).expect("copy the workload binary");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (dir, path)
}

/// Nanoseconds per clock tick of `/proc/<pid>/stat`.
pub fn tick_ns() -> u64 {
    // SAFETY: no preconditions.
    1_000_000_000 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64
}

/// Field 22 of a `/proc/<pid>/stat` line: the process's start in clock ticks since boot.
pub fn stat_start_ticks(stat: &str) -> u64 {
    // Fields after the comm, which is in parentheses and may hold anything.
    let after_comm = &stat[stat.rfind(')').expect("a comm") + 2..];
    after_comm.split(' ').nth(22 - 3).expect("field 22").parse().expect("a number")
}

/// The TGIDs of an event's `ancestors`, nearest first.
pub fn ancestor_tgids(event: &Value) -> Vec<u64> {
    event["ancestors"]
        .as_array()
        .unwrap_or_else(|| panic!("no ancestors: {event}"))
        .iter()
        .map(|ancestor| field(ancestor, "tgid"))
        .collect()
}

/// Asserts that `ancestor` (an element of an event's `ancestors`) is the process `tgid` that
/// started at clock tick `ticks`, named `comm`.
pub fn assert_ancestor(ancestor: &Value, tgid: u64, ticks: u64, comm: &str, context: &str) {
    assert_eq!(field(ancestor, "tgid"), tgid, "[{}] {context}: {ancestor}", machine());
    let start = field(ancestor, "start_ns");
    assert_eq!(start / tick_ns(), ticks, "[{}] {context}: the start /proc showed: {ancestor}", machine());
    assert_eq!(ancestor["comm"], comm, "[{}] {context}: {ancestor}", machine());
}

/// Whether the kernel offers what tracer's `hook` programs for these lifecycle `kinds` need:
/// raw tracepoints always do; tp_btf ones need `bpf_get_current_task_btf` (5.11) and, for exec,
/// `bpf_loop` (5.17). When it does not, forcing tp_btf must fail with the kernel's reason, and
/// the test says it was skipped.
pub fn lifecycle_hook_offered(hook: &str, kinds: &[&str]) -> bool {
    if hook != "tp_btf" {
        return true;
    }
    let refused = kinds.iter().find_map(|kind| match kernel::lifecycle_tp_btf(kind) {
        kernel::Offer::Offered => None,
        kernel::Offer::Refused { reason, evidence } => Some((kind, reason, evidence)),
    });
    let Some((kind, reason, evidence)) = refused else { return true };
    // Forced, it must fail with the kernel's reason, never start without the kind.
    let forced = format!("{kind}=tp_btf");
    let output = run_tracer(&["--json", "-e", kind, "--hook", &forced, "-d", "1"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let context = format!("[{} {forced}]", machine());
    assert_eq!(output.status.code(), Some(1), "{context} the kernel refuses it ({reason}): {stderr}");
    assert!(
        stderr.contains(&format!("no hook for {kind} could attach")) && stderr.contains(&evidence),
        "{context} tracer's refusal must quote the kernel's reason ({reason}):\n{stderr}"
    );
    skipped(&format!(
        "the kernel refuses tp_btf for {kind} ({reason}), and tracer says so; the raw tracepoint test covers it"
    ));
    false
}

/// The program `sh` runs, links resolved: what `/proc/<pid>/exe` shows for a shell.
pub fn shell_program() -> String {
    let sh = need_program("sh", "dash");
    std::fs::canonicalize(&sh).expect("resolve sh").to_string_lossy().into_owned()
}

/// Lines `PID TICKS (COMM)` that shells printed from their own `/proc/self/stat` (fields 1, 22
/// and 2), as (PID, start ticks, comm).
pub fn shells_printed(stdout: &[u8]) -> Vec<(u64, u64, String)> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let [pid, ticks, comm] = fields[..] else { panic!("not PID TICKS (COMM): {line:?}") };
            let number = |text: &str| text.parse::<u64>().unwrap_or_else(|_| panic!("{line:?}"));
            (number(pid), number(ticks), comm.trim_start_matches('(').trim_end_matches(')').to_owned())
        })
        .collect()
}

/// A shell line that prints the shell's own `PID TICKS (COMM)` (for [`shells_printed`]): `read`
/// and the redirection are the shell's own, so `/proc/self` is that shell, a subshell included.
/// It replaces the positional parameters (not `$0`).
pub const PRINT_SHELL: &str = r#"read -r line < /proc/self/stat; set -- $line; echo "$1 ${22} $2""#;
