//! Which hook observed an event ([`Source`]) and what kind of event it is ([`Kind`]), with their
//! names, and their mapping to the kernel side's wire table (`tracer_common::kind`): each way is
//! an exhaustive match, so a kind or source added on one side does not compile until the other
//! has it.
use serde::{Deserialize, Serialize};
use strum::{EnumString, IntoStaticStr, VariantArray};
use tracer_common::{EventKind, HookSource};

use super::Kind;

/// Which hook observed an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, IntoStaticStr, EnumString, VariantArray)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Source {
    TpBtf,
    RawTracepoint,
    Fentry,
    Kprobe,
    SyscallEntry,
    /// Produced by tracer itself (lost-event reports).
    Tracer,
    /// A syscall's effect seen at its exit, against a snapshot taken at its entry.
    SyscallExit,
}

impl From<HookSource> for Source {
    fn from(source: HookSource) -> Source {
        match source {
            HookSource::TpBtf => Source::TpBtf,
            HookSource::RawTracepoint => Source::RawTracepoint,
            HookSource::Fentry => Source::Fentry,
            HookSource::Kprobe => Source::Kprobe,
            HookSource::SyscallEntry => Source::SyscallEntry,
            HookSource::SyscallExit => Source::SyscallExit,
        }
    }
}

impl Source {
    /// The kernel side's value for this source; `None` for tracer's own.
    pub fn wire(self) -> Option<HookSource> {
        match self {
            Source::TpBtf => Some(HookSource::TpBtf),
            Source::RawTracepoint => Some(HookSource::RawTracepoint),
            Source::Fentry => Some(HookSource::Fentry),
            Source::Kprobe => Some(HookSource::Kprobe),
            Source::SyscallEntry => Some(HookSource::SyscallEntry),
            Source::SyscallExit => Some(HookSource::SyscallExit),
            Source::Tracer => None,
        }
    }

    /// Name used in JSON and `tracer probes`.
    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn from_name(name: &str) -> Option<Source> {
        name.parse().ok()
    }
}

impl From<EventKind> for Kind {
    fn from(kind: EventKind) -> Kind {
        match kind {
            EventKind::Fork => Kind::Fork,
            EventKind::Exec => Kind::Exec,
            EventKind::Exit => Kind::Exit,
            EventKind::Rename => Kind::Rename,
            EventKind::Lookup => Kind::Lookup,
            EventKind::Namespace => Kind::Namespace,
        }
    }
}

impl Kind {
    /// The kernel side's kind of record; `None` for tracer's own (lost-event reports).
    pub fn wire(self) -> Option<EventKind> {
        match self {
            Kind::Fork => Some(EventKind::Fork),
            Kind::Exec => Some(EventKind::Exec),
            Kind::Exit => Some(EventKind::Exit),
            Kind::Rename => Some(EventKind::Rename),
            Kind::Lookup => Some(EventKind::Lookup),
            Kind::Namespace => Some(EventKind::Namespace),
            Kind::Lost => None,
        }
    }

    /// Every kind a user can select (`lost` is always shown).
    pub fn selectable() -> impl Iterator<Item = Kind> {
        Kind::VARIANTS.iter().copied().filter(|kind| *kind != Kind::Lost)
    }

    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        name.parse().ok()
    }
}
