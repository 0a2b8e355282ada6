//! How loading the kernel programs can fail: one line each, naming the flag, map or hook.
use tracer_common::CGROUP_VERDICT_ENTRIES;

use crate::{kernel_btf::BtfError, place::cgroup::CgroupError, probes::ProbePlan};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("this tracer binary was built without its eBPF object; build it with `cargo xtask build`")]
    NoObject,
    #[error("tracer needs root (or CAP_BPF and CAP_PERFMON); this process lacks {0}")]
    Privileges(String),
    #[error(transparent)]
    Btf(#[from] BtfError),
    #[error("cannot make the BTF that attaching needs: {0}")]
    AyaBtf(String),
    #[error("cannot load the eBPF object: the {name} thread failed: {message}")]
    Thread { name: &'static str, message: String },
    #[error("cannot load the eBPF object: {0}")]
    Object(String),
    #[error("cannot configure the {map} map: {message}")]
    Map { map: &'static str, message: String },
    /// One line: `tracer probes` prints the whole plan.
    #[error("no hook for {kinds} could attach on this kernel: {reasons}")]
    Unserved { kinds: String, reasons: String, plan: ProbePlan },
    #[error("--buffer-size {0}: the ring buffer size must be a power of two from 1 to 1024 MiB")]
    BufferSize(u32),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("--container and --cgroup need the cgroup_mkdir and cgroup_rmdir tracepoints: {0}")]
    CgroupHooks(String),
    #[error("--container and --cgroup: more than {CGROUP_VERDICT_ENTRIES} cgroups exist; tracer cannot judge them all")]
    TooManyCgroups,
}
