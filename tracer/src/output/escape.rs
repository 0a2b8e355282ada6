//! Escaping strings that come from the kernel or from a file before they reach a terminal:
//! raw control characters could retitle or clear it, or forge whole lines.

use std::borrow::Cow;
use std::fmt::Write;

/// `s` with every C0 and C1 control character, DEL and the backslash escaped visibly (`\n`,
/// `\r`, `\t`, `\\`, otherwise `\xNN` with the character's code point), so that one string
/// always prints as one line and its escapes cannot be confused with literal text.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || c.is_control()) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            // `char::is_control` is exactly C0, DEL and C1 (U+0000–U+001F, U+007F–U+009F).
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_the_rest_is_kept() {
        assert!(matches!(escape("plain host-1.example é ✓"), Cow::Borrowed(_)));
        assert_eq!(escape("a\nb\rc\td"), "a\\nb\\rc\\td");
        assert_eq!(escape("\x1b]0;owned\x07"), "\\x1b]0;owned\\x07");
        assert_eq!(escape("del\x7f nul\0"), "del\\x7f nul\\x00");
        assert_eq!(escape("c1\u{85}\u{9b}2J"), "c1\\x85\\x9b2J");
        assert_eq!(escape("back\\slash \\x1b"), "back\\\\slash \\\\x1b");
        for c in (0u32..0x110000).filter_map(char::from_u32) {
            let escaped = escape(c.encode_utf8(&mut [0; 4])).into_owned();
            assert!(!escaped.chars().any(char::is_control), "{c:?} -> {escaped:?}");
        }
    }
}
