//! Summaries of the bench's runs: the tables, `results.json` and the README figures.
use std::{fmt::Write, fs, process::Command, time::Duration};

use serde_json::{Value, json};

use super::{
    Record, Startup,
    count::Counts,
    runs::{self, Config, RunResult, Storm},
};

/// What the bench ran on.
pub struct Machine {
    /// One line, e.g. `Linux 6.18.44 x86_64, 2 × AMD EPYC (VM), 23.5 GiB`.
    pub line: String,
    pub json: Value,
}

pub fn machine(bpftrace_status: &str) -> Machine {
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
            "bpftrace": bpftrace_status,
        }),
        line,
    }
}

/// The 1, 5 and 15 minute load averages, e.g. `0.12 0.30 0.25`.
pub fn load_average() -> String {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// Everything the bench measured.
pub struct Results {
    pub machine: Machine,
    pub bpftrace_status: String,
    pub rounds: usize,
    pub storms: Vec<Storm>,
    pub configs: Vec<Config>,
    pub records: Vec<Record>,
    /// tracer's, then bpftrace's.
    pub startups: [Startup; 2],
    pub elapsed: Duration,
    /// Load averages before the first round and after the last.
    pub load: (String, String),
    /// Per round: the load average and other tracers, VMs and compilers running.
    pub disturbances: Vec<String>,
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
        if !["tracer", "bpftrace", "qemu-system-x86", "rustc", "cc", "ld"].contains(&comm.as_str()) {
            continue;
        }
        match seen.iter_mut().find(|(name, _)| *name == comm) {
            Some((_, count)) => *count += 1,
            None => seen.push((comm, 1)),
        }
    }
    seen.iter().map(|(name, count)| format!("{count} × {name}")).collect::<Vec<_>>().join(", ")
}

/// One configuration of one storm, over every round.
struct Row {
    storm: Storm,
    config: Config,
    ok: usize,
    failed: usize,
    wall_ms: Option<f64>,
    /// Median, min and max of the per-round ratio to the same round's untraced run.
    ratio: Option<(f64, f64, f64)>,
    /// Median wall time over the untraced median wall time.
    ratio_of_medians: Option<f64>,
    /// Workload events captured and expected, summed over the runs that counted them.
    captured: Option<(Counts, Counts)>,
    lost: Option<u64>,
    cpu_per_event_ns: Option<f64>,
    /// For tracer-record: (its median CPU − tracer-comm-miss's median CPU, which is tracer's fixed
    /// cost of idling and stopping) per event.
    net_cpu_per_event_ns: Option<f64>,
    cpu_ms: Option<f64>,
    events_all: Option<f64>,
    peak_rss_mib: Option<f64>,
    ready_ms: Option<f64>,
    errors: Vec<String>,
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[middle] } else { (values[middle - 1] + values[middle]) / 2.0 })
}

fn same_storm(a: &Storm, b: &Storm) -> bool {
    a.shape == b.shape && a.cores == b.cores
}

/// The ratio of a run's wall time to the untraced run of the same storm and round.
fn paired_ratio(records: &[Record], record_round: usize, storm: &Storm, result: &RunResult) -> Option<f64> {
    let untraced = records.iter().find(|other| {
        other.round == record_round && other.config == Config::Untraced && same_storm(&other.storm, storm)
    })?;
    Some(result.wall_ns? as f64 / untraced.result.wall_ns? as f64)
}

fn add(a: Counts, b: Counts) -> Counts {
    Counts { fork: a.fork + b.fork, exec: a.exec + b.exec, exit: a.exit + b.exit }
}

/// One line per run while the bench goes.
pub fn progress_line(storm: &Storm, config: Config, result: &RunResult, earlier: &[Record], round: usize) -> String {
    let mut line = format!("{:<6} {:<3} {:<16}", storm.shape, storm.cores, config.name());
    if let Some(wall) = result.wall_ns {
        let _ = write!(line, " {:>7.1} ms", wall as f64 / 1e6);
    }
    if let Some(ratio) = paired_ratio(earlier, round, storm, result).filter(|_| config != Config::Untraced) {
        let _ = write!(line, " ×{ratio:.3}");
    }
    if let Some(captured) = result.captured {
        let _ = write!(line, "  events {}/{}", captured.total(), result.expected.total());
    }
    if let Some(lost) = result.lost {
        let _ = write!(line, "  lost {lost}");
    }
    if let (Some(cpu), Some(events)) = (result.cpu_ns, result.events_all) {
        let _ = write!(line, "  cpu {:.1} ms", cpu as f64 / 1e6);
        if events > 0 {
            let _ = write!(line, " ({:.0} ns/event of {events})", cpu as f64 / events as f64);
        }
    }
    if let Some(rss) = result.peak_rss_kib {
        let _ = write!(line, "  rss {:.1} MiB", rss as f64 / 1024.0);
    }
    if let Some(error) = &result.error {
        let _ = write!(line, "  ERROR: {error}");
    }
    line
}

impl Results {
    fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        for storm in &self.storms {
            let untraced_median = median(
                self.records
                    .iter()
                    .filter(|r| r.config == Config::Untraced && same_storm(&r.storm, storm))
                    .filter_map(|r| r.result.wall_ns.map(|ns| ns as f64))
                    .collect(),
            );
            for &config in &self.configs {
                let runs: Vec<&Record> =
                    self.records.iter().filter(|r| r.config == config && same_storm(&r.storm, storm)).collect();
                let ok: Vec<&RunResult> = runs.iter().map(|r| &r.result).filter(|r| r.error.is_none()).collect();
                let ratios: Vec<f64> = runs
                    .iter()
                    .filter(|r| r.result.error.is_none())
                    .filter_map(|r| paired_ratio(&self.records, r.round, storm, &r.result))
                    .collect();
                let wall_ms = median(ok.iter().filter_map(|r| r.wall_ns.map(|ns| ns as f64 / 1e6)).collect());
                let captured = ok
                    .iter()
                    .filter_map(|r| Some((r.captured?, r.expected)))
                    .reduce(|(a, b), (c, d)| (add(a, c), add(b, d)));
                let lost = ok.iter().filter_map(|r| r.lost).reduce(|a, b| a + b);
                rows.push(Row {
                    storm: *storm,
                    config,
                    ok: ok.len(),
                    failed: runs.len() - ok.len(),
                    wall_ms,
                    ratio: median(ratios.clone()).map(|m| {
                        (m, ratios.iter().copied().fold(f64::MAX, f64::min), ratios.iter().copied().fold(0.0, f64::max))
                    }),
                    ratio_of_medians: wall_ms.zip(untraced_median).map(|(w, u)| w * 1e6 / u),
                    captured,
                    lost,
                    net_cpu_per_event_ns: None,
                    cpu_per_event_ns: median(
                        ok.iter()
                            .filter_map(|r| Some(r.cpu_ns? as f64 / r.events_all.filter(|&n| n > 0)? as f64))
                            .collect(),
                    ),
                    cpu_ms: median(ok.iter().filter_map(|r| r.cpu_ns.map(|ns| ns as f64 / 1e6)).collect()),
                    events_all: median(ok.iter().filter_map(|r| r.events_all.map(|n| n as f64)).collect()),
                    peak_rss_mib: ok.iter().filter_map(|r| r.peak_rss_kib).max().map(|kib| kib as f64 / 1024.0),
                    ready_ms: median(ok.iter().filter_map(|r| r.ready_ns.map(|ns| ns as f64 / 1e6)).collect()),
                    errors: runs.iter().filter_map(|r| r.result.error.clone()).collect(),
                });
            }
        }
        let fixed: Vec<(Storm, Option<f64>)> =
            rows.iter().filter(|row| row.config == Config::TracerCommMiss).map(|row| (row.storm, row.cpu_ms)).collect();
        for row in rows.iter_mut().filter(|row| row.config == Config::TracerRecord) {
            let fixed_ms = fixed.iter().find(|(storm, _)| same_storm(storm, &row.storm)).and_then(|(_, ms)| *ms);
            if let (Some(cpu), Some(fixed), Some(events)) = (row.cpu_ms, fixed_ms, row.events_all.filter(|&n| n > 0.0))
            {
                row.net_cpu_per_event_ns = Some(((cpu - fixed) * 1e6 / events).max(0.0));
            }
        }
        rows
    }

    fn startup_summary(&self, index: usize) -> Option<(f64, f64, f64, f64, usize)> {
        let samples = &self.startups[index].samples;
        let first: Vec<f64> = samples.iter().map(|&(_, first)| first as f64 / 1e6).collect();
        let ready = median(samples.iter().map(|&(ready, _)| ready as f64 / 1e6).collect())?;
        Some((
            ready,
            median(first.clone())?,
            first.iter().copied().fold(f64::MAX, f64::min),
            first.iter().copied().fold(0.0, f64::max),
            samples.len(),
        ))
    }

    /// (target, goal, measured, met).
    fn targets(&self, rows: &[Row]) -> Vec<(String, String, Option<bool>)> {
        let tracer_rows = |config: Config| rows.iter().filter(move |row| row.config == config && row.ok > 0);
        let worst = |config: Config, value: &dyn Fn(&Row) -> Option<f64>| {
            tracer_rows(config)
                .filter_map(|row| Some((value(row)?, row)))
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(value, row)| (value, format!("{}/{}", row.storm.shape, row.storm.cores)))
        };
        let mut targets = Vec::new();

        let storm = rows
            .iter()
            .find(|row| row.config == Config::TracerRecord && row.storm.shape == "thread" && row.storm.cores == "all");
        targets.push(match storm {
            Some(row) if row.ok > 0 => {
                let lost = row.lost.unwrap_or(0);
                let (captured, expected) = row.captured.map(|(c, e)| (c.total(), e.total())).unwrap_or((0, 0));
                (
                    "0 lost events recording the all-cores thread storm".to_owned(),
                    format!("{lost} lost over {} runs; {captured} of {expected} workload events recorded", row.ok),
                    Some(lost == 0 && row.lost.is_some()),
                )
            }
            _ => ("0 lost events recording the all-cores thread storm".to_owned(), "not measured".to_owned(), None),
        });
        for (config, limit, label) in [
            (Config::TracerRecord, 1.10, "slowdown ≤ 1.10 recording every event"),
            (Config::TracerCommMiss, 1.03, "slowdown ≤ 1.03 with a non-matching --comm"),
        ] {
            targets.push(match worst(config, &|row| row.ratio.map(|r| r.0)) {
                Some((ratio, storm)) => {
                    (label.to_owned(), format!("worst median ×{ratio:.3} ({storm})"), Some(ratio <= limit))
                }
                None => (label.to_owned(), "not measured".to_owned(), None),
            });
        }
        targets.push(match self.startup_summary(0) {
            Some((_, first, _, max, n)) => (
                "start-to-first-event < 0.2 s".to_owned(),
                format!("median {first:.0} ms, worst {max:.0} ms ({n} starts)"),
                Some(first < 200.0),
            ),
            None => ("start-to-first-event < 0.2 s".to_owned(), "not measured".to_owned(), None),
        });
        let rss = rows
            .iter()
            .filter(|row| row.config.is_tracer())
            .filter_map(|row| row.peak_rss_mib)
            .fold(None, |max: Option<f64>, value| Some(max.map_or(value, |max| max.max(value))));
        targets.push(match rss {
            Some(rss) => ("peak RSS < 30 MiB".to_owned(), format!("worst {rss:.1} MiB"), Some(rss < 30.0)),
            None => ("peak RSS < 30 MiB".to_owned(), "not measured".to_owned(), None),
        });
        targets.push(match worst(Config::TracerRecord, &|row| row.cpu_per_event_ns) {
            Some((ns, storm)) => {
                let net = worst(Config::TracerRecord, &|row| row.net_cpu_per_event_ns)
                    .map(|(net, storm)| format!("; net of the fixed cost, worst {:.2} µs ({storm})", net / 1000.0))
                    .unwrap_or_default();
                (
                    "tracer CPU < 1 µs per event (recording)".to_owned(),
                    format!("worst median {:.2} µs/event ({storm}){net}", ns / 1000.0),
                    Some(ns < 1000.0),
                )
            }
            None => ("tracer CPU < 1 µs per event (recording)".to_owned(), "not measured".to_owned(), None),
        });
        targets
    }

    fn main_table(&self, rows: &[Row]) -> String {
        let dash = || "—".to_owned();
        let mut table = vec![
            [
                "shape",
                "cores",
                "tasks",
                "configuration",
                "wall ms (median)",
                "× untraced (median, min–max)",
                "workload events captured / expected",
                "lost",
                "tool CPU ms",
                "CPU per event",
                "events (all)",
                "peak RSS",
                "ready ms",
            ]
            .map(str::to_owned),
        ];
        for row in rows {
            let ratio = match (row.config, row.ratio) {
                (Config::Untraced, _) => "1".to_owned(),
                (_, Some((m, lo, hi))) => format!("{m:.3} ({lo:.3}–{hi:.3})"),
                _ => dash(),
            };
            let captured = match row.captured {
                Some((c, e)) => {
                    let percent = if e.total() > 0 {
                        format!(" ({:.2} %)", c.total() as f64 * 100.0 / e.total() as f64)
                    } else {
                        String::new()
                    };
                    format!("{} / {}{percent}", c.total(), e.total())
                }
                None => dash(),
            };
            let mut wall = row.wall_ms.map_or_else(dash, |ms| format!("{ms:.1}"));
            if row.failed > 0 {
                let _ = write!(wall, " ({} failed)", row.failed);
            }
            table.push([
                row.storm.shape.to_owned(),
                row.storm.cores.to_owned(),
                row.storm.tasks.to_string(),
                row.config.name().to_owned(),
                wall,
                ratio,
                captured,
                row.lost.map_or_else(dash, |lost| lost.to_string()),
                row.cpu_ms.map_or_else(dash, |ms| format!("{ms:.1}")),
                match (row.cpu_per_event_ns, row.net_cpu_per_event_ns) {
                    (Some(ns), Some(net)) => format!("{:.2} µs ({:.2} net)", ns / 1000.0, net / 1000.0),
                    (Some(ns), None) => format!("{:.2} µs", ns / 1000.0),
                    _ => dash(),
                },
                row.events_all.map_or_else(dash, |n| format!("{n:.0}")),
                row.peak_rss_mib.map_or_else(dash, |mib| format!("{mib:.1} MiB")),
                row.ready_ms.map_or_else(dash, |ms| format!("{ms:.0}")),
            ]);
        }
        markdown_table(&table)
    }

    fn startup_table(&self) -> String {
        let mut table = vec![
            ["tool", "ready ms (median)", "first event ms (median)", "first event min–max", "starts", "problems"]
                .map(str::to_owned),
        ];
        for (index, name) in ["tracer --json", "bpftrace"].into_iter().enumerate() {
            let failed = self.startups[index].errors.len();
            if let Some((ready, first, lo, hi, n)) = self.startup_summary(index) {
                table.push([
                    name.to_owned(),
                    format!("{ready:.0}"),
                    format!("{first:.0}"),
                    format!("{lo:.0}–{hi:.0}"),
                    n.to_string(),
                    failed.to_string(),
                ]);
            } else if failed > 0 {
                table.push([name.to_owned(), "—".into(), "—".into(), "—".into(), "0".into(), failed.to_string()]);
            }
        }
        markdown_table(&table)
    }

    fn targets_table(&self, rows: &[Row]) -> String {
        let mut table = vec![["target", "measured", "met"].map(str::to_owned)];
        for (target, measured, met) in self.targets(rows) {
            let met = match met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "not measured",
            };
            table.push([target, measured, met.to_owned()]);
        }
        markdown_table(&table)
    }

    fn errors(&self, rows: &[Row]) -> String {
        let mut text = String::new();
        for row in rows.iter().filter(|row| !row.errors.is_empty()) {
            let _ = writeln!(
                text,
                "- {}/{} {}: {} failed run(s), e.g. {}",
                row.storm.shape,
                row.storm.cores,
                row.config.name(),
                row.errors.len(),
                row.errors[0]
            );
        }
        for (index, name) in ["tracer", "bpftrace"].into_iter().enumerate() {
            if let Some(error) = self.startups[index].errors.first() {
                let _ = writeln!(
                    text,
                    "- {name} start-to-first-event: {} problem(s), e.g. {error}",
                    self.startups[index].errors.len()
                );
            }
        }
        text
    }

    /// The tables for stdout.
    pub fn tables(&self) -> String {
        let rows = self.rows();
        let mut text = format!(
            "\nMachine: {}\nbpftrace: {}\n{} round(s) in {:.0} s; load average {} before, {} after\n\n{}\nStart to first event (tool spawned, /bin/true run every ~2 ms until the first event line arrives):\n\n{}\nTargets:\n\n{}",
            self.machine.line,
            self.bpftrace_status,
            self.rounds,
            self.elapsed.as_secs_f64(),
            self.load.0,
            self.load.1,
            self.main_table(&rows),
            self.startup_table(),
            self.targets_table(&rows)
        );
        for line in self.disturbances.iter().filter(|line| line.contains(" × ")) {
            let _ = writeln!(text, "other load at {line}");
        }
        let errors = self.errors(&rows);
        if !errors.is_empty() {
            let _ = write!(text, "\nFailures:\n{errors}");
        }
        text
    }

    pub fn markdown(&self) -> String {
        let rows = self.rows();
        let tasks = self
            .storms
            .iter()
            .filter(|storm| storm.cores == "one")
            .map(|storm| format!("{} {}", storm.tasks, storm.shape))
            .collect::<Vec<_>>()
            .join(", ");
        let mut text = String::new();
        let _ = writeln!(text, "### Benchmark figures\n");
        let _ = writeln!(
            text,
            "Measured with `cargo xtask bench` (as root; `--rounds N`, `--scale F`, `--shapes \
             thread,fork,exec`, `--no-bpftrace`) on {} ({}, tracer at {}), {} round(s) in {:.0} s \
             (load average {} before, {} after). bpftrace: {}.\n",
            self.machine.line,
            self.machine.json["date"].as_str().unwrap_or(""),
            self.machine.json["commit"].as_str().unwrap_or("?"),
            self.rounds,
            self.elapsed.as_secs_f64(),
            self.load.0,
            self.load.1,
            self.bpftrace_status,
        );
        let _ = writeln!(
            text,
            "Each storm is `tracer-workload storm`: {tasks} tasks, created as fast as possible from CPU 0 \
             (`one`) or from one pinned worker per CPU (`all`). Configurations: `untraced`; \
             `tracer-record` (`tracer -o FILE -q`, every event recorded); `tracer-comm-miss` \
             (the same with `--comm {}`, which matches nothing); `bpftrace` (a script on \
             `sched:sched_process_{{fork,exec,exit}}` printing pid, tid, ppid, comm and child pid or \
             exit code, stdout to a file). Every round runs every configuration once, in a rotated \
             order; ratios are per-round ratios to the same round's untraced run, whose median is \
             shown with its range. *Workload events* are those of the storm's own tasks: forks by the \
             workload process W, execs of W's children, exits of W's threads (its main thread \
             excepted) and children; expected = N + workers forks and exits, plus N execs for the \
             exec shape. *Tool CPU* is the tool's user + system time from its readiness line to its \
             exit (startup excluded), per event it delivered (tracer's summary count, bpftrace's \
             lines, every task on the machine included); *net* subtracts tracer's fixed cost (the \
             CPU of the `tracer-comm-miss` run of the same storm, which delivers no event: idling \
             and stopping). *Peak RSS* is the tool's largest \
             `VmHWM` (read from `/proc/PID/status` just before stopping it) over the runs. *Ready* is spawn to the `Attached` line (bpftrace: its BEGIN \
             line).\n",
            runs::MISSING_COMM
        );
        let disturbed: Vec<&String> = self.disturbances.iter().filter(|line| line.contains(" × ")).collect();
        if !disturbed.is_empty() {
            let _ = writeln!(
                text,
                "Other load seen at round starts (this machine is shared; those rounds are noisier): {}.\n",
                disturbed.iter().map(|line| line.as_str()).collect::<Vec<_>>().join("; ")
            );
        }
        let _ = writeln!(text, "{}", self.main_table(&rows));
        let _ = writeln!(
            text,
            "Start to first event: the tool is spawned streaming live to a pipe (`tracer --json`; \
             bpftrace's script on stdout), then `/bin/true` runs every ~2 ms until the first event \
             line arrives; measured from the tool's spawn.\n"
        );
        let _ = writeln!(text, "{}", self.startup_table());
        let _ = writeln!(text, "Targets:\n\n{}", self.targets_table(&rows));
        let errors = self.errors(&rows);
        if !errors.is_empty() {
            let _ = writeln!(text, "Failures:\n\n{errors}");
        }
        text
    }

    pub fn to_json(&self) -> Value {
        let rows = self.rows();
        let counts = |c: Counts| runs::counts_json(c);
        json!({
            "machine": self.machine.json,
            "bpftrace": self.bpftrace_status,
            "rounds": self.rounds,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "load_average_before": self.load.0,
            "load_average_after": self.load.1,
            "disturbances": self.disturbances,
            // A check on `tool_ru_maxrss_kib` of the runs, which cannot be below this.
            "bench_vmhwm_kib": super::process::peak_rss_kib(std::process::id()),
            "storms": self.storms.iter().map(|s| json!({"shape": s.shape, "cores": s.cores, "tasks": s.tasks})).collect::<Vec<_>>(),
            "configurations": self.configs.iter().map(|c| c.name()).collect::<Vec<_>>(),
            "summary": rows.iter().map(|row| json!({
                "shape": row.storm.shape,
                "cores": row.storm.cores,
                "tasks": row.storm.tasks,
                "configuration": row.config.name(),
                "runs_ok": row.ok,
                "runs_failed": row.failed,
                "wall_ms_median": row.wall_ms,
                "ratio_median": row.ratio.map(|r| r.0),
                "ratio_min": row.ratio.map(|r| r.1),
                "ratio_max": row.ratio.map(|r| r.2),
                "ratio_of_medians": row.ratio_of_medians,
                "workload_events_captured": row.captured.map(|(c, _)| counts(c)),
                "workload_events_expected": row.captured.map(|(_, e)| counts(e)),
                "lost_total": row.lost,
                "tool_cpu_ms_median": row.cpu_ms,
                "tool_cpu_ns_per_event_median": row.cpu_per_event_ns,
                "tracer_net_cpu_ns_per_event": row.net_cpu_per_event_ns,
                "events_all_median": row.events_all,
                "peak_rss_mib_max": row.peak_rss_mib,
                "ready_ms_median": row.ready_ms,
                "errors": row.errors,
            })).collect::<Vec<_>>(),
            "start_to_first_event": (["tracer", "bpftrace"]).iter().enumerate().map(|(index, name)| json!({
                "tool": name,
                "samples_ns": self.startups[index].samples.iter().map(|&(ready, first)| json!({"ready": ready, "first_event": first})).collect::<Vec<_>>(),
                "ready_ms_median": self.startup_summary(index).map(|s| s.0),
                "first_event_ms_median": self.startup_summary(index).map(|s| s.1),
                "errors": self.startups[index].errors,
            })).collect::<Vec<_>>(),
            "targets": self.targets(&rows).into_iter().map(|(target, measured, met)| json!({
                "target": target, "measured": measured, "met": met,
            })).collect::<Vec<_>>(),
            "runs": self.records.iter().map(|record| {
                let mut run = record.result.to_json();
                run["round"] = json!(record.round);
                run["shape"] = json!(record.storm.shape);
                run["cores"] = json!(record.storm.cores);
                run["tasks"] = json!(record.storm.tasks);
                run["configuration"] = json!(record.config.name());
                run
            }).collect::<Vec<_>>(),
        })
    }
}

/// A Markdown table with padded columns (readable as plain text too).
fn markdown_table<const N: usize>(rows: &[[String; N]]) -> String {
    let width = |column: usize| rows.iter().map(|row| row[column].chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..N).map(width).collect();
    let mut text = String::new();
    for (index, row) in rows.iter().enumerate() {
        text.push('|');
        for (cell, width) in row.iter().zip(&widths) {
            let _ = write!(text, " {cell}{} |", " ".repeat(width - cell.chars().count()));
        }
        text.push('\n');
        if index == 0 {
            text.push('|');
            for width in &widths {
                let _ = write!(text, "{}|", "-".repeat(width + 2));
            }
            text.push('\n');
        }
    }
    text
}
