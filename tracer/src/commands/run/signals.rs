//! Signals around `tracer run`: the dispositions and mask tracer itself was started with (so the
//! command starts with exactly those), and the signals tracer takes over while the command runs.
//!
//! Rust's runtime sets SIGPIPE to "ignore" before `main`, and tokio installs handlers later, so
//! what tracer inherited is read by a constructor that runs before either (`.init_array`).
use std::{
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    sync::atomic::{AtomicU64, Ordering},
};

/// Highest standard or real-time signal number on Linux.
const MAX_SIGNAL: i32 = 64;

/// Signals ignored when tracer started, bit `n - 1` for signal `n`.
static STARTUP_IGNORED: AtomicU64 = AtomicU64::new(0);
/// tracer's signal mask when it started, same bits.
static STARTUP_BLOCKED: AtomicU64 = AtomicU64::new(0);

/// Runs before the Rust runtime's own start-up (which ignores SIGPIPE) and before `main`.
extern "C" fn record_startup_signals() {
    let mut ignored = 0u64;
    for signal in 1..=MAX_SIGNAL {
        // SAFETY: queries only; a zeroed sigaction is a valid output buffer.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        if unsafe { libc::sigaction(signal, std::ptr::null(), &mut action) } == 0
            && action.sa_sigaction == libc::SIG_IGN
        {
            ignored |= bit(signal);
        }
    }
    STARTUP_IGNORED.store(ignored, Ordering::Relaxed);
    // SAFETY: queries the current mask into a zeroed set.
    let mut mask: libc::sigset_t = unsafe { std::mem::zeroed() };
    if unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask) } == 0 {
        STARTUP_BLOCKED.store(bits_of(&mask), Ordering::Relaxed);
    }
}

#[used]
#[unsafe(link_section = ".init_array")]
static RECORD_STARTUP_SIGNALS: extern "C" fn() = record_startup_signals;

fn bit(signal: i32) -> u64 {
    1 << (signal - 1)
}

fn bits_of(set: &libc::sigset_t) -> u64 {
    // SAFETY: sigismember only reads the set.
    (1..=MAX_SIGNAL).filter(|&signal| unsafe { libc::sigismember(set, signal) } == 1).fold(0, |bits, s| bits | bit(s))
}

fn set_of(bits: u64) -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set; sigaddset ignores numbers it does not know.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe { libc::sigemptyset(&mut set) };
    for signal in (1..=MAX_SIGNAL).filter(|&signal| bits & bit(signal) != 0) {
        unsafe { libc::sigaddset(&mut set, signal) };
    }
    set
}

/// What tracer inherited, prepared before fork for the child to restore before exec.
pub struct Startup {
    ignored: u64,
    mask: libc::sigset_t,
}

impl Startup {
    pub fn recorded() -> Self {
        Self { ignored: STARTUP_IGNORED.load(Ordering::Relaxed), mask: set_of(STARTUP_BLOCKED.load(Ordering::Relaxed)) }
    }

    pub fn ignored(&self, signal: i32) -> bool {
        self.ignored & bit(signal) != 0
    }

    /// Gives every signal the disposition it had when tracer started (ignored, or default:
    /// handlers never survive an exec anyway) and restores the mask. Only async-signal-safe
    /// calls: this runs in the forked child.
    pub fn restore_in_child(&self) {
        for signal in 1..=MAX_SIGNAL {
            if signal == libc::SIGKILL || signal == libc::SIGSTOP {
                continue;
            }
            let handler = if self.ignored(signal) { libc::SIG_IGN } else { libc::SIG_DFL };
            // SAFETY: plain syscalls; the numbers glibc reserves for itself are refused, harmlessly.
            unsafe { libc::signal(signal, handler) };
        }
        // SAFETY: a valid, initialised set.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.mask, std::ptr::null_mut()) };
    }
}

/// Signals that tracer forwards to the command (or that stop it once the command is gone).
pub const FORWARDED: [i32; 6] =
    [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2];

/// One signal read from the signalfd.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    pub signal: i32,
    /// `si_code`: `SI_KERNEL` for what a terminal sends its foreground process group.
    pub code: i32,
}

/// Whether the kernel raised the signal itself, e.g. a terminal's Ctrl-C, Ctrl-\ or hangup,
/// which it sends to the whole foreground process group (the command included).
pub fn from_kernel(received: &Received) -> bool {
    received.code == libc::SI_KERNEL
}

/// A signalfd for `signals`, which are blocked in the calling thread (and in every thread it
/// creates from then on) so that they queue there instead of running handlers.
pub struct SignalFd {
    fd: OwnedFd,
}

impl SignalFd {
    pub fn block(signals: &[i32]) -> io::Result<Self> {
        let bits = signals.iter().fold(0, |bits, &signal| bits | bit(signal));
        let set = set_of(bits);
        // SAFETY: a valid set; the new descriptor is owned below.
        if unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    /// The next queued signal, if any.
    pub fn read(&self) -> io::Result<Option<Received>> {
        // SAFETY: a zeroed signalfd_siginfo is a valid buffer of the size read asks for.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = size_of::<libc::signalfd_siginfo>();
        loop {
            let read = unsafe { libc::read(self.fd.as_raw_fd(), (&raw mut info).cast(), size) };
            if read == size as isize {
                return Ok(Some(Received { signal: info.ssi_signo as i32, code: info.ssi_code }));
            }
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return Ok(None),
                _ => return Err(error),
            }
        }
    }
}

impl AsRawFd for SignalFd {
    fn as_raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

/// Ends tracer the way the command ended: killed by the same signal (without a core file of
/// its own), so whoever waits for tracer sees what it would have seen of the command.
/// Returns only if that signal did not kill tracer.
pub fn die_of(signal: i32) {
    let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain syscalls on tracer's own process.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        libc::signal(signal, libc::SIG_DFL);
        let set = set_of(bit(signal));
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_round_trip_through_bits() {
        let bits = bit(libc::SIGINT) | bit(libc::SIGPIPE) | bit(libc::SIGRTMIN() + 1);
        assert_eq!(bits_of(&set_of(bits)), bits);
    }

    #[test]
    fn the_recorder_ran_before_the_runtime_ignored_sigpipe() {
        // The test harness, like tracer, runs Rust's runtime start-up, which ignores SIGPIPE;
        // cargo starts it with SIGPIPE at its default.
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let ignored_now = status.lines().find_map(|line| line.strip_prefix("SigIgn:")).unwrap().trim();
        let ignored_now = u64::from_str_radix(ignored_now, 16).unwrap();
        assert_ne!(ignored_now & bit(libc::SIGPIPE), 0, "the runtime ignores SIGPIPE");
        assert_eq!(STARTUP_IGNORED.load(Ordering::Relaxed) & bit(libc::SIGPIPE), 0);
    }
}
