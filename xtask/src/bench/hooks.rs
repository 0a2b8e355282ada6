//! Per-hook cost: nanoseconds per run of each of tracer's BPF programs, from the kernel's own
//! statistics (`run_time_ns` and `run_cnt`, counted while `kernel.bpf_stats_enabled` is on).
//!
//! The statistics are switched on with `BPF_ENABLE_STATS`, the same switch as the sysctl, held
//! only as long as its file descriptor is open: an interrupted bench cannot leave them on for
//! the whole machine. They cost two clock reads per program run, so the timed rounds run
//! without them and hook costs are measured in runs of their own.
//!
//! A program is tracer's when tracer holds a descriptor of it, and its hook is what its link
//! names: `/proc/<tracer>/fdinfo/<fd>` shows `prog_id`, `run_time_ns` and `run_cnt` for a
//! program and `prog_id` and `tp_name` for a (raw) tracepoint link.
use std::{
    collections::BTreeMap,
    fs,
    os::fd::{FromRawFd, OwnedFd},
};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// `BPF_ENABLE_STATS` in `enum bpf_cmd`, and `BPF_STATS_RUN_TIME` in `enum bpf_stats_type`.
const BPF_ENABLE_STATS: libc::c_long = 32;
const BPF_STATS_RUN_TIME: u32 = 0;

/// Program types (`enum bpf_prog_type`) and what tracer attaches them as.
const PROG_TYPE_KPROBE: &str = "2";
const PROG_TYPE_RAW_TRACEPOINT: &str = "17";
const PROG_TYPE_TRACING: &str = "26";

/// BPF run-time statistics, on while this lives.
pub struct StatsSwitch(#[allow(dead_code, reason = "held only to keep the statistics on")] OwnedFd);

/// Turns on the kernel's BPF run-time statistics until the returned switch is dropped.
pub fn enable_stats() -> Result<StatsSwitch> {
    // `union bpf_attr` for this command is `struct { __u32 type; }`; the kernel accepts a
    // shorter attr than the whole union and zero-fills the rest.
    let attr: u32 = BPF_STATS_RUN_TIME;
    // SAFETY: bpf(2) reads `size_of::<u32>()` bytes from a live u32 and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_bpf, BPF_ENABLE_STATS, &raw const attr, size_of::<u32>()) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("bpf(BPF_ENABLE_STATS) failed");
    }
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    Ok(StatsSwitch(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
}

/// One program's statistics over a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookStat {
    /// What it is attached to, e.g. `sched_process_fork (tp_btf)`.
    pub hook: String,
    pub runs: u64,
    pub run_time_ns: u64,
}

impl HookStat {
    pub fn to_json(&self) -> Value {
        json!({"hook": self.hook, "runs": self.runs, "run_time_ns": self.run_time_ns})
    }
}

/// The statistics of every BPF program process `pid` holds, by hook.
pub fn read(pid: u32) -> Result<Vec<HookStat>> {
    let mut programs = BTreeMap::new();
    let mut links = BTreeMap::new();
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).with_context(|| format!("cannot list /proc/{pid}/fd"))?;
    for fd in fds.flatten() {
        let Ok(target) = fs::read_link(fd.path()) else { continue };
        let target = target.to_string_lossy().into_owned();
        let fdinfo = format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_string_lossy());
        let Ok(text) = fs::read_to_string(&fdinfo) else { continue };
        let fields = fields(&text);
        let Some(id) = fields.get("prog_id").cloned() else { continue };
        match target.as_str() {
            "anon_inode:bpf-prog" => programs.insert(id, fields),
            "anon_inode:bpf_link" => links.insert(id, fields),
            _ => None,
        };
    }
    if programs.is_empty() {
        bail!("process {pid} holds no BPF program");
    }
    let mut stats = Vec::new();
    for (id, program) in &programs {
        let number = |name: &str| program.get(name).and_then(|value| value.parse::<u64>().ok());
        let (Some(runs), Some(run_time_ns)) = (number("run_cnt"), number("run_time_ns")) else {
            bail!("the kernel does not show run_cnt and run_time_ns for BPF program {id} (Linux 5.1+ does)");
        };
        stats.push(HookStat { hook: hook_name(id, program, links.get(id)), runs, run_time_ns });
    }
    Ok(stats)
}

/// `key:\tvalue` lines of an fdinfo file.
fn fields(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

/// A program's hook: the tracepoint its link names and how it is attached, e.g.
/// `sys_enter (raw_tp)`; the link's kind or the program's id where the link names nothing.
fn hook_name(id: &str, program: &BTreeMap<String, String>, link: Option<&BTreeMap<String, String>>) -> String {
    let link_field = |name: &str| link.and_then(|link| link.get(name)).map(String::as_str);
    let kind = match (program.get("prog_type").map(String::as_str), link_field("link_type")) {
        (Some(PROG_TYPE_TRACING), Some("raw_tracepoint")) => "tp_btf",
        (Some(PROG_TYPE_TRACING), _) => "fentry",
        (Some(PROG_TYPE_RAW_TRACEPOINT), _) => "raw_tp",
        (Some(PROG_TYPE_KPROBE), _) => "kprobe",
        _ => "bpf",
    };
    match (link_field("tp_name"), link_field("target_btf_id")) {
        (Some(tracepoint), _) => format!("{tracepoint} ({kind})"),
        (None, Some(btf_id)) => format!("BTF type {btf_id} ({kind})"),
        (None, None) => format!("program {id} ({kind})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hooks_from_fdinfo() {
        let program =
            fields("pos:\t0\nflags:\t02000002\nprog_type:\t26\nprog_id:\t338\nrun_time_ns:\t1500\nrun_cnt:\t10\n");
        let link = fields(
            "link_type:\traw_tracepoint\nlink_id:\t12\nprog_tag:\teeef07f1bf666c5f\nprog_id:\t338\ntp_name:\tsched_process_fork\n",
        );
        assert_eq!(program["run_time_ns"], "1500");
        assert_eq!(hook_name("338", &program, Some(&link)), "sched_process_fork (tp_btf)");
        let raw = fields("prog_type:\t17\nprog_id:\t343\n");
        let raw_link = fields("link_type:\traw_tracepoint\nprog_id:\t343\ntp_name:\tsys_enter\n");
        assert_eq!(hook_name("343", &raw, Some(&raw_link)), "sys_enter (raw_tp)");
        let fentry_link =
            fields("link_type:\ttracing\nprog_id:\t9\nattach_type:\t24\ntarget_obj_id:\t1\ntarget_btf_id:\t5123\n");
        assert_eq!(hook_name("9", &program, Some(&fentry_link)), "BTF type 5123 (fentry)");
        assert_eq!(hook_name("9", &raw, None), "program 9 (raw_tp)");
    }
}
