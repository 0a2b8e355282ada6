//! Namespaces as events carry them: their kinds, how a task changes them, and inode numbers by
//! kind. (What the kernel side needs to read them is in [`crate::place::namespace_offsets`].)
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strum::{EnumIter, IntoEnumIterator, IntoStaticStr};
use tracer_common::namespace::KINDS;

#[cfg(test)]
pub use tracer_common::namespace::INIT_PIDNS_INODE;

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

#[cfg(test)]
mod tests {
    use tracer_common::namespace as wire;

    use super::*;

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
}
