//! Tests of the event model: wait statuses, names, the wire table, JSON timestamps.
use strum::VariantArray;
use tracer_common::{EventKind, HookSource};

use super::*;

#[test]
fn exit_status_decodes_codes_signals_and_cores() {
    assert_eq!(exit_status::code(3 << 8), Some(3));
    assert_eq!(exit_status::signal(3 << 8), None);
    assert_eq!(exit_status::code(9), None);
    assert_eq!(exit_status::signal(9), Some(9));
    assert!(!exit_status::core_dumped(9));
    assert!(exit_status::core_dumped(0x80 | 11));
    assert_eq!(exit_status::signal(0x80 | 11), Some(11));
    assert_eq!(
        Detail::exit(0x80 | 11, true, 5),
        Detail::Exit {
            exit_code: None,
            signal: Some(Signal(11)),
            core_dumped: true,
            group_dead: true,
            lifetime_ns: 5,
            ancestors: Ancestors::default(),
            ancestors_truncated: false,
        }
    );
}

#[test]
fn names_round_trip() {
    for kind in Kind::VARIANTS {
        assert_eq!(Kind::from_name(kind.name()), Some(*kind));
    }
    for source in Source::VARIANTS {
        assert_eq!(Source::from_name(source.name()), Some(*source));
    }
    assert_eq!(
        Kind::selectable().map(Kind::name).collect::<Vec<_>>(),
        ["fork", "exec", "exit", "rename", "lookup", "namespace"]
    );
}

/// Userspace's kinds and sources are the kernel's, plus tracer's own: same names both sides,
/// and each wire value maps back to itself.
#[test]
fn kinds_and_sources_are_the_wire_table() {
    for kind in EventKind::ALL {
        assert_eq!(Kind::from(kind).name(), kind.name());
        assert_eq!(Kind::from(kind).wire(), Some(kind));
    }
    assert_eq!(Kind::selectable().filter_map(Kind::wire).collect::<Vec<_>>(), EventKind::ALL);
    for source in HookSource::ALL {
        assert_eq!(Source::from(source).name(), source.name());
        assert_eq!(Source::from(source).wire(), Some(source));
    }
    assert_eq!(Source::VARIANTS.iter().filter(|source| source.wire().is_none()).count(), 1);
}

#[test]
fn timestamps_are_rfc3339_in_json_and_round_trip() {
    let event = test_event(1, 1, "x", Detail::Lost { count: 1, origin: LostOrigin::RingBuffer });
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["ts"], "1970-01-01T01:02:03.000456789Z");
    assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
}
