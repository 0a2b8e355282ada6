//! tracer as a library: the kernel programs' loader, the event model, filters, printers,
//! recordings, the task model and every command. The `tracer` binary only parses its command
//! line and calls [`commands::dispatch`]; tests, the fuzzer and the bench use the same code.
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod decode;
pub mod event;
pub mod export;
pub mod files;
pub mod filter;
pub mod heap;
pub mod kernel_btf;
pub mod loader;
pub mod output;
pub mod pipeline;
pub mod place;
#[cfg(test)]
mod printers_tests;
pub mod probes;
pub mod recording;
pub mod recording_set;
pub mod session;
pub mod tasks;
pub mod text;
pub mod top;
pub mod tree;
