//! Decoder of format version 7 payloads, frozen: the postcard encoding of the event model as the
//! release that wrote it defined it (before fork events carried their creator's ancestors).
//! postcard stores fields by position, so these types must never change; the references that
//! follow the event are read by [`super::references`], and the place is as format 6 wrote it.
use serde::Deserialize;

use super::{
    references::Known,
    v6::PlaceV6,
    wire::{CodecError, Input},
};
use crate::{
    event::{
        Ancestor, CloneFlags, Detail, Event, LostOrigin, NamespaceHow, NamespaceInodes, NamespaceKind, Signal, Source,
    },
    text::Text,
};

#[derive(Deserialize)]
struct EventV7 {
    timestamp_ns: u64,
    cpu: u32,
    tgid: u32,
    start_ns: Option<u64>,
    tid: u32,
    ppid: u32,
    comm: Text,
    uid: u32,
    detail: DetailV7,
    source: Source,
    place: PlaceV6,
}

#[derive(Deserialize)]
enum DetailV7 {
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
        ancestors: Vec<Ancestor>,
        ancestors_truncated: bool,
    },
    Exit {
        exit_code: Option<u32>,
        signal: Option<Signal>,
        core_dumped: bool,
        group_dead: bool,
        lifetime_ns: u64,
        ancestors: Vec<Ancestor>,
        ancestors_truncated: bool,
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

impl From<DetailV7> for Detail {
    fn from(detail: DetailV7) -> Self {
        match detail {
            DetailV7::Fork {
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
            DetailV7::Exec {
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
                ancestors_truncated,
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
                ancestors: ancestors.into(),
                ancestors_truncated,
            },
            DetailV7::Exit {
                exit_code,
                signal,
                core_dumped,
                group_dead,
                lifetime_ns,
                ancestors,
                ancestors_truncated,
            } => Detail::Exit {
                exit_code,
                signal,
                core_dumped,
                group_dead,
                lifetime_ns,
                ancestors: ancestors.into(),
                ancestors_truncated,
            },
            DetailV7::Rename { old_comm, new_comm } => Detail::Rename { old_comm, new_comm },
            DetailV7::Lookup { name, target_tgid, hidden_thread } => {
                Detail::Lookup { name, target_tgid, hidden_thread }
            }
            DetailV7::Lost { count, origin } => Detail::Lost { count, origin },
            DetailV7::Namespace { how, changed, old, new } => Detail::Namespace { how, changed, old, new },
        }
    }
}

/// Decodes one payload of format 7, with the references that follow it.
pub fn decode(payload: &[u8], known: &mut Known) -> Result<Event, CodecError> {
    let (event, rest) =
        postcard::take_from_bytes::<EventV7>(payload).map_err(|error| CodecError::Postcard(error.to_string()))?;
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
    let pending = known.take(&mut event, 7, &mut input)?;
    input.finish()?;
    known.keep(pending);
    Ok(event)
}
