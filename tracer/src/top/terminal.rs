//! The terminal while `tracer top` has it: raw mode, the alternate screen, the cursor hidden;
//! and its return, whatever ends the view: `q`, a stop signal (the guard is dropped), a panic
//! (the hook restores it before the panic message is printed). Log lines, which go to the same
//! terminal on stderr, are held back meanwhile: they would tear the view.
use std::{
    io::{self, Write},
    sync::{
        Once,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use crossterm::{
    cursor::{Hide, Show},
    execute,
    terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode},
};

/// Whether the terminal is in tracer's hands now.
static TAKEN: AtomicBool = AtomicBool::new(false);
/// The log level before the terminal was taken (as `log::LevelFilter as usize`).
static LOG_LEVEL: AtomicUsize = AtomicUsize::new(0);
static PANIC_HOOK: Once = Once::new();

/// Holds the terminal; dropping it gives it back.
pub struct TerminalGuard(());

impl TerminalGuard {
    /// Takes the terminal on stdout.
    pub fn take() -> io::Result<Self> {
        PANIC_HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore();
                previous(info);
            }));
        });
        LOG_LEVEL.store(log::max_level() as usize, Ordering::SeqCst);
        log::set_max_level(log::LevelFilter::Off);
        TAKEN.store(true, Ordering::SeqCst);
        let guard = TerminalGuard(());
        enable_raw_mode()?;
        execute!(io::stdout(), EnterAlternateScreen, Hide)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves the alternate screen, shows the cursor and ends raw mode, once.
fn restore() {
    if TAKEN.swap(false, Ordering::SeqCst) {
        let mut stdout = io::stdout();
        let _ = execute!(stdout, LeaveAlternateScreen, Show);
        let _ = disable_raw_mode();
        let _ = stdout.flush();
        let level = LOG_LEVEL.load(Ordering::SeqCst);
        let level = log::LevelFilter::iter().find(|filter| *filter as usize == level).unwrap_or(log::LevelFilter::Warn);
        log::set_max_level(level);
    }
}
