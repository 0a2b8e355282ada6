//! The filters' kernel side: the values of `--comm`, `--pid`, `--tid`, `--uid` and `--pidns`
//! written into their maps, the `--container` prefixes as a global, and every existing cgroup
//! judged for `--container`/`--cgroup` once the kernel side judges new ones.
use aya::{
    Ebpf,
    maps::{HashMap as BpfHashMap, MapData},
};
use tracer_common::{COMM_LEN, CgroupFilter, cgroup_verdict, container::ID_LEN, map_name, program};

use crate::{
    filter::Filters,
    loader::error::LoadError,
    place::{cgroup, container},
};

fn hash_map<'a, K: aya::Pod>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<BpfHashMap<&'a mut MapData, K, u8>, LoadError> {
    let map =
        ebpf.map_mut(name).ok_or_else(|| LoadError::Map { map: name, message: "missing from the object".into() })?;
    BpfHashMap::try_from(map).map_err(|error| LoadError::Map { map: name, message: error.to_string() })
}

pub fn fill_filter_maps(ebpf: &mut Ebpf, filters: &Filters) -> Result<(), LoadError> {
    let mut comms = hash_map::<[u8; COMM_LEN]>(ebpf, map_name::COMM_FILTER)?;
    for comm in &filters.comms {
        let mut key = [0u8; COMM_LEN];
        key[..comm.len()].copy_from_slice(comm.as_bytes());
        comms
            .insert(key, 1, 0)
            .map_err(|error| LoadError::Map { map: map_name::COMM_FILTER, message: error.to_string() })?;
    }
    for (name, values) in [
        (map_name::PID_FILTER, &filters.pids),
        (map_name::TID_FILTER, &filters.tids),
        (map_name::UID_FILTER, &filters.uids),
        (map_name::PIDNS_FILTER, &filters.pidns),
    ] {
        let mut map = hash_map::<u32>(ebpf, name)?;
        for value in values {
            map.insert(value, 1, 0).map_err(|error| LoadError::Map { map: name, message: error.to_string() })?;
        }
    }
    Ok(())
}

/// `--container` prefixes for the kernel side (`Filters` holds at most CGROUP_FILTER_VALUES).
pub fn container_filter(filters: &Filters) -> CgroupFilter {
    let mut filter = CgroupFilter::default();
    for (index, prefix) in filters.containers.iter().enumerate() {
        let bytes = &prefix.as_bytes()[..prefix.len().min(ID_LEN)];
        filter.containers[index][..bytes.len()].copy_from_slice(bytes);
        filter.container_lens[index] = bytes.len() as u32;
        filter.container_count += 1;
    }
    filter
}

/// Which of `--container` and `--cgroup` the tasks of cgroup `path` pass.
fn cgroup_verdict(filters: &Filters, path: &[u8]) -> u8 {
    let mut verdict = 0;
    if container::container_of(path)
        .is_some_and(|id| filters.containers.iter().any(|p| container::id_starts_with(&id, p)))
    {
        verdict |= cgroup_verdict::CONTAINER;
    }
    if filters.cgroups.iter().any(|filter| container::in_cgroup(path, filter.as_bytes())) {
        verdict |= cgroup_verdict::CGROUP;
    }
    verdict
}

/// Judges every cgroup for `--container`/`--cgroup`: first the kernel side starts judging those
/// created from now on, then every existing one is judged here, parents first.
pub fn judge_cgroups(ebpf: &mut Ebpf, filters: &Filters) -> Result<(), LoadError> {
    let started = std::time::Instant::now();
    for name in [program::CGROUP_MKDIR, program::CGROUP_RMDIR] {
        let program: &mut aya::programs::RawTracePoint = ebpf
            .program_mut(name)
            .ok_or_else(|| LoadError::CgroupHooks(format!("the object has no program {name}")))?
            .try_into()
            .map_err(|error: aya::programs::ProgramError| LoadError::CgroupHooks(error.to_string()))?;
        program.load().map_err(|error| LoadError::CgroupHooks(format!("{name}: {error}")))?;
        program.attach(name).map_err(|error| LoadError::CgroupHooks(format!("{name}: {error}")))?;
        log::debug!("{name} attached at {:?}", started.elapsed());
    }
    let map = ebpf
        .map_mut(map_name::CGROUP_VERDICTS)
        .ok_or_else(|| LoadError::Map { map: map_name::CGROUP_VERDICTS, message: "missing from the object".into() })?;
    let mut verdicts: BpfHashMap<&mut MapData, u64, u8> = BpfHashMap::try_from(map)
        .map_err(|error| LoadError::Map { map: map_name::CGROUP_VERDICTS, message: error.to_string() })?;
    let mut result = Ok(());
    cgroup::walk(|id, path| {
        if result.is_ok() && verdicts.insert(id, cgroup_verdict(filters, path), 0).is_err() {
            result = Err(LoadError::TooManyCgroups);
        }
    })?;
    result
}
