//! Keeps docs/json.md honest: every key a JSON line carries is documented for its kind, and
//! every documented key is carried, so the page cannot drift from the event model.
use std::collections::{BTreeMap, BTreeSet};

use crate::{
    event::{Ancestor, Ancestors, CloneFlags, Detail, Event, Kind, LostOrigin, Signal, Source},
    output::{JsonPrinter, Printer},
    place::{
        Place,
        namespaces::{NamespaceHow, NamespaceInodes, NamespaceKind},
    },
};

const PAGE: &str = include_str!("../../../docs/json.md");

/// The section of docs/json.md whose keys every event carries.
const COMMON: &str = "every event";

/// The keys documented per section: a section is a heading (`### fork`, `## Every event`), its
/// keys the first cells of its table rows that start with a key in backticks.
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let mut sections: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut section = String::new();
    for line in PAGE.lines() {
        if let Some(heading) = line.strip_prefix('#') {
            section = heading.trim_start_matches('#').trim().trim_matches('`').to_lowercase();
            continue;
        }
        let Some(cell) = line.strip_prefix("| `") else { continue };
        let Some((key, _)) = cell.split_once('`') else { continue };
        sections.entry(section.clone()).or_default().insert(key.to_owned());
    }
    sections
}

/// One event of `kind` with every optional field filled, so that rendering it shows every key
/// the kind can carry. A new kind without a sample here does not compile.
fn sample(kind: Kind) -> Event {
    let namespaces = || NamespaceInodes([(NamespaceKind::Net, 4026532451)].into_iter().collect());
    let ancestors: Ancestors =
        vec![Ancestor { tgid: 1, start_ns: Some(1_000_000), comm: "init".into(), exe: Some("/sbin/init".into()) }]
            .into();
    let detail = match kind {
        Kind::Fork => Detail::Fork {
            child_tgid: 812,
            child_tid: 815,
            thread: true,
            clone_flags: Some(CloneFlags::with_exit_signal(0x0001_0f00, -1)),
            child_ns_tgid: Some(1),
            child_ns_tid: Some(4),
            child_namespaces: namespaces(),
            child_start_ns: Some(4_000_000_000),
            ancestors: ancestors.clone(),
            ancestors_truncated: true,
        },
        Kind::Exec => Detail::Exec {
            filename: "/usr/bin/cat".into(),
            argv: vec!["cat".into(), "/proc/815/comm".into()],
            argv_truncated: false,
            argv_bytes: 19,
            env: Some(vec!["PATH=/usr/bin".into()]),
            env_truncated: false,
            old_tid: 812,
            old_comm: Some("bash".into()),
            euid: 0,
            gid: 0,
            egid: 0,
            cwd: Some("/root".into()),
            cwd_truncated: false,
            ancestors: ancestors.clone(),
            ancestors_truncated: true,
        },
        Kind::Exit => Detail::Exit {
            exit_code: Some(3),
            signal: Some(Signal(9)),
            core_dumped: false,
            group_dead: true,
            lifetime_ns: 5_000,
            ancestors,
            ancestors_truncated: true,
        },
        Kind::Rename => Detail::Rename { old_comm: "a".into(), new_comm: "b".into() },
        Kind::Lookup => Detail::Lookup { name: "815".into(), target_tgid: Some(812), hidden_thread: true },
        Kind::Lost => Detail::Lost { count: 3, origin: LostOrigin::RingBuffer },
        Kind::Namespace => Detail::Namespace {
            how: NamespaceHow::Unshare,
            changed: vec![NamespaceKind::Net],
            old: namespaces(),
            new: namespaces(),
        },
    };
    Event {
        timestamp_ns: 1_700_000_000_123_456_789,
        cpu: 1,
        tgid: 812,
        start_ns: Some(3_000_000_000),
        tid: 812,
        ppid: 1,
        comm: "sh".into(),
        uid: 1000,
        detail,
        source: Source::TpBtf,
        place: Place {
            ns_tgid: Some(1),
            ns_tid: Some(1),
            pidns: Some(4026532500),
            cgroup_id: Some(7150),
            cgroup: Some("/libpod_parent/libpod-3f2a".into()),
            container: Some("3f2a".into()),
        },
    }
}

/// The keys of `event`'s JSON line, as the live stream prints it.
fn emitted(event: &Event) -> BTreeSet<String> {
    let mut printer = JsonPrinter::new(Vec::new());
    printer.print(event).expect("printing to memory cannot fail");
    let line = printer.into_inner();
    let value: serde_json::Value = serde_json::from_slice(&line).expect("a JSON line is JSON");
    let object = value.as_object().expect("a JSON line is an object");
    object.keys().cloned().collect()
}

#[test]
fn every_key_of_every_kind_is_documented_and_every_documented_key_is_emitted() {
    let sections = documented();
    let common = sections.get(COMMON).unwrap_or_else(|| panic!("docs/json.md has no section `{COMMON}`"));
    for kind in <Kind as strum::VariantArray>::VARIANTS {
        let name = kind.name();
        let own = sections.get(name).unwrap_or_else(|| panic!("docs/json.md has no section for kind `{name}`"));
        if let Some(key) = common.intersection(own).next() {
            panic!("docs/json.md documents `{key}` both for every event and for `{name}`");
        }
        let documented: BTreeSet<&String> = common.union(own).collect();
        let emitted = emitted(&sample(*kind));
        for key in &emitted {
            assert!(documented.contains(key), "`{name}` events carry `{key}`, which docs/json.md does not document");
        }
        for key in documented {
            assert!(
                emitted.contains(key),
                "docs/json.md documents `{key}` for `{name}`, but `{name}` events do not carry it"
            );
        }
    }
}

#[test]
fn every_documented_section_is_a_kind() {
    for section in documented().keys() {
        assert!(
            section == COMMON || Kind::from_name(section).is_some(),
            "docs/json.md lists keys under `{section}`, which is neither `{COMMON}` nor an event kind"
        );
    }
}
