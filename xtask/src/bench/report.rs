//! The bench's report: what it measured, the targets, and the text around the tables (stdout
//! and `target/bench/README-figures.md`).
use std::fmt::Write;

use super::{
    results::{Results, Target},
    run_parts::{self, Config},
    startup::Tool,
    summary::{self, Breakdown, Row},
    tables,
};

impl Results {
    pub fn targets(&self, rows: &[Row], breakdowns: &[Breakdown]) -> Vec<Target> {
        let tracer_rows = |config: Config| rows.iter().filter(move |row| row.config == config && row.ok > 0);
        let worst = |config: Config, value: &dyn Fn(&Row) -> Option<f64>| {
            tracer_rows(config)
                .filter_map(|row| Some((value(row)?, row)))
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(value, row)| (value, format!("{}/{}", row.storm.shape, row.storm.cores)))
        };
        let not_measured = |label: &str| (label.to_owned(), "not measured".to_owned(), None);
        let mut targets = Vec::new();

        for (config, label) in [
            (Config::TracerRecord, "0 lost events recording the all-cores thread storm"),
            (Config::TracerTop, "0 lost events under tracer top in the all-cores thread storm"),
        ] {
            let storm =
                rows.iter().find(|row| row.config == config && row.storm.shape == "thread" && row.storm.cores == "all");
            targets.push(match storm {
                Some(row) if row.ok > 0 => {
                    let lost = row.lost.unwrap_or(0);
                    let (captured, expected) = row.captured.map(|(c, e)| (c.total(), e.total())).unwrap_or((0, 0));
                    (
                        label.to_owned(),
                        format!("{lost} lost over {} runs; {captured} of {expected} workload events recorded", row.ok),
                        Some(lost == 0 && row.lost.is_some()),
                    )
                }
                _ => not_measured(label),
            });
        }
        let label = "tracer top's CPU ≤ 1.5 × tracer-record's (per event, same storm)";
        let top_over_record = rows
            .iter()
            .filter(|row| row.config == Config::TracerTop && row.ok > 0)
            .filter_map(|top| {
                let record = tracer_rows(Config::TracerRecord)
                    .find(|record| summary::same_storm(&record.storm, &top.storm))?
                    .cpu_per_event_ns?;
                Some((top.cpu_per_event_ns? / record, format!("{}/{}", top.storm.shape, top.storm.cores)))
            })
            .max_by(|a, b| a.0.total_cmp(&b.0));
        targets.push(match top_over_record {
            Some((ratio, storm)) => (label.to_owned(), format!("worst ×{ratio:.2} ({storm})"), Some(ratio <= 1.5)),
            None => not_measured(label),
        });
        for (config, limit, label) in [
            (Config::TracerRecord, 1.10, "slowdown ≤ 1.10 recording every event"),
            (Config::TracerCommMiss, 1.03, "slowdown ≤ 1.03 with a non-matching --comm"),
        ] {
            targets.push(match worst(config, &|row| row.ratio.map(|r| r.median)) {
                Some((ratio, storm)) => {
                    (label.to_owned(), format!("worst median ×{ratio:.3} ({storm})"), Some(ratio <= limit))
                }
                None => not_measured(label),
            });
        }
        for (limit, label, own) in [
            (0.05, "tracer's own cost (over the floor) ≤ 5 % of untraced, recording every event", true),
            (0.01, "tracer's own cost (over the floor) ≤ 1 % of untraced with a non-matching --comm", false),
        ] {
            let pick = |b: &Breakdown| if own { b.own_record } else { b.own_comm_miss };
            let worst =
                breakdowns.iter().filter_map(|b| Some((pick(b)?, b))).max_by(|a, b| a.0.median.total_cmp(&b.0.median));
            targets.push(match worst {
                Some((cost, b)) => (
                    label.to_owned(),
                    format!("worst median {} ({}/{})", tables::percent(&cost), b.storm.shape, b.storm.cores),
                    Some(cost.median <= limit),
                ),
                None => not_measured(label),
            });
        }
        let label = "start-to-first-event ≤ 50 ms";
        targets.push(match self.startup_summary(0) {
            Some((_, first, _, max, n)) => {
                (label.to_owned(), format!("median {first:.0} ms, worst {max:.0} ms ({n} starts)"), Some(first <= 50.0))
            }
            None => not_measured(label),
        });
        let label = "peak RSS ≤ 20 MiB";
        let rss = rows
            .iter()
            .filter(|row| row.config.is_tracer())
            .filter_map(|row| row.peak_rss_mib)
            .fold(None, |max: Option<f64>, value| Some(max.map_or(value, |max| max.max(value))));
        targets.push(match rss {
            Some(rss) => (label.to_owned(), format!("worst {rss:.1} MiB"), Some(rss <= 20.0)),
            None => not_measured(label),
        });
        let label = "tracer CPU < 1 µs per event (recording)";
        targets.push(match worst(Config::TracerRecord, &|row| row.cpu_per_event_ns) {
            Some((ns, storm)) => {
                let net = worst(Config::TracerRecord, &|row| row.net_cpu_per_event_ns)
                    .map(|(net, storm)| format!("; net of the fixed cost, worst {:.2} µs ({storm})", net / 1000.0))
                    .unwrap_or_default();
                (
                    label.to_owned(),
                    format!("worst median {:.2} µs/event ({storm}){net}", ns / 1000.0),
                    Some(ns < 1000.0),
                )
            }
            None => not_measured(label),
        });
        targets
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
        for record in self.hook_records.iter().filter(|record| record.result.error.is_some()) {
            let _ = writeln!(
                text,
                "- hook costs, {}/{} {}: {}",
                record.storm.shape,
                record.storm.cores,
                record.config.name(),
                record.result.error.as_deref().unwrap_or("")
            );
        }
        for (index, name) in Tool::ALL.map(Tool::name).into_iter().enumerate() {
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

    /// Lines saying which configurations could not run and why.
    fn not_run_lines(&self) -> String {
        self.not_run.iter().map(|(config, why)| format!("- `{}` did not run: {why}\n", config.name())).collect()
    }

    /// Where the storms' tasks ran, and how large tracer-record's recordings were per event.
    fn recording_line(&self) -> String {
        let place = match &self.cgroup {
            Some(path) => format!("in the cgroup `{}` (`--cgroup`)", path.display()),
            None => "in the bench's own cgroup".to_owned(),
        };
        let sizes: Vec<String> = self
            .storms
            .iter()
            .filter_map(|storm| {
                let per_event: Vec<f64> = self
                    .records
                    .iter()
                    .filter(|record| summary::same_storm(&record.storm, storm) && record.config == Config::TracerRecord)
                    .filter_map(|record| match (record.result.recording_bytes, record.result.events_all) {
                        (Some(bytes), Some(events)) if events > 0 => Some(bytes as f64 / events as f64),
                        _ => None,
                    })
                    .collect();
                super::stats::median(&per_event).map(|median| format!("{} {} {median:.0}", storm.shape, storm.cores))
            })
            .collect();
        format!(
            "The storms' tasks ran {place}. tracer-record's recording, in bytes per event it delivered (median): {}.",
            if sizes.is_empty() { "none measured".to_owned() } else { sizes.join(", ") }
        )
    }

    fn peers_line(&self) -> String {
        self.peers.iter().map(|(name, status)| format!("{name}: {status}")).collect::<Vec<_>>().join("; ")
    }

    /// Every table, with a heading each; shared by stdout and the README figures.
    fn body(&self, legends: bool) -> String {
        let rows = self.rows();
        let breakdowns = self.breakdowns();
        let legend = |text: &str| if legends { format!("{text}\n\n") } else { String::new() };
        let mut text = String::new();
        let _ = writeln!(text, "{}", tables::main_table(self, &rows));
        text.push_str(&self.not_run_lines());
        if !self.not_run.is_empty() {
            text.push('\n');
        }
        let _ = writeln!(text, "Where the time goes (per-round differences, as a share of the untraced wall time):\n");
        text.push_str(&legend(
            "*floor − untraced* is the kernel's price for the hooks alone (tracer's programs attached, \
             returning at once; on this kernel that includes the syscall tracing slow path the \
             `sys_enter` lookup fallback puts every syscall on). *tracer − floor* is tracer's own cost: \
             its programs' work, the ring buffer, and its userspace. *per event* is tracer-record − floor \
             in wall time per workload event. ± is the 95 % interval of the median; ≈ marks a difference \
             inside it (inside the noise).",
        ));
        let _ = writeln!(text, "{}", tables::breakdown_table(&breakdowns));
        let _ = writeln!(
            text,
            "tracer's own CPU time, recording every event (per-round differences, as a share of the CPU time of the untraced storm's tasks):\n"
        );
        text.push_str(&legend(
            "*in the storm's tasks* is the storm's CPU time under tracer-record − under floor: the \
             programs' work, the ring buffer, and what they cost the tasks besides (shared cache \
             lines). *in tracer's process* is tracer-record's CPU time − tracer-comm-miss's, which \
             drains nothing: decoding, the task model, encoding and writing the recording. CPU time \
             does not depend on how two busy CPUs are shared, so these figures are steadier than \
             the wall times above; on a one-core storm tracer's process runs on another CPU, and \
             its part costs the storm little wall time.",
        ));
        let _ = writeln!(text, "{}", tables::cpu_table(&breakdowns));
        let _ = writeln!(text, "Per-hook cost (BPF run-time statistics; {}):\n", self.hooks_status);
        text.push_str(&legend(
            "Each program's `run_time_ns` / `run_cnt` from the kernel (`kernel.bpf_stats_enabled`), in \
             runs of their own (the statistics add two clock reads per program run, so the timed runs \
             above go without them). *runs* and *ms* are per storm, every task on the machine \
             included (`sys_enter` runs for every syscall of every task). The floor's programs return at \
             once: their figure is what the statistics themselves measure around an empty program.",
        ));
        let _ = writeln!(text, "{}", tables::hook_table(&summary::hook_rows(&self.hook_records, &self.storms)));
        let _ = writeln!(text, "Start to first event:\n");
        text.push_str(&legend(
            "The tool is spawned streaming live to a pipe (`tracer --json`, the glibc build \
             and the static one; bpftrace's script on stdout), then `/bin/true` runs every ~2 ms until the first event line arrives; measured \
             from the tool's spawn.",
        ));
        let _ = writeln!(text, "{}", tables::startup_table(self));
        let _ = writeln!(text, "Targets:\n\n{}", tables::targets_table(&self.targets(&rows, &breakdowns)));
        let errors = self.errors(&rows);
        if !errors.is_empty() {
            let _ = writeln!(text, "Failures:\n\n{errors}");
        }
        text
    }

    /// The tables for stdout.
    pub fn tables(&self) -> String {
        let mut text = format!(
            "\nMachine: {}\n{}; {}\nrounds: {} to {} per storm, in {:.0} s; load average {} before, {} after\n{}\n\n",
            self.machine.line,
            self.peers_line(),
            self.tracefs,
            self.rounds.base,
            self.rounds.max,
            self.elapsed.as_secs_f64(),
            self.load.0,
            self.load.1,
            self.recording_line(),
        );
        text.push_str(&self.body(false));
        for line in self.disturbances.iter().filter(|line| line.contains(" × ")) {
            let _ = writeln!(text, "other load at {line}");
        }
        text
    }

    pub fn markdown(&self) -> String {
        let tasks = self
            .storms
            .iter()
            .filter(|storm| storm.cores == "one")
            .map(|storm| format!("{} {}", storm.tasks, storm.shape))
            .collect::<Vec<_>>()
            .join(", ");
        let mut text = String::new();
        let _ = writeln!(text, "## Benchmark figures\n");
        let _ = writeln!(
            text,
            "Measured with `cargo xtask bench` (as root; `--rounds N`, `--max-rounds M`, `--noise X`, \
             `--scale F`, `--shapes thread,fork,exec`, `--no-bpftrace`, `--no-forkstat`, \
             `--no-hook-costs`, `--cgroup PATH`) on {} ({}, tracer at {}): {} to {} rounds per storm (more while the 95 % interval of a median ratio is wider than ±{:.3}), {:.0} s in all, \
             load average {} before and {} after. Peers: {}; {}.\n",
            self.machine.line,
            self.machine.json["date"].as_str().unwrap_or(""),
            self.machine.json["commit"].as_str().unwrap_or("?"),
            self.rounds.base,
            self.rounds.max,
            self.rounds.noise,
            self.elapsed.as_secs_f64(),
            self.load.0,
            self.load.1,
            self.peers_line(),
            self.tracefs,
        );
        let _ = writeln!(
            text,
            "Each storm is `tracer-workload storm`: {tasks} tasks, created as fast as possible from CPU 0 \
             (`one`) or from one pinned worker per CPU (`all`). Configurations: `untraced`; `floor` \
             (tracer built with programs that return at once, `target/bench/tracer-floor`: the very \
             hooks tracer attaches on this kernel, doing nothing); `tracer-record` (`tracer -o FILE -q`, \
             every event recorded); `tracer-static-record` (the same, run by the static musl build \
             the packages ship); `tracer-comm-miss` (the same with `--comm {}`, which matches \
             nothing); `tracer-top` (`tracer top -o FILE`, drawing at most 10 frames a second on a \
             160×45 pseudo-terminal that is read and dropped); `bpftrace` (a script on `sched:sched_process_{{fork,exec,exit}}` printing pid, \
             tid, ppid, comm and child pid or exit code, stdout to a file); `forkstat` (`forkstat -e \
             fork,exec,exit,clone`, the proc connector, stdout to a file). Every round runs every \
             configuration of a storm once, in a rotated order; ratios are per-round ratios to the same \
             round's untraced run: median, ± the 95 % interval of the median (1.57 × IQR / √rounds), \
             and range; ≈ marks a ratio whose interval includes 1 (inside the noise). *Workload \
             events* are those of the storm's own tasks: forks by the workload process W, execs of W's \
             children, exits of W's threads (its main thread excepted) and children; expected = N + \
             workers forks and exits, plus N execs for the exec shape. For forkstat, only the events \
             its own lines tie to W count (a task gone before forkstat reads `/proc` is not printed); \
             it cannot count what the kernel dropped for it, and says `nobufs` instead. *Tool CPU* is \
             the tool's user + system time from its readiness to its exit (startup excluded), per event \
             it delivered (tracer's summary count, the peers' lines, every task on the machine \
             included); *net* subtracts tracer's fixed cost (the CPU of the `tracer-comm-miss` run of \
             the same storm, which delivers no event: idling and stopping). *Peak RSS* is the tool's \
             largest `VmHWM` (read from `/proc/PID/status` just before stopping it) over the runs. \
             *Ready* is spawn to the `Attached` line (bpftrace: its BEGIN line; forkstat: listening on \
             its netlink socket). {}\n",
            run_parts::MISSING_COMM,
            self.recording_line()
        );
        let disturbed: Vec<&String> = self.disturbances.iter().filter(|line| line.contains(" × ")).collect();
        if !disturbed.is_empty() {
            let _ = writeln!(
                text,
                "Other load seen at round starts (this machine is shared; those rounds are noisier): {}.\n",
                disturbed.iter().map(|line| line.as_str()).collect::<Vec<_>>().join("; ")
            );
        }
        text.push_str(&self.body(true));
        text
    }
}
