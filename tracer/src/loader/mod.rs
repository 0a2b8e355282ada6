//! Loading the embedded eBPF object: checks the privileges it needs, configures it for this
//! kernel (BTF offsets, tracepoint prototypes) and these filters, attaches the probe plan, and
//! forwards kernel-side log records to the `log` logger.
use std::{
    collections::{BTreeSet, HashMap},
    thread::JoinHandle,
};

mod bare;
mod error;
mod filter_maps;
#[cfg(test)]
mod object_names;
mod privileges;
mod self_id;

use aya::{Ebpf, maps::MapData};
use aya_log::EbpfLogger;
use tracer_common::{
    CGROUP_VERDICT_ENTRIES, TracerSettings, comm_filter::CommFilter, filter_flags, global_name, map_name,
};

use crate::{
    event::{Kind, Source},
    filter::Filters,
    heap,
    kernel_btf::{KernelBtf, btf_path},
    place::{cgroup, namespace_offsets},
    probes::{self, ProbePlan},
};

/// The kernel wakes tracer once 1/WAKEUP_FRACTION of the ring buffer is unread (besides the
/// session's timer), so a busy machine costs a wake-up per batch, not per event.
const WAKEUP_FRACTION: u32 = 8;

/// The kernel programs, built by `cargo xtask build` and embedded by `build.rs`.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/tracer-ebpf.o"));

pub use error::LoadError;
pub use self_id::run_once;

/// What to load.
pub struct LoadOptions<'a> {
    /// Kinds whose hooks are attached.
    pub attach: &'a BTreeSet<Kind>,
    /// Kinds the kernel side emits (may include more than the user sees, for tracer's own needs).
    pub emit: &'a BTreeSet<Kind>,
    pub filters: &'a Filters,
    /// Follow mode without task criteria: only processes in FOLLOWED (`tracer run`).
    pub follow_only: bool,
    pub hooks: &'a HashMap<Kind, Source>,
    pub buffer_mib: u32,
    /// Bytes of argument list, and of environment (0: none), each exec record carries.
    pub arg_bytes: u32,
    pub env_bytes: u32,
    /// Ancestors each fork, exec and exit record carries.
    pub ancestors: u32,
}

pub struct Loaded {
    pub ebpf: Ebpf,
    pub plan: ProbePlan,
    /// Kernel-side log records; `None` when the object logs nothing.
    pub logger: Option<EbpfLogger<&'static dyn log::Log>>,
}

pub fn load(options: &LoadOptions) -> Result<Loaded, LoadError> {
    if EBPF_OBJECT.is_empty() {
        return Err(LoadError::NoObject);
    }
    if let Some(missing) = privileges::missing_capabilities() {
        return Err(LoadError::Privileges(missing));
    }
    let buffer_mib = options.buffer_mib;
    if !(1..=1024).contains(&buffer_mib) || !buffer_mib.is_power_of_two() {
        return Err(LoadError::BufferSize(buffer_mib));
    }
    let started = std::time::Instant::now();
    // Made on a thread of its own, which may move its root (see `bare`); where it cannot, aya's
    // parse of the kernel BTF runs beside the reading of layouts below.
    let loader = beside("loader", bare::loader_without_kernel_btf)?;
    let btf_file = btf_path();
    let kernel = KernelBtf::load(&btf_file)?;
    let offsets = kernel.offsets()?;
    let ns_offsets = namespace_offsets::offsets(&kernel)?;
    let tracepoints = kernel.tracepoints(&probes::BTF_TRACEPOINTS);
    let attach_ids = kernel.attach_ids(&probes::BTF_TRACEPOINTS, &probes::FENTRY_FUNCTIONS);
    log::debug!("kernel layouts read from {} in {:?}: {offsets:?}", btf_file.display(), started.elapsed());
    let filters = options.filters;
    let flags = [
        (!filters.comms.is_empty(), filter_flags::COMM),
        (!filters.pids.is_empty(), filter_flags::PID),
        (!filters.tids.is_empty(), filter_flags::TID),
        (!filters.uids.is_empty(), filter_flags::UID),
        (filters.follow || options.follow_only, filter_flags::FOLLOW),
        (!filters.pidns.is_empty(), filter_flags::PIDNS),
        (!filters.containers.is_empty(), filter_flags::CONTAINER),
        (!filters.cgroups.is_empty(), filter_flags::CGROUP),
    ]
    .into_iter()
    .filter(|(active, _)| *active)
    .fold(0, |flags, (_, flag)| flags | flag);
    let cgroup_filter = filter_maps::container_filter(filters);
    let comm_values = CommFilter::new(filters.comms.iter().map(|comm| comm.as_bytes()));
    for path in &filters.cgroups {
        // A --cgroup that does not exist is an error here, before anything loads.
        cgroup::id_of(path)?;
    }
    let settings = TracerSettings {
        event_mask: options.emit.iter().filter_map(|kind| kind.wire()).fold(0, |mask, kind| mask | kind.bit()),
        filter_flags: flags,
        exit_has_group_dead: u32::from(tracepoints.get("sched_process_exit").is_some_and(|n| n >= 2)),
        wakeup_bytes: buffer_mib * 1024 * 1024 / WAKEUP_FRACTION,
        arg_bytes: options.arg_bytes,
        env_bytes: options.env_bytes,
        ancestor_depth: options.ancestors.min(tracer_common::ANCESTOR_DEPTH as u32),
    };
    drop(kernel);
    let mut loader = joined("loader", loader)?;
    // Made beside the object's loading, once aya's own copy of the kernel BTF is gone: the two
    // never take memory together (when they did, the peak RSS was 7 MiB higher).
    let btf = beside("btf", move || attach_ids.btf())?;
    // Verdicts are only kept for --container/--cgroup: otherwise the map need not take memory.
    let verdicts = if filters.containers.is_empty() && filters.cgroups.is_empty() { 1 } else { CGROUP_VERDICT_ENTRIES };
    let mut ebpf = loader
        .map_max_entries(map_name::CGROUP_VERDICTS, verdicts)
        .override_global(global_name::OFFSETS, &offsets, true)
        .override_global(global_name::SETTINGS, &settings, true)
        .override_global(global_name::NS_OFFSETS, &ns_offsets, true)
        .override_global(global_name::CGROUP_FILTER, &cgroup_filter, true)
        .override_global(global_name::COMM_VALUES, &comm_values, true)
        .map_max_entries(map_name::EVENTS, buffer_mib * 1024 * 1024)
        .map_max_entries(map_name::EXEC_SCRATCH, exec_scratch_entries())
        .load(EBPF_OBJECT)
        .map_err(|error| LoadError::Object(error.to_string()))?;
    drop(loader);
    let btf = joined("btf", btf)?.map_err(LoadError::AyaBtf)?;
    heap::release_free();
    log::debug!("object loaded and attach IDs ready at {:?}", started.elapsed());
    filter_maps::fill_filter_maps(&mut ebpf, filters)?;
    let own_tgid = self_id::ignore_self(&mut ebpf)?;
    log::debug!("tracer is TGID {own_tgid} to the kernel, at {:?}", started.elapsed());
    if !filters.containers.is_empty() || !filters.cgroups.is_empty() {
        filter_maps::judge_cgroups(&mut ebpf, filters)?;
        log::debug!("cgroups judged for --container/--cgroup at {:?}", started.elapsed());
    }
    let logger = match EbpfLogger::init(&mut ebpf) {
        Ok(logger) => Some(logger),
        Err(error) => {
            log::warn!("kernel-side logs are unavailable: {error}");
            None
        }
    };
    let kinds: Vec<Kind> = options.attach.iter().copied().filter(|kind| *kind != Kind::Lost).collect();
    // Namespace changes are worth a costly hook only to someone who asked for them.
    let optional: BTreeSet<Kind> =
        if filters.kinds_by_name { BTreeSet::new() } else { BTreeSet::from([Kind::Namespace]) };
    let plan = probes::attach(&mut ebpf, &btf, &tracepoints, &kinds, options.hooks, &optional);
    if plan.serves(Kind::Namespace) {
        let map = ebpf.map_mut(map_name::NAMESPACE_SERVED).ok_or_else(|| LoadError::Map {
            map: map_name::NAMESPACE_SERVED,
            message: "missing from the object".into(),
        })?;
        aya::maps::Array::<&mut MapData, u32>::try_from(map)
            .and_then(|mut served| served.set(0, 1, 0))
            .map_err(|error| LoadError::Map { map: map_name::NAMESPACE_SERVED, message: error.to_string() })?;
    }
    log::debug!("programs attached at {:?}", started.elapsed());
    drop(btf);
    heap::release_free();
    let unserved = plan.unserved();
    if !unserved.is_empty() {
        let kinds = unserved.iter().map(|kind| kind.name()).collect::<Vec<_>>().join(", ");
        let reasons = plan.refusals(&unserved, options.hooks);
        return Err(LoadError::Unserved { kinds, reasons, plan });
    }
    Ok(Loaded { ebpf, plan, logger })
}

/// Starts `work` on a thread of its own (`tracer-NAME`) while loading goes on.
fn beside<T: Send + 'static>(
    name: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, LoadError> {
    std::thread::Builder::new()
        .name(format!("tracer-{name}"))
        .spawn(work)
        .map_err(|error| LoadError::Thread { name, message: error.to_string() })
}

/// What a thread started by [`beside`] made.
fn joined<T>(name: &'static str, thread: JoinHandle<T>) -> Result<T, LoadError> {
    thread.join().map_err(|_| LoadError::Thread { name, message: "it panicked".to_owned() })
}

/// One exec scratch buffer per possible CPU: the kernel side indexes it by CPU number (possible
/// CPUs are numbered from 0 without gaps, as the kernel's own per-CPU maps assume).
fn exec_scratch_entries() -> u32 {
    aya::util::nr_cpus().ok().and_then(|cpus| u32::try_from(cpus).ok()).unwrap_or(libc::CPU_SETSIZE as u32).max(1)
}
