//! Fuzzes the recording reader with any bytes, as a whole file and after a valid header: it must
//! keep its promises (no panic, an end, ordered items, work linear in the input's size; see
//! `tracer/src/recording/invariants.rs`).
#![no_main]

// The reader's own source, compiled into this crate: tracer is a binary crate.
#[allow(dead_code, unused_imports)]
#[path = "../../tracer/src/event.rs"]
mod event;
#[allow(dead_code, unused_imports)]
#[path = "../../tracer/src/names.rs"]
mod names;
#[allow(dead_code, unused_imports)]
#[path = "../../tracer/src/namespaces.rs"]
mod namespaces;
#[allow(dead_code, unused_imports)]
#[path = "../../tracer/src/recording/mod.rs"]
mod recording;
#[allow(dead_code, unused_imports)]
#[path = "../../tracer/src/rotate.rs"]
mod rotate;
#[allow(dead_code, unused_imports)]
#[path = "../../tracer/src/text.rs"]
mod text;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    recording::invariants::check(data);
    recording::invariants::check_after_header(data);
});
