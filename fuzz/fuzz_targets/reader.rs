//! Fuzzes the recording reader with any bytes, as a whole file and after a valid header: it must
//! keep its promises (no panic, an end, ordered items, work linear in the input's size; see
//! `tracer/src/recording/invariants.rs`).
#![no_main]

use tracer::recording::invariants;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    invariants::check(data);
    invariants::check_after_header(data);
});
