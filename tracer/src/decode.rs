//! Decoding of raw ring-buffer records into [`Event`]s: length-checked, never trusting the
//! bytes, never panicking.
use tracer_common::{
    COMM_LEN, EventHeader, ExecEvent, ExitEvent, ForkEvent, LookupEvent, RenameEvent, event_kind, exec_flags,
    exit_flags, fork_flags, hook_source,
};

use crate::{
    clock::Clock,
    event::{CloneFlags, Detail, Event, Source},
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

fn read<T: Record>(bytes: &[u8]) -> Result<T, DecodeError> {
    let need = size_of::<T>();
    if bytes.len() < need {
        return Err(DecodeError::TooShort { what: T::NAME, len: bytes.len(), need });
    }
    // SAFETY: length checked above; `Record` types are valid for any bit pattern; the read is
    // unaligned because ring-buffer records are only 8-byte aligned by convention.
    Ok(unsafe { bytes.as_ptr().cast::<T>().read_unaligned() })
}

fn comm(bytes: &[u8; COMM_LEN]) -> Text {
    Text::from_c(bytes)
}

fn source(value: u32) -> Result<Source, DecodeError> {
    Ok(match value {
        hook_source::TP_BTF => Source::TpBtf,
        hook_source::RAW_TRACEPOINT => Source::RawTracepoint,
        hook_source::FENTRY => Source::Fentry,
        hook_source::KPROBE => Source::Kprobe,
        hook_source::SYSCALL_ENTRY => Source::SyscallEntry,
        other => return Err(DecodeError::UnknownSource(other)),
    })
}

/// Splits the kernel's NUL-separated argument block into arguments.
fn arguments(block: &[u8]) -> Vec<Text> {
    let block = block.strip_suffix(&[0]).unwrap_or(block);
    if block.is_empty() {
        return Vec::new();
    }
    block.split(|&byte| byte == 0).map(Text::from).collect()
}

/// Decodes one record. `target_tgid` and `hidden_thread` of lookups are left for [`crate::tasks`]
/// to fill in.
pub fn decode(bytes: &[u8], clock: &Clock) -> Result<Event, DecodeError> {
    let header: EventHeader = read(bytes)?;
    let detail = match header.kind {
        event_kind::FORK => {
            let record: ForkEvent = read(bytes)?;
            Detail::Fork {
                child_tgid: record.child_tgid,
                child_tid: record.child_tid,
                thread: record.child_tgid == header.tgid,
                clone_flags: (record.flags & fork_flags::CLONE_FLAGS_KNOWN != 0)
                    .then_some(CloneFlags(record.clone_flags)),
            }
        }
        event_kind::EXEC => {
            let record: ExecEvent = read(bytes)?;
            let filename_len = (record.filename_len as usize).min(record.filename.len());
            let argv_len = (record.argv_len as usize).min(record.argv.len());
            Detail::Exec {
                filename: Text::from_c(&record.filename[..filename_len]),
                argv: arguments(&record.argv[..argv_len]),
                argv_truncated: record.flags & exec_flags::ARGV_TRUNCATED != 0,
                old_tid: record.old_tid,
            }
        }
        event_kind::EXIT => {
            let record: ExitEvent = read(bytes)?;
            Detail::exit(record.exit_code, record.flags & exit_flags::GROUP_DEAD != 0, record.lifetime_ns)
        }
        event_kind::RENAME => {
            let record: RenameEvent = read(bytes)?;
            Detail::Rename { old_comm: comm(&record.old_comm), new_comm: comm(&record.new_comm) }
        }
        event_kind::LOOKUP => {
            let record: LookupEvent = read(bytes)?;
            let name_len = (record.name_len as usize).min(record.name.len());
            Detail::Lookup { name: Text::from_c(&record.name[..name_len]), target_tgid: None, hidden_thread: false }
        }
        other => return Err(DecodeError::UnknownKind(other)),
    };
    Ok(Event {
        timestamp_ns: clock.wall_ns(header.timestamp_ns),
        cpu: header.cpu,
        tgid: header.tgid,
        tid: header.tid,
        ppid: header.ppid,
        comm: comm(&header.comm),
        source: source(header.source)?,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of<T: Record>(record: &T) -> Vec<u8> {
        // SAFETY: `Record` types are plain data without padding bytes left uninitialised here
        // (every test record is built field by field from zeroed values).
        unsafe { std::slice::from_raw_parts((record as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
    }

    fn header(kind: u32) -> EventHeader {
        let mut comm = [0u8; COMM_LEN];
        comm[..4].copy_from_slice(b"bash");
        EventHeader { kind, source: hook_source::TP_BTF, timestamp_ns: 10, tgid: 812, tid: 815, ppid: 1, cpu: 1, comm }
    }

    const CLOCK: Clock = Clock { boot_to_wall_ns: 1_000 };

    #[test]
    fn decodes_a_thread_fork() {
        let record = ForkEvent {
            header: header(event_kind::FORK),
            child_tgid: 812,
            child_tid: 816,
            clone_flags: 0x0001_0900,
            flags: fork_flags::CLONE_FLAGS_KNOWN,
            _pad: 0,
        };
        let event = decode(&bytes_of(&record), &CLOCK).unwrap();
        assert_eq!(event.timestamp_ns, 1_010);
        assert_eq!((event.tgid, event.tid, event.ppid, event.cpu), (812, 815, 1, 1));
        assert_eq!(event.comm, "bash");
        assert_eq!(
            event.detail,
            Detail::Fork { child_tgid: 812, child_tid: 816, thread: true, clone_flags: Some(CloneFlags(0x0001_0900)) }
        );
    }

    #[test]
    fn decodes_exec_arguments_and_bounds_lengths() {
        let mut record = ExecEvent {
            header: header(event_kind::EXEC),
            old_tid: 816,
            filename_len: 8,
            argv_len: 0,
            flags: 0,
            filename: [0; tracer_common::FILENAME_LEN],
            argv: [0; tracer_common::ARGV_LEN],
        };
        record.filename[..8].copy_from_slice(b"/bin/cat");
        let argv = b"cat\0/proc/815/comm\0";
        record.argv[..argv.len()].copy_from_slice(argv);
        record.argv_len = argv.len() as u32;
        let event = decode(&bytes_of(&record), &CLOCK).unwrap();
        assert_eq!(
            event.detail,
            Detail::Exec {
                filename: "/bin/cat".into(),
                argv: vec![Text::from("cat"), Text::from("/proc/815/comm")],
                argv_truncated: false,
                old_tid: 816
            }
        );
        // Lengths beyond the arrays are clamped, not trusted.
        record.argv_len = u32::MAX;
        record.filename_len = u32::MAX;
        assert!(decode(&bytes_of(&record), &CLOCK).is_ok());
    }

    #[test]
    fn rejects_short_and_unknown_records() {
        let record = ExitEvent {
            header: header(event_kind::EXIT),
            exit_code: 768,
            flags: exit_flags::GROUP_DEAD,
            lifetime_ns: 5,
        };
        let bytes = bytes_of(&record);
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len], &CLOCK).is_err(), "{len} bytes decoded");
        }
        assert_eq!(decode(&bytes, &CLOCK).unwrap().detail, Detail::exit(768, true, 5));
        let unknown = bytes_of(&header(99));
        assert_eq!(decode(&unknown, &CLOCK), Err(DecodeError::UnknownKind(99)));
    }

    #[test]
    fn splits_arguments() {
        assert_eq!(arguments(b""), Vec::<Text>::new());
        assert_eq!(arguments(b"a\0\0b\0"), [Text::from("a"), Text::from(""), Text::from("b")]);
        assert_eq!(arguments(b"cut\xff"), [Text::new(b"cut\xff".to_vec())]);
    }
}
