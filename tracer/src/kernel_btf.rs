//! The running kernel's struct layouts and tracepoint prototypes, read from its BTF at start:
//! Rust eBPF has no CO-RE relocations, so the kernel programs get field offsets from here.
use std::path::{Path, PathBuf};

use btfparse::{Offset, Readable, TypeInformation, TypeVariant};
use tracer_common::KernelOffsets;

pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Environment variable naming a BTF file to use instead of the kernel's own (for kernels that
/// ship BTF separately).
pub const BTF_PATH_ENV: &str = "TRACER_BTF";

/// The BTF file describing the running kernel.
pub fn btf_path() -> PathBuf {
    std::env::var_os(BTF_PATH_ENV).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(VMLINUX_BTF))
}

#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    #[error("cannot read kernel BTF from {path}: {error} (tracer needs a kernel built with CONFIG_DEBUG_INFO_BTF)")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("cannot parse kernel BTF from {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("kernel BTF has no struct {0}")]
    MissingStruct(&'static str),
    #[error("kernel BTF has no field {field} in struct {structure}")]
    MissingField { structure: &'static str, field: &'static str },
    #[error("field {field} of struct {structure} is a bitfield; tracer cannot read it")]
    Bitfield { structure: &'static str, field: &'static str },
}

struct Bytes(Vec<u8>);

impl Readable for Bytes {
    fn read(&self, offset: u64, buffer: &mut [u8]) -> btfparse::Result<()> {
        let start = usize::try_from(offset).ok();
        let source = start.and_then(|start| self.0.get(start..start.checked_add(buffer.len())?));
        match source {
            Some(source) => {
                buffer.copy_from_slice(source);
                Ok(())
            }
            None => Err(btfparse::Error::new(
                btfparse::ErrorKind::IOError,
                "read past the end of the BTF data",
            )),
        }
    }
}

/// Parsed kernel BTF.
pub struct KernelBtf {
    types: TypeInformation,
}

impl KernelBtf {
    pub fn load(path: &Path) -> Result<Self, BtfError> {
        let data = std::fs::read(path).map_err(|error| BtfError::Read { path: path.into(), error })?;
        let types = TypeInformation::new(&Bytes(data))
            .map_err(|error| BtfError::Parse { path: path.into(), message: format!("{error:?}") })?;
        Ok(Self { types })
    }

    /// Byte offset of `field` (a dotted path through nested and anonymous members) in `structure`.
    pub fn field_offset(&self, structure: &'static str, field: &'static str) -> Result<u32, BtfError> {
        let id = self.types.id_of(structure).ok_or(BtfError::MissingStruct(structure))?;
        match self.types.offset_of(id, field) {
            Ok((_, Offset::ByteOffset(offset))) => Ok(offset),
            Ok((_, Offset::BitOffsetAndSize(..))) => Err(BtfError::Bitfield { structure, field }),
            Err(_) => Err(BtfError::MissingField { structure, field }),
        }
    }

    /// Every offset the kernel programs need.
    pub fn offsets(&self) -> Result<KernelOffsets, BtfError> {
        Ok(KernelOffsets {
            task_pid: self.field_offset("task_struct", "pid")?,
            task_tgid: self.field_offset("task_struct", "tgid")?,
            task_real_parent: self.field_offset("task_struct", "real_parent")?,
            task_exit_code: self.field_offset("task_struct", "exit_code")?,
            task_start_time: self.field_offset("task_struct", "start_time")?,
            task_comm: self.field_offset("task_struct", "comm")?,
            task_mm: self.field_offset("task_struct", "mm")?,
            task_signal: self.field_offset("task_struct", "signal")?,
            task_group_leader: self.field_offset("task_struct", "group_leader")?,
            signal_live: self.field_offset("signal_struct", "live")?,
            mm_arg_start: self.field_offset("mm_struct", "arg_start")?,
            mm_arg_end: self.field_offset("mm_struct", "arg_end")?,
            dentry_name: self.field_offset("dentry", "d_name.name")?,
            bprm_filename: self.field_offset("linux_binprm", "filename")?,
            regs_arg0: self.field_offset("pt_regs", "di")?,
            regs_arg1: self.field_offset("pt_regs", "si")?,
        })
    }

    /// Number of arguments a BTF-enabled tracepoint passes (its `btf_trace_<name>` prototype
    /// minus the leading context pointer), or None when the kernel has no such tracepoint.
    pub fn tracepoint_arguments(&self, name: &str) -> Option<usize> {
        let mut id = self.types.id_of(&format!("btf_trace_{name}"))?;
        for _ in 0..4 {
            match self.types.from_id(id)? {
                TypeVariant::Typedef(typedef) => id = *typedef.tid(),
                TypeVariant::Ptr(pointer) => id = *pointer.tid(),
                TypeVariant::FuncProto(prototype) => {
                    return Some(prototype.parameter_list().len().saturating_sub(1));
                }
                _ => return None,
            }
        }
        None
    }
}
