//! Decoder of format versions 3 to 5 payloads, frozen: the postcard encoding of the event model
//! as the releases that wrote them defined it (before fork's exit signal was kept beside its
//! clone flags, and before process start times). postcard stores fields by position, so these types must never change; what
//! follows the event (format 4's chain and format 5's cgroup references) is read as it is for
//! the current format, by [`super::references`].
use serde::Deserialize;

use super::{
    references::Known,
    wire::{CodecError, Input},
};
use crate::{
    event::{
        Ancestor, CloneFlags, Detail, Event, LostOrigin, NamespaceHow, NamespaceInodes, NamespaceKind, Signal, Source,
    },
    place::Place,
    text::Text,
};

#[derive(Deserialize)]
struct EventV5 {
    timestamp_ns: u64,
    cpu: u32,
    tgid: u32,
    tid: u32,
    ppid: u32,
    comm: Text,
    uid: u32,
    detail: DetailV5,
    source: Source,
    place: PlaceV5,
}

#[derive(Deserialize)]
enum DetailV5 {
    Fork {
        child_tgid: u32,
        child_tid: u32,
        thread: bool,
        // The flags alone: no exit signal.
        clone_flags: Option<u64>,
        child_ns_tgid: Option<u32>,
        child_ns_tid: Option<u32>,
        child_namespaces: NamespaceInodes,
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
        ancestors: Vec<AncestorV5>,
    },
    Exit {
        exit_code: Option<u32>,
        signal: Option<Signal>,
        core_dumped: bool,
        group_dead: bool,
        lifetime_ns: u64,
        ancestors: Vec<AncestorV5>,
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
    Namespace {
        how: NamespaceHow,
        changed: Vec<NamespaceKind>,
        old: NamespaceInodes,
        new: NamespaceInodes,
    },
}

#[derive(Deserialize)]
struct AncestorV5 {
    tgid: u32,
    comm: Text,
    exe: Option<Text>,
}

#[derive(Deserialize)]
struct PlaceV5 {
    ns_tgid: Option<u32>,
    ns_tid: Option<u32>,
    pidns: Option<u32>,
    cgroup_id: Option<u64>,
    cgroup: Option<Text>,
    container: Option<Text>,
}

fn ancestors(chain: Vec<AncestorV5>) -> crate::event::Ancestors {
    chain.into_iter().map(|AncestorV5 { tgid, comm, exe }| Ancestor { tgid, start_ns: None, comm, exe }).collect()
}

impl From<DetailV5> for Detail {
    fn from(detail: DetailV5) -> Self {
        match detail {
            DetailV5::Fork {
                child_tgid,
                child_tid,
                thread,
                clone_flags,
                child_ns_tgid,
                child_ns_tid,
                child_namespaces,
            } => Detail::Fork {
                child_tgid,
                child_tid,
                thread,
                clone_flags: clone_flags.map(CloneFlags::flags),
                child_ns_tgid,
                child_ns_tid,
                child_namespaces,
                child_start_ns: None,
                ancestors: Default::default(),
                ancestors_truncated: false,
            },
            DetailV5::Exec {
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
                ancestors: chain,
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
                ancestors: ancestors(chain),
                ancestors_truncated: false,
            },
            DetailV5::Exit { exit_code, signal, core_dumped, group_dead, lifetime_ns, ancestors: chain } => {
                Detail::Exit {
                    exit_code,
                    signal,
                    core_dumped,
                    group_dead,
                    lifetime_ns,
                    ancestors: ancestors(chain),
                    ancestors_truncated: false,
                }
            }
            DetailV5::Rename { old_comm, new_comm } => Detail::Rename { old_comm, new_comm },
            DetailV5::Lookup { name, target_tgid, hidden_thread } => {
                Detail::Lookup { name, target_tgid, hidden_thread }
            }
            DetailV5::Lost { count, origin } => Detail::Lost { count, origin },
            DetailV5::Namespace { how, changed, old, new } => Detail::Namespace { how, changed, old, new },
        }
    }
}

/// Decodes one payload of format `version` (3 to 5), with the references that follow it.
pub fn decode(payload: &[u8], version: u16, known: &mut Known) -> Result<Event, CodecError> {
    let (event, rest) =
        postcard::take_from_bytes::<EventV5>(payload).map_err(|error| CodecError::Postcard(error.to_string()))?;
    let PlaceV5 { ns_tgid, ns_tid, pidns, cgroup_id, cgroup, container } = event.place;
    let mut event = Event {
        timestamp_ns: event.timestamp_ns,
        cpu: event.cpu,
        tgid: event.tgid,
        // Process start times came with format 6.
        start_ns: None,
        tid: event.tid,
        ppid: event.ppid,
        comm: event.comm,
        uid: event.uid,
        detail: event.detail.into(),
        source: event.source,
        place: Place { ns_tgid, ns_tid, pidns, cgroup_id, cgroup, container },
    };
    let mut input = Input(rest);
    let pending = known.take(&mut event, version, &mut input)?;
    input.finish()?;
    known.keep(pending);
    Ok(event)
}
