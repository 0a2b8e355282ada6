//! Everything about showing text, in one place: the byte strings that come from the kernel or
//! from a file ([`Text`]), how every printer escapes them for a terminal ([`escape()`]) and the
//! words several printers share ([`shell_word`], [`duration`], [`ending`]).
//!
//! A [`Text`] (comm, file names, arguments, `/proc` names) is kept exactly as the bytes were,
//! since Linux names need not be UTF-8. In JSON it is a string when its bytes are valid UTF-8,
//! and otherwise an object `{"base64": "<standard base64 of the bytes>"}`: lossless, and a
//! consumer that only expects strings sees at once that a name was not text. In the binary
//! recording it is a byte string. Printed for people ([`fmt::Display`]) invalid sequences become
//! U+FFFD; terminal control characters are escaped by the printers, through [`escape()`].
mod escape;
mod words;

pub use escape::{acts_on_display, error_line, escape};
pub use words::{duration, shell_word};

use std::{borrow::Cow, fmt, sync::Arc};

use base64::Engine;
use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{self, MapAccess, Visitor},
    ser::SerializeMap,
};

/// Bytes that are usually, but not always, UTF-8 text.
///
/// Shared, not copied, when cloned: every exit event's ancestor chain and every event's cgroup
/// path are clones of names tracer already holds.
#[derive(Clone, Default, Eq, PartialOrd, Ord)]
pub struct Text(Arc<[u8]>);

impl PartialEq for Text {
    /// Clones of one name compare by pointer: `Arc`'s own `==` (Rust 1.95) compares every byte
    /// of an unsized slice even when both point at the same ones.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// The key of the JSON object that carries non-UTF-8 bytes.
const BASE64_KEY: &str = "base64";

impl Text {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into().into())
    }

    /// The bytes up to the first NUL (or all of them).
    pub fn from_c(bytes: &[u8]) -> Self {
        let end = bytes.iter().position(|&byte| byte == 0).unwrap_or(bytes.len());
        Self(Arc::from(&bytes[..end]))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The text, with invalid UTF-8 replaced by U+FFFD.
    pub fn to_str_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// The text, when it is valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.to_str_lossy())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_str() {
            Some(text) => fmt::Debug::fmt(text, f),
            None => write!(f, "b{:?}", self.to_str_lossy()),
        }
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Self(Arc::from(text.as_bytes()))
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Self(text.into_bytes().into())
    }
}

impl From<&[u8]> for Text {
    fn from(bytes: &[u8]) -> Self {
        Self(Arc::from(bytes))
    }
}

impl From<Vec<u8>> for Text {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes.into())
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other.as_bytes()
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == *other.as_bytes()
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !serializer.is_human_readable() {
            return serializer.serialize_bytes(self.as_bytes());
        }
        match self.as_str() {
            Some(text) => serializer.serialize_str(text),
            None => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(BASE64_KEY, &base64::engine::general_purpose::STANDARD.encode(self.as_bytes()))?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a byte string or {\"base64\": ...}")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text, E> {
                Ok(Text::from(text))
            }

            fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Text, E> {
                Ok(Text::from(bytes))
            }

            fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Text, E> {
                Ok(Text(bytes.into()))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                let mut bytes = None;
                while let Some(key) = map.next_key::<Cow<'_, str>>()? {
                    if key != BASE64_KEY {
                        return Err(de::Error::unknown_field(&key, &[BASE64_KEY]));
                    }
                    let encoded: Cow<'_, str> = map.next_value()?;
                    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.as_bytes());
                    bytes = Some(decoded.map_err(de::Error::custom)?);
                }
                bytes.map(Text::from).ok_or_else(|| de::Error::missing_field(BASE64_KEY))
            }
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_any(TextVisitor)
        } else {
            deserializer.deserialize_byte_buf(TextVisitor)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_a_string_or_base64_and_round_trips() {
        let plain = Text::from("cat \"x\"");
        assert_eq!(serde_json::to_string(&plain).unwrap(), r#""cat \"x\"""#);
        let binary = Text::new(b"a\xffb".to_vec());
        let json = serde_json::to_string(&binary).unwrap();
        assert_eq!(json, r#"{"base64":"Yf9i"}"#);
        assert_eq!(serde_json::from_str::<Text>(&json).unwrap(), binary);
        assert_eq!(serde_json::from_str::<Text>(r#""cat \"x\"""#).unwrap(), plain);
    }

    #[test]
    fn binary_encoding_keeps_every_byte() {
        let binary = Text::new(b"\x00\x1b[2J\xc0".to_vec());
        let bytes = postcard::to_allocvec(&binary).unwrap();
        assert_eq!(postcard::from_bytes::<Text>(&bytes).unwrap(), binary);
    }

    #[test]
    fn c_strings_stop_at_nul() {
        assert_eq!(Text::from_c(b"bash\0\0junk"), "bash");
        assert_eq!(Text::from_c(b"full"), "full");
        assert_eq!(Text::new(b"a\xffb".to_vec()).to_string(), "a\u{fffd}b");
    }
}
