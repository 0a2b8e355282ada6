//! Every printer against the same hostile names: the table, JSON lines, the tree, the Perfetto
//! trace and error lines. A task chooses its comm, arguments and file names, and a recording
//! file can hold anything, so each output must show every such character escaped and none raw.
use crate::{
    event::{Ancestor, Ancestors, Detail, Event, LostOrigin, test_event, test_exec, test_fork},
    output::{JsonPrinter, Printer, TablePrinter},
    text::{Text, acts_on_display, error_line},
    tree::{
        Options,
        tests::{draw, plain},
    },
};

/// ESC with a CSI sequence, BEL, a C1 control (8-bit CSI), DEL, bidirectional controls (RLO,
/// LRI, the Arabic letter mark), the line and paragraph separators, a backslash and a newline,
/// each followed by a word so that its escape is easy to find.
const HOSTILE: &str = "\x1b[31mred\x07bell\u{9b}csi\x7fdel\u{202e}rlo\u{2066}lri\u{61c}alm\u{2028}ls\u{2029}ps\\bs\nnl";

/// [`HOSTILE`] as the table, the tree, Perfetto and error lines show it.
const ESCAPED: &str =
    r"\x1b[31mred\x07bell\u{9b}csi\x7fdel\u{202e}rlo\u{2066}lri\u{61c}alm\u{2028}ls\u{2029}ps\\bs\nnl";

/// [`HOSTILE`] inside a JSON string.
const JSON_ESCAPED: &str =
    r"\u001b[31mred\u0007bell\u009bcsi\u007fdel\u202erlo\u2066lri\u061calm\u2028ls\u2029ps\\bs\nnl";

/// Characters that must never reach an output raw (a newline only between lines).
const RAW: [char; 9] = ['\x1b', '\x07', '\u{9b}', '\x7f', '\u{202e}', '\u{2066}', '\u{61c}', '\u{2028}', '\u{2029}'];

/// The names every event carries: valid UTF-8, or with bytes that are not UTF-8 after it.
fn names() -> [Text; 2] {
    let mut bytes = HOSTILE.as_bytes().to_vec();
    bytes.extend_from_slice(b"\xff\xfeend");
    [Text::from(HOSTILE), Text::new(bytes)]
}

/// `name` as the table, the tree, Perfetto and error lines show it.
fn escaped(name: &Text) -> String {
    match name.as_str() {
        Some(_) => ESCAPED.to_owned(),
        None => format!("{ESCAPED}\u{fffd}\u{fffd}end"),
    }
}

/// An event of task `tgid`/`tid` at `ms`, named `name` and living in a cgroup and container
/// named `name`. The one place sample events are built.
fn event(ms: u64, tgid: u32, tid: u32, name: &Text, detail: Detail) -> Event {
    Event {
        timestamp_ns: 1_700_000_000_000_000_000 + ms * 1_000_000,
        comm: name.clone(),
        ..test_event(tgid, tid, "", detail)
    }
    .with_cgroup(Some(name.clone()), Some(name.clone()))
}

/// A process that execs a hostile file with hostile arguments, working directory, environment
/// and ancestors, starts a renamed thread and a child, looks the name up in `/proc`, and ends.
fn events(name: &Text) -> Vec<Event> {
    let path = Text::new([b"/tmp/".as_slice(), name.as_bytes()].concat());
    let chain: Ancestors =
        vec![Ancestor { tgid: 1, start_ns: Some(1_000_000), comm: name.clone(), exe: Some(path.clone()) }].into();
    let with_chain = |mut detail: Detail| {
        if let Detail::Fork { ancestors, .. } | Detail::Exit { ancestors, .. } = &mut detail {
            *ancestors = chain.clone();
        }
        detail
    };
    let mut exec = test_exec("", &[], 100);
    if let Detail::Exec { filename, argv, cwd, env, old_comm, ancestors, .. } = &mut exec {
        *filename = path.clone();
        *argv = vec![name.clone(), name.clone(), Text::from("plain")];
        *cwd = Some(path.clone());
        *env = Some(vec![name.clone()]);
        *old_comm = Some(name.clone());
        *ancestors = chain.clone();
    }
    let renamed = Text::new([name.as_bytes(), b"2"].concat());
    vec![
        event(0, 100, 100, name, exec),
        event(1, 100, 100, name, test_fork(100, 101, true, None)),
        event(2, 100, 101, name, Detail::Rename { old_comm: name.clone(), new_comm: renamed }),
        event(3, 100, 100, name, Detail::Lookup { name: name.clone(), target_tgid: None, hidden_thread: false }),
        event(4, 100, 100, name, with_chain(test_fork(102, 102, false, None))),
        event(5, 102, 102, name, Detail::exit(9, true, 1_000_000)),
        event(6, 100, 101, name, Detail::exit(0, false, 5_000_000)),
        event(7, 100, 100, name, Detail::Lost { count: 1, origin: LostOrigin::RingBuffer }),
        event(8, 100, 100, name, with_chain(Detail::exit(3 << 8, true, 9_000_000))),
    ]
}

/// `output` holds none of [`RAW`] and no other character that acts on a display, and newlines
/// only at the ends of its `lines` lines.
fn assert_nothing_raw(printer: &str, output: &str, lines: usize) {
    for c in RAW {
        assert!(!output.contains(c), "{printer}: raw {c:?} in {output:?}");
    }
    assert!(output.chars().all(|c| c == '\n' || !acts_on_display(c)), "{printer}: {output:?}");
    assert_eq!(output.matches('\n').count(), lines, "{printer}: {output:?}");
    assert!(lines == 0 || output.ends_with('\n'), "{printer}: {output:?}");
}

fn print(printer: &mut dyn Printer, events: &[Event]) {
    for event in events {
        printer.print(event).unwrap();
    }
    printer.flush().unwrap();
}

#[test]
fn the_table_shows_one_line_per_event_with_every_name_escaped() {
    for name in names() {
        let events = events(&name);
        let mut out = Vec::new();
        print(&mut TablePrinter::new(&mut out), &events);
        let table = String::from_utf8(out).unwrap();
        assert_nothing_raw("table", &table, 1 + events.len());
        let shown = escaped(&name);
        for line in table.lines().skip(1) {
            assert!(line.contains(&shown), "every event's comm: {line}");
        }
        assert!(table.contains(&format!("/tmp/{shown} ['{shown}' '{shown}' plain]")), "{table}");
        assert!(table.contains(&format!("comm \"{shown}\" -> \"{shown}2\"")), "{table}");
        assert!(table.contains(&format!("/proc/{shown}")), "{table}");
        assert!(table.contains(r"[ctr \x1b[31mred\x07b"), "the container, cut to 12 characters: {table}");
    }
}

#[test]
fn json_lines_escape_every_name_and_read_back_the_same() {
    for name in names() {
        let events = events(&name);
        let mut out = Vec::new();
        print(&mut JsonPrinter::new(&mut out), &events);
        let json = String::from_utf8(out).unwrap();
        assert_nothing_raw("json", &json, events.len());
        let chains = json.lines().filter(|line| line.contains(r#""ancestors":[{"tgid":1,"#)).count();
        assert_eq!(chains, 3, "{json}");
        for (line, event) in json.lines().zip(&events) {
            match name.as_str() {
                Some(_) => assert!(line.contains(&format!(r#""comm":"{JSON_ESCAPED}""#)), "{line}"),
                None => assert!(line.contains(r#""comm":{"base64":"#), "{line}"),
            }
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            for field in ["comm", "cgroup", "container"] {
                let read: Text = serde_json::from_value(value[field].clone()).unwrap();
                assert_eq!(read, name, "{field} of {line}");
            }
            // One chain, shared by the exec, the child's fork and the last exit, written once
            // and then repeated: each line reads it back.
            if !value["ancestors"].as_array().is_none_or(Vec::is_empty) {
                let ancestor = &value["ancestors"][0];
                let read: Text = serde_json::from_value(ancestor["comm"].clone()).unwrap();
                assert_eq!(read, name, "{line}");
                let read: Text = serde_json::from_value(ancestor["exe"].clone()).unwrap();
                assert_eq!(read.as_bytes(), [b"/tmp/".as_slice(), name.as_bytes()].concat(), "{line}");
                assert_eq!((ancestor["tgid"].as_u64(), ancestor["start_ns"].as_u64()), (Some(1), Some(1_000_000)));
            }
            if let Detail::Exec { .. } = event.detail {
                for field in ["filename", "cwd"] {
                    let read: Text = serde_json::from_value(value[field].clone()).unwrap();
                    assert_eq!(read.as_bytes(), [b"/tmp/".as_slice(), name.as_bytes()].concat(), "{field}");
                }
                let argv: Vec<Text> = serde_json::from_value(value["argv"].clone()).unwrap();
                assert_eq!(argv[..2], [name.clone(), name.clone()]);
            }
        }
    }
}

#[test]
fn the_tree_escapes_names_as_the_table_does() {
    for name in names() {
        let tree = draw(&events(&name), Options { threads: true, ..plain() });
        // The process, its two threads, its child and the lost events.
        assert_nothing_raw("tree", &tree, 5);
        let shown = escaped(&name);
        let lines: Vec<&str> = tree.lines().collect();
        assert!(lines[0].starts_with(&format!("100 /tmp/{shown} '")), "{tree}");
        assert!(lines[2].contains(&format!("thread 101 {shown} → {shown}2 — ")), "{tree}");
        assert!(lines[3].starts_with(&format!("└─ 102 ({shown}) — ")), "{tree}");
    }
}

#[test]
fn perfetto_names_and_arguments_are_escaped() {
    for name in names() {
        let strings = crate::export::tests::shown_strings(&events(&name));
        for string in &strings {
            assert_nothing_raw("perfetto", string, 0);
        }
        let shown = escaped(&name);
        let has = |wanted: &str| strings.iter().any(|string| string == wanted);
        assert!(has(&shown), "the process and thread names: {strings:?}");
        assert!(has(&format!("({shown})")), "the child's image: {strings:?}");
        assert!(has(&format!("/tmp/{shown}")), "the exec's file: {strings:?}");
        assert!(has(&format!("rename {shown} → {shown}2")), "{strings:?}");
        assert!(has(&format!("lookup /proc/{shown}")), "{strings:?}");
    }
}

#[test]
fn error_lines_escape_what_they_quote() {
    for name in names() {
        let error = anyhow::anyhow!("bad header {:?}", "x").context(format!("cannot read {}", name.to_str_lossy()));
        let line = error_line(&error);
        assert_nothing_raw("error line", &format!("{line}\n"), 1);
        assert_eq!(line, format!("tracer: cannot read {}: bad header \"x\"", escaped(&name)));
    }
}
