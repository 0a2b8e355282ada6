//! Tests of the payload encoding: every variant round-trips, strict decoding, property tests.
use super::*;
use crate::place::Place;
use crate::recording::references::{Definitions, Known};
use crate::{
    event::{
        Ancestor, Ancestors, CloneFlags, Detail, LostOrigin, NamespaceHow, NamespaceInodes, NamespaceKind, Source,
    },
    text::Text,
};
use proptest::prelude::*;
use strum::VariantArray;

/// One event of every kind, with `None` and `Some` options, empty, non-ASCII and non-UTF-8
/// strings and extreme integers.
pub(crate) fn sample_events() -> Vec<Event> {
    let base = |detail: Detail| Event {
        timestamp_ns: 1_700_000_000_123_456_789,
        cpu: 3,
        tgid: 4242,
        start_ns: Some(12_345),
        tid: 4243,
        ppid: 1,
        comm: "bash".into(),
        uid: 1000,
        source: Source::TpBtf,
        detail,
        place: Place { ns_tgid: None, ns_tid: None, pidns: None, cgroup_id: None, cgroup: None, container: None },
    };
    // A task in a container, in its own PID namespace.
    let placed = |detail: Detail| Event {
        place: Place {
            ns_tgid: Some(1),
            ns_tid: Some(u32::MAX),
            pidns: Some(4026532500),
            cgroup_id: Some(u64::MAX),
            cgroup: Some("/libpod_parent/libpod-3f2a".into()),
            container: Some(Text::new(b"3f2a\xff".to_vec())),
        },
        ..base(detail)
    };
    let inodes = |pairs: &[(NamespaceKind, u32)]| NamespaceInodes(pairs.iter().copied().collect());
    let plain_fork = |child_tgid, child_tid, thread, clone_flags| Detail::Fork {
        child_tgid,
        child_tid,
        thread,
        clone_flags,
        child_ns_tgid: None,
        child_ns_tid: None,
        child_namespaces: NamespaceInodes::default(),
        child_start_ns: None,
        ancestors: Default::default(),
        ancestors_truncated: false,
    };
    vec![
        base(plain_fork(5000, 5000, false, Some(CloneFlags::with_exit_signal(0x0120_0000, 17)))),
        base(plain_fork(4242, 5001, true, None)),
        base(Detail::Exec {
            filename: "/usr/bin/ls".into(),
            argv: vec!["ls".into(), "-l".into(), Text::default(), "dé jà".into(), Text::new(b"\xff\x1b".to_vec())],
            argv_truncated: true,
            argv_bytes: 300_000,
            env: Some(vec!["HOME=/root".into(), Text::new(b"X=\xfe".to_vec())]),
            env_truncated: true,
            old_tid: 4244,
            old_comm: Some("bash".into()),
            euid: 0,
            gid: 1000,
            egid: 1000,
            cwd: Some("/home/u/dé".into()),
            cwd_truncated: false,
            ancestors: vec![
                crate::event::Ancestor {
                    tgid: 812,
                    start_ns: Some(4_000_000_000),
                    comm: "bash".into(),
                    exe: Some("/usr/bin/bash".into()),
                },
                crate::event::Ancestor { tgid: 1, start_ns: None, comm: "init".into(), exe: None },
            ]
            .into(),
            ancestors_truncated: true,
        }),
        base(crate::event::test_exec("", &[], 0)),
        base(Detail::exit(9 | 0x80, true, u64::MAX)),
        base(Detail::exit(3 << 8, false, 0)),
        base(Detail::Rename { old_comm: "bash".into(), new_comm: "kworker/0:1".into() }),
        base(Detail::Lookup { name: "1234".into(), target_tgid: Some(1234), hidden_thread: false }),
        base(Detail::Lookup { name: "self".into(), target_tgid: None, hidden_thread: false }),
        Event {
            timestamp_ns: u64::MAX,
            cpu: u32::MAX,
            tgid: 0,
            tid: u32::MAX,
            ppid: 0,
            comm: Text::default(),
            uid: u32::MAX,
            source: Source::Tracer,
            ..base(Detail::Lost { count: 17, origin: LostOrigin::RingBuffer })
        },
        Event {
            timestamp_ns: 0,
            cpu: 0,
            tgid: u32::MAX,
            tid: 0,
            ppid: u32::MAX,
            comm: "日本語".into(),
            uid: 0,
            source: Source::Kprobe,
            ..base(Detail::Lost { count: u64::MAX, origin: LostOrigin::Output })
        },
        placed(Detail::Fork {
            child_tgid: 5000,
            child_tid: 5000,
            thread: false,
            clone_flags: Some(CloneFlags::with_exit_signal(0x1000_0000, 17)),
            child_ns_tgid: Some(1),
            child_ns_tid: None,
            child_namespaces: inodes(&[(NamespaceKind::Pid, 4026532501), (NamespaceKind::User, u32::MAX)]),
            child_start_ns: Some(u64::MAX),
            ancestors: Default::default(),
            ancestors_truncated: true,
        }),
        placed(Detail::Namespace {
            how: NamespaceHow::Setns,
            changed: vec![NamespaceKind::Net, NamespaceKind::TimeForChildren],
            old: inodes(&[(NamespaceKind::Net, 1), (NamespaceKind::TimeForChildren, 0)]),
            new: inodes(&[(NamespaceKind::Net, u32::MAX), (NamespaceKind::TimeForChildren, 2)]),
        }),
        Event {
            source: Source::SyscallExit,
            ..placed(Detail::Namespace {
                how: NamespaceHow::Clone,
                changed: vec![],
                old: NamespaceInodes::default(),
                new: NamespaceInodes::default(),
            })
        }
        .with_cgroup(Some(Text::default()), None),
    ]
}

pub(crate) fn arb_source() -> impl Strategy<Value = Source> {
    proptest::sample::select(Source::VARIANTS.to_vec())
}

fn arb_text() -> impl Strategy<Value = Text> {
    proptest::collection::vec(any::<u8>(), 0..24).prop_map(Text::new)
}

pub(crate) fn arb_detail() -> impl Strategy<Value = Detail> {
    prop_oneof![
        (
            any::<u32>(),
            any::<u32>(),
            any::<bool>(),
            any::<Option<(u64, u32)>>(),
            any::<(Option<u32>, Option<u32>)>(),
            (arb_inodes(), any::<Option<u64>>())
        )
            .prop_map(
                |(
                    child_tgid,
                    child_tid,
                    thread,
                    clone_flags,
                    (child_ns_tgid, child_ns_tid),
                    (child_namespaces, child_start_ns),
                )| {
                    Detail::Fork {
                        child_tgid,
                        child_tid,
                        thread,
                        clone_flags: clone_flags.map(|(flags, exit_signal)| CloneFlags { flags, exit_signal }),
                        child_ns_tgid,
                        child_ns_tid,
                        child_namespaces,
                        child_start_ns,
                        ancestors: Default::default(),
                        ancestors_truncated: thread,
                    }
                }
            ),
        (
            (arb_text(), proptest::collection::vec(arb_text(), 0..6), any::<bool>(), any::<u64>()),
            (proptest::option::of(proptest::collection::vec(arb_text(), 0..4)), any::<bool>(), any::<u32>()),
            (proptest::option::of(arb_text()), any::<[u32; 3]>(), proptest::option::of(arb_text()), any::<bool>()),
        )
            .prop_map(
                |(
                    (filename, argv, argv_truncated, argv_bytes),
                    (env, env_truncated, old_tid),
                    (old_comm, [euid, gid, egid], cwd, cwd_truncated),
                )| Detail::Exec {
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
                    ancestors: Default::default(),
                    ancestors_truncated: cwd_truncated,
                }
            ),
        (any::<u32>(), any::<bool>(), any::<u64>()).prop_map(|(status, group_dead, lifetime_ns)| Detail::exit(
            status,
            group_dead,
            lifetime_ns
        )),
        (arb_text(), arb_text()).prop_map(|(old_comm, new_comm)| Detail::Rename { old_comm, new_comm }),
        (arb_text(), any::<Option<u32>>(), any::<bool>())
            .prop_map(|(name, target_tgid, hidden_thread)| { Detail::Lookup { name, target_tgid, hidden_thread } }),
        (any::<u64>(), any::<bool>()).prop_map(|(count, output)| Detail::Lost {
            count,
            origin: if output { LostOrigin::Output } else { LostOrigin::RingBuffer }
        }),
        (
            proptest::sample::select(vec![NamespaceHow::Setns, NamespaceHow::Unshare, NamespaceHow::Clone]),
            proptest::collection::vec(arb_namespace_kind(), 0..4),
            arb_inodes(),
            arb_inodes()
        )
            .prop_map(|(how, changed, old, new)| Detail::Namespace { how, changed, old, new }),
    ]
}

fn arb_namespace_kind() -> impl Strategy<Value = NamespaceKind> {
    proptest::sample::select(<NamespaceKind as strum::IntoEnumIterator>::iter().collect::<Vec<_>>())
}

fn arb_inodes() -> impl Strategy<Value = NamespaceInodes> {
    proptest::collection::btree_map(arb_namespace_kind(), any::<u32>(), 0..4).prop_map(NamespaceInodes)
}

pub(crate) fn arb_event() -> impl Strategy<Value = Event> {
    let place = (
        any::<(Option<u32>, Option<u32>, Option<u32>)>(),
        any::<Option<u64>>(),
        proptest::option::of(arb_text()),
        proptest::option::of(arb_text()),
    );
    let ids = (any::<[u32; 3]>(), any::<Option<u64>>());
    (any::<u64>(), any::<u32>(), ids, arb_text(), any::<u32>(), arb_source(), arb_detail(), place).prop_map(
        |(
            timestamp_ns,
            cpu,
            ([tgid, tid, ppid], start_ns),
            comm,
            uid,
            source,
            detail,
            ((ns_tgid, ns_tid, pidns), cgroup_id, cgroup, container),
        )| Event {
            timestamp_ns,
            cpu,
            tgid,
            start_ns,
            tid,
            ppid,
            comm,
            uid,
            source,
            detail,
            place: Place { ns_tgid, ns_tid, pidns, cgroup_id, cgroup, container },
        },
    )
}

/// `event` encoded as the first record of a file.
fn encoded(event: &Event) -> BytesMut {
    let mut out = BytesMut::new();
    encode(&mut event.clone(), &mut Definitions::default(), &mut out);
    out
}

/// `payload` decoded as the first record of a file.
fn decode(payload: &[u8], version: u16) -> Result<Event, CodecError> {
    super::decode(payload, version, &mut Known::default())
}

#[test]
fn every_variant_round_trips() {
    for event in sample_events() {
        assert_eq!(decode(&encoded(&event), super::super::FORMAT_VERSION), Ok(event));
    }
}

#[test]
fn encoding_is_compact() {
    let event = &sample_events()[0];
    // 9 timestamp + 1+2+2+1 ids + 5 comm + 2 uid + 1 kind + 2+2 child ids + 1 thread + 1+4 flags
    // + 1 exit signal + 1 no child start + 1+2 start
    // + 1+1+1 no child ns ids, no child namespaces + 1+1 no ancestors, not cut + 1 source + 6
    // unknown place fields + 1 no chain reference + 1 no cgroup reference
    assert_eq!(encoded(event).len(), 52);
}

#[test]
fn every_proper_prefix_is_rejected() {
    for event in sample_events() {
        let bytes = encoded(&event);
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len], super::super::FORMAT_VERSION).is_err(), "prefix of {len} bytes decoded");
        }
    }
}

#[test]
fn strict_decoding() {
    let lost = &sample_events()[9];
    let mut bytes = encoded(lost);
    bytes.put_u8(0);
    assert_eq!(decode(&bytes, super::super::FORMAT_VERSION), Err(CodecError::TrailingBytes(1)));

    // The source comes before the six absent place fields and the cgroup reference; 7 names no
    // source.
    let mut bytes = encoded(lost);
    let source = bytes.len() - 8;
    bytes[source] = 7;
    assert!(matches!(decode(&bytes, super::super::FORMAT_VERSION), Err(CodecError::Postcard(_))));

    // A boolean that is not 0 or 1 (`thread` of a fork).
    let fork = &sample_events()[1];
    let mut bytes = encoded(fork);
    // Then the clone flags' absence byte, two absent child ns ids, no child namespaces, no
    // child start, no ancestors, not cut, the source, six absent place fields, the chain
    // reference and the cgroup reference.
    let thread = bytes.len() - 17;
    assert_eq!(bytes[thread], 1);
    bytes[thread] = 2;
    assert!(matches!(decode(&bytes, super::super::FORMAT_VERSION), Err(CodecError::Postcard(_))));
}

#[test]
fn huge_argument_count_does_not_allocate() {
    let exec = &sample_events()[3];
    let mut bytes = encoded(exec);
    // timestamp (9), cpu, tgid (2), start (3), tid (2), ppid, comm (5), uid (2), kind, filename
    // (1): then argv's count.
    let count = 9 + 1 + 2 + 3 + 2 + 1 + 5 + 2 + 1 + 1;
    assert_eq!(bytes[count], 0);
    let tail = bytes.split_off(count + 1);
    bytes.truncate(count);
    bytes.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    bytes.put_slice(&tail);
    assert!(decode(&bytes, super::super::FORMAT_VERSION).is_err());
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
        prop_assert_eq!(decode(&encoded(&event), super::super::FORMAT_VERSION), Ok(event));
    }

    #[test]
    fn arbitrary_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&bytes, 1);
        let _ = decode(&bytes, super::super::FORMAT_VERSION);
    }

    #[test]
    fn mutated_payloads_never_panic(event in arb_event(), position in any::<usize>(), value in any::<u8>()) {
        let mut bytes = encoded(&event);
        let position = position % bytes.len();
        bytes[position] = value;
        let _ = decode(&bytes, super::super::FORMAT_VERSION);
    }
}

mod references;
