//! A recording's events as a Perfetto trace: a track per process and thread, slices for their
//! lives, instants for what happened. Perfetto's trace format is written with prost from the
//! message subset in [`proto`]; `tracer export` is the command (`commands/export.rs`).
mod packets;
mod perfetto;
mod proto;

#[cfg(test)]
pub(crate) mod tests;

pub use perfetto::Export;
