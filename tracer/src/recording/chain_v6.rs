//! The ancestor chain as formats 4 to 6 wrote it, frozen: each ancestor's TGID, comm and
//! program, before ancestors carried their start time. Read by the format-6 decoder and by the
//! reference table, which meets such chains as definitions.
use serde::Deserialize;

use super::wire::CodecError;
use crate::{
    event::{Ancestor, Ancestors},
    text::Text,
};

#[derive(Deserialize)]
pub(super) struct AncestorV6 {
    tgid: u32,
    comm: Text,
    exe: Option<Text>,
}

pub(super) fn ancestors(chain: Vec<AncestorV6>) -> Ancestors {
    chain.into_iter().map(|AncestorV6 { tgid, comm, exe }| Ancestor { tgid, start_ns: None, comm, exe }).collect()
}

/// Reads a chain definition of formats 4 to 6; returns it and what follows.
pub(super) fn chain(bytes: &[u8]) -> Result<(Ancestors, &[u8]), CodecError> {
    let (chain, rest) = postcard::take_from_bytes::<Vec<AncestorV6>>(bytes)
        .map_err(|error| CodecError::Postcard(format!("ancestor chain: {error}")))?;
    Ok((ancestors(chain), rest))
}
