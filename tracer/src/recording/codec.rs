//! The binary encoding of one [`Event`] (a record's payload) and of the header body.
//!
//! The layout is specified in the module documentation of [`crate::recording`]. Decoding is
//! strict: every byte must be used, tags and booleans must be known values, strings must be UTF-8,
//! and integers must fit their type. It never panics and never allocates more than the input
//! could describe.

use bytes::{BufMut, BytesMut};

use super::RecordingHeader;
use crate::event::{Detail, Event, LostOrigin, Source};

/// Why a payload could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("payload ends inside {0}")]
    UnexpectedEnd(&'static str),
    #[error("unknown {what} tag {tag}")]
    UnknownTag { what: &'static str, tag: u8 },
    #[error("invalid boolean {value} in {what}")]
    BadBool { what: &'static str, value: u8 },
    #[error("{0} does not fit its integer type")]
    Overflow(&'static str),
    #[error("{0} is not valid utf-8")]
    BadUtf8(&'static str),
    #[error("{0} unexpected bytes after the end of the payload")]
    TrailingBytes(usize),
}

// Detail tags (first payload byte).
const TAG_FORK: u8 = 0;
const TAG_EXEC: u8 = 1;
const TAG_EXIT: u8 = 2;
const TAG_RENAME: u8 = 3;
const TAG_LOOKUP: u8 = 4;
const TAG_LOST: u8 = 5;

fn source_tag(source: Source) -> u8 {
    match source {
        Source::TpBtf => 0,
        Source::RawTracepoint => 1,
        Source::Fentry => 2,
        Source::Kprobe => 3,
        Source::SyscallEntry => 4,
        Source::Tracer => 5,
    }
}

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

/// Appends the payload encoding of `event` to `out`.
pub fn encode(event: &Event, out: &mut BytesMut) {
    let tag = match event.detail {
        Detail::Fork { .. } => TAG_FORK,
        Detail::Exec { .. } => TAG_EXEC,
        Detail::Exit { .. } => TAG_EXIT,
        Detail::Rename { .. } => TAG_RENAME,
        Detail::Lookup { .. } => TAG_LOOKUP,
        Detail::Lost { .. } => TAG_LOST,
    };
    out.put_u8(tag);
    out.put_u8(source_tag(event.source));
    out.put_u64_le(event.timestamp_ns);
    put_varint(out, u64::from(event.cpu));
    put_varint(out, u64::from(event.tgid));
    put_varint(out, u64::from(event.tid));
    put_varint(out, u64::from(event.ppid));
    put_str(out, &event.comm);
    match &event.detail {
        Detail::Fork { child_tgid, child_tid, clone_flags } => {
            put_varint(out, u64::from(*child_tgid));
            put_varint(out, u64::from(*child_tid));
            match clone_flags {
                None => out.put_u8(0),
                Some(flags) => {
                    out.put_u8(1);
                    put_varint(out, *flags);
                }
            }
        }
        Detail::Exec { filename, argv, argv_truncated, old_tid } => {
            put_str(out, filename);
            put_varint(out, argv.len() as u64);
            for arg in argv {
                put_str(out, arg);
            }
            out.put_u8(u8::from(*argv_truncated));
            put_varint(out, u64::from(*old_tid));
        }
        Detail::Exit { status, group_dead, lifetime_ns } => {
            put_varint(out, u64::from(*status));
            out.put_u8(u8::from(*group_dead));
            put_varint(out, *lifetime_ns);
        }
        Detail::Rename { old_comm, new_comm } => {
            put_str(out, old_comm);
            put_str(out, new_comm);
        }
        Detail::Lookup { name, target_tgid } => {
            put_str(out, name);
            match target_tgid {
                None => out.put_u8(0),
                Some(tgid) => {
                    out.put_u8(1);
                    put_varint(out, u64::from(*tgid));
                }
            }
        }
        Detail::Lost { count, .. } => put_varint(out, *count),
    }
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
    let comm = input.string("the comm")?;
    let detail = match tag {
        TAG_FORK => Detail::Fork {
            child_tgid: input.var_u32("the child tgid")?,
            child_tid: input.var_u32("the child tid")?,
            clone_flags: match input.option("the clone flags")? {
                false => None,
                true => Some(input.varint("the clone flags")?),
            },
        },
        TAG_EXEC => {
            let filename = input.string("the filename")?;
            let count = input.varint("the argument count")?;
            // Every argument takes at least one byte, so this bounds the allocation.
            let capacity = usize::try_from(count).unwrap_or(usize::MAX).min(input.0.len());
            let mut argv = Vec::with_capacity(capacity);
            for _ in 0..count {
                argv.push(input.string("an argument")?);
            }
            Detail::Exec {
                filename,
                argv,
                argv_truncated: input.bool("argv_truncated")?,
                old_tid: input.var_u32("the old tid")?,
            }
        }
        TAG_EXIT => Detail::Exit {
            status: input.var_u32("the exit status")?,
            group_dead: input.bool("group_dead")?,
            lifetime_ns: input.varint("the lifetime")?,
        },
        TAG_RENAME => {
            Detail::Rename { old_comm: input.string("the old comm")?, new_comm: input.string("the new comm")? }
        }
        TAG_LOOKUP => Detail::Lookup {
            name: input.string("the looked-up name")?,
            target_tgid: match input.option("the target tgid")? {
                false => None,
                true => Some(input.var_u32("the target tgid")?),
            },
        },
        TAG_LOST => Detail::Lost { count: input.varint("the lost count")?, origin: LostOrigin::Ring },
        _ => return Err(CodecError::UnknownTag { what: "event kind", tag }),
    };
    input.finish()?;
    Ok(Event { timestamp_ns, cpu, tgid, tid, ppid, comm, source, detail })
}

/// Appends the header body (everything after the fixed header prefix).
pub(super) fn encode_header_body(header: &RecordingHeader, out: &mut BytesMut) {
    put_str(out, &header.tracer_version);
    put_str(out, &header.kernel_release);
    put_str(out, &header.hostname);
    put_str(out, &header.boot_id);
    out.put_u64_le(header.start_wall_ns);
    out.put_u64_le(header.boot_to_wall_ns);
    put_varint(out, header.filters.len() as u64);
    for filter in &header.filters {
        put_str(out, filter);
    }
}

/// Decodes a header body. Bytes after the known fields are ignored (room for compatible additions).
pub(super) fn decode_header_body(body: &[u8], format_version: u16) -> Result<RecordingHeader, CodecError> {
    let mut input = Input(body);
    let tracer_version = input.string("the tracer version")?;
    let kernel_release = input.string("the kernel release")?;
    let hostname = input.string("the hostname")?;
    let boot_id = input.string("the boot id")?;
    let start_wall_ns = input.u64_le("the start time")?;
    let boot_to_wall_ns = input.u64_le("the boot-time base")?;
    let count = input.varint("the filter count")?;
    let mut filters = Vec::with_capacity(usize::try_from(count).unwrap_or(usize::MAX).min(input.0.len()));
    for _ in 0..count {
        filters.push(input.string("a filter")?);
    }
    Ok(RecordingHeader {
        format_version,
        tracer_version,
        kernel_release,
        hostname,
        boot_id,
        start_wall_ns,
        boot_to_wall_ns,
        filters,
    })
}

/// LEB128: 7 bits per byte, least significant group first, high bit set on all but the last byte.
fn put_varint(out: &mut BytesMut, mut value: u64) {
    while value >= 0x80 {
        out.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    out.put_u8(value as u8);
}

fn put_str(out: &mut BytesMut, s: &str) {
    put_varint(out, s.len() as u64);
    out.put_slice(s.as_bytes());
}

/// The unread rest of a payload.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn u8(&mut self, what: &'static str) -> Result<u8, CodecError> {
        let (&byte, rest) = self.0.split_first().ok_or(CodecError::UnexpectedEnd(what))?;
        self.0 = rest;
        Ok(byte)
    }

    fn bytes(&mut self, len: u64, what: &'static str) -> Result<&'a [u8], CodecError> {
        let len = usize::try_from(len).map_err(|_| CodecError::UnexpectedEnd(what))?;
        if len > self.0.len() {
            return Err(CodecError::UnexpectedEnd(what));
        }
        let (bytes, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(bytes)
    }

    fn u64_le(&mut self, what: &'static str) -> Result<u64, CodecError> {
        let bytes = self.bytes(8, what)?;
        let array: [u8; 8] = bytes.try_into().map_err(|_| CodecError::UnexpectedEnd(what))?;
        Ok(u64::from_le_bytes(array))
    }

    fn varint(&mut self, what: &'static str) -> Result<u64, CodecError> {
        let mut value = 0u64;
        for group in 0..10u32 {
            let byte = self.u8(what)?;
            let bits = u64::from(byte & 0x7f);
            if group == 9 && bits > 1 {
                return Err(CodecError::Overflow(what));
            }
            value |= bits << (7 * group);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(CodecError::Overflow(what))
    }

    fn var_u32(&mut self, what: &'static str) -> Result<u32, CodecError> {
        u32::try_from(self.varint(what)?).map_err(|_| CodecError::Overflow(what))
    }

    fn bool(&mut self, what: &'static str) -> Result<bool, CodecError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(CodecError::BadBool { what, value }),
        }
    }

    /// The presence byte of an `Option`.
    fn option(&mut self, what: &'static str) -> Result<bool, CodecError> {
        self.bool(what)
    }

    fn string(&mut self, what: &'static str) -> Result<String, CodecError> {
        let len = self.varint(what)?;
        let bytes = self.bytes(len, what)?;
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| CodecError::BadUtf8(what))
    }

    fn finish(self) -> Result<(), CodecError> {
        match self.0.len() {
            0 => Ok(()),
            extra => Err(CodecError::TrailingBytes(extra)),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One event of every kind, with `None` and `Some` options, empty and non-ASCII strings and
    /// extreme integers.
    pub(crate) fn sample_events() -> Vec<Event> {
        let base = |detail: Detail| Event {
            timestamp_ns: 1_700_000_000_123_456_789,
            cpu: 3,
            tgid: 4242,
            tid: 4243,
            ppid: 1,
            comm: "bash".to_owned(),
            source: Source::TpBtf,
            detail,
        };
        vec![
            base(Detail::Fork { child_tgid: 5000, child_tid: 5000, clone_flags: Some(0x0120_0011) }),
            base(Detail::Fork { child_tgid: 4242, child_tid: 5001, clone_flags: None }),
            base(Detail::Exec {
                filename: "/usr/bin/ls".to_owned(),
                argv: vec!["ls".to_owned(), "-l".to_owned(), String::new(), "dé jà".to_owned()],
                argv_truncated: true,
                old_tid: 4244,
            }),
            base(Detail::Exec { filename: String::new(), argv: vec![], argv_truncated: false, old_tid: 0 }),
            base(Detail::Exit { status: 9 | 0x80, group_dead: true, lifetime_ns: u64::MAX }),
            base(Detail::Exit { status: 3 << 8, group_dead: false, lifetime_ns: 0 }),
            base(Detail::Rename { old_comm: "bash".to_owned(), new_comm: "kworker/0:1".to_owned() }),
            base(Detail::Lookup { name: "1234".to_owned(), target_tgid: Some(1234) }),
            base(Detail::Lookup { name: "self".to_owned(), target_tgid: None }),
            Event {
                timestamp_ns: u64::MAX,
                cpu: u32::MAX,
                tgid: 0,
                tid: u32::MAX,
                ppid: 0,
                comm: String::new(),
                source: Source::Tracer,
                detail: Detail::Lost { count: 17, origin: LostOrigin::Ring },
            },
            Event {
                timestamp_ns: 0,
                cpu: 0,
                tgid: u32::MAX,
                tid: 0,
                ppid: u32::MAX,
                comm: "日本語".to_owned(),
                source: Source::Kprobe,
                detail: Detail::Lost { count: u64::MAX, origin: LostOrigin::Ring },
            },
        ]
    }

    pub(crate) fn arb_source() -> impl Strategy<Value = Source> {
        proptest::sample::select(Source::ALL.to_vec())
    }

    pub(crate) fn arb_detail() -> impl Strategy<Value = Detail> {
        prop_oneof![
            (any::<u32>(), any::<u32>(), any::<Option<u64>>())
                .prop_map(|(child_tgid, child_tid, clone_flags)| Detail::Fork { child_tgid, child_tid, clone_flags }),
            (any::<String>(), proptest::collection::vec(any::<String>(), 0..6), any::<bool>(), any::<u32>()).prop_map(
                |(filename, argv, argv_truncated, old_tid)| Detail::Exec { filename, argv, argv_truncated, old_tid }
            ),
            (any::<u32>(), any::<bool>(), any::<u64>()).prop_map(|(status, group_dead, lifetime_ns)| Detail::Exit {
                status,
                group_dead,
                lifetime_ns
            }),
            (any::<String>(), any::<String>()).prop_map(|(old_comm, new_comm)| Detail::Rename { old_comm, new_comm }),
            (any::<String>(), any::<Option<u32>>())
                .prop_map(|(name, target_tgid)| Detail::Lookup { name, target_tgid }),
            any::<u64>().prop_map(|count| Detail::Lost { count, origin: LostOrigin::Ring }),
        ]
    }

    pub(crate) fn arb_event() -> impl Strategy<Value = Event> {
        (
            any::<u64>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<String>(),
            arb_source(),
            arb_detail(),
        )
            .prop_map(|(timestamp_ns, cpu, tgid, tid, ppid, comm, source, detail)| Event {
                timestamp_ns,
                cpu,
                tgid,
                tid,
                ppid,
                comm,
                source,
                detail,
            })
    }

    fn encoded(event: &Event) -> BytesMut {
        let mut out = BytesMut::new();
        encode(event, &mut out);
        out
    }

    #[test]
    fn every_variant_round_trips() {
        for event in sample_events() {
            assert_eq!(decode(&encoded(&event)), Ok(event));
        }
    }

    #[test]
    fn encoding_is_compact() {
        let event = &sample_events()[0];
        // 2 tags + 8 timestamp + 1+2+2+1 ids + 5 comm + 2+2 child ids + 1+4 flags
        assert_eq!(encoded(event).len(), 30);
    }

    #[test]
    fn every_proper_prefix_is_rejected() {
        for event in sample_events() {
            let bytes = encoded(&event);
            for len in 0..bytes.len() {
                assert!(decode(&bytes[..len]).is_err(), "prefix of {len} bytes decoded");
            }
        }
    }

    #[test]
    fn strict_decoding() {
        let lost = &sample_events()[9];
        let mut bytes = encoded(lost);
        bytes.put_u8(0);
        assert_eq!(decode(&bytes), Err(CodecError::TrailingBytes(1)));

        let mut bytes = encoded(lost);
        bytes[0] = 6;
        assert_eq!(decode(&bytes), Err(CodecError::UnknownTag { what: "event kind", tag: 6 }));

        let mut bytes = encoded(lost);
        bytes[1] = 9;
        assert_eq!(decode(&bytes), Err(CodecError::UnknownTag { what: "source", tag: 9 }));

        // cpu = 2^32 does not fit a u32.
        let mut bytes = BytesMut::new();
        bytes.put_u8(TAG_LOST);
        bytes.put_u8(0);
        bytes.put_u64_le(0);
        put_varint(&mut bytes, 1 << 32);
        assert_eq!(decode(&bytes), Err(CodecError::Overflow("the cpu")));

        // An eleven-byte varint.
        let mut bytes = BytesMut::new();
        bytes.put_u8(TAG_LOST);
        bytes.put_u8(0);
        bytes.put_u64_le(0);
        bytes.put_slice(&[0xff; 11]);
        assert_eq!(decode(&bytes), Err(CodecError::Overflow("the cpu")));

        // Invalid UTF-8 in comm.
        let mut bytes = BytesMut::new();
        bytes.put_u8(TAG_LOST);
        bytes.put_u8(0);
        bytes.put_u64_le(0);
        bytes.put_slice(&[0, 0, 0, 0, 1, 0xc0, 0]);
        assert_eq!(decode(&bytes), Err(CodecError::BadUtf8("the comm")));

        // A boolean that is not 0 or 1.
        let exit = sample_events().swap_remove(4);
        let mut bytes = encoded(&exit);
        let position = bytes.len() - 11; // group_dead precedes the 10-byte lifetime (u64::MAX)
        assert_eq!(bytes[position], 1);
        bytes[position] = 2;
        assert_eq!(decode(&bytes), Err(CodecError::BadBool { what: "group_dead", value: 2 }));
    }

    #[test]
    fn huge_argument_count_does_not_allocate() {
        let mut bytes = BytesMut::new();
        bytes.put_u8(TAG_EXEC);
        bytes.put_u8(0);
        bytes.put_u64_le(0);
        bytes.put_slice(&[0, 0, 0, 0, 0, 0]); // ids, empty comm, empty filename
        put_varint(&mut bytes, u64::MAX);
        assert!(matches!(decode(&bytes), Err(CodecError::UnexpectedEnd(_))));
    }

    #[test]
    fn header_body_round_trips() {
        let header = RecordingHeader {
            format_version: 1,
            tracer_version: "0.1.0".to_owned(),
            kernel_release: "6.8.0-generic".to_owned(),
            hostname: "host".to_owned(),
            boot_id: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".to_owned(),
            start_wall_ns: 1_700_000_000_000_000_000,
            boot_to_wall_ns: 1_699_999_000_000_000_000,
            filters: vec!["--comm".to_owned(), "bash".to_owned()],
        };
        let mut body = BytesMut::new();
        encode_header_body(&header, &mut body);
        assert_eq!(decode_header_body(&body, 1), Ok(header.clone()));
        // Unknown trailing fields are ignored.
        body.put_slice(b"future");
        assert_eq!(decode_header_body(&body, 1), Ok(header));
    }

    proptest! {
        #[test]
        fn arbitrary_events_round_trip(event in arb_event()) {
            prop_assert_eq!(decode(&encoded(&event)), Ok(event));
        }

        #[test]
        fn arbitrary_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn mutated_payloads_never_panic(event in arb_event(), position in any::<usize>(), value in any::<u8>()) {
            let mut bytes = encoded(&event);
            let position = position % bytes.len();
            bytes[position] = value;
            let _ = decode(&bytes);
        }
    }
}
