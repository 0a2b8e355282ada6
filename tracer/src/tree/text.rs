//! Words for the tree: strings made safe for a terminal, command lines, durations, exit statuses.
use std::borrow::Cow;

use crate::{event::exit_status, names::signal_name};

/// `s` with control characters and text-direction overrides made visible (`\n`, `\x1b`,
/// `\u{202e}`), so a name or argument from the kernel cannot move the cursor, recolour or
/// reorder what the terminal shows.
pub fn escape(s: &str) -> Cow<'_, str> {
    let hidden = |c: char| {
        c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if hidden(c) && (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if hidden(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// An argument as a shell would need it written.
pub fn shell_word(argument: &str) -> Cow<'_, str> {
    let plain = !argument.is_empty()
        && argument.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&byte));
    if plain { Cow::Borrowed(argument) } else { Cow::Owned(format!("'{}'", argument.replace('\'', r"'\''"))) }
}

/// `text` cut to at most `max` characters, the cut marked with `…`.
pub fn shorten(text: &str, max: usize) -> Cow<'_, str> {
    if text.chars().count() <= max {
        return Cow::Borrowed(text);
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    Cow::Owned(cut)
}

/// "12.3ms"-style durations, as the event table prints them.
pub fn duration(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns}ns"),
        1_000..1_000_000 => format!("{:.1}µs", ns as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}ms", ns as f64 / 1e6),
        _ => format!("{:.2}s", ns as f64 / 1e9),
    }
}

/// "exit 0", "exit 3", "killed by SIGSEGV, core dumped".
pub fn ending(status: u32) -> String {
    let core = if exit_status::core_dumped(status) { ", core dumped" } else { "" };
    match (exit_status::code(status), exit_status::signal(status)) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(signal)) => format!("killed by {}{core}", signal_name(signal)),
        (None, None) => format!("status {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_obey() {
        assert_eq!(escape("plain ünïcode"), "plain ünïcode");
        assert_eq!(escape("a\nb\tc\x1b[31m\u{7f}\u{9b}"), "a\\nb\\tc\\x1b[31m\\x7f\\x9b");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
    }

    #[test]
    fn shortens_on_character_boundaries() {
        assert_eq!(shorten("abcdef", 6), "abcdef");
        assert_eq!(shorten("abcdefg", 6), "abcde…");
        assert_eq!(shorten("äöüäöüä", 4), "äöü…");
    }

    #[test]
    fn words_and_endings() {
        assert_eq!(shell_word("a.c"), "a.c");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(ending(0), "exit 0");
        assert_eq!(ending(2 << 8), "exit 2");
        assert_eq!(ending(0x80 | 11), "killed by SIGSEGV, core dumped");
        assert_eq!(duration(1_500_000), "1.5ms");
    }
}
