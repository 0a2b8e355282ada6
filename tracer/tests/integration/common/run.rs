//! Helpers of the `tracer run` tests (`run.rs`, `run_signals.rs`): scratch files, the events
//! a run wrote, waiting with a limit, and a pseudo-terminal to type Ctrl-C on.

use std::{
    io::{BufRead, BufReader, Read, Write},
    os::{
        fd::{FromRawFd, OwnedFd},
        unix::process::CommandExt,
    },
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::Value;

use super::{machine, tracer_bin};

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracer-run-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every line of an events file, parsed as JSON.
pub fn events_in(path: &Path) -> Vec<Value> {
    let content = std::fs::read_to_string(path).unwrap_or_default();
    content
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}")))
        .collect()
}

/// The summary line tracer prints last on stderr.
pub fn assert_summary(stderr: &str) {
    assert!(
        stderr.lines().any(|line| line.starts_with("tracer: ") && line.contains(" lost, ")),
        "no summary: {stderr}"
    );
}

/// Waits for `child` to exit by itself within `limit`.
pub fn wait_within(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait for tracer") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("[{}] {what}: tracer still running after {limit:?}", machine());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn signal(pid: u32, signal: i32) {
    // SAFETY: signals a process this test started.
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0, "kill {pid}");
}

/// tracer run started with piped stdio; returns it once the command printed `ready`.
/// `tracer` to start with every signal the tests send at its default disposition. `tracer run`
/// keeps what it inherits, ignored signals included, and hands that on to the command: run from
/// a shell's background job (where SIGINT and SIGQUIT are ignored), the signals these tests
/// send would be ignored by tracer and the command alike, as they should be.
pub fn tracer_command() -> Command {
    let mut command = Command::new(tracer_bin());
    // SAFETY: signal(2) only, between fork and exec.
    unsafe {
        command.pre_exec(|| {
            for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2] {
                libc::signal(signal, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    command
}

pub fn start_until_ready(args: &[&str]) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = tracer_command()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tracer run");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read the command's stdout");
    assert_eq!(line, "ready\n", "[{}] the command did not start: {args:?}", machine());
    (child, stdout)
}

/// The `signals` workload's report: the signals it caught, as (number, si_code, sender).
pub fn caught(report: &str) -> Vec<(i64, i64, i64)> {
    let report: Value = serde_json::from_str(report.trim()).unwrap_or_else(|_| panic!("no report: {report:?}"));
    report["signals"]
        .as_array()
        .expect("signals")
        .iter()
        .map(|s| (s["signal"].as_i64().unwrap(), s["code"].as_i64().unwrap(), s["sender"].as_i64().unwrap()))
        .collect()
}

/// tracer run in a new session on a pseudo-terminal, as from an interactive shell.
pub struct OnTerminal {
    pub child: Child,
    master: Arc<Mutex<std::fs::File>>,
    pub output: Arc<Mutex<String>>,
}

impl OnTerminal {
    pub fn start(args: &[&str]) -> Self {
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: openpty fills both descriptors, owned below.
        let opened =
            unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
        assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
        let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let mut command = tracer_command();
        command
            .args(args)
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
                // A session of its own, with the terminal as its controlling one: tracer and
                // the command form its foreground process group.
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("start tracer on a terminal");
        let master = Arc::new(Mutex::new(std::fs::File::from(master)));
        let output = Arc::new(Mutex::new(String::new()));
        let reader = master.lock().unwrap().try_clone().unwrap();
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut reader = reader;
            let mut buffer = [0u8; 4096];
            // EIO once every process let go of the terminal.
            while let Ok(read) = reader.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buffer[..read]));
            }
        });
        Self { child, master, output }
    }

    pub fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.output.lock().unwrap().contains(needle) {
            assert!(Instant::now() < deadline, "no {needle:?} on the terminal: {}", self.output.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn type_bytes(&self, bytes: &[u8]) {
        self.master.lock().unwrap().write_all(bytes).expect("type on the terminal");
    }
}
