//! Words only the tree writes: arguments cut to fit a line, and how a process ended with its
//! core dump. Escaping, shell words and durations are the shared ones of [`crate::text`].
use std::borrow::Cow;

use crate::{event::exit_status, text::status_ending};

/// `text` cut to at most `max` characters, the cut marked with `…`.
pub fn shorten(text: &str, max: usize) -> Cow<'_, str> {
    if text.chars().count() <= max {
        return Cow::Borrowed(text);
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    Cow::Owned(cut)
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
    }

    #[test]
    fn endings() {
        assert_eq!(ending(0), "exit 0");
        assert_eq!(ending(2 << 8), "exit 2");
        assert_eq!(ending(9), "killed by SIGKILL");
        assert_eq!(ending(0x80 | 11), "killed by SIGSEGV, core dumped");
    }
}
