//! tracer's integration tests, in one test executable: each module is one subject, run against
//! the real tracer binary (`$TRACER_BIN`, which embeds the real eBPF object) and, for most, the
//! real kernel as root. One executable links the shared harness (`common`) once, so a build and a
//! VM image carry one test binary, and libtest's single summary line covers every test.
//!
//! The privileged tests are `#[ignore]`d: `cargo xtask test` runs them as root with
//! `--ignored --test-threads=1` (they trace the whole machine, so two at once would see each
//! other's tasks), and `cargo xtask vm-test` runs them again in a VM on Debian's 6.1 kernel.
//! Programs they need from Debian's packages are installed by xtask (`HOST_PROGRAMS` in
//! `xtask/src/test.rs`), never by a test.
mod common;

mod ancestor_depth;
mod ancestry;
mod bad_input;
mod cli;
mod clone_paths;
mod container;
mod escaping;
mod exec;
mod exec_context;
mod identity;
mod lifecycle;
mod lookup;
mod namespaces;
mod ordering;
mod output_path;
mod pictures;
mod recording;
mod recording_hostile;
mod recording_rotation;
mod reliability;
mod rotation;
mod run;
mod run_signals;
mod service;
mod shipper;
mod systemd;
mod top;
mod usage;
