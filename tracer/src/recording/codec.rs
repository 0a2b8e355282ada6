//! The binary encoding of one [`Event`] (a record's payload) and of the header body.
//!
//! The layout is specified in the module documentation of [`crate::recording`]. Since format
//! version 2 a payload is the postcard encoding of [`Event`], so the event model is the one
//! definition of what a record holds; since version 4 an exec or exit event's ancestor chain
//! (since version 8 a fork event's too), and since version 5 its cgroup path and container,
//! follow it as references ([`super::references`]). Older payloads are read by the frozen
//! decoders [`super::v1`], [`super::v2`], [`super::v5`] (formats 3 to 5), [`super::v6`] (format
//! 6, whose ancestors have no start time) and [`super::v7`] (format 7, whose forks have no
//! ancestors). Decoding is strict: every byte must be used, tags and booleans must be known
//! values, and integers must fit their type. It never panics and never allocates more than the
//! input could describe.

use bytes::{BufMut, BytesMut};

use super::RecordingHeader;
use super::references::{self, Definitions, Known};
pub use super::wire::CodecError;
use super::wire::{Input, append_postcard, put_varint};
use crate::event::Event;

/// Appends the payload encoding of `event` ([`super::FORMAT_VERSION`]) to `out`: postcard,
/// then the references to its ancestor chain and its cgroup, defined through `definitions`.
/// Those values are taken out of the event while it is encoded, and put back.
pub fn encode(event: &mut Event, definitions: &mut Definitions, out: &mut BytesMut) {
    // Most events fit: the small copies below then never grow the buffer.
    out.reserve(512);
    let values = references::take_out(event);
    append_postcard(&*event, out);
    definitions.put(&values, out);
    references::put_back(event, values);
}

pub fn decode(payload: &[u8], version: u16, known: &mut Known) -> Result<Event, CodecError> {
    match version {
        1 => return super::v1::decode(payload),
        2 => return super::v2::decode(payload),
        3..=5 => return super::v5::decode(payload, version, known),
        6 => return super::v6::decode(payload, known),
        7 => return super::v7::decode(payload, known),
        _ => {}
    }
    let (mut event, rest) =
        postcard::take_from_bytes::<Event>(payload).map_err(|error| CodecError::Postcard(error.to_string()))?;
    let mut input = Input(rest);
    let pending = known.take(&mut event, version, &mut input)?;
    input.finish()?;
    known.keep(pending);
    Ok(event)
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

fn put_str(out: &mut BytesMut, s: &str) {
    put_varint(out, s.len() as u64);
    out.put_slice(s.as_bytes());
}

#[cfg(test)]
pub(super) mod tests;
