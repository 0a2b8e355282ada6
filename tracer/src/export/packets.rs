//! The packets of a Perfetto trace as they are gathered and written: track descriptors first,
//! then track events in time order, each packet on one trusted sequence; and the debug
//! annotations events carry, their strings escaped as every printer escapes them (they are
//! shown in the Perfetto UI's argument panel).
use std::io::{self, Write};

use super::proto::{
    AnnotationValue, BUILTIN_CLOCK_BOOTTIME, BUILTIN_CLOCK_REALTIME, Clock, ClockSnapshot, DebugAnnotation,
    SEQ_INCREMENTAL_STATE_CLEARED, TracePacket, TrackDescriptor, TrackEvent,
};
use crate::text::escape;

/// The one packet sequence this writer uses.
const SEQUENCE: u32 = 1;

/// Packets gathered before writing: descriptors first, then events in time order.
pub struct Packets {
    boot_to_wall_ns: u64,
    head: Vec<TracePacket>,
    /// (boot-time ns, order at that time, event).
    events: Vec<(u64, u8, TrackEvent)>,
}

/// Order of events at the same instant: images end before the next one begins, a life begins
/// before what happens in it, which comes before its end.
pub const ENDS_IMAGE: u8 = 0;
pub const BEGINS: u8 = 1;
pub const INSTANT: u8 = 2;
pub const ENDS: u8 = 3;

impl Packets {
    pub fn new(boot_to_wall_ns: u64) -> Self {
        Self { boot_to_wall_ns, head: Vec::new(), events: Vec::new() }
    }

    /// The recording's wall-clock ns as the kernel's boot-time ns.
    fn boot_ns(&self, wall_ns: u64) -> u64 {
        wall_ns.saturating_sub(self.boot_to_wall_ns)
    }

    pub fn clock_snapshot(&mut self, wall_ns: u64) {
        let clocks = vec![
            Clock { clock_id: Some(BUILTIN_CLOCK_BOOTTIME), timestamp: Some(self.boot_ns(wall_ns)) },
            Clock { clock_id: Some(BUILTIN_CLOCK_REALTIME), timestamp: Some(wall_ns) },
        ];
        self.head.push(TracePacket {
            timestamp: Some(self.boot_ns(wall_ns)),
            trusted_packet_sequence_id: Some(SEQUENCE),
            sequence_flags: Some(SEQ_INCREMENTAL_STATE_CLEARED),
            clock_snapshot: Some(ClockSnapshot { clocks, primary_trace_clock: Some(BUILTIN_CLOCK_BOOTTIME as i32) }),
            ..TracePacket::default()
        });
    }

    pub fn descriptor(&mut self, wall_ns: u64, descriptor: TrackDescriptor) {
        self.head.push(TracePacket {
            timestamp: Some(self.boot_ns(wall_ns)),
            trusted_packet_sequence_id: Some(SEQUENCE),
            track_descriptor: Some(descriptor),
            ..TracePacket::default()
        });
    }

    pub fn event(&mut self, wall_ns: u64, order: u8, event: TrackEvent) {
        self.events.push((self.boot_ns(wall_ns), order, event));
    }

    pub fn write(mut self, out: &mut dyn Write) -> io::Result<usize> {
        // Stable: events of one instant and order keep the order they were made in.
        self.events.sort_by_key(|(ns, order, _)| (*ns, *order));
        let events = self.events.into_iter().map(|(ns, _, event)| TracePacket {
            timestamp: Some(ns),
            trusted_packet_sequence_id: Some(SEQUENCE),
            track_event: Some(event),
            ..TracePacket::default()
        });
        let mut count = 0;
        let mut buf = Vec::with_capacity(512);
        for packet in self.head.into_iter().chain(events) {
            // Each packet as field 1 of `Trace`: the file is a `Trace` message written in parts.
            buf.clear();
            prost::encoding::message::encode(1, &packet, &mut buf);
            out.write_all(&buf)?;
            count += 1;
        }
        out.flush()?;
        Ok(count)
    }
}

pub fn annotation(name: &str, value: AnnotationValue) -> DebugAnnotation {
    DebugAnnotation { name: Some(name.into()), value: Some(value), array_values: Vec::new() }
}

pub fn text(name: &str, value: &str) -> DebugAnnotation {
    annotation(name, AnnotationValue::String(escape(value).into_owned()))
}

pub fn uint(name: &str, value: impl Into<u64>) -> DebugAnnotation {
    annotation(name, AnnotationValue::Uint(value.into()))
}

pub fn flag(name: &str, value: bool) -> DebugAnnotation {
    annotation(name, AnnotationValue::Bool(value))
}

pub fn strings(name: &str, values: &[String]) -> DebugAnnotation {
    let array_values = values
        .iter()
        .map(|value| DebugAnnotation {
            name: None,
            value: Some(AnnotationValue::String(escape(value).into_owned())),
            array_values: Vec::new(),
        })
        .collect();
    DebugAnnotation { name: Some(name.into()), value: None, array_values }
}
