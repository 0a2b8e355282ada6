//! What the running kernel offers each hook, asked without tracer: a trivial program of the same
//! type loaded and attached at the same place (fentry on a function, tp_btf on a tracepoint), or
//! a kprobe opened on the function through `perf_event_open`. The tests hold tracer's plan
//! against these answers: a hook the kernel offers must attach and deliver events, a hook it
//! refuses must be refused by tracer with the kernel's reason. `TRACER_REQUIRE_HOOKS` (set in the
//! Debian VM) names hooks a kernel is known to offer, so a probe that wrongly says "refused"
//! fails there instead of turning the event checks into refusal checks.
use std::{
    ffi::{CStr, CString},
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    sync::OnceLock,
};

use aya_obj::{
    btf::{Btf, BtfKind},
    generated::{PERF_FLAG_FD_CLOEXEC, bpf_attach_type, bpf_attr, bpf_cmd, bpf_prog_type, perf_event_attr},
};

/// The kernel's answer for one hook.
#[derive(Debug)]
pub enum Offer {
    Offered,
    Refused {
        /// Why, for people.
        reason: String,
        /// A piece of the kernel's answer that tracer's refusal must quote.
        evidence: String,
    },
}

impl Offer {
    pub fn is_offered(&self) -> bool {
        matches!(self, Offer::Offered)
    }
}

/// Where the kprobe PMU says its type; absent on kernels built without CONFIG_KPROBES.
const KPROBE_TYPE: &str = "/sys/bus/event_source/devices/kprobe/type";

/// Whether a `hook` (`fentry`, `kprobe`, `tp_btf`…) must be offered on this kernel, per
/// `TRACER_REQUIRE_HOOKS`.
pub fn required(hook: &str) -> bool {
    std::env::var("TRACER_REQUIRE_HOOKS").is_ok_and(|hooks| hooks.split(',').any(|name| name.trim() == hook))
}

/// `offer`, after checking it against `TRACER_REQUIRE_HOOKS`.
pub fn checked(hook: &str, what: &str, offer: Offer) -> Offer {
    if let Offer::Refused { reason, .. } = &offer {
        assert!(
            !required(hook),
            "[{}] this kernel is known to offer {hook} (TRACER_REQUIRE_HOOKS), yet {what} was refused: {reason}",
            super::machine()
        );
    }
    offer
}

/// fentry on kernel function `function`.
pub fn fentry(function: &str) -> Offer {
    let offer = match btf_id(function, BtfKind::Func) {
        Err(reason) => Offer::Refused { reason, evidence: function.to_owned() },
        Ok(id) => match tracing_program(bpf_attach_type::BPF_TRACE_FENTRY, id) {
            Ok(()) => Offer::Offered,
            Err((call, error)) => Offer::Refused {
                reason: format!("a trivial fentry program on {function}: {call} failed: {error}"),
                evidence: error.to_string(),
            },
        },
    };
    checked("fentry", &format!("fentry on {function}"), offer)
}

/// tp_btf on the tracepoint `tracepoint` (e.g. `sched_process_exec`).
pub fn tp_btf(tracepoint: &str) -> Offer {
    let offer = match btf_id(&format!("btf_trace_{tracepoint}"), BtfKind::Typedef) {
        Err(reason) => Offer::Refused { reason, evidence: tracepoint.to_owned() },
        Ok(id) => match tracing_program(bpf_attach_type::BPF_TRACE_RAW_TP, id) {
            Ok(()) => Offer::Offered,
            Err((call, error)) => Offer::Refused {
                reason: format!("a trivial tp_btf program on {tracepoint}: {call} failed: {error}"),
                evidence: error.to_string(),
            },
        },
    };
    checked("tp_btf", &format!("tp_btf on {tracepoint}"), offer)
}

/// tp_btf on `tracepoint` for a program that calls `bpf_get_current_task_btf` (Linux 5.11+), as
/// tracer's tp_btf fork, exec and exit programs do to read the current task with plain loads.
pub fn tp_btf_task_btf(tracepoint: &str) -> Offer {
    // tp_btf itself must be offered (and is checked against TRACER_REQUIRE_HOOKS); the helper is
    // what older kernels lack.
    if let refused @ Offer::Refused { .. } = tp_btf(tracepoint) {
        return refused;
    }
    let id = btf_id(&format!("btf_trace_{tracepoint}"), BtfKind::Typedef).expect("tp_btf found it");
    match load_and_attach(
        bpf_prog_type::BPF_PROG_TYPE_TRACING,
        bpf_attach_type::BPF_TRACE_RAW_TP as u32,
        id,
        None,
        &CALLS_GET_CURRENT_TASK_BTF,
    ) {
        Ok(()) => Offer::Offered,
        Err((call, error)) => Offer::Refused {
            reason: format!(
                "a tp_btf program on {tracepoint} calling bpf_get_current_task_btf: {call} failed: {error}"
            ),
            evidence: error.to_string(),
        },
    }
}

/// `bpf_loop` (Linux 5.17+), which tracer's tp_btf exec program walks the working directory
/// with. A program calling it needs BTF for its callback, so this one passes no callback and is
/// refused either way: the verifier's log says whether it knew the helper (`unknown#181` when
/// not) or only disliked the argument.
pub fn bpf_loop() -> Offer {
    let mut log = vec![0u8; 64 * 1024];
    match load_logged(bpf_prog_type::BPF_PROG_TYPE_RAW_TRACEPOINT, &CALLS_BPF_LOOP, &mut log) {
        Ok(_) => Offer::Offered,
        Err(error) => {
            let log = String::from_utf8_lossy(&log);
            let log = log.trim_end_matches('\0');
            if log.contains("unknown#181") {
                Offer::Refused {
                    reason: format!("a program calling bpf_loop: BPF_PROG_LOAD failed: {error}: {}", log.trim()),
                    evidence: error.to_string(),
                }
            } else {
                Offer::Offered
            }
        }
    }
}

/// `bpf_task_pt_regs` on `bpf_get_current_task_btf` (Linux 5.15+) in a program of `hook`'s type
/// (`fentry`, `kprobe`), loaded (not attached): how tracer's fentry and kprobe namespace programs
/// read the syscall number from the task's saved registers.
pub fn task_pt_regs(hook: &str) -> Offer {
    let loaded = match hook {
        "fentry" => btf_id("switch_task_namespaces", BtfKind::Func).map_err(io::Error::other).and_then(|id| {
            load(
                bpf_prog_type::BPF_PROG_TYPE_TRACING,
                bpf_attach_type::BPF_TRACE_FENTRY as u32,
                id,
                &CALLS_TASK_PT_REGS,
            )
        }),
        "kprobe" => load(bpf_prog_type::BPF_PROG_TYPE_KPROBE, 0, 0, &CALLS_TASK_PT_REGS),
        _ => panic!("no {hook} program reads pt_regs"),
    };
    match loaded {
        Ok(_) => Offer::Offered,
        Err(error) => Offer::Refused {
            reason: format!("a {hook} program calling bpf_task_pt_regs: BPF_PROG_LOAD failed: {error}"),
            evidence: error.to_string(),
        },
    }
}

/// What tracer's tp_btf strategy for the lifecycle `kind` (`fork`, `exec`, `exit`, `rename`)
/// needs from this kernel, asked without tracer: each tracepoint, with `bpf_get_current_task_btf`
/// where tracer's program reads the current task through it (fork, exec, exit), and `bpf_loop`
/// where it walks in one (the ancestors of fork, exec and exit; exec's working directory). The
/// first refusal, or `Offered`.
pub fn lifecycle_tp_btf(kind: &str) -> Offer {
    let needs: &[&str] = match kind {
        "fork" => &["task_newtask"],
        "exec" => &["sched_process_exec"],
        "exit" => &["sched_process_exit"],
        "rename" => return tp_btf("task_rename"),
        _ => panic!("no lifecycle kind {kind}"),
    };
    for tracepoint in needs {
        let offer = tp_btf_task_btf(tracepoint);
        if !offer.is_offered() {
            return offer;
        }
    }
    bpf_loop()
}

/// `r0 = 0; exit`: BPF_ALU64 | BPF_MOV | BPF_K with dst r0 and imm 0, then BPF_JMP | BPF_EXIT.
const TRIVIAL: [u64; 2] = [0xb7, 0x95];
/// `call bpf_get_current_task_btf (158); r0 = 0; exit`.
const CALLS_GET_CURRENT_TASK_BTF: [u64; 3] = [0x85 | (158 << 32), 0xb7, 0x95];
/// `call bpf_get_current_task_btf; r1 = r0; call bpf_task_pt_regs (175); r0 = 0; exit`.
const CALLS_TASK_PT_REGS: [u64; 5] = [0x85 | (158 << 32), 0xbf | (0x01 << 8), 0x85 | (175 << 32), 0xb7, 0x95];
/// `bpf_loop(1, 0, 0, 0); r0 = 0; exit`: no callback (see [`bpf_loop`]).
const CALLS_BPF_LOOP: [u64; 7] =
    [0xb7 | (1 << 8) | (1 << 32), 0xb7 | (2 << 8), 0xb7 | (3 << 8), 0xb7 | (4 << 8), 0x85 | (181 << 32), 0xb7, 0x95];

/// A kprobe on kernel function `function`.
pub fn kprobe(function: &str) -> Offer {
    let offer = match std::fs::read_to_string(KPROBE_TYPE) {
        Err(error) => Offer::Refused {
            reason: format!("{KPROBE_TYPE}: {error} (a kernel built without CONFIG_KPROBES)"),
            evidence: KPROBE_TYPE.to_owned(),
        },
        Ok(text) => {
            let pmu: u32 = text.trim().parse().unwrap_or_else(|_| panic!("{KPROBE_TYPE} holds {text:?}"));
            match open_kprobe(pmu, function) {
                Ok(_) => Offer::Offered,
                Err(error) => Offer::Refused {
                    reason: format!("perf_event_open of a kprobe on {function}: {error}"),
                    evidence: error.to_string(),
                },
            }
        }
    };
    checked("kprobe", &format!("a kprobe on {function}"), offer)
}

/// A raw tracepoint on `tracepoint` (e.g. `sys_enter`).
pub fn raw_tracepoint(tracepoint: &str) -> Offer {
    let name = CString::new(tracepoint).expect("a tracepoint name has no NUL");
    let offer = match trivial_program(bpf_prog_type::BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0, Some(&name)) {
        Ok(()) => Offer::Offered,
        Err((call, error)) => Offer::Refused {
            reason: format!("a trivial raw tracepoint program on {tracepoint}: {call} failed: {error}"),
            evidence: error.to_string(),
        },
    };
    checked("raw_tracepoint", &format!("a raw tracepoint on {tracepoint}"), offer)
}

/// The running kernel's BTF, parsed once per test executable.
fn kernel_btf() -> &'static Result<Btf, String> {
    static BTF: OnceLock<Result<Btf, String>> = OnceLock::new();
    BTF.get_or_init(|| Btf::from_sys_fs().map_err(|error| format!("cannot read the kernel's BTF: {error}")))
}

fn btf_id(name: &str, kind: BtfKind) -> Result<u32, String> {
    let btf = kernel_btf().as_ref().map_err(Clone::clone)?;
    btf.id_by_type_name_kind(name, kind).map_err(|_| format!("the kernel's BTF has no {kind:?} named {name}"))
}

/// Loads `r0 = 0; exit` as a BPF_PROG_TYPE_TRACING program of `attach_type` on BTF type
/// `btf_id`, attaches it, and lets both go; the failing call and its error otherwise.
fn tracing_program(attach_type: bpf_attach_type, btf_id: u32) -> Result<(), (&'static str, io::Error)> {
    trivial_program(bpf_prog_type::BPF_PROG_TYPE_TRACING, attach_type as u32, btf_id, None)
}

/// Loads `r0 = 0; exit` as `program_type`, attaches it with BPF_RAW_TRACEPOINT_OPEN (to
/// `tracepoint`, or where a tracing program was loaded for), and lets both go.
fn trivial_program(
    program_type: bpf_prog_type,
    attach_type: u32,
    btf_id: u32,
    tracepoint: Option<&CStr>,
) -> Result<(), (&'static str, io::Error)> {
    load_and_attach(program_type, attach_type, btf_id, tracepoint, &TRIVIAL)
}

/// Loads `instructions` as `program_type`; the program's descriptor.
fn load(program_type: bpf_prog_type, attach_type: u32, btf_id: u32, instructions: &[u64]) -> io::Result<OwnedFd> {
    let license = c"GPL";
    // SAFETY: bpf_attr is plain data; all-zero is its documented initial state.
    let mut attr: bpf_attr = unsafe { std::mem::zeroed() };
    // SAFETY: the BPF_PROG_LOAD member of a zeroed union.
    let load = unsafe { &mut attr.__bindgen_anon_3 };
    load.prog_type = program_type as u32;
    load.expected_attach_type = attach_type;
    load.attach_btf_id = btf_id;
    load.insns = instructions.as_ptr() as u64;
    load.insn_cnt = instructions.len() as u32;
    load.license = license.as_ptr() as u64;
    bpf(bpf_cmd::BPF_PROG_LOAD, &mut attr)
}

/// Loads `instructions` as `program_type` with the verifier's log in `log`.
fn load_logged(program_type: bpf_prog_type, instructions: &[u64], log: &mut [u8]) -> io::Result<OwnedFd> {
    let license = c"GPL";
    // SAFETY: bpf_attr is plain data; all-zero is its documented initial state.
    let mut attr: bpf_attr = unsafe { std::mem::zeroed() };
    // SAFETY: the BPF_PROG_LOAD member of a zeroed union.
    let load = unsafe { &mut attr.__bindgen_anon_3 };
    load.prog_type = program_type as u32;
    load.insns = instructions.as_ptr() as u64;
    load.insn_cnt = instructions.len() as u32;
    load.license = license.as_ptr() as u64;
    load.log_level = 1;
    load.log_buf = log.as_mut_ptr() as u64;
    load.log_size = log.len() as u32;
    bpf(bpf_cmd::BPF_PROG_LOAD, &mut attr)
}

/// Loads `instructions` as `program_type`, attaches it with BPF_RAW_TRACEPOINT_OPEN (to
/// `tracepoint`, or where a tracing program was loaded for), and lets both go.
fn load_and_attach(
    program_type: bpf_prog_type,
    attach_type: u32,
    btf_id: u32,
    tracepoint: Option<&CStr>,
    instructions: &[u64],
) -> Result<(), (&'static str, io::Error)> {
    let program = load(program_type, attach_type, btf_id, instructions).map_err(|error| ("BPF_PROG_LOAD", error))?;
    // SAFETY: as above.
    let mut attr: bpf_attr = unsafe { std::mem::zeroed() };
    attr.raw_tracepoint.name = tracepoint.map_or(0, |name| name.as_ptr() as u64);
    attr.raw_tracepoint.prog_fd = program.as_raw_fd() as u32;
    let link = bpf(bpf_cmd::BPF_RAW_TRACEPOINT_OPEN, &mut attr).map_err(|error| ("BPF_RAW_TRACEPOINT_OPEN", error))?;
    drop(link);
    drop(program);
    Ok(())
}

fn bpf(command: bpf_cmd, attr: &mut bpf_attr) -> io::Result<OwnedFd> {
    lift_memlock_limit();
    // SAFETY: `attr` is a valid bpf_attr of the size passed, and its pointers outlive the call.
    let fd =
        unsafe { libc::syscall(libc::SYS_bpf, command as libc::c_long, attr as *mut bpf_attr, size_of::<bpf_attr>()) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Before 5.11 the kernel charges BPF programs and maps to RLIMIT_MEMLOCK, shared by every
/// process of the user: with tracer's maps still being freed, the probes' programs were refused
/// with EPERM on 5.10. As root the limit can go, as tracer lifts its own; best effort, once.
fn lift_memlock_limit() {
    static LIFTED: OnceLock<()> = OnceLock::new();
    LIFTED.get_or_init(|| {
        let unlimited = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
        // SAFETY: a valid rlimit for the calling process; failure leaves the limit as it was.
        unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) };
    });
}

/// A disabled kprobe perf event on `function`, on CPU 0 for every task.
fn open_kprobe(pmu: u32, function: &str) -> io::Result<OwnedFd> {
    let name = CString::new(function).expect("a function name has no NUL");
    // SAFETY: perf_event_attr is plain data; all-zero is its documented initial state.
    let mut attr: perf_event_attr = unsafe { std::mem::zeroed() };
    attr.type_ = pmu;
    attr.size = size_of::<perf_event_attr>() as u32;
    attr.__bindgen_anon_3.kprobe_func = name.as_ptr() as u64;
    attr.__bindgen_anon_4.probe_offset = 0;
    attr.set_disabled(1);
    // SAFETY: `attr` and the name it points to are valid for the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &attr as *const perf_event_attr,
            -1 as libc::pid_t,
            0 as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC as libc::c_ulong,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as in `bpf`.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
