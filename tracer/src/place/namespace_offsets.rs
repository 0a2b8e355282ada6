//! The kernel struct offsets the kernel side needs to read a task's namespaces, its IDs in its
//! own PID namespace and its cgroup, read from the running kernel's BTF like
//! [`crate::kernel_btf`]'s.
use tracer_common::namespace::{self as wire, NO_FIELD, NamespaceOffsets};

use crate::kernel_btf::{BtfError, KernelBtf};

/// Offset of `field` in `structure`, or [`NO_FIELD`] when this kernel lacks either (a kind
/// it was built without, such as time namespaces before 5.6).
fn optional(btf: &KernelBtf, structure: &'static str, field: &'static str) -> Result<u32, BtfError> {
    match btf.field_offset(structure, field) {
        Ok(offset) => Ok(offset),
        Err(BtfError::MissingStruct(_) | BtfError::MissingField { .. }) => Ok(NO_FIELD),
        Err(error) => Err(error),
    }
}

/// Every offset the namespace, PID-namespace and cgroup reads need.
pub fn offsets(btf: &KernelBtf) -> Result<NamespaceOffsets, BtfError> {
    use wire::kind;
    let mut offsets = NamespaceOffsets {
        task_thread_pid: btf.field_offset("task_struct", "thread_pid")?,
        task_nsproxy: btf.field_offset("task_struct", "nsproxy")?,
        task_cred: btf.field_offset("task_struct", "cred")?,
        task_cgroups: btf.field_offset("task_struct", "cgroups")?,
        pid_level: btf.field_offset("pid", "level")?,
        pid_numbers: btf.field_offset("pid", "numbers")?,
        upid_size: btf.struct_size("upid")?,
        upid_nr: btf.field_offset("upid", "nr")?,
        upid_ns: btf.field_offset("upid", "ns")?,
        cred_user_ns: btf.field_offset("cred", "user_ns")?,
        css_set_dfl_cgrp: btf.field_offset("css_set", "dfl_cgrp")?,
        cgroup_kn: btf.field_offset("cgroup", "kn")?,
        cgroup_root: btf.field_offset("cgroup", "root")?,
        root_hierarchy_id: btf.field_offset("cgroup_root", "hierarchy_id")?,
        // Renamed to `__parent` in Linux 6.15 (it became RCU-protected).
        kernfs_parent: match optional(btf, "kernfs_node", "__parent")? {
            NO_FIELD => btf.field_offset("kernfs_node", "parent")?,
            offset => offset,
        },
        kernfs_name: btf.field_offset("kernfs_node", "name")?,
        kernfs_id: btf.field_offset("kernfs_node", "id")?,
        regs_syscall_nr: btf.field_offset("pt_regs", "orig_ax")?,
        ..NamespaceOffsets::default()
    };
    let slots: [(usize, &'static str, &'static str); 8] = [
        (kind::CGROUP, "cgroup_ns", "cgroup_namespace"),
        (kind::IPC, "ipc_ns", "ipc_namespace"),
        (kind::MNT, "mnt_ns", "mnt_namespace"),
        (kind::NET, "net_ns", "net"),
        (kind::PID_FOR_CHILDREN, "pid_ns_for_children", "pid_namespace"),
        (kind::TIME, "time_ns", "time_namespace"),
        (kind::TIME_FOR_CHILDREN, "time_ns_for_children", "time_namespace"),
        (kind::UTS, "uts_ns", "uts_namespace"),
    ];
    for (kind, slot, structure) in slots {
        offsets.nsproxy_slot[kind] = optional(btf, "nsproxy", slot)?;
        offsets.ns_inum[kind] = optional(btf, structure, "ns.inum")?;
    }
    offsets.ns_inum[kind::PID] = btf.field_offset("pid_namespace", "ns.inum")?;
    offsets.ns_inum[kind::USER] = btf.field_offset("user_namespace", "ns.inum")?;
    Ok(offsets)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use tracer_common::namespace::KINDS;

    use super::*;
    use crate::kernel_btf::VMLINUX_BTF;

    #[test]
    fn reads_this_kernels_layouts() {
        let btf = KernelBtf::load(Path::new(VMLINUX_BTF)).expect("tracer's machines have kernel BTF");
        let offsets = offsets(&btf).expect("every field exists");
        assert_eq!(offsets.upid_size, 16, "struct upid is an int and a pointer");
        for kind in 0..KINDS {
            assert_ne!(offsets.ns_inum[kind], NO_FIELD, "{}", wire::NAMES[kind]);
        }
        assert_eq!(offsets.nsproxy_slot[wire::kind::USER], NO_FIELD);
        assert_eq!(offsets.nsproxy_slot[wire::kind::PID], NO_FIELD);
    }
}
