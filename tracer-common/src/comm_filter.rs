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

/// A comm's words ([`comm_words`]) with every byte from the first NUL on zeroed, as a name
/// set with padding reads: the kernel side reads `task->comm` raw, and a kernel that set a
/// shorter name without padding leaves the old name's bytes after the NUL. Branch-free, so the
/// verifier walks no extra paths: `haszero` marks the zero bytes (only the lowest mark is
/// exact, and only it is used), and every byte below it is kept.
#[inline(always)]
pub fn up_to_nul([low, high]: [u64; 2]) -> [u64; 2] {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let marks = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    // Bit 8k+7 for the first zero byte k → a mask of the k bytes below it; no mark → all ones.
    let keep = |marks: u64| ((marks & marks.wrapping_neg()) >> 7).wrapping_sub(1);
    let (low_marks, high_marks) = (marks(low), marks(high));
    // All ones when the low word holds a NUL: the high word is then all padding.
    let low_ended = ((low_marks | low_marks.wrapping_neg()) >> 63).wrapping_neg();
    [low & keep(low_marks), high & keep(high_marks) & !low_ended]
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

    /// What [`up_to_nul`] must compute, byte by byte.
    fn padded(comm: &[u8; COMM_LEN]) -> [u8; COMM_LEN] {
        let mut out = [0; COMM_LEN];
        let end = comm.iter().position(|&byte| byte == 0).unwrap_or(COMM_LEN);
        out[..end].copy_from_slice(&comm[..end]);
        out
    }

    #[test]
    fn up_to_nul_zeroes_exactly_the_bytes_after_the_first_nul() {
        // Bytes that trip word-wise zero tests: 0x01 just above a zero (the borrow), 0x80 and
        // 0xff (high bits), and NULs in every position, with garbage or more NULs after them.
        let tricky = [0x01, 0x80, 0xff, 0x7f, 0x81, b'a', 0x00];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut cases = 0;
        for nul in 0..=COMM_LEN {
            for _ in 0..2000 {
                let mut comm = [0u8; COMM_LEN];
                for byte in comm.iter_mut() {
                    let roll = next();
                    *byte =
                        if roll % 3 == 0 { tricky[(roll >> 8) as usize % tricky.len()] } else { (roll >> 16) as u8 };
                }
                for byte in &mut comm[..nul.min(COMM_LEN)] {
                    if *byte == 0 {
                        *byte = 0x01;
                    }
                }
                if nul < COMM_LEN {
                    comm[nul] = 0;
                }
                let words = up_to_nul(comm_words(&comm));
                assert_eq!(words, comm_words(&padded(&comm)), "{comm:02x?}");
                cases += 1;
            }
        }
        assert_eq!(cases, (COMM_LEN + 1) * 2000);
        // A padded name is unchanged.
        let name = *b"tracer-workload\0";
        assert_eq!(up_to_nul(comm_words(&name)), comm_words(&name));
    }
}
