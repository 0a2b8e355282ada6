//! `tracer-workload signals [--exit N]`: reports which signals reach it and who sent them, to
//! check how a supervisor passes signals on. It catches SIGINT, SIGTERM, SIGHUP, SIGQUIT,
//! SIGUSR1 and SIGUSR2, prints `ready` once they are caught, and after the first one arrives
//! waits 600 ms for more (a duplicate would come within that). Then it prints one JSON line,
//! `{"pid":P,"signals":[{"signal":2,"code":128,"sender":0},…]}` (`code` is `si_code`: 0 for
//! `kill`, 128 for the kernel, e.g. a terminal's Ctrl-C; `sender` is `si_pid`), and exits with
//! code N (default 0). Without any signal it gives up after 30 s, exiting 1.
use std::{
    io::Write,
    process::ExitCode,
    sync::atomic::{AtomicI32, AtomicUsize, Ordering},
    time::{Duration, Instant},
};

const CAUGHT: [i32; 6] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2];
const SLOTS: usize = 32;

static COUNT: AtomicUsize = AtomicUsize::new(0);
static SIGNALS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];
static CODES: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];
static SENDERS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];

extern "C" fn record(signal: i32, info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    let slot = COUNT.fetch_add(1, Ordering::SeqCst);
    if slot < SLOTS {
        // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
        let (code, sender) = unsafe { ((*info).si_code, (*info).si_pid()) };
        SIGNALS[slot].store(signal, Ordering::SeqCst);
        CODES[slot].store(code, Ordering::SeqCst);
        SENDERS[slot].store(sender, Ordering::SeqCst);
    }
}

pub fn run(args: &[String]) -> ExitCode {
    let exit: u8 = match args {
        [] => 0,
        [flag, code] if flag == "--exit" => code.parse().unwrap_or(0),
        _ => {
            eprintln!("usage: tracer-workload signals [--exit N]");
            return ExitCode::from(2);
        }
    };
    for signal in CAUGHT {
        // SAFETY: installs a handler that only touches atomics.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = record as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "ready");
    let _ = stdout.flush();
    let give_up = Instant::now() + Duration::from_secs(30);
    let mut first = None;
    loop {
        std::thread::sleep(Duration::from_millis(10));
        if COUNT.load(Ordering::SeqCst) > 0 {
            let first = *first.get_or_insert_with(Instant::now);
            if first.elapsed() >= Duration::from_millis(600) {
                break;
            }
        } else if Instant::now() > give_up {
            let _ = writeln!(stdout, "no signal arrived");
            return ExitCode::from(1);
        }
    }
    let received = COUNT.load(Ordering::SeqCst).min(SLOTS);
    let entries: Vec<String> = (0..received)
        .map(|slot| {
            format!(
                "{{\"signal\":{},\"code\":{},\"sender\":{}}}",
                SIGNALS[slot].load(Ordering::SeqCst),
                CODES[slot].load(Ordering::SeqCst),
                SENDERS[slot].load(Ordering::SeqCst)
            )
        })
        .collect();
    let _ = writeln!(stdout, "{{\"pid\":{},\"signals\":[{}]}}", std::process::id(), entries.join(","));
    let _ = stdout.flush();
    ExitCode::from(exit)
}
