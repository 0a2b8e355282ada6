//! Words more than one printer writes the same way: a command-line argument, a duration (how a
//! task ended is the event model's, `event::exit_status::ending`). Defined once, so the table, the tree and the Perfetto trace cannot drift apart.
use crate::text::escape;

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
    fn durations() {
        assert_eq!(duration(999), "999ns");
        assert_eq!(duration(1_500_000), "1.5ms");
        assert_eq!(duration(2_000_000_000), "2.00s");
    }
}
