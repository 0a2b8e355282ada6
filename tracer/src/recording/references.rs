//! Values that repeat from record to record, written once per stretch of a recording and
//! referred to by number after that: an exec or exit event's ancestor chain (format 4; a fork
//! event's too from format 8), and
//! every event's cgroup path with the container ID found in it (format 5). A storm's events all
//! carry the same ones, and a container's cgroup path alone is longer than the rest of an event.
//!
//! After the postcard encoding of an event (where these values are encoded empty) come its
//! references: a chain reference for an exec, exit or (format 8) fork event, then (format 5) a
//! cgroup reference.
//! Each is a varint:
//!
//! - 0: the event has none (no ancestors; no cgroup path and no container);
//! - 1: a definition: a varint number, then the value in postcard. A chain is a varint count,
//!   then each ancestor (from format 7 with its start time); a cgroup is two options of byte strings, its path and the container ID.
//!   Numbers increase through a file, for chains and cgroups apart;
//! - n ≥ 2: the value numbered n − 2 of that kind, defined by an earlier record.
//!
//! The writer forgets its definitions whenever it writes its buffer to the file (at least every
//! 64 KiB), so a record refers only to definitions in the same stretch, and a damaged record
//! costs the values of that stretch at most. A record that refers to a value the reader does not
//! have (its definition was in a damaged record) replays without it: with no ancestors, or with
//! no cgroup path and container (its cgroup ID is in the event itself).

use std::collections::VecDeque;

use bytes::BytesMut;
use serde::{Deserialize, Serialize};

use super::FORMAT_VERSION;
use super::wire::{self, CodecError, Input, put_varint};
use crate::{
    event::{Ancestor, Ancestors, Detail, Event},
    text::Text,
};

const NONE: u64 = 0;
const DEFINITION: u64 = 1;
const REFERENCE: u64 = 2;

/// Values of one kind the writer remembers; when it has this many, it starts over.
const REMEMBERED: usize = 64;
/// Definitions of one kind the reader keeps: more than a writer ever refers back to.
const KEPT: usize = 4 * REMEMBERED;

/// A kind of value written by reference.
trait Repeated: Clone + PartialEq + Sized {
    /// What messages call it.
    const NAME: &'static str;
    const REFERENCE: &'static str;
    const NUMBER: &'static str;
    /// Appends its definition's bytes.
    fn put(&self, out: &mut BytesMut);
    /// Reads a definition's bytes in a record of format `version`; returns the value and what
    /// follows.
    fn take(bytes: &[u8], version: u16) -> Result<(Self, &[u8]), CodecError>;
    /// Whether two values are equal, at once when they are clones of one.
    fn same(&self, other: &Self) -> bool {
        self == other
    }
}

impl Repeated for Ancestors {
    const NAME: &'static str = "chain";
    const REFERENCE: &'static str = "the chain reference";
    const NUMBER: &'static str = "the chain number";

    fn put(&self, out: &mut BytesMut) {
        wire::append_postcard(&**self, out);
    }

    fn take(bytes: &[u8], version: u16) -> Result<(Self, &[u8]), CodecError> {
        if version < 7 {
            return super::chain_v6::chain(bytes);
        }
        let (chain, rest) = postcard::take_from_bytes::<Vec<Ancestor>>(bytes)
            .map_err(|error| CodecError::Postcard(format!("ancestor chain: {error}")))?;
        Ok((chain.into(), rest))
    }

    fn same(&self, other: &Self) -> bool {
        // `Arc`'s own `==` (Rust 1.95) compares an unsized slice element by element even when
        // both point at the same one.
        std::sync::Arc::ptr_eq(self, other) || self == other
    }
}

/// An event's cgroup path and the container ID found in it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Cgroup {
    path: Option<Text>,
    container: Option<Text>,
}

impl Cgroup {
    fn is_some(&self) -> bool {
        self.path.is_some() || self.container.is_some()
    }
}

impl Repeated for Cgroup {
    const NAME: &'static str = "cgroup";
    const REFERENCE: &'static str = "the cgroup reference";
    const NUMBER: &'static str = "the cgroup number";

    fn put(&self, out: &mut BytesMut) {
        wire::append_postcard(self, out);
    }

    fn take(bytes: &[u8], _version: u16) -> Result<(Self, &[u8]), CodecError> {
        postcard::take_from_bytes::<Cgroup>(bytes).map_err(|error| CodecError::Postcard(format!("cgroup: {error}")))
    }
}

/// The chain of an event that carries one in a record of format `version`: an exec or exit
/// event's since format 4, a fork event's since format 8.
fn chain_mut(detail: &mut Detail, version: u16) -> Option<&mut Ancestors> {
    match detail {
        Detail::Fork { .. } if version < 8 => None,
        _ => detail.ancestors_mut(),
    }
}

/// The values of an event that are written by reference, taken out of it while it is encoded.
pub(super) struct Values {
    chain: Option<Ancestors>,
    cgroup: Cgroup,
}

/// Takes the referenced values out of `event`, leaving them empty; [`put_back`] returns them.
pub(super) fn take_out(event: &mut Event) -> Values {
    // An empty `Arc<[T]>` is a shared static: taking the chain allocates nothing.
    let chain = chain_mut(&mut event.detail, FORMAT_VERSION).map(std::mem::take);
    let cgroup = Cgroup { path: event.place.cgroup.take(), container: event.place.container.take() };
    Values { chain, cgroup }
}

pub(super) fn put_back(event: &mut Event, values: Values) {
    if let (Some(slot), Some(chain)) = (chain_mut(&mut event.detail, FORMAT_VERSION), values.chain) {
        *slot = chain;
    }
    event.place.cgroup = values.cgroup.path;
    event.place.container = values.cgroup.container;
}

/// The values of one kind a writer has defined since it last wrote its buffer out.
struct Table<T> {
    next: u64,
    /// Most recent last; each holds its value alive, so equal pointers mean equal values.
    defined: Vec<(T, u64)>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self { next: 0, defined: Vec::new() }
    }
}

impl<T: Repeated> Table<T> {
    /// Appends the reference to `value`, defining it first if this stretch has not.
    fn put(&mut self, value: Option<&T>, out: &mut BytesMut) {
        let Some(value) = value else {
            put_varint(out, NONE);
            return;
        };
        // Clones of one value compare by pointer; equal values built apart (a chain after the
        // lineage changed and changed back) are found too.
        if let Some((_, number)) = self.defined.iter().rev().find(|(known, _)| known.same(value)) {
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
        value.put(out);
        self.defined.push((value.clone(), number));
    }
}

/// What a writer has defined since it last wrote its buffer out.
#[derive(Default)]
pub struct Definitions {
    chains: Table<Ancestors>,
    cgroups: Table<Cgroup>,
}

impl Definitions {
    /// Appends the references of an event whose values are `values` (format 5).
    pub(super) fn put(&mut self, values: &Values, out: &mut BytesMut) {
        if let Some(chain) = &values.chain {
            self.chains.put((!chain.is_empty()).then_some(chain), out);
        }
        self.cgroups.put(values.cgroup.is_some().then_some(&values.cgroup), out);
    }

    /// Forgets every definition: what is written next does not need what was written before.
    pub(super) fn forget(&mut self) {
        self.chains.defined.clear();
        self.cgroups.defined.clear();
    }
}

/// The values of one kind a reader has seen defined, the most recent last.
struct Kept<T> {
    kept: VecDeque<(u64, T)>,
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Self { kept: VecDeque::new() }
    }
}

/// A value read from a record, to be kept once the whole record proved good.
struct Taken<T> {
    value: Option<T>,
    defined: Option<u64>,
}

impl<T: Repeated> Kept<T> {
    /// Reads a reference from `input`.
    fn take(&self, input: &mut Input<'_>, version: u16) -> Result<Taken<T>, CodecError> {
        match input.varint(T::REFERENCE)? {
            NONE => Ok(Taken { value: None, defined: None }),
            DEFINITION => {
                let number = input.varint(T::NUMBER)?;
                if self.kept.back().is_some_and(|(last, _)| number <= *last) {
                    return Err(CodecError::Postcard(format!("{} {number} defined after a later one", T::NAME)));
                }
                let (value, rest) = T::take(input.0, version)?;
                input.0 = rest;
                Ok(Taken { value: Some(value), defined: Some(number) })
            }
            reference => {
                let number = reference - REFERENCE;
                let found = self.kept.binary_search_by_key(&number, |(kept, _)| *kept).ok();
                Ok(Taken { value: found.map(|index| self.kept[index].1.clone()), defined: None })
            }
        }
    }

    fn keep(&mut self, taken: Taken<T>) {
        if let (Some(number), Some(value)) = (taken.defined, taken.value) {
            if self.kept.len() == KEPT {
                self.kept.pop_front();
            }
            self.kept.push_back((number, value));
        }
    }
}

/// What a reader has seen defined by the records read so far.
#[derive(Default)]
pub struct Known {
    chains: Kept<Ancestors>,
    cgroups: Kept<Cgroup>,
}

/// The definitions a record made, kept once the whole record proved good.
pub(super) struct Pending {
    chain: Option<Taken<Ancestors>>,
    cgroup: Option<Taken<Cgroup>>,
}

impl Known {
    /// Reads the references that follow `event` in a payload of format `version`, and puts
    /// their values into it.
    pub(super) fn take(&self, event: &mut Event, version: u16, input: &mut Input<'_>) -> Result<Pending, CodecError> {
        let chain = match chain_mut(&mut event.detail, version) {
            Some(slot) if version >= 4 => {
                if !slot.is_empty() {
                    return Err(CodecError::Postcard("an ancestor chain inside the event".to_owned()));
                }
                let taken = self.chains.take(input, version)?;
                if let Some(chain) = &taken.value {
                    *slot = chain.clone();
                }
                Some(taken)
            }
            _ => None,
        };
        let cgroup = if version >= 5 {
            if event.place.cgroup.is_some() || event.place.container.is_some() {
                return Err(CodecError::Postcard("a cgroup path inside the event".to_owned()));
            }
            let taken = self.cgroups.take(input, version)?;
            if let Some(cgroup) = &taken.value {
                event.place.cgroup = cgroup.path.clone();
                event.place.container = cgroup.container.clone();
            }
            Some(taken)
        } else {
            None
        };
        Ok(Pending { chain, cgroup })
    }

    /// Keeps what a good record defined, for the records after it.
    pub(super) fn keep(&mut self, pending: Pending) {
        if let Some(taken) = pending.chain {
            self.chains.keep(taken);
        }
        if let Some(taken) = pending.cgroup {
            self.cgroups.keep(taken);
        }
    }
}
