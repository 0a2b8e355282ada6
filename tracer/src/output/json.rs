//! JSON lines: one object per event, serde's rendering of [`Event`] with the kind first
//! (`"event": "fork"`) and the detail's fields inlined beside the task's, so that `jq
//! .child_tid` works. No field is written by hand here: the schema is the event model's.
use std::io::{self, Write};

use serde::{
    Serialize, Serializer,
    ser::{Error, Impossible, SerializeMap, SerializeStruct, SerializeStructVariant},
};

use serde_json::value::RawValue;

use crate::{
    event::{Ancestors, Event},
    output::Printer,
};

pub struct JsonPrinter<W: Write> {
    out: W,
    /// The chain of ancestors printed last, and its JSON: a storm's events carry one chain (the
    /// same shared value), and escaping it again for every line was most of a line's cost.
    chain: Option<(Ancestors, Box<RawValue>)>,
}

impl<W: Write> JsonPrinter<W> {
    pub fn new(out: W) -> Self {
        Self { out, chain: None }
    }

    /// The JSON of `ancestors`, written once per chain.
    fn remember(&mut self, ancestors: &Ancestors) -> io::Result<()> {
        if self.chain.as_ref().is_some_and(|(known, _)| std::sync::Arc::ptr_eq(known, ancestors)) {
            return Ok(());
        }
        let mut json = Vec::new();
        ancestors.serialize(&mut serde_json::Serializer::with_formatter(&mut json, TerminalSafe))?;
        let json = String::from_utf8(json).map_err(io::Error::other)?;
        self.chain = Some((ancestors.clone(), RawValue::from_string(json)?));
        Ok(())
    }

    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Printer for JsonPrinter<W> {
    fn print(&mut self, event: &Event) -> io::Result<()> {
        let chain = match event.detail.ancestors() {
            Some(ancestors) if !ancestors.is_empty() => {
                self.remember(ancestors)?;
                self.chain.as_ref().map(|(_, json)| &**json)
            }
            _ => None,
        };
        let mut serializer = serde_json::Serializer::with_formatter(&mut self.out, TerminalSafe);
        JsonLine(event, chain).serialize(&mut serializer).map_err(io::Error::from)?;
        self.out.write_all(b"\n")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// serde_json's compact format, with every character that acts on a display written as a
/// `\u` escape (four hex digits) too: C1 controls and DEL, the line and paragraph separators, bidirectional
/// controls (serde_json escapes only C0 controls). A parser reads the same string; a terminal
/// showing `tracer --json` shows them as text (see [`crate::text::escape()`]).
struct TerminalSafe;

impl serde_json::ser::Formatter for TerminalSafe {
    fn write_string_fragment<W: ?Sized + Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let mut start = 0;
        for (at, c) in fragment.char_indices() {
            if crate::text::acts_on_display(c) {
                writer.write_all(&fragment.as_bytes()[start..at])?;
                write!(writer, "\\u{:04x}", u32::from(c))?;
                start = at + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// The fields of [`Event`] whose values (a struct variant, a struct) are inlined rather than nested.
const INLINED_FIELDS: [&str; 2] = ["detail", "place"];

/// One event as a flat JSON object; its chain of ancestors already written as JSON, when given.
pub struct JsonLine<'a>(pub &'a Event, pub Option<&'a RawValue>);

impl Serialize for JsonLine<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("event", self.0.kind().name())?;
        self.0.serialize(Inline(&mut map, self.1))?;
        map.end()
    }
}

/// A serializer that writes the fields of a struct, or of a struct variant, as entries of an
/// enclosing map; the variant's name is not written (the enclosing map carries it as `event`).
/// The `ancestors` field is written as the JSON given for it, when there is.
struct Inline<'m, 'c, M>(&'m mut M, Option<&'c RawValue>);

impl<'m, M: SerializeMap> SerializeStruct for Inline<'m, '_, M> {
    type Ok = ();
    type Error = M::Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), M::Error> {
        if INLINED_FIELDS.contains(&key) {
            value.serialize(Inline(&mut *self.0, self.1))
        } else {
            self.0.serialize_entry(key, value)
        }
    }

    fn end(self) -> Result<(), M::Error> {
        Ok(())
    }
}

impl<'m, M: SerializeMap> SerializeStructVariant for Inline<'m, '_, M> {
    type Ok = ();
    type Error = M::Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), M::Error> {
        match self.1 {
            Some(chain) if key == "ancestors" => self.0.serialize_entry(key, chain),
            _ => self.0.serialize_entry(key, value),
        }
    }

    fn end(self) -> Result<(), M::Error> {
        Ok(())
    }
}

fn not_inlinable<E: Error>() -> E {
    E::custom("only structs and struct variants can be inlined into a JSON line")
}

impl<'m, M: SerializeMap> Serializer for Inline<'m, '_, M> {
    type Ok = ();
    type Error = M::Error;
    type SerializeSeq = Impossible<(), M::Error>;
    type SerializeTuple = Impossible<(), M::Error>;
    type SerializeTupleStruct = Impossible<(), M::Error>;
    type SerializeTupleVariant = Impossible<(), M::Error>;
    type SerializeMap = Impossible<(), M::Error>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn is_human_readable(&self) -> bool {
        true
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, M::Error> {
        Ok(self)
    }

    fn serialize_struct_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self, M::Error> {
        Ok(self)
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), M::Error> {
        Ok(())
    }

    fn serialize_bool(self, _: bool) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_i8(self, _: i8) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_i16(self, _: i16) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_i32(self, _: i32) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_i64(self, _: i64) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_u8(self, _: u8) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_u16(self, _: u16) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_u32(self, _: u32) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_u64(self, _: u64) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_f32(self, _: f32) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_f64(self, _: f64) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_char(self, _: char) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_str(self, _: &str) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_none(self) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_unit(self) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, _: &T) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), M::Error> {
        Err(not_inlinable())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, M::Error> {
        Err(not_inlinable())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, M::Error> {
        Err(not_inlinable())
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, M::Error> {
        Err(not_inlinable())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, M::Error> {
        Err(not_inlinable())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, M::Error> {
        Err(not_inlinable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::place::Place;
    use crate::{
        event::{CloneFlags, Detail, LostOrigin, Source},
        text::Text,
    };

    fn line(detail: Detail, tgid: u32, tid: u32) -> serde_json::Value {
        let mut printer = JsonPrinter::new(Vec::new());
        let event = Event {
            timestamp_ns: 1_700_000_000_123_456_789,
            cpu: 1,
            tgid,
            start_ns: Some(5_000_000_000),
            tid,
            ppid: 1,
            comm: "a \"q\"".into(),
            uid: 1000,
            source: Source::TpBtf,
            detail,
            place: Place {
                ns_tgid: Some(1),
                ns_tid: Some(1),
                pidns: Some(4026532500),
                cgroup_id: Some(7150),
                cgroup: Some("/libpod_parent/libpod-3f2a".into()),
                container: Some("3f2a".into()),
            },
        };
        printer.print(&event).unwrap();
        let text = String::from_utf8(printer.out).unwrap();
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn lines_are_flat_with_the_kind_first() {
        let mut printer = JsonPrinter::new(Vec::new());
        let event = crate::event::test_event(9, 9, "sh", Detail::Lost { count: 3, origin: LostOrigin::Output });
        printer.print(&event).unwrap();
        assert_eq!(
            String::from_utf8(printer.out).unwrap(),
            "{\"event\":\"lost\",\"ts\":\"1970-01-01T01:02:03.000456789Z\",\"cpu\":0,\"tgid\":9,\"start_ns\":9000000,\
             \"tid\":9,\"ppid\":1,\
             \"comm\":\"sh\",\"uid\":0,\"count\":3,\"origin\":\"output\",\"source\":\"tp_btf\",\"ns_tgid\":9,\"ns_tid\":9,\
             \"pidns\":4026531836,\"cgroup_id\":1,\"cgroup\":\"/\",\"container\":null}\n"
        );
    }

    #[test]
    fn fork_lines_carry_thread_and_flag_names() {
        let detail = crate::event::test_fork(812, 815, true, Some(CloneFlags::with_exit_signal(0x0001_0900, -1)));
        let value = line(detail, 812, 812);
        assert_eq!(value["event"], "fork");
        assert_eq!(value["ts"], "2023-11-14T22:13:20.123456789Z");
        assert_eq!(value["comm"], "a \"q\"");
        assert_eq!(value["thread"], true);
        assert_eq!(value["clone_flags"], serde_json::json!(["CLONE_VM", "CLONE_SIGHAND", "CLONE_THREAD"]));
    }

    #[test]
    fn exit_lines_decode_codes_and_signals() {
        let exited = line(Detail::exit(3 << 8, true, 5), 9, 9);
        assert_eq!((exited["exit_code"].clone(), exited["signal"].clone()), (3.into(), serde_json::Value::Null));
        assert_eq!(exited["group_dead"], true);
        let killed = line(Detail::exit(9, true, 5), 9, 9);
        assert_eq!(
            (killed["exit_code"].clone(), killed["signal"].clone()),
            (serde_json::Value::Null, "SIGKILL".into())
        );
        assert_eq!(killed["core_dumped"], false);
        assert_eq!(line(Detail::exit(0x80 | 11, true, 5), 9, 9)["signal"], "SIGSEGV");
    }

    #[test]
    fn non_utf8_bytes_are_lossless() {
        let mut detail = crate::event::test_exec("", &[], 9);
        if let Detail::Exec { filename, argv, .. } = &mut detail {
            *filename = Text::new(b"/tmp/\xff".to_vec());
            *argv = vec![Text::from("x"), Text::new(b"\x80".to_vec()), Text::default()];
        }
        let value = line(detail.clone(), 9, 9);
        assert_eq!(value["filename"], serde_json::json!({"base64": "L3RtcC//"}));
        assert_eq!(value["argv"], serde_json::json!(["x", {"base64": "gA=="}, ""]));
    }

    #[test]
    fn lookup_lines_flag_hidden_threads() {
        let value = line(Detail::Lookup { name: "815".into(), target_tgid: Some(812), hidden_thread: true }, 900, 900);
        assert_eq!((value["target_tgid"].clone(), value["hidden_thread"].clone()), (812.into(), true.into()));
        assert_eq!(value["source"], "tp_btf");
    }

    #[test]
    fn characters_that_act_on_a_display_are_escaped_and_read_back_the_same() {
        let comm = "a\u{9b}b\u{202e}c\u{2028}d\u{7f}\x1b";
        let event = crate::event::test_event(1, 1, comm, Detail::Lost { count: 1, origin: LostOrigin::Output });
        let mut printer = JsonPrinter::new(Vec::new());
        printer.print(&event).unwrap();
        let line = String::from_utf8(printer.out).unwrap();
        assert!(line.contains(r#""comm":"a\u009bb\u202ec\u2028d\u007f\u001b""#), "{line}");
        assert!(line.trim_end().chars().all(|c| !crate::text::acts_on_display(c)), "{line}");
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["comm"], comm);
    }
}
