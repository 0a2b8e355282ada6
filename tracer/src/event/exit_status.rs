//! Decoding of `task->exit_code` wait statuses: exit code << 8, or the killing signal, with
//! bit 7 set when it dumped core.
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
