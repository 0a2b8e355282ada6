//! CRC checks of any byte range in constant time, so that searching damaged or hostile bytes for
//! the next good record examines each byte a bounded number of times, however many candidate
//! records overlap.
//!
//! With `C(x)` the CRC-32 of the bytes from some base offset up to `x`, the CRC of the bytes
//! `[a, b)` is `C(b) ^ shift(C(a), b - a)`, where `shift(c, n)` is what feeding `n` zero bytes does
//! to a CRC register holding `c` (the identity behind zlib's `crc32_combine`). [`CrcIndex`] hashes
//! each byte once as the reader moves forward, keeps `C` at every [`STRIDE`]-th offset, and
//! answers `C(x)` by hashing at most `STRIDE` bytes from the mark below `x`.

use std::collections::VecDeque;

/// Offsets between two kept prefix CRCs: the most a query hashes.
pub(super) const STRIDE: usize = 64;

/// CRC-32 (IEEE) polynomial, bit-reflected.
const POLY: u32 = 0xedb8_8320;
/// The polynomial 1 (x⁰) in the reflected representation.
const ONE: u32 = 1 << 31;

/// `a · b` modulo the CRC polynomial, in CRC-32's reflected bit order.
const fn mult_mod_p(a: u32, mut b: u32) -> u32 {
    if a == 0 {
        return 0;
    }
    let mut m = ONE;
    let mut p = 0;
    loop {
        if a & m != 0 {
            p ^= b;
            if a & (m - 1) == 0 {
                return p;
            }
        }
        m >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
    }
}

/// `X8N[j][v]` = x^(8 · v · 256^j) mod P: the effect of `v · 256^j` zero bytes.
const X8N: [[u32; 256]; 3] = {
    let mut table = [[0u32; 256]; 3];
    // x^8: eight zero bytes' worth of shifting is one byte = x^8 (degree < 32, no reduction).
    let mut step = ONE >> 8;
    let mut j = 0;
    while j < 3 {
        table[j][0] = ONE;
        let mut v = 1;
        while v < 256 {
            table[j][v] = mult_mod_p(table[j][v - 1], step);
            v += 1;
        }
        // The next digit's unit is 256 of this one's.
        step = mult_mod_p(table[j][255], step);
        j += 1;
    }
    table
};

/// The register `crc` after `n` more zero bytes (so that `crc(A‖B) = shift(crc(A), |B|) ^ crc(B)`).
pub(super) fn shift(mut crc: u32, mut n: u64) -> u32 {
    const DIGITS: u64 = 1 << 24;
    while n > 0 {
        let part = n.min(DIGITS - 1);
        let factor = mult_mod_p(X8N[0][(part & 0xff) as usize], X8N[1][((part >> 8) & 0xff) as usize]);
        let factor = mult_mod_p(factor, X8N[2][((part >> 16) & 0xff) as usize]);
        crc = mult_mod_p(factor, crc);
        n -= part;
    }
    crc
}

/// Prefix CRCs of a forward-moving window of the file. The caller provides the bytes; the index
/// only remembers CRCs.
#[derive(Debug)]
pub(super) struct CrcIndex {
    /// Offset of `marks[0]`; `marks[k]` is `C(base + k · STRIDE)`.
    base: u64,
    marks: VecDeque<u32>,
    /// Bytes before this offset are hashed; `running` is `C(end)`.
    end: u64,
    running: u32,
}

impl CrcIndex {
    pub(super) fn new() -> CrcIndex {
        CrcIndex { base: 0, marks: VecDeque::from([0]), end: 0, running: 0 }
    }

    /// Whether a query starting at `a` needs [`restart`](Self::restart) first: `a` is before the
    /// first mark or after the hashed bytes (a gap nobody asked to check).
    pub(super) fn needs_restart(&self, a: u64) -> bool {
        self.marks.is_empty() || a < self.base || a > self.end
    }

    /// Starts over at `a` (its prefix CRC is that of nothing).
    pub(super) fn restart(&mut self, a: u64) {
        self.base = a;
        self.marks.clear();
        self.marks.push_back(0);
        self.end = a;
        self.running = 0;
    }

    /// Where the hashed bytes end: the caller passes bytes from here to [`extend`](Self::extend).
    pub(super) fn end(&self) -> u64 {
        self.end
    }

    /// Hashes `bytes`, which start at [`end`](Self::end). Returns how many bytes were hashed.
    pub(super) fn extend(&mut self, mut bytes: &[u8]) -> usize {
        debug_assert!(!self.marks.is_empty(), "extend after restart only");
        let hashed = bytes.len();
        while !bytes.is_empty() {
            let next_mark = self.base + (self.marks.len() * STRIDE) as u64;
            let take = usize::try_from(next_mark - self.end).unwrap_or(usize::MAX).min(bytes.len());
            let (now, rest) = bytes.split_at(take);
            let mut hasher = crc32fast::Hasher::new_with_initial(self.running);
            hasher.update(now);
            self.running = hasher.finalize();
            self.end += take as u64;
            if self.end == next_mark {
                self.marks.push_back(self.running);
            }
            bytes = rest;
        }
        hashed
    }

    /// The mark at or below `x` (which must lie in `[base, end]`): its offset and prefix CRC.
    pub(super) fn mark_below(&self, x: u64) -> (u64, u32) {
        let k = usize::try_from((x - self.base) / STRIDE as u64).unwrap_or(usize::MAX).min(self.marks.len() - 1);
        (self.base + (k * STRIDE) as u64, self.marks[k])
    }

    /// `C(x)` from the mark below `x` and the bytes from that mark up to `x`.
    pub(super) fn prefix(mark_crc: u32, bytes: &[u8]) -> u32 {
        let mut hasher = crc32fast::Hasher::new_with_initial(mark_crc);
        hasher.update(bytes);
        hasher.finalize()
    }

    /// Forgets marks before `start`, whose bytes the caller no longer holds.
    pub(super) fn forget_before(&mut self, start: u64) {
        while self.base < start && !self.marks.is_empty() {
            self.marks.pop_front();
            self.base += STRIDE as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn shifting_matches_crc32_combination() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for split in [0, 1, 7, 64, 255, 256, 257, 4095, 4096, 5000] {
            let (a, b) = data.split_at(split);
            let combined = shift(crc32fast::hash(a), b.len() as u64) ^ crc32fast::hash(b);
            assert_eq!(combined, crc32fast::hash(&data), "split at {split}");
        }
        // Lengths needing every table digit, and more than the tables cover.
        for n in [65_535u64, 65_536, 1 << 20, (1 << 24) - 1, 1 << 24, (1 << 24) + 3] {
            let zeros = vec![0u8; n as usize];
            let start = crc32fast::hash(b"abc");
            let mut hasher = crc32fast::Hasher::new_with_initial(start);
            hasher.update(&zeros);
            // crc(A‖Z) = shift(crc(A), |Z|) ^ crc(Z).
            let expected = hasher.finalize() ^ crc32fast::hash(&zeros);
            assert_eq!(shift(start, n), expected, "{n} zero bytes");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn any_range_checks_like_a_direct_hash(
            data in proptest::collection::vec(any::<u8>(), 0..600),
            base in 0usize..50,
            a in any::<prop::sample::Index>(),
            len in any::<prop::sample::Index>(),
        ) {
            let base = base.min(data.len());
            let mut index = CrcIndex::new();
            index.restart(base as u64);
            index.extend(&data[base..]);
            let a = base + a.index(data.len() - base + 1);
            let b = a + len.index(data.len() - a + 1);
            let c = |x: usize| {
                let (mark, crc) = index.mark_below(x as u64);
                CrcIndex::prefix(crc, &data[mark as usize..x])
            };
            prop_assert_eq!(c(b) ^ shift(c(a), (b - a) as u64), crc32fast::hash(&data[a..b]));
        }
    }
}
