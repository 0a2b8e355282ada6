//! The trailer a clean stop writes at the end of a recording: when recording ended, how many
//! records of each kind the file holds, and how many events were lost on the way. Its absence
//! tells a reader that the recording was cut short.
//!
//! Kinds are keyed by name, so the trailer does not change when event kinds are added.

use std::collections::BTreeMap;

/// Longest kind name a trailer may hold.
const MAX_NAME_LEN: usize = 32;
/// Most kinds a trailer may hold.
const MAX_KINDS: usize = 256;

/// Events lost while recording, by where they were lost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Losses {
    /// Dropped by the kernel (its ring buffer was full).
    pub kernel: u64,
    /// Recorded, but not printed (the output could not keep up).
    pub output: u64,
}

/// The last frame of a cleanly closed recording.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trailer {
    /// When recording ended, ns since the Unix epoch.
    pub end_wall_ns: u64,
    /// Records in the file, by event kind name (`fork`, `lost`, ...); kinds with none are absent.
    pub records: BTreeMap<String, u64>,
    pub losses: Losses,
}

/// Why a trailer payload could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrailerError {
    #[error("trailer ends inside {0}")]
    UnexpectedEnd(&'static str),
    #[error("trailer holds {0} kinds (at most {MAX_KINDS})")]
    TooManyKinds(usize),
    #[error("trailer has an invalid kind name {0:?}")]
    BadName(String),
    #[error("trailer lists kind {0:?} out of order or twice")]
    Order(String),
}

impl Trailer {
    /// The payload of the trailer frame (see the format in the [module documentation](super)).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(26 + self.records.len() * (1 + 8 + 8));
        out.extend_from_slice(&self.end_wall_ns.to_le_bytes());
        out.extend_from_slice(&self.losses.kernel.to_le_bytes());
        out.extend_from_slice(&self.losses.output.to_le_bytes());
        let kinds: Vec<(&String, &u64)> =
            self.records.iter().filter(|(name, count)| **count > 0 && valid_name(name)).take(MAX_KINDS).collect();
        out.extend_from_slice(&(kinds.len() as u16).to_le_bytes());
        for (name, count) in kinds {
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&count.to_le_bytes());
        }
        out
    }

    /// Decodes a trailer payload. Bytes after the known fields are ignored (room for compatible
    /// additions).
    pub fn decode(mut payload: &[u8]) -> Result<Trailer, TrailerError> {
        let end_wall_ns = take_u64(&mut payload, "the end time")?;
        let kernel = take_u64(&mut payload, "the kernel losses")?;
        let output = take_u64(&mut payload, "the output losses")?;
        let count =
            usize::from(u16::from_le_bytes(take(&mut payload, 2, "the kind count")?.try_into().unwrap_or([0; 2])));
        if count > MAX_KINDS {
            return Err(TrailerError::TooManyKinds(count));
        }
        let mut records = BTreeMap::new();
        let mut previous: Option<String> = None;
        for _ in 0..count {
            let len = usize::from(take(&mut payload, 1, "a kind name")?[0]);
            let name = take(&mut payload, len, "a kind name")?;
            let name = std::str::from_utf8(name)
                .ok()
                .filter(|name| valid_name(name))
                .ok_or_else(|| TrailerError::BadName(String::from_utf8_lossy(name).into_owned()))?
                .to_owned();
            if previous.as_ref().is_some_and(|previous| *previous >= name) {
                return Err(TrailerError::Order(name));
            }
            let value = take_u64(&mut payload, "a kind's count")?;
            previous = Some(name.clone());
            records.insert(name, value);
        }
        Ok(Trailer { end_wall_ns, records, losses: Losses { kernel, output } })
    }
}

/// Kind names are short lowercase identifiers (`fork`, `lookup`, ...).
fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

fn take<'a>(input: &mut &'a [u8], len: usize, what: &'static str) -> Result<&'a [u8], TrailerError> {
    if input.len() < len {
        return Err(TrailerError::UnexpectedEnd(what));
    }
    let (taken, rest) = input.split_at(len);
    *input = rest;
    Ok(taken)
}

fn take_u64(input: &mut &[u8], what: &'static str) -> Result<u64, TrailerError> {
    Ok(u64::from_le_bytes(take(input, 8, what)?.try_into().unwrap_or([0; 8])))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sample() -> Trailer {
        Trailer {
            end_wall_ns: 1_700_000_001_000_000_000,
            records: [("exec", 3u64), ("exit", 10), ("fork", 9), ("lost", 1)]
                .into_iter()
                .map(|(name, count)| (name.to_owned(), count))
                .collect(),
            losses: Losses { kernel: 42, output: 7 },
        }
    }

    #[test]
    fn round_trips_and_matches_the_documented_layout() {
        let trailer = sample();
        let bytes = trailer.encode();
        assert_eq!(Trailer::decode(&bytes), Ok(trailer));
        assert_eq!(&bytes[..8], &1_700_000_001_000_000_000u64.to_le_bytes());
        assert_eq!(&bytes[8..16], &42u64.to_le_bytes());
        assert_eq!(&bytes[16..24], &7u64.to_le_bytes());
        assert_eq!(&bytes[24..26], &4u16.to_le_bytes());
        assert_eq!(&bytes[26..31], b"\x04exec");
        assert_eq!(&bytes[31..39], &3u64.to_le_bytes());
        assert_eq!(bytes.len(), 26 + 4 * 9 + "exec".len() + "exit".len() + "fork".len() + "lost".len());
    }

    #[test]
    fn empty_recordings_have_no_kinds() {
        let trailer = Trailer { end_wall_ns: 5, ..Trailer::default() };
        assert_eq!(trailer.encode().len(), 26);
        assert_eq!(Trailer::decode(&trailer.encode()), Ok(trailer));
    }

    #[test]
    fn later_fields_are_ignored_and_bad_ones_refused() {
        let mut bytes = sample().encode();
        bytes.extend_from_slice(b"future fields");
        assert_eq!(Trailer::decode(&bytes), Ok(sample()));

        let good = sample().encode();
        for cut in 0..good.len() {
            assert!(matches!(Trailer::decode(&good[..cut]), Err(TrailerError::UnexpectedEnd(_))), "cut at {cut}");
        }
        let mut upper = good.clone();
        upper[27] = b'E';
        assert_eq!(Trailer::decode(&upper), Err(TrailerError::BadName("Exec".to_owned())));
        let mut empty_name = good.clone();
        empty_name[26] = 0;
        assert!(matches!(Trailer::decode(&empty_name), Err(TrailerError::BadName(_))));
        // "exit" renamed "aaaa" now sorts before "exec".
        let mut unordered = good.clone();
        unordered[40..44].copy_from_slice(b"aaaa");
        assert_eq!(Trailer::decode(&unordered), Err(TrailerError::Order("aaaa".to_owned())));
        let mut many = good;
        many[24..26].copy_from_slice(&1000u16.to_le_bytes());
        assert_eq!(Trailer::decode(&many), Err(TrailerError::TooManyKinds(1000)));
    }

    proptest! {
        #[test]
        fn arbitrary_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Trailer::decode(&bytes);
        }

        #[test]
        fn arbitrary_trailers_round_trip(
            end in any::<u64>(),
            kernel in any::<u64>(),
            output in any::<u64>(),
            records in proptest::collection::btree_map("[a-z_][a-z0-9_]{0,31}", 1..u64::MAX, 0..8),
        ) {
            let trailer = Trailer { end_wall_ns: end, records, losses: Losses { kernel, output } };
            prop_assert_eq!(Trailer::decode(&trailer.encode()), Ok(trailer));
        }
    }
}
