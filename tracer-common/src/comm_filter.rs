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
    /// NUL-padded, as the kernel keeps a task's comm.
    pub comms: [[u8; COMM_LEN]; COMM_SLOTS],
    /// Names in `comms`, or [`IN_MAP`].
    pub count: u32,
    pub _pad: u32,
}

impl CommFilter {
    /// The filter for `names` (each at most COMM_LEN - 1 bytes, as the CLI checks).
    pub fn new<'a>(names: impl ExactSizeIterator<Item = &'a [u8]>) -> Self {
        let mut filter = Self { comms: [[0; COMM_LEN]; COMM_SLOTS], count: 0, _pad: 0 };
        if names.len() > COMM_SLOTS {
            filter.count = IN_MAP;
            return filter;
        }
        for (slot, name) in filter.comms.iter_mut().zip(names) {
            let len = name.len().min(COMM_LEN - 1);
            slot[..len].copy_from_slice(&name[..len]);
            filter.count += 1;
        }
        filter
    }
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
        assert_eq!(&filter.comms[0][..5], b"bash\0");
        assert_eq!(filter.comms[2], [0; COMM_LEN]);
        let names: Vec<Vec<u8>> = (0..9).map(|n| format!("n{n}").into_bytes()).collect();
        assert_eq!(CommFilter::new(names.iter().map(Vec::as_slice)).count, IN_MAP);
        assert_eq!(size_of::<CommFilter>(), COMM_SLOTS * COMM_LEN + 8);
    }
}
