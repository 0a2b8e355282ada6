//! The programs the kernel runs, one file per event area; each entry point is named after its
//! attach point (`tracer_common::program` lists them) and returns at once in the bench's floor
//! build.
pub mod cgroup;
pub mod exec;
pub mod exit;
pub mod follow_self;
pub mod fork;
pub mod ignore_self;
pub mod lookup;
pub mod namespace;
pub mod rename;
