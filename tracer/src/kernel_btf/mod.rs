//! The running kernel's struct layouts and tracepoint prototypes, read from its BTF at start:
//! Rust eBPF has no CO-RE relocations, so the kernel programs get field offsets from here.
//!
//! It reads the raw BTF (format: Documentation/bpf/btf.rst) through an index of where each
//! type starts, resolving only the few types asked for. General-purpose parsers materialise
//! every kernel type (over 60 MB and 100 ms for a 5.5 MB vmlinux BTF, measured); this stays at
//! the file's size and a few milliseconds.
use std::path::{Path, PathBuf};

use tracer_common::KernelOffsets;

mod attach_ids;

pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Environment variable naming a BTF file to use instead of the kernel's own (for kernels that
/// ship BTF separately).
pub const BTF_PATH_ENV: &str = "TRACER_BTF";

/// The BTF file describing the running kernel.
pub fn btf_path() -> PathBuf {
    std::env::var_os(BTF_PATH_ENV).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(VMLINUX_BTF))
}

/// Kernel BTF is a few MiB (5.5 MiB for a distribution's vmlinux); a file past this is not BTF,
/// and reading it whole (`TRACER_BTF=/dev/zero`) would exhaust memory.
pub const MAX_BTF_BYTES: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    #[error("cannot read kernel BTF from {path}: {error} (tracer needs a kernel built with CONFIG_DEBUG_INFO_BTF)")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("cannot read kernel BTF from {path}: not a regular file")]
    NotAFile { path: PathBuf },
    #[error("cannot read kernel BTF from {path}: larger than {} MiB, which no kernel's BTF is", MAX_BTF_BYTES >> 20)]
    TooLarge { path: PathBuf },
    #[error("cannot parse kernel BTF from {path}: {message}")]
    Parse { path: PathBuf, message: &'static str },
    #[error("kernel BTF has no struct {0}")]
    MissingStruct(&'static str),
    #[error("kernel BTF has no field {field} in struct {structure}")]
    MissingField { structure: &'static str, field: &'static str },
    #[error("field {field} of struct {structure} is a bitfield; tracer cannot read it")]
    Bitfield { structure: &'static str, field: &'static str },
}

const MAGIC: u16 = 0xeb9f;
const HEADER_LEN: usize = 24;
const TYPE_LEN: usize = 12;

mod kind {
    pub const PTR: u32 = 2;
    pub const STRUCT: u32 = 4;
    pub const UNION: u32 = 5;
    pub const TYPEDEF: u32 = 8;
    pub const VOLATILE: u32 = 9;
    pub const CONST: u32 = 10;
    pub const RESTRICT: u32 = 11;
    pub const FUNC_PROTO: u32 = 13;
    pub const TYPE_TAG: u32 = 18;
}

/// Bytes of kind-specific data after a type's 12-byte header.
fn trailing_len(kind: u32, vlen: usize) -> Option<usize> {
    Some(match kind {
        1 | 14 | 17 => 4,             // INT, VAR, DECL_TAG
        3 => 12,                      // ARRAY
        4 | 5 | 15 | 19 => 12 * vlen, // STRUCT, UNION, DATASEC, ENUM64
        6 | 13 => 8 * vlen,           // ENUM, FUNC_PROTO
        2 | 7..=12 | 16 | 18 => 0,    // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG
        _ => return None,
    })
}

/// Reads a BTF file: a regular file (a device or a FIFO could block or never end), at most
/// [`MAX_BTF_BYTES`] long whatever its size claims (sysfs files may claim none).
fn read_capped(path: &Path) -> Result<Vec<u8>, BtfError> {
    use std::io::Read;
    let read_error = |error| BtfError::Read { path: path.into(), error };
    if !std::fs::metadata(path).map_err(read_error)?.is_file() {
        return Err(BtfError::NotAFile { path: path.into() });
    }
    let mut data = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_BTF_BYTES + 1).read_to_end(&mut data))
        .map_err(read_error)?;
    if data.len() as u64 > MAX_BTF_BYTES {
        return Err(BtfError::TooLarge { path: path.into() });
    }
    Ok(data)
}

/// One type's header fields.
#[derive(Clone, Copy)]
struct TypeHeader {
    name: u32,
    kind: u32,
    vlen: usize,
    kind_flag: bool,
    /// `size` or `type`, depending on the kind.
    size_or_type: u32,
    /// Where its trailing data starts in `KernelBtf::data`.
    trailing: usize,
}

/// Kernel BTF, indexed by type ID.
pub struct KernelBtf {
    data: Vec<u8>,
    strings: std::ops::Range<usize>,
    /// Start of each type's header in `data`; index 0 is type ID 1.
    types: Vec<u32>,
}

impl KernelBtf {
    pub fn load(path: &Path) -> Result<Self, BtfError> {
        let data = read_capped(path)?;
        Self::parse(data).map_err(|message| BtfError::Parse { path: path.into(), message })
    }

    fn parse(data: Vec<u8>) -> Result<Self, &'static str> {
        let u16_at = |at: usize| data.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
        if u16_at(0) != Some(MAGIC) {
            return Err("not little-endian BTF (bad magic)");
        }
        let word = |at: usize| -> Result<usize, &'static str> {
            data.get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                .ok_or("truncated header")
        };
        let header_len = word(4)?;
        if header_len < HEADER_LEN {
            return Err("header too short");
        }
        let (type_off, type_len, str_off, str_len) = (word(8)?, word(12)?, word(16)?, word(20)?);
        let types_start = header_len.checked_add(type_off).ok_or("bad type section")?;
        let types_end = types_start.checked_add(type_len).filter(|end| *end <= data.len()).ok_or("bad type section")?;
        let strings_start = header_len.checked_add(str_off).ok_or("bad string section")?;
        let strings_end =
            strings_start.checked_add(str_len).filter(|end| *end <= data.len()).ok_or("bad string section")?;
        let mut types = Vec::new();
        let mut at = types_start;
        while at < types_end {
            if at + TYPE_LEN > types_end {
                return Err("type section ends inside a type");
            }
            let info = word(at + 4)? as u32;
            let trailing = trailing_len((info >> 24) & 0x1f, (info & 0xffff) as usize).ok_or("unknown type kind")?;
            types.push(u32::try_from(at).map_err(|_| "BTF too large")?);
            at += TYPE_LEN + trailing;
            if at > types_end {
                return Err("type section ends inside a type");
            }
        }
        Ok(Self { data, strings: strings_start..strings_end, types })
    }

    fn u32_at(&self, at: usize) -> u32 {
        // Every offset read here was bounds-checked by `parse`, which walked the same layout.
        let bytes = &self.data[at..at + 4];
        u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
    }

    fn header(&self, id: u32) -> Option<TypeHeader> {
        let at = *self.types.get((id as usize).checked_sub(1)?)? as usize;
        let info = self.u32_at(at + 4);
        Some(TypeHeader {
            name: self.u32_at(at),
            kind: (info >> 24) & 0x1f,
            vlen: (info & 0xffff) as usize,
            kind_flag: info >> 31 != 0,
            size_or_type: self.u32_at(at + 8),
            trailing: at + TYPE_LEN,
        })
    }

    fn name(&self, offset: u32) -> &[u8] {
        let start = self.strings.start.saturating_add(offset as usize).min(self.strings.end);
        let rest = &self.data[start..self.strings.end];
        &rest[..rest.iter().position(|&byte| byte == 0).unwrap_or(rest.len())]
    }

    /// The ID of the type of `kind` named `name`.
    fn find(&self, kind: u32, name: &str) -> Option<u32> {
        (1..=self.types.len() as u32).find(|&id| {
            self.header(id).is_some_and(|header| header.kind == kind && self.name(header.name) == name.as_bytes())
        })
    }

    /// Follows typedefs and qualifiers to the underlying type.
    fn resolve(&self, mut id: u32) -> Option<TypeHeader> {
        for _ in 0..32 {
            let header = self.header(id)?;
            match header.kind {
                kind::TYPEDEF | kind::VOLATILE | kind::CONST | kind::RESTRICT | kind::TYPE_TAG => {
                    id = header.size_or_type
                }
                _ => return Some(header),
            }
        }
        None
    }

    /// Bit offset of member `name` in a struct or union, searching anonymous members too.
    fn member_bits(&self, aggregate: TypeHeader, name: &[u8]) -> Option<(u32, u32, bool)> {
        for index in 0..aggregate.vlen {
            let at = aggregate.trailing + index * 12;
            let (member_name, member_type, raw_offset) = (self.u32_at(at), self.u32_at(at + 4), self.u32_at(at + 8));
            let (bits, bitfield) = if aggregate.kind_flag {
                (raw_offset & 0x00ff_ffff, raw_offset >> 24 != 0)
            } else {
                (raw_offset, false)
            };
            if self.name(member_name) == name {
                return Some((bits, member_type, bitfield));
            }
            if member_name == 0 {
                let inner = self.resolve(member_type)?;
                if matches!(inner.kind, kind::STRUCT | kind::UNION)
                    && let Some((inner_bits, found, bitfield)) = self.member_bits(inner, name)
                {
                    return Some((bits + inner_bits, found, bitfield));
                }
            }
        }
        None
    }

    /// Byte offset of `field` (a dotted path through nested and anonymous members) in `structure`.
    pub fn field_offset(&self, structure: &'static str, field: &'static str) -> Result<u32, BtfError> {
        let bits = self.field_bits(structure, field, false)?;
        if bits % 8 != 0 {
            return Err(BtfError::Bitfield { structure, field });
        }
        Ok(bits / 8)
    }

    /// Bit offset of `field`, which may be a bit field.
    pub fn bit_offset(&self, structure: &'static str, field: &'static str) -> Result<u32, BtfError> {
        self.field_bits(structure, field, true)
    }

    fn field_bits(&self, structure: &'static str, field: &'static str, bitfields: bool) -> Result<u32, BtfError> {
        let missing = || BtfError::MissingField { structure, field };
        let id = self.find(kind::STRUCT, structure).ok_or(BtfError::MissingStruct(structure))?;
        let mut current = self.resolve(id).ok_or(BtfError::MissingStruct(structure))?;
        let mut bits = 0;
        let mut parts = field.split('.').peekable();
        while let Some(part) = parts.next() {
            let (member_bits, member_type, bitfield) =
                self.member_bits(current, part.as_bytes()).ok_or_else(missing)?;
            if bitfield && !bitfields {
                return Err(BtfError::Bitfield { structure, field });
            }
            bits += member_bits;
            if parts.peek().is_some() {
                current = self
                    .resolve(member_type)
                    .filter(|t| matches!(t.kind, kind::STRUCT | kind::UNION))
                    .ok_or_else(missing)?;
            }
        }
        Ok(bits)
    }

    /// Size in bytes of `structure`.
    pub fn struct_size(&self, structure: &'static str) -> Result<u32, BtfError> {
        let id = self.find(kind::STRUCT, structure).ok_or(BtfError::MissingStruct(structure))?;
        Ok(self.resolve(id).ok_or(BtfError::MissingStruct(structure))?.size_or_type)
    }

    /// Every offset the kernel programs need.
    pub fn offsets(&self) -> Result<KernelOffsets, BtfError> {
        Ok(KernelOffsets {
            task_pid: self.field_offset("task_struct", "pid")?,
            task_tgid: self.field_offset("task_struct", "tgid")?,
            task_real_parent: self.field_offset("task_struct", "real_parent")?,
            task_exit_code: self.field_offset("task_struct", "exit_code")?,
            task_exit_signal: self.field_offset("task_struct", "exit_signal")?,
            task_start_boottime: self
                .field_offset("task_struct", "start_boottime")
                .or_else(|_| self.field_offset("task_struct", "real_start_time"))?,
            task_comm: self.field_offset("task_struct", "comm")?,
            task_mm: self.field_offset("task_struct", "mm")?,
            task_signal: self.field_offset("task_struct", "signal")?,
            task_group_leader: self.field_offset("task_struct", "group_leader")?,
            signal_live: self.field_offset("signal_struct", "live")?,
            mm_arg_start: self.field_offset("mm_struct", "arg_start")?,
            mm_arg_end: self.field_offset("mm_struct", "arg_end")?,
            mm_env_start: self.field_offset("mm_struct", "env_start")?,
            mm_env_end: self.field_offset("mm_struct", "env_end")?,
            task_cred: self.field_offset("task_struct", "cred")?,
            cred_uid: self.field_offset("cred", "uid")?,
            cred_euid: self.field_offset("cred", "euid")?,
            cred_gid: self.field_offset("cred", "gid")?,
            cred_egid: self.field_offset("cred", "egid")?,
            task_fs: self.field_offset("task_struct", "fs")?,
            fs_pwd_mnt: self.field_offset("fs_struct", "pwd.mnt")?,
            fs_pwd_dentry: self.field_offset("fs_struct", "pwd.dentry")?,
            dentry_parent: self.field_offset("dentry", "d_parent")?,
            vfsmount_mnt_root: self.field_offset("vfsmount", "mnt_root")?,
            mount_mnt: self.field_offset("mount", "mnt")?,
            mount_parent: self.field_offset("mount", "mnt_parent")?,
            mount_mountpoint: self.field_offset("mount", "mnt_mountpoint")?,
            task_in_execve_bit: self.bit_offset("task_struct", "in_execve")?,
            dentry_name: self.field_offset("dentry", "d_name.name")?,
            bprm_filename: self.field_offset("linux_binprm", "filename")?,
            regs_arg0: self.field_offset("pt_regs", "di")?,
            regs_arg1: self.field_offset("pt_regs", "si")?,
        })
    }

    /// Argument counts of `names`, to keep after this (large) value is dropped.
    pub fn tracepoints(&self, names: &[&'static str]) -> TracepointArguments {
        TracepointArguments(names.iter().map(|name| (*name, self.tracepoint_arguments(name))).collect())
    }

    /// Number of arguments a BTF-enabled tracepoint passes (its `btf_trace_<name>` prototype
    /// minus the leading context pointer), or None when the kernel has no such tracepoint.
    pub fn tracepoint_arguments(&self, name: &str) -> Option<usize> {
        let typedef = self.find(kind::TYPEDEF, &format!("btf_trace_{name}"))?;
        let pointer = self.resolve(typedef).filter(|t| t.kind == kind::PTR)?;
        let prototype = self.resolve(pointer.size_or_type).filter(|t| t.kind == kind::FUNC_PROTO)?;
        Some(prototype.vlen.saturating_sub(1))
    }
}

/// Argument counts of BTF-enabled tracepoints (None: the kernel has no such tracepoint).
#[derive(Clone, Debug, Default)]
pub struct TracepointArguments(std::collections::HashMap<&'static str, Option<usize>>);

impl TracepointArguments {
    pub fn get(&self, name: &str) -> Option<usize> {
        self.0.get(name).copied().flatten()
    }
}

#[cfg(test)]
mod tests;
