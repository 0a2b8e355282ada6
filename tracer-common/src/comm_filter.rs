//! The `--comm` values as the kernel side compares them first: a read-only global it compares
//! word by word, cheaper than a map lookup for the few names a filter holds. Most tasks fail
//! a `--comm` filter, so this comparison is most of what the hooks do for them.
use crate::COMM_LEN;

/// Names compared directly; with more, the kernel side looks them up in the `COMM_FILTER` map.
pub const COMM_SLOTS: usize = 8;

/// [`CommFilter::count`] when the names are only in the `COMM_FILTER` map.
pub const IN_MAP: u32 = u32::MAX;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommFilter {
    /// Each name NUL-padded to COMM_LEN bytes, as the kernel keeps a task's comm, as two
    /// little-endian words ([`comm_words`]): the kernel side compares two aligned words per
    /// name, where bytes would be loaded one at a time.
    pub words: [[u64; 2]; COMM_SLOTS],
    /// Names in `comms`, or [`IN_MAP`].
    pub count: u32,
    pub _pad: u32,
}

impl CommFilter {
    /// The filter for `names` (each at most COMM_LEN - 1 bytes, as the CLI checks).
    pub fn new<'a>(names: impl ExactSizeIterator<Item = &'a [u8]>) -> Self {
        let mut filter = Self { words: [[0; 2]; COMM_SLOTS], count: 0, _pad: 0 };
        if names.len() > COMM_SLOTS {
            filter.count = IN_MAP;
            return filter;
        }
        for (slot, name) in filter.words.iter_mut().zip(names) {
            let mut comm = [0; COMM_LEN];
            let len = name.len().min(COMM_LEN - 1);
            comm[..len].copy_from_slice(&name[..len]);
            *slot = comm_words(&comm);
            filter.count += 1;
        }
        filter
    }
}

/// A comm's 16 bytes as the two little-endian words the kernel side loads from them.
pub fn comm_words(comm: &[u8; COMM_LEN]) -> [u64; 2] {
    let word = |at: usize| {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&comm[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    [word(0), word(8)]
}

impl Default for CommFilter {
    fn default() -> Self {
        Self::new(core::iter::empty())
    }
}

#[cfg(test)]
mod tests {
    use std::{format, vec::Vec};

    use super::*;

    #[test]
    fn up_to_eight_names_are_in_slots_and_more_go_to_the_map() {
        let filter = CommFilter::new([b"bash".as_slice(), b"x"].into_iter());
        assert_eq!(filter.count, 2);
        assert_eq!(filter.words[0], [u64::from_le_bytes(*b"bash\0\0\0\0"), 0]);
        assert_eq!(filter.words[1], [u64::from(b'x'), 0]);
        assert_eq!(filter.words[2], [0, 0]);
        let long = CommFilter::new([b"kworker/u16:3-ev".as_slice()].into_iter());
        assert_eq!(long.words[0], [u64::from_le_bytes(*b"kworker/"), u64::from_le_bytes(*b"u16:3-e\0")]);
        let names: Vec<Vec<u8>> = (0..9).map(|n| format!("n{n}").into_bytes()).collect();
        assert_eq!(CommFilter::new(names.iter().map(Vec::as_slice)).count, IN_MAP);
        assert_eq!(size_of::<CommFilter>(), COMM_SLOTS * COMM_LEN + 8);
    }
}
