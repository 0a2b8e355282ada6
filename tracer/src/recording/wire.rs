//! The primitives every payload encoding shares (the current codec, the references it writes,
//! and the frozen decoders of older formats): LEB128 integers, postcard appended to a buffer,
//! and a strict reader of the unread rest of a payload with its errors.
use bytes::{BufMut, BytesMut};

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

/// Appends the postcard encoding of `value`.
pub(in crate::recording) fn append_postcard<T: serde::Serialize + ?Sized>(value: &T, out: &mut BytesMut) {
    // Most values fit the room the buffer has: written there through a cursor, each byte costs
    // a bounds check, where growing the buffer byte by byte checked its capacity through it.
    let room = out.spare_capacity_mut();
    if let Ok(written) = postcard::serialize_with_flavor(value, Room { room, written: 0 }) {
        // SAFETY: the first `written` bytes of the spare capacity were just written.
        unsafe { out.set_len(out.len() + written) };
        return;
    }
    // Serialising into memory fails only for types postcard cannot express (maps with
    // unknown length, say); events and chains hold none.
    postcard::serialize_with_flavor(value, Appending(out)).expect("an event always serialises");
}

/// postcard's output written into room already allocated; fails once it is full.
struct Room<'a> {
    room: &'a mut [std::mem::MaybeUninit<u8>],
    written: usize,
}

impl postcard::ser_flavors::Flavor for Room<'_> {
    type Output = usize;

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        let slot = self.room.get_mut(self.written).ok_or(postcard::Error::SerializeBufferFull)?;
        slot.write(byte);
        self.written += 1;
        Ok(())
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        // As in `Appending`: a memcpy call for a varint's few bytes cost more than the copy. A
        // check per byte also keeps the compiler from making the loop a memcpy call again.
        if bytes.len() <= 16 {
            for &byte in bytes {
                self.try_push(byte)?;
            }
            return Ok(());
        }
        let end = self.written + bytes.len();
        let slots = self.room.get_mut(self.written..end).ok_or(postcard::Error::SerializeBufferFull)?;
        slots.write_copy_of_slice(bytes);
        self.written = end;
        Ok(())
    }

    fn finalize(self) -> postcard::Result<usize> {
        Ok(self.written)
    }
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
/// LEB128: 7 bits per byte, least significant group first, high bit set on all but the last byte.
pub(in crate::recording) fn put_varint(out: &mut BytesMut, mut value: u64) {
    while value >= 0x80 {
        out.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    out.put_u8(value as u8);
}

/// The unread rest of a payload.
pub(in crate::recording) struct Input<'a>(pub(in crate::recording) &'a [u8]);

impl<'a> Input<'a> {
    pub(in crate::recording) fn u8(&mut self, what: &'static str) -> Result<u8, CodecError> {
        let (&byte, rest) = self.0.split_first().ok_or(CodecError::UnexpectedEnd(what))?;
        self.0 = rest;
        Ok(byte)
    }

    pub(in crate::recording) fn bytes(&mut self, len: u64, what: &'static str) -> Result<&'a [u8], CodecError> {
        let len = usize::try_from(len).map_err(|_| CodecError::UnexpectedEnd(what))?;
        if len > self.0.len() {
            return Err(CodecError::UnexpectedEnd(what));
        }
        let (bytes, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(bytes)
    }

    pub(in crate::recording) fn u64_le(&mut self, what: &'static str) -> Result<u64, CodecError> {
        let bytes = self.bytes(8, what)?;
        let array: [u8; 8] = bytes.try_into().map_err(|_| CodecError::UnexpectedEnd(what))?;
        Ok(u64::from_le_bytes(array))
    }

    pub(in crate::recording) fn varint(&mut self, what: &'static str) -> Result<u64, CodecError> {
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

    pub(in crate::recording) fn var_u32(&mut self, what: &'static str) -> Result<u32, CodecError> {
        u32::try_from(self.varint(what)?).map_err(|_| CodecError::Overflow(what))
    }

    pub(in crate::recording) fn bool(&mut self, what: &'static str) -> Result<bool, CodecError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(CodecError::BadBool { what, value }),
        }
    }

    /// The presence byte of an `Option`.
    pub(in crate::recording) fn option(&mut self, what: &'static str) -> Result<bool, CodecError> {
        self.bool(what)
    }

    pub(in crate::recording) fn string(&mut self, what: &'static str) -> Result<String, CodecError> {
        let len = self.varint(what)?;
        let bytes = self.bytes(len, what)?;
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| CodecError::BadUtf8(what))
    }

    pub(in crate::recording) fn finish(self) -> Result<(), CodecError> {
        match self.0.len() {
            0 => Ok(()),
            extra => Err(CodecError::TrailingBytes(extra)),
        }
    }
}
