//! Decoding of raw ring-buffer records into [`Event`]s: length-checked, never trusting the
//! bytes, never panicking.
use crate::place::Place;
use std::cell::RefCell;

use tracer_common::{
    ANCESTOR_DEPTH, AncestorChain, AncestorRecord, COMM_LEN, EventHeader, EventKind, ExecEvent, ExitEvent, ForkEvent,
    HookSource, LookupEvent, NamespaceEvent, RenameEvent, ancestor_flags, exec_flags, exit_flags, fork_flags,
};

use crate::{
    clock::Clock,
    event::{Ancestor, Ancestors, CloneFlags, Detail, Event, NamespaceHow, NamespaceInodes, NamespaceKind, Source},
    text::Text,
};

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record of {len} bytes is too short for a {what} record ({need} bytes)")]
    TooShort { what: &'static str, len: usize, need: usize },
    #[error("record has unknown kind {0}")]
    UnknownKind(u32),
    #[error("record has unknown hook source {0}")]
    UnknownSource(u32),
    #[error("namespace record has unknown kind of change {0}")]
    UnknownHow(u32),
}

/// Records the kernel side writes: plain integers and byte arrays, valid for any bit pattern.
///
/// # Safety
/// Implementors must be `repr(C)` types of integers and integer arrays only.
unsafe trait Record: Copy {
    const NAME: &'static str;
}
unsafe impl Record for EventHeader {
    const NAME: &'static str = "header";
}
unsafe impl Record for ForkEvent {
    const NAME: &'static str = "fork";
}
unsafe impl Record for ExecEvent {
    const NAME: &'static str = "exec";
}
unsafe impl Record for ExitEvent {
    const NAME: &'static str = "exit";
}
unsafe impl Record for RenameEvent {
    const NAME: &'static str = "rename";
}
unsafe impl Record for LookupEvent {
    const NAME: &'static str = "lookup";
}
unsafe impl Record for NamespaceEvent {
    const NAME: &'static str = "namespace";
}

fn read<T: Record>(bytes: &[u8]) -> Result<T, DecodeError> {
    let need = size_of::<T>();
    if bytes.len() < need {
        return Err(DecodeError::TooShort { what: T::NAME, len: bytes.len(), need });
    }
    // SAFETY: length checked above; `Record` types are valid for any bit pattern; the read is
    // unaligned because ring-buffer records are only 8-byte aligned by convention.
    Ok(unsafe { bytes.as_ptr().cast::<T>().read_unaligned() })
}

/// Slots of the comm cache (a power of two).
const COMM_SLOTS: usize = 16;

thread_local! {
    /// Comms decoded lately, by their kernel bytes: a storm's events all carry the same few
    /// names, and sharing one saves an allocation and a free per event. A slot that holds all
    /// zero bytes holds the empty name, which is what those bytes decode to.
    static COMMS: RefCell<[([u8; COMM_LEN], Text); COMM_SLOTS]> = RefCell::default();
}

fn comm(bytes: &[u8; COMM_LEN]) -> Text {
    let (low, high) = bytes.split_at(COMM_LEN / 2);
    let word = |half: &[u8]| u64::from_le_bytes(half.try_into().unwrap_or_default());
    let hash = (word(low) ^ word(high).rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let slot = (hash >> (64 - COMM_SLOTS.trailing_zeros())) as usize;
    COMMS.with_borrow_mut(|slots| {
        let (known, text) = &mut slots[slot];
        if known != bytes {
            *known = *bytes;
            *text = Text::from_c(bytes);
        }
        text.clone()
    })
}

fn source(value: u32) -> Result<Source, DecodeError> {
    HookSource::try_from(value).map(Source::from).map_err(|unknown| DecodeError::UnknownSource(unknown.0))
}

/// Splits the kernel's NUL-separated argument block into arguments.
fn arguments(block: &[u8]) -> Vec<Text> {
    let block = block.strip_suffix(&[0]).unwrap_or(block);
    if block.is_empty() {
        return Vec::new();
    }
    // memchr finds the NULs a word at a time: a byte-by-byte split of 8 KiB of arguments was a
    // fifth of tracer's CPU recording an exec storm.
    let mut argv = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(0, block).chain([block.len()]) {
        argv.push(Text::from(&block[start..end]));
        start = end + 1;
    }
    argv
}

thread_local! {
    /// The chain decoded last, with the kernel's records it was decoded from: a storm's events
    /// all carry one chain (a thread's exit its process's, a fork its creator's), and sharing
    /// it spares building, then freeing, one per event, which was most of the cost of a chain.
    static LAST_CHAIN: RefCell<(Vec<AncestorRecord>, Ancestors)> = RefCell::default();
}

/// The kernel's chain of ancestors (at most [`ANCESTOR_DEPTH`], whatever its count says), and
/// whether it was cut. Programs are for [`crate::tasks::Ancestry`] to add.
fn ancestors(chain: &AncestorChain) -> (Ancestors, bool) {
    let count = (chain.count as usize).min(ANCESTOR_DEPTH);
    let records = &chain.ancestors[..count];
    let truncated = chain.flags & ancestor_flags::TRUNCATED != 0;
    LAST_CHAIN.with_borrow_mut(|(last_records, last)| {
        if last_records.as_slice() != records {
            *last = records
                .iter()
                .map(|ancestor| Ancestor {
                    tgid: ancestor.tgid,
                    start_ns: (ancestor.start_ns != 0).then_some(ancestor.start_ns),
                    comm: comm(&ancestor.comm),
                    exe: None,
                })
                .collect();
            last_records.clear();
            last_records.extend_from_slice(records);
        }
        (last.clone(), truncated)
    })
}

/// The data after an exec record's fixed part, taken in order; lengths past the end are cut.
struct Data<'a>(&'a [u8]);

impl<'a> Data<'a> {
    fn take(&mut self, len: u32) -> &'a [u8] {
        let (taken, rest) = self.0.split_at((len as usize).min(self.0.len()));
        self.0 = rest;
        taken
    }
}

fn exec(bytes: &[u8]) -> Result<Detail, DecodeError> {
    let record: ExecEvent = read(bytes)?;
    let flags = record.flags;
    let mut data = Data(&bytes[size_of::<ExecEvent>()..]);
    let cwd = data.take(record.cwd_len);
    let filename = Text::from_c(data.take(record.filename_len));
    let argv = arguments(data.take(record.argv_len));
    let env = arguments(data.take(record.env_len));
    let (ancestors, ancestors_truncated) = ancestors(&record.ancestors);
    Ok(Detail::Exec {
        filename,
        argv,
        argv_truncated: flags & exec_flags::ARGV_TRUNCATED != 0,
        argv_bytes: u64::from(record.argv_total),
        env: (flags & exec_flags::ENV_READ != 0).then_some(env),
        env_truncated: flags & exec_flags::ENV_TRUNCATED != 0,
        old_tid: record.old_tid,
        old_comm: (flags & exec_flags::OLD_COMM_KNOWN != 0).then(|| comm(&record.old_comm)),
        euid: record.euid,
        gid: record.gid,
        egid: record.egid,
        cwd: (flags & exec_flags::CWD_UNKNOWN == 0).then(|| path_of(cwd, flags & exec_flags::CWD_TRUNCATED != 0)),
        cwd_truncated: flags & exec_flags::CWD_TRUNCATED != 0,
        ancestors,
        ancestors_truncated,
    })
}

/// A path from its components innermost first, each NUL-terminated (how the kernel side walks
/// it). A cut path keeps its innermost part and starts with `…/` instead of `/`.
fn path_of(components: &[u8], truncated: bool) -> Text {
    let mut path: Vec<u8> = if truncated { "…".as_bytes().to_vec() } else { Vec::new() };
    let components = components.strip_suffix(&[0]).unwrap_or(components);
    if !components.is_empty() {
        for component in components.split(|&byte| byte == 0).rev() {
            path.push(b'/');
            path.extend_from_slice(component);
        }
    }
    if path.is_empty() {
        path.push(b'/');
    }
    Text::new(path)
}

/// Keeps only the environment variables named in `names` (`--env-filter`).
pub fn keep_env(event: &mut Event, names: &std::collections::BTreeSet<String>) {
    if let Detail::Exec { env: Some(env), .. } = &mut event.detail {
        env.retain(|variable| {
            let name = variable.as_bytes().split(|&byte| byte == b'=').next().unwrap_or_default();
            std::str::from_utf8(name).is_ok_and(|name| names.contains(name))
        });
    }
}

/// Decodes one record. `target_tgid` and `hidden_thread` of lookups are left for [`crate::tasks`]
/// to fill in.
pub fn decode(bytes: &[u8], clock: &Clock) -> Result<Event, DecodeError> {
    let header: EventHeader = read(bytes)?;
    let kind = EventKind::try_from(header.kind).map_err(|unknown| DecodeError::UnknownKind(unknown.0))?;
    let detail = match kind {
        EventKind::Fork => {
            let record: ForkEvent = read(bytes)?;
            let (ancestors, ancestors_truncated) = ancestors(&record.ancestors);
            Detail::Fork {
                child_tgid: record.child_tgid,
                child_tid: record.child_tid,
                thread: record.child_tgid == header.tgid,
                clone_flags: (record.flags & fork_flags::CLONE_FLAGS_KNOWN != 0).then(|| {
                    let exit_signal = match record.flags & fork_flags::EXIT_SIGNAL_KNOWN {
                        0 => 0,
                        _ => record.exit_signal as i32,
                    };
                    CloneFlags::with_exit_signal(record.clone_flags, exit_signal)
                }),
                child_ns_tgid: known(record.child_ns_tgid),
                child_ns_tid: known(record.child_ns_tid),
                child_namespaces: match record.ns_compared {
                    0 => NamespaceInodes::default(),
                    _ => NamespaceInodes::from_wire(
                        NamespaceInodes::differing(&record.parent_ns, &record.child_ns),
                        &record.child_ns,
                    ),
                },
                child_start_ns: (record.child_start_ns != 0).then_some(record.child_start_ns),
                ancestors,
                ancestors_truncated,
            }
        }
        EventKind::Exec => exec(bytes)?,
        EventKind::Exit => {
            let record: ExitEvent = read(bytes)?;
            let mut exit =
                Detail::exit(record.exit_code, record.flags & exit_flags::GROUP_DEAD != 0, record.lifetime_ns);
            if let Detail::Exit { ancestors: slot, ancestors_truncated, .. } = &mut exit {
                (*slot, *ancestors_truncated) = ancestors(&record.ancestors);
            }
            exit
        }
        EventKind::Rename => {
            let record: RenameEvent = read(bytes)?;
            Detail::Rename { old_comm: comm(&record.old_comm), new_comm: comm(&record.new_comm) }
        }
        EventKind::Lookup => {
            let record: LookupEvent = read(bytes)?;
            let name_len = (record.name_len as usize).min(record.name.len());
            Detail::Lookup { name: Text::from_c(&record.name[..name_len]), target_tgid: None, hidden_thread: false }
        }
        EventKind::Namespace => {
            let record: NamespaceEvent = read(bytes)?;
            let changed = NamespaceInodes::differing(&record.old, &record.new);
            Detail::Namespace {
                how: NamespaceHow::from_wire(record.how).ok_or(DecodeError::UnknownHow(record.how))?,
                changed: NamespaceKind::from_mask(changed),
                old: NamespaceInodes::from_wire(changed, &record.old),
                new: NamespaceInodes::from_wire(changed, &record.new),
            }
        }
    };
    Ok(Event {
        timestamp_ns: clock.wall_ns(header.timestamp_ns),
        cpu: header.cpu,
        tgid: header.tgid,
        start_ns: (header.start_ns != 0).then_some(header.start_ns),
        tid: header.tid,
        ppid: header.ppid,
        comm: comm(&header.comm),
        uid: header.uid,
        source: source(header.source)?,
        detail,
        place: Place {
            ns_tgid: known(header.ns_tgid),
            ns_tid: known(header.ns_tid),
            pidns: known(header.pidns),
            cgroup_id: (header.cgroup_id != 0).then_some(header.cgroup_id),
            // Filled in from the ID by [`crate::place::cgroup::CgroupNames`].
            cgroup: None,
            container: None,
        },
    })
}

/// The kernel side writes 0 for an ID or inode it could not read; no task or namespace has 0.
fn known(value: u32) -> Option<u32> {
    (value != 0).then_some(value)
}

#[cfg(test)]
mod tests;
