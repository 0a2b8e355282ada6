//! Figures computed from the bench's runs: one row per storm and configuration, where the time
//! goes (floor − untraced, tracer − floor), and the per-hook costs.
//!
//! Every comparison is paired within a round: a round runs each configuration of a storm once,
//! so `(X − untraced) / untraced` and `(tracer − floor) / untraced` are taken between runs made
//! seconds apart, and slow drifts of a shared machine cancel out.
use std::collections::BTreeMap;

use super::{
    Record,
    count::Counts,
    run_parts::{Config, RunResult, Storm},
    stats::{Summary, median},
};

pub fn same_storm(a: &Storm, b: &Storm) -> bool {
    a.shape == b.shape && a.cores == b.cores
}

/// Successful wall times of `storm`'s runs, by round and configuration.
fn walls_by_round(records: &[Record], storm: &Storm) -> BTreeMap<usize, BTreeMap<&'static str, f64>> {
    let mut rounds: BTreeMap<usize, BTreeMap<&'static str, f64>> = BTreeMap::new();
    for record in records.iter().filter(|r| same_storm(&r.storm, storm) && r.result.error.is_none()) {
        if let Some(wall) = record.result.wall_ns {
            rounds.entry(record.round).or_default().insert(record.config.name(), wall as f64);
        }
    }
    rounds
}

/// Per-round `(a − b) / untraced` for one storm, over the rounds where all three succeeded.
pub fn paired_differences(records: &[Record], storm: &Storm, a: Config, b: Config) -> Vec<f64> {
    walls_by_round(records, storm)
        .values()
        .filter_map(|walls| {
            let untraced = walls.get(Config::Untraced.name())?;
            Some((walls.get(a.name())? - walls.get(b.name())?) / untraced)
        })
        .collect()
}

/// Per-round ratios of `config` to untraced for one storm.
pub fn paired_ratios(records: &[Record], storm: &Storm, config: Config) -> Vec<f64> {
    paired_differences(records, storm, config, Config::Untraced).into_iter().map(|d| d + 1.0).collect()
}

/// The ratio of a run's wall time to the untraced run of the same storm and round.
pub fn paired_ratio(records: &[Record], round: usize, storm: &Storm, result: &RunResult) -> Option<f64> {
    let untraced = records
        .iter()
        .find(|other| other.round == round && other.config == Config::Untraced && same_storm(&other.storm, storm))?;
    Some(result.wall_ns? as f64 / untraced.result.wall_ns? as f64)
}

fn add(a: Counts, b: Counts) -> Counts {
    Counts { fork: a.fork + b.fork, exec: a.exec + b.exec, exit: a.exit + b.exit }
}

/// One configuration of one storm, over every round.
pub struct Row {
    pub storm: Storm,
    pub config: Config,
    pub ok: usize,
    pub failed: usize,
    pub wall_ms: Option<f64>,
    /// Per-round ratios to the same round's untraced run.
    pub ratio: Option<Summary>,
    /// Median wall time over the untraced median wall time.
    pub ratio_of_medians: Option<f64>,
    /// Workload events captured and expected, summed over the runs that counted them.
    pub captured: Option<(Counts, Counts)>,
    pub lost: Option<u64>,
    /// forkstat's `nobufs` reports, summed over the runs.
    pub overruns: Option<u64>,
    pub cpu_per_event_ns: Option<f64>,
    /// For tracer-record: (its median CPU − tracer-comm-miss's median CPU, which is tracer's fixed
    /// cost of idling and stopping) per event.
    pub net_cpu_per_event_ns: Option<f64>,
    pub cpu_ms: Option<f64>,
    pub events_all: Option<f64>,
    pub peak_rss_mib: Option<f64>,
    pub ready_ms: Option<f64>,
    pub errors: Vec<String>,
}

pub fn rows(records: &[Record], storms: &[Storm], configs: &[Config]) -> Vec<Row> {
    let mut rows = Vec::new();
    for storm in storms {
        let untraced_median = median(
            &records
                .iter()
                .filter(|r| r.config == Config::Untraced && same_storm(&r.storm, storm))
                .filter_map(|r| r.result.wall_ns.map(|ns| ns as f64))
                .collect::<Vec<_>>(),
        );
        for &config in configs {
            let runs: Vec<&Record> =
                records.iter().filter(|r| r.config == config && same_storm(&r.storm, storm)).collect();
            let ok: Vec<&RunResult> = runs.iter().map(|r| &r.result).filter(|r| r.error.is_none()).collect();
            let values =
                |value: &dyn Fn(&RunResult) -> Option<f64>| ok.iter().filter_map(|r| value(r)).collect::<Vec<_>>();
            let wall_ms = median(&values(&|r| r.wall_ns.map(|ns| ns as f64 / 1e6)));
            rows.push(Row {
                storm: *storm,
                config,
                ok: ok.len(),
                failed: runs.len() - ok.len(),
                wall_ms,
                ratio: match config {
                    Config::Untraced => None,
                    _ => Summary::of(&paired_ratios(records, storm, config)),
                },
                ratio_of_medians: wall_ms.zip(untraced_median).map(|(w, u)| w * 1e6 / u),
                captured: ok
                    .iter()
                    .filter_map(|r| Some((r.captured?, r.expected)))
                    .reduce(|(a, b), (c, d)| (add(a, c), add(b, d))),
                lost: ok.iter().filter_map(|r| r.lost).reduce(|a, b| a + b),
                overruns: ok.iter().filter_map(|r| r.overruns).reduce(|a, b| a + b),
                net_cpu_per_event_ns: None,
                cpu_per_event_ns: median(&values(&|r| {
                    Some(r.cpu_ns? as f64 / r.events_all.filter(|&n| n > 0)? as f64)
                })),
                cpu_ms: median(&values(&|r| r.cpu_ns.map(|ns| ns as f64 / 1e6))),
                events_all: median(&values(&|r| r.events_all.map(|n| n as f64))),
                peak_rss_mib: ok.iter().filter_map(|r| r.peak_rss_kib).max().map(|kib| kib as f64 / 1024.0),
                ready_ms: median(&values(&|r| r.ready_ns.map(|ns| ns as f64 / 1e6))),
                errors: runs.iter().filter_map(|r| r.result.error.clone()).collect(),
            });
        }
    }
    let fixed: Vec<(Storm, Option<f64>)> =
        rows.iter().filter(|row| row.config == Config::TracerCommMiss).map(|row| (row.storm, row.cpu_ms)).collect();
    for row in rows.iter_mut().filter(|row| row.config == Config::TracerRecord) {
        let fixed_ms = fixed.iter().find(|(storm, _)| same_storm(storm, &row.storm)).and_then(|(_, ms)| *ms);
        if let (Some(cpu), Some(fixed), Some(events)) = (row.cpu_ms, fixed_ms, row.events_all.filter(|&n| n > 0.0)) {
            row.net_cpu_per_event_ns = Some(((cpu - fixed) * 1e6 / events).max(0.0));
        }
    }
    rows
}

/// Where the time of one storm goes, as fractions of the untraced wall time.
pub struct Breakdown {
    pub storm: Storm,
    /// floor − untraced: the kernel's price for the hooks alone.
    pub hooks: Option<Summary>,
    /// tracer-record − floor: tracer's own cost, recording every event.
    pub own_record: Option<Summary>,
    /// tracer-comm-miss − floor: tracer's own cost when its filter drops everything.
    pub own_comm_miss: Option<Summary>,
    /// tracer-record − floor in ns per workload event (median over rounds).
    pub own_record_per_event_ns: Option<f64>,
    /// tracer's own CPU time recording every event, as shares of the untraced storm's CPU time.
    pub own_cpu: CpuBreakdown,
}

/// tracer's own CPU time, recording every event, as per-round shares of the CPU time the
/// untraced storm's tasks used. CPU time does not depend on how the scheduler shares two
/// busy CPUs, so these resolve differences the wall times leave inside the noise.
#[derive(Default)]
pub struct CpuBreakdown {
    /// In the storm's own tasks: storm CPU under tracer-record − under floor (the programs'
    /// work, the ring buffer, and what they cost the tasks besides).
    pub in_tasks: Option<Summary>,
    /// In tracer's process: tracer-record's CPU − tracer-comm-miss's (which delivers nothing:
    /// idling, draining nothing, stopping).
    pub in_tracer: Option<Summary>,
    pub total: Option<Summary>,
    /// The total in ns per workload event.
    pub per_event_ns: Option<f64>,
}

fn cpu_breakdown(records: &[Record], storm: &Storm) -> CpuBreakdown {
    let mut rounds: BTreeMap<usize, BTreeMap<&'static str, &RunResult>> = BTreeMap::new();
    for record in records.iter().filter(|r| same_storm(&r.storm, storm) && r.result.error.is_none()) {
        rounds.entry(record.round).or_default().insert(record.config.name(), &record.result);
    }
    let (mut in_tasks, mut in_tracer, mut total, mut per_event) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for runs in rounds.values() {
        let storm_cpu = |config: Config| Some(runs.get(config.name())?.storm_cpu_ns? as f64);
        let tool_cpu = |config: Config| Some(runs.get(config.name())?.cpu_ns? as f64);
        let Some(untraced) = storm_cpu(Config::Untraced).filter(|&cpu| cpu > 0.0) else { continue };
        let tasks = storm_cpu(Config::TracerRecord).zip(storm_cpu(Config::Floor)).map(|(a, b)| a - b);
        let tracer = tool_cpu(Config::TracerRecord).zip(tool_cpu(Config::TracerCommMiss)).map(|(a, b)| a - b);
        if let Some(ns) = tasks {
            in_tasks.push(ns / untraced);
        }
        if let Some(ns) = tracer {
            in_tracer.push(ns / untraced);
        }
        if let (Some(a), Some(b), Some(record)) = (tasks, tracer, runs.get(Config::TracerRecord.name())) {
            total.push((a + b) / untraced);
            per_event.push((a + b) / record.expected.total().max(1) as f64);
        }
    }
    CpuBreakdown {
        in_tasks: Summary::of(&in_tasks),
        in_tracer: Summary::of(&in_tracer),
        total: Summary::of(&total),
        per_event_ns: median(&per_event),
    }
}

pub fn breakdowns(records: &[Record], storms: &[Storm]) -> Vec<Breakdown> {
    storms
        .iter()
        .map(|storm| {
            let own_record = paired_differences(records, storm, Config::TracerRecord, Config::Floor);
            // The same per event: the difference times the untraced wall time, over the events.
            let per_event: Vec<f64> = walls_by_round(records, storm)
                .into_iter()
                .filter_map(|(round, walls)| {
                    let record = records.iter().find(|r| {
                        r.round == round && r.config == Config::TracerRecord && same_storm(&r.storm, storm)
                    })?;
                    let events = record.result.expected.total().max(1) as f64;
                    Some((walls.get(Config::TracerRecord.name())? - walls.get(Config::Floor.name())?) / events)
                })
                .collect();
            Breakdown {
                storm: *storm,
                hooks: Summary::of(&paired_differences(records, storm, Config::Floor, Config::Untraced)),
                own_record: Summary::of(&own_record),
                own_comm_miss: Summary::of(&paired_differences(records, storm, Config::TracerCommMiss, Config::Floor)),
                own_record_per_event_ns: median(&per_event),
                own_cpu: cpu_breakdown(records, storm),
            }
        })
        .collect()
}

/// The configurations whose hooks are measured, in the hook table's column order.
pub const HOOK_CONFIGS: [Config; 3] = [Config::Floor, Config::TracerCommMiss, Config::TracerRecord];

/// One hook of one storm: runs and run time under each of [`HOOK_CONFIGS`].
pub struct HookRow {
    pub storm: Storm,
    /// The hook, or `all hooks` for the storm's total.
    pub hook: String,
    /// (runs, run time in ns) per configuration, summed over the measured runs of that
    /// configuration, with how many runs that is.
    pub by_config: [Option<(u64, u64, usize)>; 3],
}

impl HookRow {
    /// ns per program run under `HOOK_CONFIGS[index]`.
    pub fn ns_per_run(&self, index: usize) -> Option<f64> {
        let (runs, time, _) = self.by_config[index]?;
        (runs > 0).then(|| time as f64 / runs as f64)
    }

    /// Program runs and run time per measured run under `HOOK_CONFIGS[index]`.
    pub fn per_run(&self, index: usize) -> Option<(f64, f64)> {
        let (runs, time, count) = self.by_config[index]?;
        let count = count.max(1) as f64;
        Some((runs as f64 / count, time as f64 / count))
    }
}

pub fn hook_rows(records: &[Record], storms: &[Storm]) -> Vec<HookRow> {
    let mut rows = Vec::new();
    for storm in storms {
        let mut hooks: Vec<String> = Vec::new();
        for record in records.iter().filter(|r| same_storm(&r.storm, storm)) {
            for stat in &record.result.hooks {
                if !hooks.contains(&stat.hook) {
                    hooks.push(stat.hook.clone());
                }
            }
        }
        hooks.sort();
        let total = |hook: Option<&str>| {
            HOOK_CONFIGS.map(|config| {
                let runs: Vec<&Record> = records
                    .iter()
                    .filter(|r| r.config == config && same_storm(&r.storm, storm) && !r.result.hooks.is_empty())
                    .collect();
                if runs.is_empty() {
                    return None;
                }
                let stats = runs.iter().flat_map(|r| &r.result.hooks).filter(|s| hook.is_none_or(|h| s.hook == h));
                let (calls, time) = stats.fold((0, 0), |(calls, time), s| (calls + s.runs, time + s.run_time_ns));
                Some((calls, time, runs.len()))
            })
        };
        for hook in &hooks {
            rows.push(HookRow { storm: *storm, hook: hook.clone(), by_config: total(Some(hook)) });
        }
        if !hooks.is_empty() {
            rows.push(HookRow { storm: *storm, hook: "all hooks".to_owned(), by_config: total(None) });
        }
    }
    rows
}
