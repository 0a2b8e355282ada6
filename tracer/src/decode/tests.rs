//! Tests of decoding kernel records into events.
use super::*;
use tracer_common::AncestorRecord;

fn bytes_of<T: Record>(record: &T) -> Vec<u8> {
    // SAFETY: `Record` types are plain data without padding bytes left uninitialised here
    // (every test record is built field by field from zeroed values).
    unsafe { std::slice::from_raw_parts((record as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
}

fn header(kind: EventKind) -> EventHeader {
    let mut comm = [0u8; COMM_LEN];
    comm[..4].copy_from_slice(b"bash");
    EventHeader {
        kind: kind as u32,
        source: HookSource::TpBtf as u32,
        timestamp_ns: 10,
        tgid: 812,
        tid: 815,
        ppid: 1,
        cpu: 1,
        comm,
        uid: 1000,
        ns_tgid: 3,
        ns_tid: 4,
        pidns: 4026532500,
        cgroup_id: 7150,
        start_ns: 5,
    }
}

const CLOCK: Clock = Clock { boot_to_wall_ns: 1_000 };

#[test]
fn decodes_a_thread_fork() {
    let record = ForkEvent {
        header: header(EventKind::Fork),
        child_tgid: 812,
        child_tid: 816,
        clone_flags: 0x0001_0900,
        flags: fork_flags::CLONE_FLAGS_KNOWN | fork_flags::EXIT_SIGNAL_KNOWN,
        exit_signal: -1i32 as u32,
        child_ns_tgid: 3,
        child_ns_tid: 5,
        ns_compared: 0,
        _pad2: 0,
        parent_ns: [0; tracer_common::namespace::KINDS],
        child_ns: [0; tracer_common::namespace::KINDS],
        child_start_ns: 5,
        ancestors: AncestorChain { flags: ancestor_flags::TRUNCATED, ..chain(2, 2) },
    };
    let event = decode(&bytes_of(&record), &CLOCK).unwrap();
    assert_eq!(event.timestamp_ns, 1_010);
    assert_eq!((event.tgid, event.tid, event.ppid, event.cpu), (812, 815, 1, 1));
    assert_eq!(event.start_ns, Some(5), "on the timestamps' clock, without the wall-clock base");
    assert_eq!(event.comm, "bash");
    assert_eq!((event.place.ns_tgid, event.place.ns_tid, event.place.pidns), (Some(3), Some(4), Some(4026532500)));
    assert_eq!(
        (event.place.cgroup_id, event.place.cgroup.clone(), event.place.container.clone()),
        (Some(7150), None, None)
    );
    assert_eq!(
        event.detail,
        Detail::Fork {
            child_tgid: 812,
            child_tid: 816,
            thread: true,
            clone_flags: Some(CloneFlags::flags(0x0001_0900)),
            child_ns_tgid: Some(3),
            child_ns_tid: Some(5),
            child_namespaces: NamespaceInodes::default(),
            child_start_ns: Some(5),
            ancestors: vec![
                Ancestor { tgid: 100, start_ns: Some(1_000_000_000), comm: "p0".into(), exe: None },
                Ancestor { tgid: 99, start_ns: Some(2_000_000_000), comm: "p1".into(), exe: None },
            ]
            .into(),
            ancestors_truncated: true,
        }
    );
}

#[test]
fn decodes_namespace_changes_and_a_clones_new_namespaces() {
    use tracer_common::namespace::{KINDS, kind};
    let mut old = [11; KINDS];
    let mut new = old;
    old[kind::NET] = 4026531840;
    new[kind::NET] = 4026532451;
    new[kind::UTS] = 4026532452;
    let record = NamespaceEvent { header: header(EventKind::Namespace), how: 1, _pad: 0, old, new };
    let event = decode(&bytes_of(&record), &CLOCK).unwrap();
    let inodes = |pairs: &[(NamespaceKind, u32)]| NamespaceInodes(pairs.iter().copied().collect());
    assert_eq!(
        event.detail,
        Detail::Namespace {
            how: NamespaceHow::Setns,
            changed: vec![NamespaceKind::Net, NamespaceKind::Uts],
            old: inodes(&[(NamespaceKind::Net, 4026531840), (NamespaceKind::Uts, 11)]),
            new: inodes(&[(NamespaceKind::Net, 4026532451), (NamespaceKind::Uts, 4026532452)]),
        }
    );
    let bad = NamespaceEvent { how: 9, ..record };
    assert_eq!(decode(&bytes_of(&bad), &CLOCK), Err(DecodeError::UnknownHow(9)));

    let mut fork = ForkEvent {
        header: header(EventKind::Fork),
        child_tgid: 900,
        child_tid: 900,
        clone_flags: 0,
        flags: 0,
        exit_signal: 0,
        child_ns_tgid: 1,
        child_ns_tid: 1,
        ns_compared: 1,
        _pad2: 0,
        parent_ns: [5; KINDS],
        child_ns: [5; KINDS],
        child_start_ns: 0,
        ancestors: chain(0, 0),
    };
    fork.child_ns[kind::PID] = 4026532600;
    let Detail::Fork { child_namespaces, child_ns_tgid, .. } = decode(&bytes_of(&fork), &CLOCK).unwrap().detail else {
        panic!("a fork")
    };
    assert_eq!((child_namespaces, child_ns_tgid), (inodes(&[(NamespaceKind::Pid, 4026532600)]), Some(1)));
}

/// A kernel chain of `count` ancestors (TGIDs 100, 99, …, started at 1 s, 2 s, …), its count
/// field saying `claimed` when that is larger.
fn chain(count: usize, claimed: u32) -> AncestorChain {
    let mut chain = AncestorChain {
        count: claimed.max(count as u32),
        flags: 0,
        ancestors: [AncestorRecord { tgid: 0, _pad: 0, start_ns: 0, comm: [0xaa; COMM_LEN] }; ANCESTOR_DEPTH],
    };
    for (level, ancestor) in chain.ancestors.iter_mut().enumerate().take(count) {
        let name = format!("p{level}");
        ancestor.comm = [0; COMM_LEN];
        ancestor.comm[..name.len()].copy_from_slice(name.as_bytes());
        ancestor.tgid = 100 - level as u32;
        ancestor.start_ns = (level as u64 + 1) * 1_000_000_000;
    }
    chain
}

#[test]
fn decodes_the_kernels_ancestors_and_bounds_their_count() {
    let exit =
        |chain| ExitEvent { header: header(EventKind::Exit), exit_code: 0, flags: 0, lifetime_ns: 1, ancestors: chain };
    let decoded = |chain| match decode(&bytes_of(&exit(chain)), &CLOCK).unwrap().detail {
        Detail::Exit { ancestors, ancestors_truncated, .. } => (ancestors.to_vec(), ancestors_truncated),
        other => panic!("not an exit: {other:?}"),
    };
    let (two, cut) = decoded(chain(2, 0));
    assert_eq!(
        two,
        [
            Ancestor { tgid: 100, start_ns: Some(1_000_000_000), comm: "p0".into(), exe: None },
            Ancestor { tgid: 99, start_ns: Some(2_000_000_000), comm: "p1".into(), exe: None },
        ]
    );
    assert!(!cut);
    let mut full = chain(ANCESTOR_DEPTH, u32::MAX);
    full.flags = ancestor_flags::TRUNCATED;
    full.ancestors[3].start_ns = 0;
    let (all, cut) = decoded(full);
    assert_eq!(all.len(), ANCESTOR_DEPTH, "a count past the array is not trusted");
    assert_eq!(all[3].start_ns, None, "an unreadable start is unknown, not 0");
    assert!(cut);
}

#[test]
fn events_with_one_chain_share_it_and_a_changed_chain_is_decoded_anew() {
    let decoded = |chain| {
        let exit =
            ExitEvent { header: header(EventKind::Exit), exit_code: 0, flags: 0, lifetime_ns: 1, ancestors: chain };
        match decode(&bytes_of(&exit), &CLOCK).unwrap().detail {
            Detail::Exit { ancestors, ancestors_truncated, .. } => (ancestors, ancestors_truncated),
            other => panic!("not an exit: {other:?}"),
        }
    };
    let (first, _) = decoded(chain(3, 0));
    let (again, cut) = decoded(AncestorChain { flags: ancestor_flags::TRUNCATED, ..chain(3, 0) });
    assert!(std::sync::Arc::ptr_eq(&first, &again), "one chain, shared");
    assert!(cut, "the flag is the record's own");
    let mut renamed = chain(3, 0);
    renamed.ancestors[2].comm[0] = b'q';
    let (other, _) = decoded(renamed);
    assert_eq!(other[2].comm, "q2");
    assert_eq!(other[..2], first[..2]);
    let (shorter, _) = decoded(chain(2, 0));
    assert_eq!(shorter.len(), 2);
}

/// An exec record with `data`: file name, arguments, environment, working directory.
fn exec_record(flags: u32, data: &[&[u8]; 4]) -> Vec<u8> {
    let record = ExecEvent {
        header: header(EventKind::Exec),
        old_tid: 816,
        flags,
        filename_len: data[0].len() as u32,
        argv_len: data[1].len() as u32,
        argv_total: 99,
        env_len: data[2].len() as u32,
        env_total: data[2].len() as u32,
        cwd_len: data[3].len() as u32,
        euid: 0,
        gid: 100,
        egid: 100,
        _pad: 0,
        old_comm: *b"sh\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
        ancestors: chain(2, 0),
    };
    let mut bytes = bytes_of(&record);
    for part in [data[3], data[0], data[1], data[2]] {
        bytes.extend_from_slice(part);
    }
    bytes
}

#[test]
fn decodes_exec_data_and_bounds_lengths() {
    let flags = exec_flags::ARGV_TRUNCATED | exec_flags::ENV_READ | exec_flags::OLD_COMM_KNOWN;
    let bytes = exec_record(flags, &[b"/bin/cat", b"cat\0/proc/815/comm\0", b"A=1\0B=2\0", b"tmp\0home\0"]);
    let event = decode(&bytes, &CLOCK).unwrap();
    let uid = event.uid;
    let Detail::Exec { filename, argv, argv_truncated, argv_bytes, env, old_comm, euid, cwd, .. } = event.detail else {
        panic!("not an exec")
    };
    assert_eq!(filename, "/bin/cat");
    assert_eq!(argv, [Text::from("cat"), Text::from("/proc/815/comm")]);
    assert_eq!((argv_truncated, argv_bytes), (true, 99));
    assert_eq!(env, Some(vec![Text::from("A=1"), Text::from("B=2")]));
    assert_eq!(old_comm, Some(Text::from("sh")));
    assert_eq!((uid, euid), (1000, 0));
    assert_eq!(cwd, Some(Text::from("/home/tmp")));
    // Lengths beyond the record are clamped, not trusted.
    let mut cut = bytes.clone();
    cut.truncate(bytes.len() - 12);
    assert!(decode(&cut, &CLOCK).is_ok());
}

#[test]
fn working_directories_from_innermost_components() {
    assert_eq!(path_of(b"", false), "/");
    assert_eq!(path_of(b"c\0b\0a\0", false), "/a/b/c");
    assert_eq!(path_of(b"c\0b\0", true), "…/b/c");
    let unknown = exec_record(exec_flags::CWD_UNKNOWN, &[b"/x", b"", b"", b""]);
    let Detail::Exec { cwd, env, old_comm, .. } = decode(&unknown, &CLOCK).unwrap().detail else { panic!() };
    assert_eq!((cwd, env, old_comm), (None, None, None));
}

#[test]
fn env_filter_keeps_named_variables() {
    let bytes = exec_record(exec_flags::ENV_READ, &[b"/x", b"", b"HOME=/root\0PATH=/bin\0HOMEX=1\0", b""]);
    let mut event = decode(&bytes, &CLOCK).unwrap();
    keep_env(&mut event, &["HOME".to_owned()].into());
    let Detail::Exec { env, .. } = event.detail else { panic!() };
    assert_eq!(env, Some(vec![Text::from("HOME=/root")]));
}

#[test]
fn rejects_short_and_unknown_records() {
    let record = ExitEvent {
        header: header(EventKind::Exit),
        exit_code: 768,
        flags: exit_flags::GROUP_DEAD,
        lifetime_ns: 5,
        ancestors: chain(0, 0),
    };
    let bytes = bytes_of(&record);
    for len in 0..bytes.len() {
        assert!(decode(&bytes[..len], &CLOCK).is_err(), "{len} bytes decoded");
    }
    assert_eq!(decode(&bytes, &CLOCK).unwrap().detail, Detail::exit(768, true, 5));
    let unknown = bytes_of(&EventHeader { kind: 99, ..header(EventKind::Fork) });
    assert_eq!(decode(&unknown, &CLOCK), Err(DecodeError::UnknownKind(99)));
}

#[test]
fn splits_arguments() {
    assert_eq!(arguments(b""), Vec::<Text>::new());
    assert_eq!(arguments(b"a\0\0b\0"), [Text::from("a"), Text::from(""), Text::from("b")]);
    assert_eq!(arguments(b"cut\xff"), [Text::new(b"cut\xff".to_vec())]);
}

#[test]
fn every_comm_decodes_to_its_own_name_whatever_the_cache_holds() {
    // Many more names than cache slots, each twice in a row and again later, with and without
    // bytes after the NUL, so that names share slots and replace each other.
    let names: Vec<[u8; COMM_LEN]> = (0..200u32)
        .map(|i| {
            let mut comm = [0u8; COMM_LEN];
            let name = format!("w{i}");
            comm[..name.len()].copy_from_slice(name.as_bytes());
            if i % 3 == 0 {
                comm[COMM_LEN - 1] = 0x41;
            }
            comm
        })
        .collect();
    for comm in names.iter().chain(&names).chain(names.iter().rev()) {
        let mut record = header(EventKind::Exit);
        record.comm = *comm;
        let exit = ExitEvent { header: record, exit_code: 0, flags: 0, lifetime_ns: 1, ancestors: chain(0, 0) };
        let event = decode(&bytes_of(&exit), &CLOCK).unwrap();
        assert_eq!(event.comm, Text::from_c(comm));
    }
    // All zero bytes, what every empty slot holds, decode to the empty name.
    let mut record = header(EventKind::Exit);
    record.comm = [0; COMM_LEN];
    let exit = ExitEvent { header: record, exit_code: 0, flags: 0, lifetime_ns: 1, ancestors: chain(0, 0) };
    assert_eq!(decode(&bytes_of(&exit), &CLOCK).unwrap().comm, Text::default());
}

proptest::proptest! {
    /// The split finds every NUL wherever it lies: against the plain definition (the block
    /// without its final NUL, split at each NUL; nothing for an empty block).
    #[test]
    fn arguments_split_at_every_nul(
        block in proptest::collection::vec(proptest::prop_oneof![proptest::strategy::Just(0u8), proptest::num::u8::ANY], 0..600)
    ) {
        let trimmed = block.strip_suffix(&[0]).unwrap_or(&block);
        let expected: Vec<Text> =
            if trimmed.is_empty() { Vec::new() } else { trimmed.split(|&byte| byte == 0).map(Text::from).collect() };
        proptest::prop_assert_eq!(arguments(&block), expected);
    }
}
