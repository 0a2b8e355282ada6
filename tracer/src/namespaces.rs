//! Namespaces: the kinds and how a task changes them, as events carry them, and the kernel
//! struct offsets the kernel side needs to read a task's namespaces, its IDs in its own PID
//! namespace and its cgroup (read from the running kernel's BTF, like [`crate::kernel_btf`]'s).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strum::{EnumIter, IntoEnumIterator, IntoStaticStr};
use tracer_common::namespace::{self as wire, KINDS, NO_FIELD, NamespaceOffsets};

use crate::kernel_btf::{BtfError, KernelBtf};

#[cfg(test)]
pub use wire::INIT_PIDNS_INODE;

/// A kind of namespace, named as in `/proc/<tid>/ns/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, IntoStaticStr, EnumIter)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum NamespaceKind {
    Cgroup,
    Ipc,
    Mnt,
    Net,
    /// The task's own PID namespace (fixed for its life; differs from its creator's after the
    /// creator's `unshare(CLONE_NEWPID)`).
    Pid,
    /// Where the task's future children go.
    PidForChildren,
    Time,
    TimeForChildren,
    User,
    Uts,
}

impl NamespaceKind {
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The kinds whose bits are set in a kernel mask (bit `i` is the `i`-th kind).
    pub fn from_mask(mask: u32) -> Vec<NamespaceKind> {
        NamespaceKind::iter().enumerate().filter(|(index, _)| mask & (1 << index) != 0).map(|(_, kind)| kind).collect()
    }
}

/// How a task's namespaces changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum NamespaceHow {
    Setns,
    Unshare,
    /// A new task, created in namespaces other than its creator's.
    Clone,
}

impl NamespaceHow {
    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn from_wire(value: u32) -> Option<NamespaceHow> {
        use tracer_common::namespace_how::{CLONE, SETNS, UNSHARE};
        match value {
            SETNS => Some(NamespaceHow::Setns),
            UNSHARE => Some(NamespaceHow::Unshare),
            CLONE => Some(NamespaceHow::Clone),
            _ => None,
        }
    }
}

/// Namespace inode numbers by kind; JSON `{"net": 4026532451}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NamespaceInodes(pub BTreeMap<NamespaceKind, u32>);

impl NamespaceInodes {
    /// The inodes of the kinds in `mask`, from a kernel per-kind array.
    pub fn from_wire(mask: u32, inodes: &[u32; KINDS]) -> Self {
        Self(
            NamespaceKind::iter()
                .zip(inodes)
                .filter(|(kind, _)| mask & (1 << *kind as u32) != 0)
                .map(|(kind, inode)| (kind, *inode))
                .collect(),
        )
    }

    /// Bits of the kinds whose inodes differ between two kernel per-kind arrays.
    pub fn differing(old: &[u32; KINDS], new: &[u32; KINDS]) -> u32 {
        (0..KINDS).filter(|&kind| old[kind] != new[kind]).fold(0, |mask, kind| mask | 1 << kind)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, kind: NamespaceKind) -> Option<u32> {
        self.0.get(&kind).copied()
    }
}

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

    use super::*;
    use crate::kernel_btf::VMLINUX_BTF;

    #[test]
    fn kinds_match_the_kernel_sides_order_and_proc_names() {
        let names: Vec<&str> = NamespaceKind::iter().map(NamespaceKind::name).collect();
        assert_eq!(names, wire::NAMES);
        assert_eq!(
            NamespaceKind::from_mask(wire::bit(wire::kind::NET) | wire::bit(wire::kind::USER)),
            [NamespaceKind::Net, NamespaceKind::User]
        );
    }

    #[test]
    fn inodes_serialise_as_an_object_by_kind() {
        let mut inodes = [0; KINDS];
        inodes[wire::kind::UTS] = 7;
        inodes[wire::kind::NET] = 9;
        let only_uts = NamespaceInodes::from_wire(wire::bit(wire::kind::UTS), &inodes);
        assert_eq!(serde_json::to_string(&only_uts).unwrap(), r#"{"uts":7}"#);
        let bytes = postcard::to_allocvec(&only_uts).unwrap();
        assert_eq!(postcard::from_bytes::<NamespaceInodes>(&bytes).unwrap(), only_uts);
    }

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
