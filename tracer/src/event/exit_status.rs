//! Decoding of `task->exit_code` wait statuses: exit code << 8, or the killing signal, with
//! bit 7 set when it dumped core; and how a task ended, in the words every printer uses.
use super::Signal;
/// The exit code, when the task exited normally.
pub fn code(status: u32) -> Option<u32> {
    (status & 0x7f == 0).then_some((status >> 8) & 0xff)
}

/// The signal number, when a signal killed the task.
pub fn signal(status: u32) -> Option<u32> {
    let signal = status & 0x7f;
    (signal != 0).then_some(signal)
}

pub fn core_dumped(status: u32) -> bool {
    status & 0x80 != 0
}

/// The wait status of an exit's parts (the inverse of the three functions above).
pub fn compose(code: Option<u32>, signal: Option<super::Signal>, core_dumped: bool) -> u32 {
    match signal {
        Some(signal) => (signal.0 & 0x7f) | if core_dumped { 0x80 } else { 0 },
        None => (code.unwrap_or(0) & 0xff) << 8,
    }
}

/// How a task ended: "exit 3", "killed by SIGKILL"; `None` when neither is known (each printer
/// says that in its own words).
pub fn ending(exit_code: Option<u32>, signal: Option<Signal>) -> Option<String> {
    match (exit_code, signal) {
        (Some(code), _) => Some(format!("exit {code}")),
        (None, Some(signal)) => Some(format!("killed by {signal}")),
        (None, None) => None,
    }
}

/// How a task ended, from its wait status ("status 4991" for one that says neither).
pub fn status_ending(status: u32) -> String {
    ending(code(status), signal(status).map(Signal)).unwrap_or_else(|| format!("status {status}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endings_are_worded_once() {
        assert_eq!(ending(Some(3), None).as_deref(), Some("exit 3"));
        assert_eq!(ending(None, Some(Signal(9))).as_deref(), Some("killed by SIGKILL"));
        assert_eq!(ending(None, None), None);
        assert_eq!(status_ending(2 << 8), "exit 2");
        assert_eq!(status_ending(0x80 | 11), "killed by SIGSEGV");
    }
}
