//! Decoder of format version 6 payloads, frozen: the postcard encoding of the event model as the
//! release that wrote it defined it (before ancestors carried their start time and a chain said
//! whether it was cut). postcard stores fields by position, so these types must never change;
//! the references that follow the event are read by [`super::references`], and a chain as
//! formats 4 to 6 wrote it by [`super::chain_v6`].
use serde::Deserialize;

use super::{
    chain_v6::{AncestorV6, ancestors},
    references::Known,
    wire::{CodecError, Input},
};
use crate::{
    event::{CloneFlags, Detail, Event, LostOrigin, NamespaceHow, NamespaceInodes, NamespaceKind, Signal, Source},
    place::Place,
    text::Text,
};

#[derive(Deserialize)]
struct EventV6 {
    timestamp_ns: u64,
    cpu: u32,
    tgid: u32,
    start_ns: Option<u64>,
    tid: u32,
    ppid: u32,
    comm: Text,
    uid: u32,
    detail: DetailV6,
    source: Source,
    place: PlaceV6,
}

#[derive(Deserialize)]
enum DetailV6 {
    Fork {
        child_tgid: u32,
        child_tid: u32,
        thread: bool,
        clone_flags: Option<CloneFlags>,
        child_ns_tgid: Option<u32>,
        child_ns_tid: Option<u32>,
        child_namespaces: NamespaceInodes,
        child_start_ns: Option<u64>,
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
        // Written empty: the chain follows the event as a reference.
        ancestors: Vec<AncestorV6>,
    },
    Exit {
        exit_code: Option<u32>,
        signal: Option<Signal>,
        core_dumped: bool,
        group_dead: bool,
        lifetime_ns: u64,
        ancestors: Vec<AncestorV6>,
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

/// The place of an event as formats 6 and 7 wrote it.
#[derive(Deserialize)]
pub(super) struct PlaceV6 {
    ns_tgid: Option<u32>,
    ns_tid: Option<u32>,
    pidns: Option<u32>,
    cgroup_id: Option<u64>,
    cgroup: Option<Text>,
    container: Option<Text>,
}

impl From<PlaceV6> for Place {
    fn from(PlaceV6 { ns_tgid, ns_tid, pidns, cgroup_id, cgroup, container }: PlaceV6) -> Self {
        Place { ns_tgid, ns_tid, pidns, cgroup_id, cgroup, container }
    }
}

impl From<DetailV6> for Detail {
    fn from(detail: DetailV6) -> Self {
        match detail {
            DetailV6::Fork {
                child_tgid,
                child_tid,
                thread,
                clone_flags,
                child_ns_tgid,
                child_ns_tid,
                child_namespaces,
                child_start_ns,
            } => Detail::Fork {
                child_tgid,
                child_tid,
                thread,
                clone_flags,
                child_ns_tgid,
                child_ns_tid,
                child_namespaces,
                child_start_ns,
                ancestors: Default::default(),
                ancestors_truncated: false,
            },
            DetailV6::Exec {
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
                // Format 6 kept every ancestor up to PID 1 it knew of (at most 32).
                ancestors_truncated: false,
            },
            DetailV6::Exit { exit_code, signal, core_dumped, group_dead, lifetime_ns, ancestors: chain } => {
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
            DetailV6::Rename { old_comm, new_comm } => Detail::Rename { old_comm, new_comm },
            DetailV6::Lookup { name, target_tgid, hidden_thread } => {
                Detail::Lookup { name, target_tgid, hidden_thread }
            }
            DetailV6::Lost { count, origin } => Detail::Lost { count, origin },
            DetailV6::Namespace { how, changed, old, new } => Detail::Namespace { how, changed, old, new },
        }
    }
}

/// Decodes one payload of format 6, with the references that follow it.
pub fn decode(payload: &[u8], known: &mut Known) -> Result<Event, CodecError> {
    let (event, rest) =
        postcard::take_from_bytes::<EventV6>(payload).map_err(|error| CodecError::Postcard(error.to_string()))?;
    let mut event = Event {
        timestamp_ns: event.timestamp_ns,
        cpu: event.cpu,
        tgid: event.tgid,
        start_ns: event.start_ns,
        tid: event.tid,
        ppid: event.ppid,
        comm: event.comm,
        uid: event.uid,
        detail: event.detail.into(),
        source: event.source,
        place: event.place.into(),
    };
    let mut input = Input(rest);
    let pending = known.take(&mut event, 6, &mut input)?;
    input.finish()?;
    known.keep(pending);
    Ok(event)
}
