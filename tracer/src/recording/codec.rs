//! The binary encoding of one [`Event`] (a record's payload) and of the header body.
//!
//! The layout is specified in the module documentation of [`crate::recording`]. Since format
//! version 2 a payload is the postcard encoding of [`Event`], so the event model is the one
//! definition of what a record holds; since version 4 an exec or exit event's ancestor chain,
//! and since version 5 its cgroup path and container, follow it as references
//! ([`super::references`]). Older payloads are read by the frozen decoders [`super::v1`] and
//! [`super::v2`]. Decoding is strict: every byte must be used, tags and booleans must be known
//! values, and integers must fit their type. It never panics and never allocates more than the
//! input could describe.

use bytes::{BufMut, BytesMut};

use super::RecordingHeader;
use super::references::{self, Definitions, Known};
use crate::event::Event;

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
    #[error("not a valid event ({0})")]
    Postcard(String),
}

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

/// Appends the postcard encoding of `value`.
pub(super) fn append_postcard<T: serde::Serialize + ?Sized>(value: &T, out: &mut BytesMut) {
    // Serialising into memory fails only for types postcard cannot express (maps with
    // unknown length, say); events and chains hold none.
    postcard::serialize_with_flavor(value, Appending(out)).expect("an event always serialises");
}

/// postcard's output appended to a buffer a slice at a time (postcard's generic `to_extend`
/// pushes byte by byte, which was the largest single cost of recording a storm).
struct Appending<'a>(&'a mut BytesMut);

impl postcard::ser_flavors::Flavor for Appending<'_> {
    type Output = ();

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.put_u8(byte);
        Ok(())
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        // Every integer arrives as a slice of 1 to 10 varint bytes: a libc memcpy call for each
        // cost more than the copy (a fifth of tracer's time recording a thread storm).
        if bytes.len() <= 16 {
            for &byte in bytes {
                self.0.put_u8(byte);
            }
        } else {
            self.0.put_slice(bytes);
        }
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Decodes one payload of a file in format `version`; it must be exactly one encoded event.
/// Values it defines are kept in `known` for the records after it.
pub fn decode(payload: &[u8], version: u16, known: &mut Known) -> Result<Event, CodecError> {
    match version {
        1 => return super::v1::decode(payload),
        2 => return super::v2::decode(payload),
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

/// LEB128: 7 bits per byte, least significant group first, high bit set on all but the last byte.
pub(super) fn put_varint(out: &mut BytesMut, mut value: u64) {
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
pub(super) struct Input<'a>(pub(super) &'a [u8]);

impl<'a> Input<'a> {
    pub(super) fn u8(&mut self, what: &'static str) -> Result<u8, CodecError> {
        let (&byte, rest) = self.0.split_first().ok_or(CodecError::UnexpectedEnd(what))?;
        self.0 = rest;
        Ok(byte)
    }

    pub(super) fn bytes(&mut self, len: u64, what: &'static str) -> Result<&'a [u8], CodecError> {
        let len = usize::try_from(len).map_err(|_| CodecError::UnexpectedEnd(what))?;
        if len > self.0.len() {
            return Err(CodecError::UnexpectedEnd(what));
        }
        let (bytes, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(bytes)
    }

    pub(super) fn u64_le(&mut self, what: &'static str) -> Result<u64, CodecError> {
        let bytes = self.bytes(8, what)?;
        let array: [u8; 8] = bytes.try_into().map_err(|_| CodecError::UnexpectedEnd(what))?;
        Ok(u64::from_le_bytes(array))
    }

    pub(super) fn varint(&mut self, what: &'static str) -> Result<u64, CodecError> {
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

    pub(super) fn var_u32(&mut self, what: &'static str) -> Result<u32, CodecError> {
        u32::try_from(self.varint(what)?).map_err(|_| CodecError::Overflow(what))
    }

    pub(super) fn bool(&mut self, what: &'static str) -> Result<bool, CodecError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(CodecError::BadBool { what, value }),
        }
    }

    /// The presence byte of an `Option`.
    pub(super) fn option(&mut self, what: &'static str) -> Result<bool, CodecError> {
        self.bool(what)
    }

    pub(super) fn string(&mut self, what: &'static str) -> Result<String, CodecError> {
        let len = self.varint(what)?;
        let bytes = self.bytes(len, what)?;
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| CodecError::BadUtf8(what))
    }

    pub(super) fn finish(self) -> Result<(), CodecError> {
        match self.0.len() {
            0 => Ok(()),
            extra => Err(CodecError::TrailingBytes(extra)),
        }
    }
}

#[cfg(test)]
pub(super) mod tests;
