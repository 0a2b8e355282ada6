//! Child-process plumbing for the bench: line readers with arrival times, CPU and memory of a
//! running process, signalling, and reaping with `wait4` to get the child's own rusage.
use std::{
    fs,
    io::{BufRead, BufReader, Read},
    os::unix::process::ExitStatusExt,
    process::{Child, ExitStatus},
    sync::mpsc::{self, Receiver, RecvTimeoutError},
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

/// At most this many lines of a pipe are kept; the rest are read (so the child never blocks on
/// a full pipe) and only counted. A runaway tool must not take the bench's memory with it.
const KEPT_LINES: u64 = 100_000;

/// Lines of a child's pipe, read by a thread and timestamped on arrival.
pub struct Lines {
    receiver: Receiver<(Instant, String)>,
    /// Returns how many lines the pipe carried in all.
    reader: Option<JoinHandle<u64>>,
    /// Every line received so far (up to [`KEPT_LINES`]), with when it arrived.
    pub seen: Vec<(Instant, String)>,
    /// Whether the pipe reached end of file.
    pub closed: bool,
    /// Lines the pipe carried in all, once [`Lines::finish_timed`] has run.
    pub total: u64,
}

impl Lines {
    pub fn new(pipe: impl Read + Send + 'static) -> Lines {
        let (sender, receiver) = mpsc::channel();
        let reader = thread::spawn(move || {
            let mut total = 0;
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                total += 1;
                if total <= KEPT_LINES {
                    // A gone receiver only means nobody wants the lines any more: keep draining.
                    let _ = sender.send((Instant::now(), line));
                }
            }
            total
        });
        Lines { receiver, reader: Some(reader), seen: Vec::new(), closed: false, total: 0 }
    }

    /// Waits up to `timeout` for a line matching `wanted`; returns when it arrived, or `None`
    /// when the pipe closed or the time ran out first. `poll` runs every few milliseconds
    /// meanwhile (e.g. to spawn probe processes).
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        wanted: impl Fn(&str) -> bool,
        mut poll: impl FnMut(),
    ) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        while !self.closed {
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            match self.receiver.recv_timeout((deadline - now).min(Duration::from_millis(2))) {
                Ok((at, line)) => {
                    let hit = wanted(&line);
                    self.seen.push((at, line));
                    if hit {
                        return Some(at);
                    }
                }
                Err(RecvTimeoutError::Timeout) => poll(),
                Err(RecvTimeoutError::Disconnected) => self.closed = true,
            }
        }
        None
    }

    /// Reads to end of file (call once the child has exited) and returns every line with when
    /// it arrived.
    pub fn finish_timed(&mut self) -> Vec<(Instant, String)> {
        if let Some(reader) = self.reader.take() {
            self.total = reader.join().unwrap_or(0);
        }
        self.seen.extend(self.receiver.try_iter());
        std::mem::take(&mut self.seen)
    }

    /// Reads to end of file (call once the child has exited) and returns every line.
    pub fn finish(mut self) -> Vec<String> {
        self.finish_timed().into_iter().map(|(_, line)| line).collect()
    }
}

/// CPU time used so far by process `pid`, in ns: the larger of two lower bounds, the sum over
/// its live threads of `/proc/<pid>/task/*/schedstat` (ns, but without threads that already
/// ended) and utime + stime of `/proc/<pid>/stat` (every thread, but in clock ticks).
pub fn cpu_ns(pid: u32) -> Option<u64> {
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut live = 0;
    for task in tasks.flatten() {
        let stat = fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        live += stat.split_whitespace().next().and_then(|ns| ns.parse::<u64>().ok()).unwrap_or(0);
    }
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised comm: state is field 3, utime 14 and stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(live.max(ticks * 1_000_000_000 / hz))
}

/// `VmHWM` (peak resident set) of `pid` in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Waits until `pid` has used no more than 1 ms of CPU in 100 ms (it drained what it was given),
/// at most `limit`.
pub fn wait_idle(pid: u32, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut last = cpu_ns(pid);
    while Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
        let now = cpu_ns(pid);
        match (last, now) {
            (Some(before), Some(after)) if after.saturating_sub(before) <= 1_000_000 => return,
            (_, None) => return,
            _ => last = now,
        }
    }
}

pub fn signal(pid: u32, signal: libc::c_int) {
    // SAFETY: plain kill(2) on our own child's pid, which is not reaped yet.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

/// How a reaped child ended and what it cost.
pub struct Reaped {
    pub status: ExitStatus,
    /// User plus system CPU time of the whole process, in ns.
    pub cpu_ns: u64,
    /// Peak resident set in KiB (`ru_maxrss`).
    pub max_rss_kib: u64,
    /// It had not ended within the timeout and was killed with SIGKILL.
    pub killed: bool,
}

/// Reaps `child` with `wait4`, killing it when it has not ended within `timeout`. Do not call
/// `Child::wait` afterwards.
pub fn reap(child: &Child, timeout: Duration) -> Result<Reaped> {
    let pid = child.id() as libc::pid_t;
    let deadline = Instant::now() + timeout;
    let mut killed = false;
    loop {
        let mut status = 0;
        // SAFETY: rusage is plain data, zero is a valid value; pid is our unreaped child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let flags = if killed { 0 } else { libc::WNOHANG };
        let reaped = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
        if reaped == pid {
            let time = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
            return Ok(Reaped {
                status: ExitStatus::from_raw(status),
                cpu_ns: time(usage.ru_utime) + time(usage.ru_stime),
                max_rss_kib: usage.ru_maxrss as u64,
                killed,
            });
        }
        if reaped < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error).context(format!("wait4({pid}) failed"));
        }
        if Instant::now() >= deadline {
            if killed {
                bail!("process {pid} did not end even after SIGKILL");
            }
            signal(pid as u32, libc::SIGKILL);
            killed = true;
        } else {
            thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A pseudo-terminal of 160×45 whose screen is read (and dropped) by a thread, as a terminal
/// would: `tracer top` draws on its other side.
pub struct Pty {
    reader: Option<JoinHandle<()>>,
}

impl Pty {
    /// The terminal, and the descriptor of its other side to give the tool.
    pub fn open() -> Result<(Pty, std::os::fd::OwnedFd)> {
        use std::os::fd::FromRawFd;
        let (mut master, mut slave) = (-1, -1);
        let size = libc::winsize { ws_row: 45, ws_col: 160, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: openpty fills both descriptors, owned below; the size is only read.
        let opened = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) };
        if opened != 0 {
            bail!("openpty: {}", std::io::Error::last_os_error());
        }
        // SAFETY: both were just opened and are owned by nothing else.
        let (master, slave) =
            unsafe { (std::os::fd::OwnedFd::from_raw_fd(master), std::os::fd::OwnedFd::from_raw_fd(slave)) };
        let mut screen = fs::File::from(master);
        let reader = thread::spawn(move || {
            let mut buffer = [0u8; 16 * 1024];
            // EIO once the tool let go of the terminal.
            while screen.read(&mut buffer).is_ok_and(|read| read > 0) {}
        });
        Ok((Pty { reader: Some(reader) }, slave))
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}
