//! `tracer top` in a real terminal: tmux (a private server, 160×45) runs it, keys are typed
//! with `send-keys` and the screen is read with `capture-pane`. As root on the real kernel: a
//! process with three extra threads is one row of 4 tasks, its short-lived child shows with its
//! exit code, a typed filter narrows the view, a replay of what was recorded meanwhile ends on
//! the same state, and `q` or SIGTERM give the terminal back (alternate screen left) with the
//! summary line on stderr. Without a terminal, `tracer top` refuses with exit 2.
use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use crate::common::{host_only, need_program, require_root, scratch_dir, tracer_bin, workload_bin};

/// A tmux server of the test's own, with one session running one command.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    /// Runs `command` (a shell line) in a new 160×45 session whose pane stays after it exits,
    /// so its exit status and the terminal's state can be read.
    fn start(dir: &Path, command: &str) -> Tmux {
        host_only("tmux");
        need_program("tmux", "tmux");
        // A server of its own each time: one just killed may still hold its socket.
        static SERVERS: AtomicUsize = AtomicUsize::new(0);
        let tmux = Tmux { socket: dir.join(format!("tmux-{}.sock", SERVERS.fetch_add(1, Ordering::SeqCst))) };
        // One invocation: a server without a session exits at once, forgetting the option.
        let start = ["-f", "/dev/null", "start-server", ";", "set-option", "-g", "remain-on-exit", "on", ";"];
        let session = ["new-session", "-d", "-s", "top", "-x", "160", "-y", "45", command];
        tmux.run(&[&start[..], &session[..]].concat(), true);
        tmux
    }

    fn run(&self, args: &[&str], check: bool) -> String {
        let output = Command::new("tmux").arg("-S").arg(&self.socket).args(args).output().expect("run tmux");
        if check {
            assert!(output.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        }
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "top"], true)
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "top"];
        args.extend_from_slice(keys);
        self.run(&args, true);
    }

    fn display(&self, format: &str) -> String {
        self.run(&["display-message", "-p", "-t", "top", format], true).trim().to_owned()
    }

    /// The screen once `test` holds for it, within 30 s.
    fn wait_for(&self, what: &str, test: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if test(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "{what}: not on the screen within 30 s:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// tracer's exit status, once it ended (within 60 s), from the file the pane's shell writes
    /// after reaping it: tmux itself was seen leaving its exited child a zombie for minutes.
    fn exit_status(&self, status_file: &Path) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = std::fs::read_to_string(status_file).ok().and_then(|text| text.trim().parse().ok()) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "tracer top did not end within 60 s: {}\n{}",
                self.whereabouts(),
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// tracer's PID: the one child of the pane's shell.
    fn tracer_pid(&self) -> i32 {
        let shell = self.display("#{pane_pid}");
        let children =
            std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).expect("the shell's children");
        let pids: Vec<i32> = children.split_whitespace().map(|pid| pid.parse().expect("a PID")).collect();
        assert_eq!(pids.len(), 1, "the pane's shell should run tracer alone: {pids:?}");
        pids[0]
    }
}

impl Tmux {
    /// Where the pane's process is, for a failure message: its state and each thread's wait
    /// channel.
    fn whereabouts(&self) -> String {
        let pid = self.display("#{pane_pid}");
        let state = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| status.lines().find(|line| line.starts_with("State:")).map(str::to_owned))
            .unwrap_or_else(|| "gone".to_owned());
        let threads: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .filter_map(|entry| {
                let dir = entry.ok()?.path();
                let name = std::fs::read_to_string(dir.join("comm")).ok()?;
                let wchan = std::fs::read_to_string(dir.join("wchan")).unwrap_or_default();
                Some(format!("{} in {wchan}", name.trim()))
            })
            .collect();
        format!("process {pid}: {state}; threads: {}", threads.join(", "))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"], false);
    }
}

/// The shell line running `tracer top ARGS` with stderr to `stderr`, then writing its exit
/// status to `status`.
fn top_line(args: &str, stderr: &Path, status: &Path) -> String {
    format!("{} top {args} 2>{}; echo $? >{}", tracer_bin().display(), stderr.display(), status.display())
}

/// The row of the tree for `pid`, split into columns.
fn row(screen: &str, pid: u32) -> Option<Vec<String>> {
    let pid = pid.to_string();
    screen
        .lines()
        .map(|line| line.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .find(|columns| columns.first() == Some(&pid))
}

/// The status `tracer top` must exit with after `q` or a stop signal, as the stream's: 0, or 3
/// when its summary line says the kernel lost events (the whole machine is watched, and other
/// work on it may storm).
fn expected_status(stderr: &Path) -> i32 {
    let stderr = std::fs::read_to_string(stderr).expect("read tracer's stderr");
    let summary = stderr.lines().find(|line| line.contains(" events (fork ")).expect("a summary line");
    let lost: u64 = summary
        .split(", ")
        .find_map(|part| part.strip_suffix(" lost")?.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no lost count in {summary:?}"));
    if lost == 0 { 0 } else { 3 }
}

fn assert_left_the_terminal(tmux: &Tmux, stderr: &Path) {
    assert_eq!(tmux.display("#{alternate_on}"), "0", "the alternate screen was not left:\n{}", tmux.screen());
    let stderr = std::fs::read_to_string(stderr).expect("read tracer's stderr");
    assert!(
        stderr.lines().any(|line| line.starts_with("tracer: ") && line.contains(" events (fork ")),
        "no summary line on stderr: {stderr}"
    );
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn top_shows_threads_as_one_row_a_short_lived_child_with_its_exit_and_filters_then_quits() {
    require_root();
    let dir = scratch_dir("top");
    let (stderr, recording) = (dir.join("stderr"), dir.join("top.rec"));
    let tmux = Tmux::start(
        &dir,
        &top_line(&format!("--buffer-size 16 -o {}", recording.display()), &stderr, &dir.join("status")),
    );
    let before =
        tmux.wait_for("the view with PID 1", |screen| screen.contains("tracer top · live") && row(screen, 1).is_some());
    assert_eq!(tmux.display("#{alternate_on}"), "1", "tracer top draws on the alternate screen:\n{before}");

    let mut workload = Command::new(workload_bin())
        .args(["top-family", "12"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the workload");
    let mut lines = BufReader::new(workload.stdout.take().expect("piped")).lines();
    let pid: u32 = lines.next().expect("the workload's PID").expect("read").parse().expect("a PID");
    // Typed before the child is born: only the workload's processes stay in the view.
    tmux.keys(&["/"]);
    tmux.keys(&["-l", "tracer-wo"]);
    tmux.keys(&["Enter"]);
    let child: u32 = lines.next().expect("the child's PID").expect("read").parse().expect("a PID");
    let screen = tmux.wait_for("the workload's row with 4 tasks and its child's exit 7", |screen| {
        row(screen, pid).is_some_and(|columns| columns[3] == "4")
            && row(screen, child).is_some_and(|_| {
                screen.lines().any(|line| line.starts_with(&child.to_string()) && line.contains("exit 7"))
            })
    });
    assert!(screen.contains("filter: tracer-wo"), "{screen}");
    assert!(row(&screen, 1).is_none(), "the filter left PID 1 in the view:\n{screen}");
    let columns = row(&screen, pid).unwrap();
    assert_eq!(columns[1], std::process::id().to_string(), "its parent is this test:\n{screen}");

    tmux.keys(&["q"]);
    let status = tmux.exit_status(&dir.join("status"));
    let log = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert_eq!(status, expected_status(&stderr), "q exits 0 (3 when events were lost); stderr: {log}");
    assert_left_the_terminal(&tmux, &stderr);
    let _ = workload.kill();
    let _ = workload.wait();
    drop(tmux);

    // The recording made meanwhile, replayed fast with the workload's tree selected (other
    // storms may be recorded too): the child's end is on screen and stays.
    let replayed = dir.join("replay-stderr");
    let tmux = Tmux::start(
        &dir,
        &top_line(&format!("{} --speed 20 -p {pid} -f", recording.display()), &replayed, &dir.join("replay-status")),
    );
    let screen = tmux.wait_for("the replayed child's exit 7", |screen| {
        screen.lines().any(|line| line.starts_with(&child.to_string()) && line.contains("exit 7"))
    });
    assert!(screen.contains("replay of"), "{screen}");
    tmux.keys(&["q"]);
    let status = tmux.exit_status(&dir.join("replay-status"));
    assert_eq!(status, 0, "stderr: {}", std::fs::read_to_string(&replayed).unwrap_or_default());
    assert_left_the_terminal(&tmux, &replayed);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn top_gives_the_terminal_back_on_sigterm() {
    require_root();
    let dir = scratch_dir("top-sigterm");
    let stderr = dir.join("stderr");
    let tmux = Tmux::start(&dir, &top_line("--buffer-size 16", &stderr, &dir.join("status")));
    tmux.wait_for("the view", |screen| screen.contains("tracer top · live"));
    let pid = tmux.tracer_pid();
    // SAFETY: kill(2) on tracer, the pane's shell's child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = tmux.exit_status(&dir.join("status"));
    let log = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert_eq!(status, expected_status(&stderr), "SIGTERM exits 0 (3 when events were lost); stderr: {log}");
    assert_left_the_terminal(&tmux, &stderr);
}

#[test]
fn top_without_a_terminal_exits_2_with_one_line() {
    let output = Command::new(tracer_bin()).arg("top").stdin(Stdio::null()).output().expect("run tracer top");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--json") && stderr.contains("not"), "{stderr}");
    assert!(output.stdout.is_empty());
}
