//! Decoder of format version 2 payloads, frozen: the postcard encoding of the event model as the
//! release that wrote version 2 defined it (before tasks' namespaces, cgroups and the namespace
//! event were added). postcard stores fields by position, so these types must never change.
use crate::place::Place;
use serde::Deserialize;

use super::wire::CodecError;
use crate::{
    event::{Ancestor, CloneFlags, Detail, Event, LostOrigin, NamespaceInodes, Signal, Source},
    text::Text,
};

#[derive(Deserialize)]
struct EventV2 {
    timestamp_ns: u64,
    cpu: u32,
    tgid: u32,
    tid: u32,
    ppid: u32,
    comm: Text,
    uid: u32,
    detail: DetailV2,
    // Version 2's sources are the first six of today's, in the same order.
    source: Source,
}

#[derive(Deserialize)]
enum DetailV2 {
    Fork {
        child_tgid: u32,
        child_tid: u32,
        thread: bool,
        // Before format 6, the flags alone (no exit signal).
        clone_flags: Option<u64>,
    },
    Exec {
        filename: Text,
        argv: Vec<Text>,
        argv_truncated: bool,
        argv_bytes: u64,
        env: Option<Vec<Text>>,
        env_truncated: bool,
        old_tid: u32,
        old_comm: Option<Text>,
        euid: u32,
        gid: u32,
        egid: u32,
        cwd: Option<Text>,
        cwd_truncated: bool,
        ancestors: Vec<AncestorV2>,
    },
    Exit {
        exit_code: Option<u32>,
        signal: Option<Signal>,
        core_dumped: bool,
        group_dead: bool,
        lifetime_ns: u64,
        ancestors: Vec<AncestorV2>,
    },
    Rename {
        old_comm: Text,
        new_comm: Text,
    },
    Lookup {
        name: Text,
        target_tgid: Option<u32>,
        hidden_thread: bool,
    },
    Lost {
        count: u64,
        origin: LostOrigin,
    },
}

/// An ancestor of format 2: no start time.
#[derive(Deserialize)]
struct AncestorV2 {
    tgid: u32,
    comm: Text,
    exe: Option<Text>,
}

fn chain(ancestors: Vec<AncestorV2>) -> crate::event::Ancestors {
    ancestors.into_iter().map(|AncestorV2 { tgid, comm, exe }| Ancestor { tgid, start_ns: None, comm, exe }).collect()
}

impl From<DetailV2> for Detail {
    fn from(detail: DetailV2) -> Self {
        match detail {
            DetailV2::Fork { child_tgid, child_tid, thread, clone_flags } => Detail::Fork {
                child_tgid,
                child_tid,
                thread,
                clone_flags: clone_flags.map(CloneFlags::flags),
                child_ns_tgid: None,
                child_ns_tid: None,
                child_namespaces: NamespaceInodes::default(),
                child_start_ns: None,
                ancestors: Default::default(),
                ancestors_truncated: false,
            },
            DetailV2::Exec {
                filename,
                argv,
                argv_truncated,
                argv_bytes,
                env,
                env_truncated,
                old_tid,
                old_comm,
                euid,
                gid,
                egid,
                cwd,
                cwd_truncated,
                ancestors,
            } => Detail::Exec {
                filename,
                argv,
                argv_truncated,
                argv_bytes,
                env,
                env_truncated,
                old_tid,
                old_comm,
                euid,
                gid,
                egid,
                cwd,
                cwd_truncated,
                ancestors: chain(ancestors),
                ancestors_truncated: false,
            },
            DetailV2::Exit { exit_code, signal, core_dumped, group_dead, lifetime_ns, ancestors } => Detail::Exit {
                exit_code,
                signal,
                core_dumped,
                group_dead,
                lifetime_ns,
                ancestors: chain(ancestors),
                ancestors_truncated: false,
            },
            DetailV2::Rename { old_comm, new_comm } => Detail::Rename { old_comm, new_comm },
            DetailV2::Lookup { name, target_tgid, hidden_thread } => {
                Detail::Lookup { name, target_tgid, hidden_thread }
            }
            DetailV2::Lost { count, origin } => Detail::Lost { count, origin },
        }
    }
}

/// Decodes one version 2 payload; it must be exactly one encoded event.
pub fn decode(payload: &[u8]) -> Result<Event, CodecError> {
    let (event, rest) =
        postcard::take_from_bytes::<EventV2>(payload).map_err(|error| CodecError::Postcard(error.to_string()))?;
    if !rest.is_empty() {
        return Err(CodecError::TrailingBytes(rest.len()));
    }
    if event.source == Source::SyscallExit {
        return Err(CodecError::UnknownTag { what: "version 2 source", tag: 6 });
    }
    Ok(Event {
        timestamp_ns: event.timestamp_ns,
        cpu: event.cpu,
        tgid: event.tgid,
        // Process start times came with format 6.
        start_ns: None,
        tid: event.tid,
        ppid: event.ppid,
        comm: event.comm,
        uid: event.uid,
        source: event.source,
        detail: event.detail.into(),
        // Version 2 did not record where tasks lived.
        place: Place::default(),
    })
}

#[cfg(test)]
mod tests {
    use crate::recording::tests::replayed_fixture;

    /// A recording made by the release that wrote format version 2 (`tracer run` of the lifecycle
    /// workload and an exec with empty and non-UTF-8 arguments, with `--env-filter HOME`), and
    /// that release's `tracer replay --json` of it.
    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v2-run.rec");
    const FIXTURE_JSON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v2-run.json");

    /// Every field the version 2 release printed keeps its value; the fields added since are
    /// null (unknown), not made up.
    #[test]
    fn version_2_recordings_replay_with_every_field() {
        let (_, now) = replayed_fixture(FIXTURE, 2);
        let then = std::fs::read_to_string(FIXTURE_JSON).unwrap();
        assert_eq!(now.lines().count(), 25);
        assert_eq!(now.lines().count(), then.lines().count());
        let added =
            ["ns_tgid", "ns_tid", "pidns", "cgroup_id", "cgroup", "container", "start_ns", "ancestors_truncated"];
        for (now, then) in now.lines().zip(then.lines()) {
            let now: serde_json::Value = serde_json::from_str(now).unwrap();
            let then: serde_json::Value = serde_json::from_str(then).unwrap();
            let mut now = now;
            if let Some(ancestors) = now.get_mut("ancestors").and_then(serde_json::Value::as_array_mut) {
                for ancestor in ancestors {
                    let start = ancestor.as_object_mut().unwrap().remove("start_ns");
                    assert_eq!(start, Some(serde_json::Value::Null), "no ancestor's start in version 2");
                }
            }
            for (key, value) in then.as_object().unwrap() {
                assert_eq!(&now[key], value, "field {key} of {now}");
            }
            for (key, value) in now.as_object().unwrap() {
                if then.get(key).is_none() {
                    let fork_field =
                        ["child_ns_tgid", "child_ns_tid", "child_start_ns", "ancestors", "ancestors_truncated"]
                            .contains(&key.as_str());
                    let empty = value.is_null()
                        || (key == "child_namespaces" && value == &serde_json::json!({}))
                        || (key == "ancestors" && value == &serde_json::json!([]))
                        || (key == "ancestors_truncated" && value == &serde_json::json!(false));
                    assert!(added.contains(&key.as_str()) || fork_field || key == "child_namespaces", "{key}");
                    assert!(empty, "field {key} of {now} is not known for version 2");
                }
            }
        }
    }
}
