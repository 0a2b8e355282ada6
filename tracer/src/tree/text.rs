//! Words only the tree writes: arguments cut to fit a line, and how a process ended with its
//! core dump. Escaping, shell words and durations are the shared ones of [`crate::text`].
use std::borrow::Cow;

use crate::event::exit_status::{self, status_ending};

/// `text` cut to at most `max` characters, the cut marked with `…`. `text` is escaped already,
/// so the cut never falls inside an escape (`\x1b`, `\u{202e}`, `\\`): half an escape would
/// leave a backslash that reads as part of something else.
pub fn shorten(text: &str, max: usize) -> Cow<'_, str> {
    if text.chars().count() <= max {
        return Cow::Borrowed(text);
    }
    let budget = max.saturating_sub(1);
    let (mut kept, mut end) = (0, 0);
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        let mut unit = (1, at + c.len_utf8());
        if c == '\\' {
            let mut take = |unit: &mut (usize, usize)| {
                chars.next().map(|(at, c)| {
                    *unit = (unit.0 + 1, at + c.len_utf8());
                    c
                })
            };
            match take(&mut unit) {
                Some('x') => {
                    take(&mut unit);
                    take(&mut unit);
                }
                Some('u') => while take(&mut unit).is_some_and(|c| c != '}') {},
                _ => {}
            }
        }
        if kept + unit.0 > budget {
            break;
        }
        (kept, end) = (kept + unit.0, unit.1);
    }
    Cow::Owned(format!("{}…", &text[..end]))
}

/// "exit 0", "exit 3", "killed by SIGSEGV, core dumped".
pub fn ending(status: u32) -> String {
    // The core bit only means something for a task a signal killed.
    let core = exit_status::signal(status).is_some() && exit_status::core_dumped(status);
    let words = status_ending(status);
    if core { format!("{words}, core dumped") } else { words }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortens_on_character_boundaries() {
        assert_eq!(shorten("abcdef", 6), "abcdef");
        assert_eq!(shorten("abcdefg", 6), "abcde…");
        assert_eq!(shorten("äöüäöüä", 4), "äöü…");
        assert_eq!(shorten(r"ab\u{202e}cd", 6), "ab…");
        assert_eq!(shorten(r"ab\x1bcdef", 7), r"ab\x1b…");
        assert_eq!(shorten(r"a\\b\ncdef", 3), "a…");
        assert_eq!(shorten(r"'it'\''s' more", 8), r"'it'\''…");
    }

    #[test]
    fn endings() {
        assert_eq!(ending(0), "exit 0");
        assert_eq!(ending(2 << 8), "exit 2");
        assert_eq!(ending(9), "killed by SIGKILL");
        assert_eq!(ending(0x80 | 11), "killed by SIGSEGV, core dumped");
    }
}
