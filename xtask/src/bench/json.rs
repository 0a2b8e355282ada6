//! `target/bench/results.json`: every run and every summary figure, for tools and for later
//! comparison.
use serde_json::{Value, json};

use super::{
    Record,
    count::Counts,
    results::Results,
    run_parts,
    startup::Tool,
    stats::Summary,
    summary::{self, HOOK_CONFIGS},
};

fn summary_json(summary: Option<Summary>) -> Value {
    match summary {
        Some(s) => json!({
            "median": s.median,
            "min": s.min,
            "max": s.max,
            "ci95_half_width": s.half_width.is_finite().then_some(s.half_width),
            "samples": s.n,
        }),
        None => Value::Null,
    }
}

fn runs_json(records: &[Record]) -> Vec<Value> {
    records
        .iter()
        .map(|record| {
            let mut run = record.result.to_json();
            run["round"] = json!(record.round);
            run["shape"] = json!(record.storm.shape);
            run["cores"] = json!(record.storm.cores);
            run["tasks"] = json!(record.storm.tasks);
            run["configuration"] = json!(record.config.name());
            run
        })
        .collect()
}

pub fn to_json(results: &Results) -> Value {
    let rows = results.rows();
    let breakdowns = results.breakdowns();
    let counts = |c: Counts| run_parts::counts_json(c);
    json!({
        "machine": results.machine.json,
        "peers": results.peers.iter().map(|(name, status)| json!({"tool": name, "status": status})).collect::<Vec<_>>(),
        "tracefs": results.tracefs,
        "rounds": {"base": results.rounds.base, "max": results.rounds.max, "noise": results.rounds.noise},
        "elapsed_s": results.elapsed.as_secs_f64(),
        "load_average_before": results.load.0,
        "load_average_after": results.load.1,
        "disturbances": results.disturbances,
        // A check on `tool_ru_maxrss_kib` of the runs, which cannot be below this.
        "bench_vmhwm_kib": super::process::peak_rss_kib(std::process::id()),
        "storms": results.storms.iter().map(|s| json!({
            "shape": s.shape, "cores": s.cores, "tasks": s.tasks, "rounds": results.rounds_of(s),
        })).collect::<Vec<_>>(),
        "configurations": results.configs.iter().map(|c| c.name()).collect::<Vec<_>>(),
        "not_run": results.not_run.iter().map(|(c, why)| json!({"configuration": c.name(), "reason": why})).collect::<Vec<_>>(),
        "summary": rows.iter().map(|row| json!({
            "shape": row.storm.shape,
            "cores": row.storm.cores,
            "tasks": row.storm.tasks,
            "configuration": row.config.name(),
            "runs_ok": row.ok,
            "runs_failed": row.failed,
            "wall_ms_median": row.wall_ms,
            "ratio": summary_json(row.ratio),
            "ratio_inside_noise": row.ratio.map(|r| r.within_noise_of(1.0)),
            "ratio_of_medians": row.ratio_of_medians,
            "workload_events_captured": row.captured.map(|(c, _)| counts(c)),
            "workload_events_expected": row.captured.map(|(_, e)| counts(e)),
            "lost_total": row.lost,
            "overruns_total": row.overruns,
            "tool_cpu_ms_median": row.cpu_ms,
            "tool_cpu_ns_per_event_median": row.cpu_per_event_ns,
            "tracer_net_cpu_ns_per_event": row.net_cpu_per_event_ns,
            "events_all_median": row.events_all,
            "peak_rss_mib_max": row.peak_rss_mib,
            "ready_ms_median": row.ready_ms,
            "errors": row.errors,
        })).collect::<Vec<_>>(),
        "breakdown": breakdowns.iter().map(|b| json!({
            "shape": b.storm.shape,
            "cores": b.storm.cores,
            "floor_minus_untraced": summary_json(b.hooks),
            "tracer_record_minus_floor": summary_json(b.own_record),
            "tracer_record_minus_floor_ns_per_event": b.own_record_per_event_ns,
            "tracer_comm_miss_minus_floor": summary_json(b.own_comm_miss),
        })).collect::<Vec<_>>(),
        "hooks_status": results.hooks_status,
        "hook_costs": summary::hook_rows(&results.hook_records, &results.storms).iter().map(|row| json!({
            "shape": row.storm.shape,
            "cores": row.storm.cores,
            "hook": row.hook,
            "by_configuration": HOOK_CONFIGS.iter().enumerate().map(|(index, config)| json!({
                "configuration": config.name(),
                "runs_per_storm": row.per_run(index).map(|(runs, _)| runs),
                "run_time_ns_per_storm": row.per_run(index).map(|(_, time)| time),
                "ns_per_run": row.ns_per_run(index),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "start_to_first_event": Tool::ALL.iter().enumerate().map(|(index, tool)| json!({
            "tool": tool.name(),
            "samples_ns": results.startups[index].samples.iter().map(|&(ready, first)| json!({"ready": ready, "first_event": first})).collect::<Vec<_>>(),
            "ready_ms_median": results.startup_summary(index).map(|s| s.0),
            "first_event_ms_median": results.startup_summary(index).map(|s| s.1),
            "errors": results.startups[index].errors,
        })).collect::<Vec<_>>(),
        "targets": results.targets(&rows, &breakdowns).into_iter().map(|(target, measured, met)| json!({
            "target": target, "measured": measured, "met": met,
        })).collect::<Vec<_>>(),
        "runs": runs_json(&results.records),
        "hook_runs": runs_json(&results.hook_records),
    })
}
