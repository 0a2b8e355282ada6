//! Ancestor chains in recordings (format 4): a chain is written out once per stretch of the file
//! and referred to by number after that, since a storm's exits all carry the same chain.
//!
//! After the postcard encoding of an exec or exit event (whose chain is encoded empty there)
//! comes a varint *chain reference*:
//!
//! - 0: the event has no ancestors;
//! - 1: a definition: a varint chain number, then the chain (postcard: a varint count, then each
//!   ancestor). Numbers increase through a file;
//! - n ≥ 2: the chain numbered n − 2, defined by an earlier record.
//!
//! The writer forgets its chains whenever it writes its buffer to the file (at least every
//! 64 KiB), so a record refers only to definitions in the same stretch, and a damaged record
//! costs the chains of that stretch at most. A record that refers to a chain the reader does not
//! have (its definition was in a damaged record) replays with no ancestors.

use std::collections::VecDeque;

use bytes::BytesMut;

use super::codec::{self, CodecError, Input, put_varint};
use crate::event::{Ancestor, Ancestors, Detail};

const EMPTY: u64 = 0;
const DEFINITION: u64 = 1;
const REFERENCE: u64 = 2;

/// Chains the writer remembers; when it has this many, it starts over.
const REMEMBERED: usize = 64;
/// Definitions the reader keeps: more than a writer ever refers back to.
const KEPT: usize = 4 * REMEMBERED;

/// The chain of an event that carries one.
pub(super) fn chain_mut(detail: &mut Detail) -> Option<&mut Ancestors> {
    match detail {
        Detail::Exec { ancestors, .. } | Detail::Exit { ancestors, .. } => Some(ancestors),
        _ => None,
    }
}

/// The chains a writer has defined since it last wrote its buffer out.
#[derive(Default)]
pub struct ChainWriter {
    next: u64,
    /// Most recent last; each holds its chain alive, so equal pointers mean equal chains.
    defined: Vec<(Ancestors, u64)>,
}

impl ChainWriter {
    /// Appends the reference to `chain`, defining it first if this stretch has not.
    pub(super) fn put(&mut self, chain: &Ancestors, out: &mut BytesMut) {
        if chain.is_empty() {
            put_varint(out, EMPTY);
            return;
        }
        // `==` on two `Arc`s of the same chain stops at the pointer; equal chains built apart
        // (after the lineage changed and changed back) are found too.
        if let Some((_, number)) = self.defined.iter().rev().find(|(known, _)| known == chain) {
            put_varint(out, REFERENCE + number);
            return;
        }
        if self.defined.len() == REMEMBERED {
            self.defined.clear();
        }
        let number = self.next;
        self.next += 1;
        put_varint(out, DEFINITION);
        put_varint(out, number);
        codec::append_postcard(&**chain, out);
        self.defined.push((chain.clone(), number));
    }

    /// Forgets every chain: what is written next does not need what was written before.
    pub(super) fn forget(&mut self) {
        self.defined.clear();
    }
}

/// The chains a reader has seen defined, the most recent last.
#[derive(Default)]
pub struct ChainReader {
    kept: VecDeque<(u64, Ancestors)>,
}

/// A chain read from a record, to be kept once the whole record proved good.
pub(super) struct Taken {
    pub chain: Ancestors,
    defined: Option<u64>,
}

impl ChainReader {
    /// Reads a chain reference from `input`.
    pub(super) fn take(&self, input: &mut Input<'_>) -> Result<Taken, CodecError> {
        let tag = input.varint("the chain reference")?;
        match tag {
            EMPTY => Ok(Taken { chain: Ancestors::default(), defined: None }),
            DEFINITION => {
                let number = input.varint("the chain number")?;
                if self.kept.back().is_some_and(|(last, _)| number <= *last) {
                    return Err(CodecError::Postcard(format!("chain {number} defined after a later one")));
                }
                let (chain, rest) = postcard::take_from_bytes::<Vec<Ancestor>>(input.0)
                    .map_err(|error| CodecError::Postcard(format!("ancestor chain: {error}")))?;
                input.0 = rest;
                Ok(Taken { chain: chain.into(), defined: Some(number) })
            }
            reference => {
                let number = reference - REFERENCE;
                let found = self.kept.binary_search_by_key(&number, |(kept, _)| *kept).ok();
                let chain = found.map(|index| self.kept[index].1.clone()).unwrap_or_default();
                Ok(Taken { chain, defined: None })
            }
        }
    }

    /// Keeps what `taken` defined, for the records after it.
    pub(super) fn keep(&mut self, taken: &Taken) {
        if let Some(number) = taken.defined {
            if self.kept.len() == KEPT {
                self.kept.pop_front();
            }
            self.kept.push_back((number, taken.chain.clone()));
        }
    }
}
