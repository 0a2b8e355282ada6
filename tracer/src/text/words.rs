//! Words more than one printer writes the same way: a command-line argument, a duration, how a
//! task ended. Defined once, so the table, the tree and the Perfetto trace cannot drift apart.
use crate::{
    event::{Signal, exit_status},
    text::escape,
};

/// An argument as a shell would need it written: bare when it is plain, otherwise in single
/// quotes. Escaped first, so that it stays on its line; the quoting's own `'\''` is then not
/// mistaken for text to escape.
pub fn shell_word(argument: &str) -> String {
    let argument = escape(argument);
    let plain = !argument.is_empty()
        && argument.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&byte));
    if plain { argument.into_owned() } else { format!("'{}'", argument.replace('\'', r"'\''")) }
}

/// "12.3ms"-style durations.
pub fn duration(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns}ns"),
        1_000..1_000_000 => format!("{:.1}µs", ns as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}ms", ns as f64 / 1e6),
        _ => format!("{:.2}s", ns as f64 / 1e9),
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
    ending(exit_status::code(status), exit_status::signal(status).map(Signal))
        .unwrap_or_else(|| format!("status {status}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_escaped_then_quoted() {
        assert_eq!(shell_word("a.c"), "a.c");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("a\nb"), r"'a\nb'");
        assert_eq!(shell_word(r"back\slash"), r"'back\\slash'");
    }

    #[test]
    fn durations_and_endings() {
        assert_eq!(duration(999), "999ns");
        assert_eq!(duration(1_500_000), "1.5ms");
        assert_eq!(duration(2_000_000_000), "2.00s");
        assert_eq!(ending(Some(3), None).as_deref(), Some("exit 3"));
        assert_eq!(ending(None, Some(Signal(9))).as_deref(), Some("killed by SIGKILL"));
        assert_eq!(ending(None, None), None);
        assert_eq!(status_ending(2 << 8), "exit 2");
        assert_eq!(status_ending(0x80 | 11), "killed by SIGSEGV");
    }
}
