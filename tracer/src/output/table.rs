//! The human-readable table: local time, event, TGID, TID, PPID, comm and what happened (and,
//! where it is not the host's, where the task lives).
use std::io::{self, Write};

use crate::{
    event::{Detail, Event, LostOrigin, exit_status},
    output::{Printer, place},
    text::{duration, escape, shell_word},
};

pub struct TablePrinter<W: Write> {
    out: W,
    header_printed: bool,
    zone: jiff::tz::TimeZone,
}

impl<W: Write> TablePrinter<W> {
    pub fn new(out: W) -> Self {
        Self { out, header_printed: false, zone: jiff::tz::TimeZone::system() }
    }

    #[cfg(test)]
    fn with_zone(out: W, zone: jiff::tz::TimeZone) -> Self {
        Self { out, header_printed: false, zone }
    }

    /// `HH:MM:SS.micros` in local time.
    fn time_of_day(&self, timestamp_ns: u64) -> String {
        let seconds = (timestamp_ns / 1_000_000_000) as i64;
        let offset = jiff::Timestamp::from_second(seconds).map(|time| self.zone.to_offset(time).seconds()).unwrap_or(0);
        let of_day = (seconds + i64::from(offset)).rem_euclid(86_400);
        let micros = (timestamp_ns % 1_000_000_000) / 1_000;
        format!("{:02}:{:02}:{:02}.{micros:06}", of_day / 3600, of_day / 60 % 60, of_day % 60)
    }
}

/// `text` escaped, in double quotes (a quote inside is escaped too).
fn quoted(text: &str) -> String {
    format!("\"{}\"", escape(text).replace('"', "\\\""))
}

/// What happened, in words. Every string from the kernel is escaped: one event, one line.
pub fn describe(event: &Event) -> String {
    match &event.detail {
        Detail::Fork { child_tgid, child_tid, thread, child_ns_tgid, child_ns_tid, child_namespaces, .. } => {
            let own = place::child_ids(*thread, (*child_tgid, *child_tid), (*child_ns_tgid, *child_ns_tid));
            let elsewhere = place::child_namespaces(child_namespaces);
            if *thread {
                format!("thread {child_tgid}/{child_tid}{own} created{elsewhere}")
            } else {
                format!("process {child_tgid}{own} created{elsewhere}")
            }
        }
        Detail::Namespace { how, changed, old, new } => place::namespace_change(*how, changed, old, new),
        Detail::Exec { filename, argv, argv_truncated, old_tid, euid, ancestors, .. } => {
            let mut text = escape(&filename.to_str_lossy()).into_owned();
            if !argv.is_empty() {
                text.push_str(" [");
                text.push_str(
                    &argv.iter().map(|argument| shell_word(&argument.to_str_lossy())).collect::<Vec<_>>().join(" "),
                );
                if *argv_truncated {
                    text.push_str(" …");
                }
                text.push(']');
            }
            if *old_tid != event.tid {
                text.push_str(&format!(" (by thread {old_tid}, which took over TID {})", event.tid));
            }
            if event.uid != *euid {
                text.push_str(&format!(" (uid {}, euid {euid})", event.uid));
            }
            // The nearest two ancestors say where a command came from; JSON has the whole chain.
            for ancestor in ancestors.iter().take(2) {
                text.push_str(&format!(" ← {} {}", escape(&ancestor.comm.to_str_lossy()), ancestor.tgid));
            }
            text
        }
        Detail::Exit { exit_code, signal, core_dumped, group_dead, lifetime_ns, .. } => {
            let how = exit_status::ending(*exit_code, *signal).unwrap_or_else(|| "exit status unknown".to_owned());
            let core = if *core_dumped { " (core dumped)" } else { "" };
            let what = if *group_dead { "process gone" } else { "thread gone" };
            format!("{how}{core}, {what}, lived {}", duration(*lifetime_ns))
        }
        Detail::Rename { old_comm, new_comm } => {
            format!("comm {} -> {}", quoted(&old_comm.to_str_lossy()), quoted(&new_comm.to_str_lossy()))
        }
        Detail::Lookup { name, target_tgid, hidden_thread } => {
            match (name.as_str().and_then(|name| name.parse::<u32>().ok()), target_tgid) {
                (Some(tid), Some(tgid)) if *hidden_thread => {
                    format!("/proc/{tid} (thread of {tgid}, hidden from ls /proc)")
                }
                (Some(tid), Some(_)) => format!("/proc/{tid} (process)"),
                (Some(tid), None) => format!("/proc/{tid} (no such task)"),
                (None, _) => format!("/proc/{}", escape(&name.to_str_lossy())),
            }
        }
        Detail::Lost { count, origin: LostOrigin::RingBuffer } => format!("{count} events lost (ring buffer full)"),
        Detail::Lost { count, origin: LostOrigin::Output } => {
            format!("{count} events not printed (the output did not keep up)")
        }
    }
}

impl<W: Write> Printer for TablePrinter<W> {
    fn print(&mut self, event: &Event) -> io::Result<()> {
        if !self.header_printed {
            writeln!(
                self.out,
                "{:<15} {:<9} {:>7} {:>7} {:>7} {:<16} DETAILS",
                "TIME", "EVENT", "TGID", "TID", "PPID", "COMM"
            )?;
            self.header_printed = true;
        }
        writeln!(
            self.out,
            "{:<15} {:<9} {:>7} {:>7} {:>7} {:<16} {}{}",
            self.time_of_day(event.timestamp_ns),
            event.kind().name(),
            event.tgid,
            event.tid,
            event.ppid,
            escape(&event.comm.to_str_lossy()),
            describe(event),
            place::suffix(event)
        )
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{test_event, test_exec};

    fn event(tgid: u32, tid: u32, detail: Detail) -> Event {
        test_event(tgid, tid, "bash", detail)
    }

    #[test]
    fn prints_a_header_then_rows() {
        let mut printer = TablePrinter::with_zone(Vec::new(), jiff::tz::TimeZone::UTC);
        printer.print(&event(812, 812, crate::event::test_fork(812, 815, true, None))).unwrap();
        let text = String::from_utf8(printer.out).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert!(lines[0].starts_with("TIME"));
        assert_eq!(
            lines[1],
            "01:02:03.000456 fork          812     812       1 bash             thread 812/815 created"
        );
    }

    #[test]
    fn describes_each_kind() {
        let fork = event(812, 812, crate::event::test_fork(900, 900, false, None));
        assert_eq!(describe(&fork), "process 900 created");
        let exited = event(9, 9, Detail::exit(3 << 8, true, 1_500_000));
        assert_eq!(describe(&exited), "exit 3, process gone, lived 1.5ms");
        let killed = event(9, 10, Detail::exit(0x80 | 9, false, 2_000_000_000));
        assert_eq!(describe(&killed), "killed by SIGKILL (core dumped), thread gone, lived 2.00s");
        let lookup =
            event(900, 900, Detail::Lookup { name: "815".into(), target_tgid: Some(812), hidden_thread: true });
        assert_eq!(describe(&lookup), "/proc/815 (thread of 812, hidden from ls /proc)");
        let exec = event(812, 812, crate::event::test_exec("/bin/cat", &["cat", "a b"], 815));
        assert_eq!(describe(&exec), "/bin/cat [cat 'a b'] (by thread 815, which took over TID 812)");
        let setuid = crate::event::test_exec("/usr/bin/passwd", &["passwd"], 812);
        let mut setuid = event(812, 812, setuid);
        setuid.uid = 1000;
        assert_eq!(describe(&setuid), "/usr/bin/passwd [passwd] (uid 1000, euid 0)");
        let rename = event(812, 815, Detail::Rename { old_comm: "bash".into(), new_comm: "worker".into() });
        assert_eq!(describe(&rename), "comm \"bash\" -> \"worker\"");
    }

    #[test]
    fn hostile_names_stay_on_one_visible_line() {
        let hostile = "\x1b]0;owned\x07\nX";
        let mut printer = TablePrinter::with_zone(Vec::new(), jiff::tz::TimeZone::UTC);
        let filename = format!("/tmp/{hostile}");
        let exec =
            test_event(7, 7, hostile, test_exec(&filename, &["\x1b[2J", "a\nb", "it's \u{202e}", r"back\slash"], 7));
        let rename = test_event(7, 7, "sh", Detail::Rename { old_comm: "sh".into(), new_comm: "\"q\"\r\u{9b}".into() });
        let lookup = test_event(
            7,
            7,
            "sh",
            Detail::Lookup { name: "\x1b[31m\u{2028}".into(), target_tgid: None, hidden_thread: false },
        );
        for event in [&exec, &rename, &lookup] {
            printer.print(event).unwrap();
        }
        let text = String::from_utf8(printer.out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(
            lines[1],
            r"01:02:03.000456 exec            7       7       1 \x1b]0;owned\x07\nX /tmp/\x1b]0;owned\x07\nX ['\x1b[2J' 'a\nb' 'it'\''s \u{202e}' 'back\\slash']"
        );
        assert_eq!(
            lines[2],
            r#"01:02:03.000456 rename          7       7       1 sh               comm "sh" -> "\"q\"\r\u{9b}""#
        );
        assert_eq!(
            lines[3],
            r"01:02:03.000456 lookup          7       7       1 sh               /proc/\x1b[31m\u{2028}"
        );
        assert!(text.chars().all(|c| c == '\n' || !(c.is_control() || ('\u{2028}'..='\u{202e}').contains(&c))));
    }

    #[test]
    fn lost_events_say_where_they_were_lost() {
        let ring = event(1, 1, Detail::Lost { count: 5, origin: LostOrigin::RingBuffer });
        assert_eq!(describe(&ring), "5 events lost (ring buffer full)");
        let output = event(1, 1, Detail::Lost { count: 7, origin: LostOrigin::Output });
        assert_eq!(describe(&output), "7 events not printed (the output did not keep up)");
    }
}
