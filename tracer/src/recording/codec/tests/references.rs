//! Tests of what a recording writes once per stretch and then refers to (ancestor chains,
//! cgroup paths), and of the older formats that carried them inside each event.
use super::*;

/// An exit of thread `tid` whose chain is `chain`.
fn exit_with(tid: u32, chain: &Ancestors) -> Event {
    let mut event = crate::event::test_event(4242, tid, "worker", Detail::exit(0, false, 7));
    if let Detail::Exit { ancestors, .. } = &mut event.detail {
        *ancestors = chain.clone();
    }
    event
}

fn chain_of(tgids: &[u32]) -> Ancestors {
    tgids
        .iter()
        .map(|&tgid| crate::event::Ancestor {
            tgid,
            start_ns: Some(u64::from(tgid) * 1_000_000),
            comm: format!("p{tgid}").into(),
            exe: Some(format!("/usr/libexec/program-{tgid}").into()),
        })
        .collect()
}

/// The size of `event` encoded after a record that defined its values.
fn referring_size(event: &Event) -> usize {
    let mut writer = Definitions::default();
    let mut out = BytesMut::new();
    encode(&mut event.clone(), &mut writer, &mut out);
    out.clear();
    encode(&mut event.clone(), &mut writer, &mut out);
    out.len()
}

/// Encodes `events` as records of one stretch, then decodes them in order.
fn through_one_stretch(events: &[Event], writer: &mut Definitions) -> (Vec<usize>, Vec<Event>) {
    let mut reader = Known::default();
    let mut sizes = Vec::new();
    let mut decoded = Vec::new();
    for event in events {
        let mut out = BytesMut::new();
        encode(&mut event.clone(), writer, &mut out);
        sizes.push(out.len());
        decoded.push(super::super::decode(&out, crate::recording::FORMAT_VERSION, &mut reader).expect("decodes"));
    }
    (sizes, decoded)
}

#[test]
fn a_chain_is_written_once_and_referred_to_after() {
    let (a, b) = (chain_of(&[900, 812, 700, 1]), chain_of(&[901, 1]));
    // The third exit's chain is equal to the first's but built apart.
    let events = [exit_with(1, &a), exit_with(2, &a), exit_with(3, &chain_of(&[900, 812, 700, 1])), exit_with(4, &b)];
    let mut writer = Definitions::default();
    let (sizes, decoded) = through_one_stretch(&events, &mut writer);
    assert_eq!(decoded, events);
    let bare = referring_size(&exit_with(1, &Ancestors::default()));
    // A definition (tag, number, the chain), then references of 1 byte.
    assert!(sizes[0] > bare + 100, "{sizes:?}");
    assert_eq!(&sizes[1..3], [bare, bare]);
    assert!(sizes[3] > bare + 40, "{sizes:?}");
    // After the writer forgets, the chain is defined again.
    writer.forget();
    let (sizes, decoded) = through_one_stretch(&events[..2], &mut writer);
    assert_eq!(decoded, events[..2]);
    assert!(sizes[0] > bare + 100 && sizes[1] == bare, "{sizes:?}");
}

#[test]
fn a_reference_to_a_chain_never_read_gives_no_ancestors() {
    let a = chain_of(&[900, 1]);
    let mut writer = Definitions::default();
    let mut first = BytesMut::new();
    encode(&mut exit_with(1, &a), &mut writer, &mut first);
    let mut second = BytesMut::new();
    encode(&mut exit_with(2, &a), &mut writer, &mut second);
    // The record that defined the chain and the cgroup was lost.
    let decoded = decode(&second, crate::recording::FORMAT_VERSION).expect("decodes");
    assert_eq!(decoded, exit_with(2, &Ancestors::default()).with_cgroup(None, None));
}

#[test]
fn chain_definitions_are_strict() {
    let mut writer = Definitions::default();
    let mut first = BytesMut::new();
    encode(&mut exit_with(1, &chain_of(&[900, 1])), &mut writer, &mut first);
    let mut reader = Known::default();
    super::super::decode(&first, crate::recording::FORMAT_VERSION, &mut reader).expect("decodes");
    // The same number defined again.
    assert!(matches!(
        super::super::decode(&first, crate::recording::FORMAT_VERSION, &mut reader),
        Err(CodecError::Postcard(reason)) if reason.contains("defined after")
    ));
    // A chain inside the event itself, as format 3 wrote it; its ancestors have no start.
    let unstarted: Ancestors =
        chain_of(&[900, 1]).iter().map(|ancestor| Ancestor { start_ns: None, ..ancestor.clone() }).collect();
    let exit = Event { start_ns: None, ..exit_with(1, &unstarted) };
    let old = exit_as_format_3(&exit);
    assert!(decode(&old, crate::recording::FORMAT_VERSION).is_err());
    assert_eq!(decode(&old, 3), Ok(exit));
}

#[test]
fn cgroup_references_are_strict() {
    let samples = sample_events();
    // Not a fork: format 4 encoded fork's clone flags otherwise than today.
    let placed = samples
        .iter()
        .find(|event| event.place.container.is_some() && matches!(event.detail, Detail::Namespace { .. }))
        .expect("a sample in a container");
    let mut writer = Definitions::default();
    let mut first = BytesMut::new();
    encode(&mut placed.clone(), &mut writer, &mut first);
    let mut reader = Known::default();
    assert_eq!(super::super::decode(&first, crate::recording::FORMAT_VERSION, &mut reader).as_ref(), Ok(placed));
    // The same number defined again.
    assert!(matches!(
        super::super::decode(&first, crate::recording::FORMAT_VERSION, &mut reader),
        Err(CodecError::Postcard(reason)) if reason == "cgroup 0 defined after a later one"
    ));
    // A cgroup path inside the event itself, as format 4 wrote it.
    let placed = Event { start_ns: None, ..placed.clone() };
    let old = as_format_5(&placed);
    assert!(decode(&old, 4).is_ok());
    let mut now = BytesMut::new();
    append_postcard(&placed, &mut now);
    assert!(matches!(
        decode(&now, crate::recording::FORMAT_VERSION),
        Err(CodecError::Postcard(reason)) if reason == "a cgroup path inside the event"
    ));
    assert_eq!(decode(&old, 4), Ok(placed));
}

/// `event` as postcard encoded it in formats 3 to 5, its references inside it: today's
/// encoding without the process start, which came after `tgid` (only for events without one,
/// and for kinds other than fork, whose clone flags changed too).
fn as_format_5(event: &Event) -> BytesMut {
    assert!(event.start_ns.is_none());
    assert!(!matches!(event.detail, Detail::Fork { .. } | Detail::Exec { .. } | Detail::Exit { .. }));
    let mut bytes = BytesMut::new();
    append_postcard(event, &mut bytes);
    let start = postcard::to_allocvec(&(event.timestamp_ns, event.cpu, event.tgid)).unwrap().len();
    assert_eq!(bytes[start], 0, "an absent start time");
    let tail = bytes.split_off(start + 1);
    bytes.truncate(start);
    bytes.unsplit(tail);
    bytes
}

/// An exit as format 3 encoded it: its chain inside it, ancestors without start times, no
/// process start.
fn exit_as_format_3(event: &Event) -> BytesMut {
    #[derive(serde::Serialize)]
    struct AncestorV5<'a> {
        tgid: u32,
        comm: &'a Text,
        exe: &'a Option<Text>,
    }
    #[derive(serde::Serialize)]
    enum DetailV5<'a> {
        Fork,
        Exec,
        Exit {
            exit_code: Option<u32>,
            signal: Option<crate::event::Signal>,
            core_dumped: bool,
            group_dead: bool,
            lifetime_ns: u64,
            ancestors: Vec<AncestorV5<'a>>,
        },
    }
    let Detail::Exit { exit_code, signal, core_dumped, group_dead, lifetime_ns, ancestors, .. } = &event.detail else {
        panic!("not an exit: {event:?}")
    };
    let ancestors = ancestors
        .iter()
        .map(|ancestor| AncestorV5 { tgid: ancestor.tgid, comm: &ancestor.comm, exe: &ancestor.exe })
        .collect();
    let detail = DetailV5::Exit {
        exit_code: *exit_code,
        signal: *signal,
        core_dumped: *core_dumped,
        group_dead: *group_dead,
        lifetime_ns: *lifetime_ns,
        ancestors,
    };
    let _ = (DetailV5::Fork, DetailV5::Exec);
    let mut bytes = BytesMut::new();
    let fields = (event.timestamp_ns, event.cpu, event.tgid, event.tid, event.ppid, &event.comm, event.uid);
    append_postcard(&(fields, detail, event.source, &event.place), &mut bytes);
    bytes
}
