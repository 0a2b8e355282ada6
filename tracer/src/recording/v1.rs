//! Reading event payloads of format version 1, the format before the event model defined the
//! encoding. Frozen: it maps the old layout onto today's [`Event`] and is never written.
//!
//! Payload, in order: u8 kind tag (0 fork, 1 exec, 2 exit, 3 rename, 4 lookup, 5 lost); u8
//! source tag (0 tp_btf, 1 raw_tracepoint, 2 fentry, 3 kprobe, 4 syscall_entry, 5 tracer); u64
//! `timestamp_ns`; varints `cpu`, `tgid`, `tid`, `ppid`; string `comm`; then per kind: fork:
//! varint `child_tgid`, varint `child_tid`, option varint (u64) `clone_flags`; exec: string
//! `filename`, varint count and that many strings (`argv`), bool `argv_truncated`, varint
//! `old_tid`; exit: varint `status`, bool `group_dead`, varint (u64) `lifetime_ns`; rename:
//! strings `old_comm`, `new_comm`; lookup: string `name`, option varint `target_tgid`; lost:
//! varint (u64) `count` (always ring-buffer losses: version 1 had no other kind).

use super::wire::{CodecError, Input};
use crate::event::{CloneFlags, Detail, Event, LostOrigin, Source};
use crate::place::Place;

// Detail tags (first payload byte).
const TAG_FORK: u8 = 0;
const TAG_EXEC: u8 = 1;
const TAG_EXIT: u8 = 2;
const TAG_RENAME: u8 = 3;
const TAG_LOOKUP: u8 = 4;
const TAG_LOST: u8 = 5;

fn source_from_tag(tag: u8) -> Result<Source, CodecError> {
    Ok(match tag {
        0 => Source::TpBtf,
        1 => Source::RawTracepoint,
        2 => Source::Fentry,
        3 => Source::Kprobe,
        4 => Source::SyscallEntry,
        5 => Source::Tracer,
        _ => return Err(CodecError::UnknownTag { what: "source", tag }),
    })
}

/// Decodes one payload; it must be exactly one encoded event.
pub fn decode(payload: &[u8]) -> Result<Event, CodecError> {
    let mut input = Input(payload);
    let tag = input.u8("the event kind")?;
    let source = source_from_tag(input.u8("the source")?)?;
    let timestamp_ns = input.u64_le("the timestamp")?;
    let cpu = input.var_u32("the cpu")?;
    let tgid = input.var_u32("the tgid")?;
    let tid = input.var_u32("the tid")?;
    let ppid = input.var_u32("the ppid")?;
    let comm = input.string("the comm")?.into();
    let detail = match tag {
        TAG_FORK => {
            let child_tgid = input.var_u32("the child tgid")?;
            Detail::Fork {
                child_tgid,
                child_tid: input.var_u32("the child tid")?,
                thread: child_tgid == tgid,
                clone_flags: match input.option("the clone flags")? {
                    false => None,
                    true => Some(CloneFlags::flags(input.varint("the clone flags")?)),
                },
                child_ns_tgid: None,
                child_ns_tid: None,
                child_namespaces: Default::default(),
                child_start_ns: None,
                ancestors: Default::default(),
                ancestors_truncated: false,
            }
        }
        TAG_EXEC => {
            let filename = input.string("the filename")?.into();
            let count = input.varint("the argument count")?;
            // Every argument takes at least one byte, so this bounds the allocation.
            let capacity = usize::try_from(count).unwrap_or(usize::MAX).min(input.0.len());
            let mut argv = Vec::with_capacity(capacity);
            for _ in 0..count {
                argv.push(input.string("an argument")?.into());
            }
            let argv_truncated = input.bool("argv_truncated")?;
            let old_tid = input.var_u32("the old tid")?;
            // Version 1 kept no environment, credentials, directory or old name; it kept at most
            // 512 bytes of arguments, so the total it had is not known either (0).
            Detail::Exec {
                filename,
                argv,
                argv_truncated,
                argv_bytes: 0,
                env: None,
                env_truncated: false,
                old_tid,
                old_comm: None,
                euid: u32::MAX,
                gid: u32::MAX,
                egid: u32::MAX,
                cwd: None,
                cwd_truncated: false,
                ancestors: Default::default(),
                ancestors_truncated: false,
            }
        }
        TAG_EXIT => {
            Detail::exit(input.var_u32("the exit status")?, input.bool("group_dead")?, input.varint("the lifetime")?)
        }
        TAG_RENAME => Detail::Rename {
            old_comm: input.string("the old comm")?.into(),
            new_comm: input.string("the new comm")?.into(),
        },
        TAG_LOOKUP => {
            let name = input.string("the looked-up name")?;
            let target_tgid = match input.option("the target tgid")? {
                false => None,
                true => Some(input.var_u32("the target tgid")?),
            };
            // Version 1 derived this when printing; it is the same rule.
            let hidden_thread = matches!((target_tgid, name.parse::<u32>()), (Some(tgid), Ok(tid)) if tgid != tid);
            Detail::Lookup { name: name.into(), target_tgid, hidden_thread }
        }
        TAG_LOST => Detail::Lost { count: input.varint("the lost count")?, origin: LostOrigin::RingBuffer },
        _ => return Err(CodecError::UnknownTag { what: "event kind", tag }),
    };
    input.finish()?;
    Ok(Event {
        timestamp_ns,
        cpu,
        tgid,
        start_ns: None,
        tid,
        ppid,
        comm,
        // Version 1 did not record who ran a task.
        uid: u32::MAX,
        source,
        detail,
        // Version 1 did not record where tasks lived.
        place: Place::default(),
    })
}

#[cfg(test)]
mod tests {
    use crate::recording::tests::replayed_fixture;

    /// A recording made by the release that wrote format version 1 (the lifecycle workload), and
    /// that release's `tracer replay --json` of it.
    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v1-lifecycle.rec");
    const FIXTURE_JSON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v1-lifecycle.json");

    /// Every field the version 1 release printed keeps its value; `clone_flags` changed shape
    /// (a list of names) and so is compared through its names.
    #[test]
    fn version_1_recordings_replay_with_every_field() {
        let (_, now) = replayed_fixture(FIXTURE, 1);
        let then = std::fs::read_to_string(FIXTURE_JSON).unwrap();
        assert_eq!(now.lines().count(), 17);
        assert_eq!(now.lines().count(), then.lines().count());
        for (now, then) in now.lines().zip(then.lines()) {
            let now: serde_json::Value = serde_json::from_str(now).unwrap();
            let mut then: serde_json::Value = serde_json::from_str(then).unwrap();
            if let Some(names) = then.as_object_mut().unwrap().remove("clone_flag_names") {
                let before: Vec<String> = serde_json::from_value(names).unwrap();
                let listed: Vec<String> = serde_json::from_value(now["clone_flags"].clone()).unwrap();
                let added: Vec<&String> = listed.iter().filter(|name| !before.contains(name)).collect();
                // The list now also names the exit signal of the low byte (SIGCHLD for processes).
                assert!(before.iter().all(|name| listed.contains(name)), "{now}");
                assert!(added.is_empty() || added == ["SIGCHLD"], "{now}");
                then["clone_flags"] = now["clone_flags"].clone();
            }
            for (key, value) in then.as_object().unwrap() {
                assert_eq!(&now[key], value, "field {key} of {now}");
            }
        }
    }
}
