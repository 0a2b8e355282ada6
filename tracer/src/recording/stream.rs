//! A forward-only window on a recording being read. Each byte is read from the file once, kept
//! only while a record may still need it, scanned for frame markers at most twice and hashed
//! into the CRC index once; this is what keeps reading linear in the file's size.

use std::io::{self, ErrorKind, Read};

use super::crc_index::{self, CrcIndex, STRIDE};
use super::{MARKER_PREFIX, RECORD_MARKER, TRAILER_MARKER};

/// Bytes asked of the file per read.
pub(super) const READ_CHUNK: usize = 64 * 1024;

/// The bytes of the file from offset `start`, read ahead as far as a caller asked.
pub(super) struct Stream {
    reader: Box<dyn Read + Send>,
    /// `buf[head..filled]` holds the file's bytes from offset `start`; `buf[..head]` is spent and
    /// `buf[filled..]` room for the next read.
    buf: Vec<u8>,
    head: usize,
    filled: usize,
    start: u64,
    eof: bool,
    /// The read error that ended the stream, and its offset.
    pub(super) error: Option<(u64, io::Error)>,
    index: CrcIndex,
    /// The furthest offset any CRC check has hashed to.
    hashed_to: u64,
    /// Bytes read, moved, scanned, hashed or decoded so far: what the linear-time promise
    /// bounds (tests and the fuzz target check it). One addition per read: cheaper than a
    /// build of its own for the checks.
    pub(super) work: u64,
}

impl Stream {
    pub(super) fn new(reader: Box<dyn Read + Send>) -> Stream {
        Stream {
            reader,
            buf: Vec::new(),
            head: 0,
            filled: 0,
            start: 0,
            eof: false,
            error: None,
            index: CrcIndex::new(),
            hashed_to: 0,
            work: 0,
        }
    }

    #[inline]
    pub(super) fn count_work(&mut self, bytes: usize) {
        self.work += bytes as u64;
    }

    /// Offset just past the buffered bytes.
    fn buffered_end(&self) -> u64 {
        self.start + (self.filled - self.head) as u64
    }

    /// Up to `len` bytes at offset `at`; fewer only at the end of the file. Offsets must not go
    /// back more than [`STRIDE`] bytes before the furthest `at` asked so far.
    pub(super) fn get(&mut self, at: u64, len: usize) -> &[u8] {
        self.release(at);
        let want = at.saturating_add(len as u64);
        while self.buffered_end() < want && self.fill() {}
        self.slice(at, want)
    }

    /// The buffered bytes in `[from, to)`, clipped to what is buffered.
    fn slice(&self, from: u64, to: u64) -> &[u8] {
        debug_assert!(from >= self.start, "offset {from} was already released (window starts at {})", self.start);
        let live = &self.buf[self.head..self.filled];
        let begin = usize::try_from(from.saturating_sub(self.start)).unwrap_or(usize::MAX).min(live.len());
        let end = usize::try_from(to.saturating_sub(self.start)).unwrap_or(usize::MAX).clamp(begin, live.len());
        if from < self.start { &[] } else { &live[begin..end] }
    }

    /// Drops bytes more than [`STRIDE`] before `at` (reading past them if needed): a CRC query
    /// near `at` may still hash from the index mark below it.
    fn release(&mut self, at: u64) {
        let keep = at.saturating_sub(STRIDE as u64);
        if keep <= self.start {
            return;
        }
        loop {
            let live = (self.filled - self.head) as u64;
            let drop = (keep - self.start).min(live);
            self.head += drop as usize;
            self.start += drop;
            if self.start >= keep || !self.fill() {
                break;
            }
        }
        self.index.forget_before(self.start);
    }

    /// Reads one more chunk; false at the end of the file (or after a read error).
    fn fill(&mut self) -> bool {
        if self.eof {
            return false;
        }
        // Spent bytes go once they outnumber live ones, so each byte is moved at most once.
        if self.head > 0 && self.head >= self.filled - self.head {
            self.count_work(self.filled - self.head);
            self.buf.copy_within(self.head..self.filled, 0);
            self.filled -= self.head;
            self.head = 0;
        }
        if self.buf.len() - self.filled < READ_CHUNK {
            // Grows (and zeroes) only past the largest window yet.
            self.buf.resize(self.filled + READ_CHUNK, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    self.eof = true;
                    return false;
                }
                Ok(read) => {
                    self.filled += read.min(self.buf.len() - self.filled);
                    self.count_work(read);
                    return true;
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => {
                    self.eof = true;
                    self.error = Some((self.buffered_end(), error));
                    return false;
                }
            }
        }
    }

    /// The end of the file (reads to it, keeping nothing).
    pub(super) fn end(&mut self) -> u64 {
        loop {
            let end = self.buffered_end();
            self.release(end.saturating_add(STRIDE as u64));
            if !self.fill() {
                return self.buffered_end();
            }
        }
    }

    /// The offset of the first frame marker (record or trailer) at or after `from`, or of a
    /// marker prefix the file ends with.
    pub(super) fn find_marker(&mut self, mut from: u64) -> Option<u64> {
        let known = |last: u8| last == RECORD_MARKER[3] || last == TRAILER_MARKER[3];
        loop {
            let window = self.get(from, READ_CHUNK);
            let n = window.len();
            let mut i = 0;
            let mut found = None;
            while let Some(pos) = memchr::memchr(MARKER_PREFIX[0], &window[i..]) {
                let p = i + pos;
                match window.get(p + 1..p + 4) {
                    Some(rest) if rest[..2] == MARKER_PREFIX[1..] && known(rest[2]) => {
                        found = Some(p);
                        break;
                    }
                    Some(_) => i = p + 1,
                    // Within 3 bytes of the window's end: seen again below or in the next window.
                    None => break,
                }
            }
            let scanned = found.map_or(n, |p| p + 4);
            if let Some(p) = found {
                self.count_work(scanned);
                return Some(from + p as u64);
            }
            if n < READ_CHUNK {
                // The end of the file: a marker cut off by it.
                let tail_start = n.saturating_sub(MARKER_PREFIX.len());
                let cut = (tail_start..n).find(|&i| MARKER_PREFIX.starts_with(&window[i..]));
                self.count_work(scanned);
                return cut.map(|i| from + i as u64);
            }
            self.count_work(scanned);
            from += (n - (MARKER_PREFIX.len())) as u64;
        }
    }

    /// The CRC-32 of the `len` bytes at `at`, which a [`get`](Self::get) of them has buffered,
    /// in time independent of `len` apart from hashing bytes for the first time (or the second:
    /// bytes first hashed directly are hashed into the index if a later check falls among them).
    pub(super) fn crc(&mut self, at: u64, len: usize) -> u32 {
        let to = at + len as u64;
        if at >= self.hashed_to {
            // Bytes no check has seen: the common case of reading record after record. Hashing
            // them in one go is fastest; the index starts later if a check falls among them.
            let bytes = self.slice(at, to);
            let (crc, hashed) = (crc32fast::hash(bytes), bytes.len());
            self.count_work(hashed);
            self.hashed_to = to;
            return crc;
        }
        if self.index.needs_restart(at) {
            self.index.restart(at);
        }
        let from = self.index.end();
        if from < to {
            let hashed = self.slice(from, to).len();
            debug_assert_eq!(hashed as u64, to - from, "crc of bytes not buffered");
            // Borrow the bytes and the index separately.
            let Stream { buf, head, start, index, .. } = self;
            let begin = (from - *start) as usize;
            index.extend(&buf[*head + begin..*head + begin + hashed]);
            self.count_work(hashed);
        }
        self.hashed_to = self.hashed_to.max(self.index.end());
        let prefix_a = self.prefix(at);
        let prefix_b = self.prefix(to.min(self.index.end()));
        prefix_b ^ crc_index::shift(prefix_a, len as u64)
    }

    /// The index's prefix CRC at `x`.
    fn prefix(&mut self, x: u64) -> u32 {
        let (mark, crc) = self.index.mark_below(x);
        let bytes = self.slice(mark, x);
        let (value, hashed) = (CrcIndex::prefix(crc, bytes), bytes.len());
        self.count_work(hashed);
        value
    }
}
