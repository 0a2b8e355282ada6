//! The one escaping policy every printer follows (table, JSON, tree, Perfetto names, error
//! lines): it makes strings that come from the kernel or from a file safe to show. A task
//! picks its own comm, argv and exec path, so any of them may hold escape sequences that retitle
//! or clear the operator's terminal, or newlines that forge whole rows.
//!
//! Escaped, so that one event is always one visible line that reads the same in every viewer:
//! - C0 controls, DEL and C1 controls (every `char::is_control`): `\n`, `\t`, `\r`, else `\x1b`
//!   (C0 and DEL) or `\u{9b}` (C1, which some terminals obey as 8-bit ESC/CSI);
//! - the Unicode line and paragraph separators U+2028 and U+2029, which editors, pagers and log
//!   viewers break lines on;
//! - the bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), which
//!   reorder how the rest of the line is displayed ("Trojan Source");
//! - the backslash itself, as `\\`, so that a name that spells `\x1b` cannot pass for an escaped
//!   byte: the escaped text maps back to exactly one original.
//!
//! Everything else, other scripts and emoji included, is shown as it is.
use std::{borrow::Cow, fmt::Write};

/// Whether `c` is shown as an escape.
fn needs_escape(c: char) -> bool {
    c == '\\' || acts_on_display(c)
}

/// Whether `c` changes how a terminal or viewer displays the text around it (a control, a line
/// separator, a bidirectional control).
pub fn acts_on_display(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{200e}' | '\u{200f}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// `s` with control, line-separating and bidirectional characters (and backslashes) escaped;
/// borrowed when there is nothing to escape, as for almost every name.
pub fn escape(s: &str) -> Cow<'_, str> {
    let printable_ascii = |byte: &u8| (0x20..0x7f).contains(byte) && *byte != b'\\';
    if s.bytes().all(|byte| printable_ascii(&byte)) || !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0'..='\u{1f}' | '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// An error as tracer reports it on stderr, causes included: messages can quote file names and
/// file contents (a glob can pick up a name another user chose), so they are escaped too.
pub fn error_line(error: &anyhow::Error) -> String {
    format!("tracer: {}", escape(&format!("{error:#}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_borrowed_unchanged() {
        for plain in ["bash", "tracer-workload", "/usr/bin/cat", "a b 'c' \"d\"", "", "日本語", "café 🦀"] {
            assert!(matches!(escape(plain), Cow::Borrowed(text) if text == plain), "{plain}");
        }
    }

    #[test]
    fn terminal_controls_become_visible_text() {
        assert_eq!(escape("\x1b]0;owned\x07"), r"\x1b]0;owned\x07");
        assert_eq!(escape("\x1b[2J"), r"\x1b[2J");
        assert_eq!(escape("one\ntwo\r\tthree"), r"one\ntwo\r\tthree");
        assert_eq!(escape("\0nul\x7fdel"), r"\x00nul\x7fdel");
        // C1: CSI and NEL, as UTF-8 characters.
        assert_eq!(escape("\u{9b}31m\u{85}"), r"\u{9b}31m\u{85}");
    }

    #[test]
    fn separators_and_bidi_controls_are_escaped() {
        assert_eq!(escape("a\u{2028}b\u{2029}c"), r"a\u{2028}b\u{2029}c");
        assert_eq!(escape("\u{202e}gnp.exe"), r"\u{202e}gnp.exe");
        assert_eq!(escape("\u{2066}x\u{2069}\u{200f}\u{061c}"), r"\u{2066}x\u{2069}\u{200f}\u{61c}");
    }

    #[test]
    fn backslashes_keep_the_escaping_unambiguous() {
        // A name that spells an escape differs from the escaped control character.
        assert_eq!(escape(r"\x1b"), r"\\x1b");
        assert_ne!(escape(r"\x1b"), escape("\x1b"));
        assert_eq!(escape(r"C:\dir"), r"C:\\dir");
    }

    #[test]
    fn nothing_escaped_reaches_a_terminal_raw() {
        // Every char from U+0000 to U+00FF and the special ranges: the result never holds a
        // control character, a separator or a bidi control.
        let all: String = (0u32..0x100).chain(0x2000..0x2070).filter_map(char::from_u32).collect();
        let escaped = escape(&all);
        assert!(escaped.chars().all(|c| !needs_escape(c) || c == '\\'), "{escaped}");
        assert!(!escaped.contains('\n'));
    }

    #[test]
    fn error_lines_carry_every_cause_escaped() {
        let error = anyhow::anyhow!("bad\x1b[2J\n").context("cannot read /tmp/a\u{202e}b");
        assert_eq!(error_line(&error), r"tracer: cannot read /tmp/a\u{202e}b: bad\x1b[2J\n");
    }
}
