//! Telling the kernel side who tracer is in global IDs. Inside a PID namespace `getpid()` is a
//! local ID, while the hooks see global ones; so tracer runs a kernel program once in its own
//! process (`BPF_PROG_TEST_RUN`, Linux 5.10+ for raw tracepoint programs), which reads the
//! global TGID itself. `tracer run`'s command does the same to mark itself followed.
use std::os::fd::{AsFd, AsRawFd, RawFd};

use aya::{
    Ebpf,
    maps::{Array, MapData},
    programs::RawTracePoint,
};
use tracer_common::{map_name, program::IGNORE_SELF};

use crate::loader::error::LoadError;

/// `union bpf_attr`'s member for `BPF_PROG_TEST_RUN`.
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    _pad: u32,
}

const BPF_PROG_TEST_RUN: libc::c_long = 10;

/// Runs loaded program `program` once in the calling thread and returns its return value, or
/// the errno of the failed system call. Only a system call: safe between fork and exec.
pub fn run_once(program: RawFd) -> Result<u32, i32> {
    let mut attr = TestRunAttr { prog_fd: program as u32, ..TestRunAttr::default() };
    // SAFETY: `attr` is a valid BPF_PROG_TEST_RUN argument of the size given.
    let result = unsafe {
        libc::syscall(libc::SYS_bpf, BPF_PROG_TEST_RUN, &raw mut attr, size_of::<TestRunAttr>() as libc::c_uint)
    };
    if result != 0 {
        // SAFETY: reads this thread's errno.
        return Err(unsafe { *libc::__errno_location() });
    }
    Ok(attr.retval)
}

/// Makes the kernel side ignore tracer's own process; call before any hook is attached. Where
/// the kernel cannot run the program (before 5.10), `getpid()` stands in: right on the host, and
/// the one case it is wrong (tracer in a PID namespace on an old kernel) is logged.
pub fn ignore_self(ebpf: &mut Ebpf) -> Result<u32, LoadError> {
    let program: &mut RawTracePoint = ebpf
        .program_mut(IGNORE_SELF)
        .ok_or_else(|| LoadError::Object(format!("the object has no program {IGNORE_SELF}")))?
        .try_into()
        .map_err(|error: aya::programs::ProgramError| LoadError::Object(format!("{IGNORE_SELF}: {error}")))?;
    program.load().map_err(|error| LoadError::Object(format!("cannot load {IGNORE_SELF}: {error}")))?;
    let ran = match program.fd() {
        Ok(fd) => run_once(fd.as_fd().as_raw_fd()),
        Err(_) => Err(libc::EBADF),
    };
    // Loaded only for this one run.
    let _ = program.unload();
    let map = ebpf
        .map_mut(map_name::OWN_TGID)
        .ok_or_else(|| LoadError::Map { map: map_name::OWN_TGID, message: "missing from the object".into() })?;
    let mut own: Array<&mut MapData, u32> =
        Array::try_from(map).map_err(|error| LoadError::Map { map: map_name::OWN_TGID, message: error.to_string() })?;
    if let (Ok(0), Ok(tgid)) = (ran, own.get(&0, 0)) {
        return Ok(tgid);
    }
    let local = std::process::id();
    log::info!(
        "the kernel cannot run {IGNORE_SELF} ({ran:?}); ignoring tracer by getpid() {local}, \
         which is wrong only inside a PID namespace"
    );
    own.set(0, local, 0).map_err(|error| LoadError::Map { map: map_name::OWN_TGID, message: error.to_string() })?;
    Ok(local)
}
