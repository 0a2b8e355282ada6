//! What the bench ran on, and what else was running: the machine line, load averages, and other
//! tracers, VMs and compilers that disturb the figures.
use std::{fs, process::Command};

use serde_json::{Value, json};

/// What the bench ran on.
pub struct Machine {
    /// One line, e.g. `Linux 6.18.44 x86_64, 2 × AMD EPYC (VM), 23.5 GiB`.
    pub line: String,
    pub json: Value,
}

/// `peers`: the peer tools' versions, or why they could not run, for `results.json`.
pub fn machine(peers: Value) -> Machine {
    let read = |path: &str| fs::read_to_string(path).unwrap_or_default().trim().to_owned();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':').map(|(_, model)| model.trim().to_owned()))
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let virtual_machine = cpuinfo.lines().any(|line| line.starts_with("flags") && line.contains(" hypervisor"));
    // SAFETY: sysconf has no preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    let memory_kib: u64 = read("/proc/meminfo")
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let kernel = read("/proc/sys/kernel/osrelease");
    let arch = std::env::consts::ARCH;
    let command = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let date = command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let commit = command("git", &["-C", env!("CARGO_MANIFEST_DIR"), "describe", "--always", "--dirty"]);
    let memory = memory_kib as f64 / (1024.0 * 1024.0);
    let line = format!(
        "Linux {kernel} {arch}, {cpus} × {model}{}, {memory:.1} GiB RAM",
        if virtual_machine { " (virtual machine)" } else { "" }
    );
    Machine {
        json: json!({
            "description": line,
            "kernel": kernel,
            "arch": arch,
            "cpus_online": cpus,
            "cpu_model": model,
            "virtual_machine": virtual_machine,
            "memory_kib": memory_kib,
            "date": date,
            "commit": commit,
            "peers": peers,
        }),
        line,
    }
}

/// The 1, 5 and 15 minute load averages, e.g. `0.12 0.30 0.25`.
pub fn load_average() -> String {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// Other processes that disturb the figures: BPF tracers (theirs are programs on the same
/// tracepoints), VMs and compilers, e.g. `2 × tracer, 1 × rustc`; empty when there are none.
pub fn foreign_load() -> String {
    let me = std::process::id();
    let mut seen: Vec<(String, usize)> = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        let comm = fs::read_to_string(entry.path().join("comm")).unwrap_or_default().trim().to_owned();
        if !["tracer", "tracer-floor", "bpftrace", "forkstat", "qemu-system-x86", "rustc", "cc", "ld"]
            .contains(&comm.as_str())
        {
            continue;
        }
        match seen.iter_mut().find(|(name, _)| *name == comm) {
            Some((_, count)) => *count += 1,
            None => seen.push((comm, 1)),
        }
    }
    seen.iter().map(|(name, count)| format!("{count} × {name}")).collect::<Vec<_>>().join(", ")
}
