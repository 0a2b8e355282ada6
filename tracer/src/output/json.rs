//! JSON lines: one object per event, keys in a fixed order (the schema is in the README).
use std::io::{self, Write};

use crate::{
    event::{Detail, Event, exit_status},
    names::{clone_flag_names, signal_name},
    output::Printer,
};

pub struct JsonPrinter<W: Write> {
    out: W,
}

impl<W: Write> JsonPrinter<W> {
    pub fn new(out: W) -> Self {
        Self { out }
    }
}

/// A JSON string (escaped by serde_json).
fn string(out: &mut impl Write, value: &str) -> io::Result<()> {
    serde_json::to_writer(out, value).map_err(io::Error::from)
}

fn optional(out: &mut impl Write, value: Option<impl std::fmt::Display>) -> io::Result<()> {
    match value {
        Some(value) => write!(out, "{value}"),
        None => out.write_all(b"null"),
    }
}

/// RFC 3339 UTC time with nanoseconds.
pub fn rfc3339(timestamp_ns: u64) -> String {
    match jiff::Timestamp::from_nanosecond(i128::from(timestamp_ns)) {
        Ok(time) => format!("{time:.9}"),
        Err(_) => timestamp_ns.to_string(),
    }
}

impl<W: Write> Printer for JsonPrinter<W> {
    fn print(&mut self, event: &Event) -> io::Result<()> {
        let out = &mut self.out;
        write!(
            out,
            "{{\"event\":\"{}\",\"ts\":\"{}\",\"cpu\":{},\"tgid\":{},\"tid\":{},\"ppid\":{},\"comm\":",
            event.kind().name(),
            rfc3339(event.timestamp_ns),
            event.cpu,
            event.tgid,
            event.tid,
            event.ppid
        )?;
        string(out, &event.comm)?;
        match &event.detail {
            Detail::Fork { child_tgid, child_tid, clone_flags } => {
                write!(
                    out,
                    ",\"child_tgid\":{child_tgid},\"child_tid\":{child_tid},\"thread\":{},\"clone_flags\":",
                    *child_tgid == event.tgid
                )?;
                optional(out, *clone_flags)?;
                out.write_all(b",\"clone_flag_names\":[")?;
                for (index, name) in clone_flag_names(clone_flags.unwrap_or(0)).enumerate() {
                    write!(out, "{}\"{name}\"", if index > 0 { "," } else { "" })?;
                }
                out.write_all(b"]")?;
            }
            Detail::Exec { filename, argv, argv_truncated, old_tid } => {
                out.write_all(b",\"filename\":")?;
                string(out, filename)?;
                out.write_all(b",\"argv\":[")?;
                for (index, argument) in argv.iter().enumerate() {
                    if index > 0 {
                        out.write_all(b",")?;
                    }
                    string(out, argument)?;
                }
                write!(out, "],\"argv_truncated\":{argv_truncated},\"old_tid\":{old_tid}")?;
            }
            Detail::Exit { status, group_dead, lifetime_ns } => {
                out.write_all(b",\"exit_code\":")?;
                optional(out, exit_status::code(*status))?;
                out.write_all(b",\"signal\":")?;
                match exit_status::signal(*status) {
                    Some(signal) => write!(out, "\"{}\"", signal_name(signal))?,
                    None => out.write_all(b"null")?,
                }
                write!(
                    out,
                    ",\"core_dumped\":{},\"group_dead\":{group_dead},\"lifetime_ns\":{lifetime_ns}",
                    exit_status::core_dumped(*status)
                )?;
            }
            Detail::Rename { old_comm, new_comm } => {
                out.write_all(b",\"old_comm\":")?;
                string(out, old_comm)?;
                out.write_all(b",\"new_comm\":")?;
                string(out, new_comm)?;
            }
            Detail::Lookup { name, target_tgid } => {
                out.write_all(b",\"name\":")?;
                string(out, name)?;
                out.write_all(b",\"target_tgid\":")?;
                optional(out, *target_tgid)?;
                let hidden = matches!((target_tgid, name.parse::<u32>()), (Some(tgid), Ok(tid)) if *tgid != tid);
                write!(out, ",\"hidden_thread\":{hidden}")?;
            }
            Detail::Lost { count, .. } => write!(out, ",\"count\":{count}")?,
        }
        writeln!(out, ",\"source\":\"{}\"}}", event.source.name())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Source;

    fn line(detail: Detail, tgid: u32, tid: u32) -> serde_json::Value {
        let mut printer = JsonPrinter::new(Vec::new());
        let event = Event {
            timestamp_ns: 1_700_000_000_123_456_789,
            cpu: 1,
            tgid,
            tid,
            ppid: 1,
            comm: "a \"q\"".into(),
            source: Source::TpBtf,
            detail,
        };
        printer.print(&event).unwrap();
        let text = String::from_utf8(printer.out).unwrap();
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn fork_lines_carry_thread_and_flag_names() {
        let value = line(Detail::Fork { child_tgid: 812, child_tid: 815, clone_flags: Some(0x0001_0900) }, 812, 812);
        assert_eq!(value["event"], "fork");
        assert_eq!(value["ts"], "2023-11-14T22:13:20.123456789Z");
        assert_eq!(value["comm"], "a \"q\"");
        assert_eq!(value["thread"], true);
        assert_eq!(value["clone_flags"], 0x0001_0900);
        assert_eq!(value["clone_flag_names"], serde_json::json!(["CLONE_VM", "CLONE_SIGHAND", "CLONE_THREAD"]));
    }

    #[test]
    fn exit_lines_decode_codes_and_signals() {
        let exited = line(Detail::Exit { status: 3 << 8, group_dead: true, lifetime_ns: 5 }, 9, 9);
        assert_eq!((exited["exit_code"].clone(), exited["signal"].clone()), (3.into(), serde_json::Value::Null));
        assert_eq!(exited["group_dead"], true);
        let killed = line(Detail::Exit { status: 9, group_dead: true, lifetime_ns: 5 }, 9, 9);
        assert_eq!(
            (killed["exit_code"].clone(), killed["signal"].clone()),
            (serde_json::Value::Null, "SIGKILL".into())
        );
        assert_eq!(killed["core_dumped"], false);
    }

    #[test]
    fn lookup_lines_flag_hidden_threads() {
        let value = line(Detail::Lookup { name: "815".into(), target_tgid: Some(812) }, 900, 900);
        assert_eq!((value["target_tgid"].clone(), value["hidden_thread"].clone()), (812.into(), true.into()));
        let value = line(Detail::Lookup { name: "self".into(), target_tgid: None }, 900, 900);
        assert_eq!(value["hidden_thread"], false);
        assert_eq!(value["source"], "tp_btf");
    }
}
