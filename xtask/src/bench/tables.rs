//! The report's tables, as Markdown with padded columns (readable as plain text too).
use std::fmt::Write;

use super::{
    results::{Results, Target},
    run_parts::Config,
    startup::Tool,
    stats::Summary,
    summary::{Breakdown, HOOK_CONFIGS, HookRow, Row},
};

fn dash() -> String {
    "—".to_owned()
}

/// A per-round ratio: `≈ 1.008 ±0.052 (0.865–1.162)`; `≈` when 1 lies inside the interval.
fn ratio(summary: &Summary) -> String {
    format!(
        "{}{:.3} {} ({:.3}–{:.3})",
        if summary.within_noise_of(1.0) { "≈ " } else { "" },
        summary.median,
        summary.half_width_text(1.0, 3),
        summary.min,
        summary.max
    )
}

/// A difference as a share of untraced: `+3.4 % ±1.2`; `≈` when 0 lies inside the interval.
pub fn percent(summary: &Summary) -> String {
    format!(
        "{}{:+.1} % {}",
        if summary.within_noise_of(0.0) { "≈ " } else { "" },
        summary.median * 100.0,
        summary.half_width_text(100.0, 1)
    )
}

/// One row per storm and configuration, the configurations that could not run included.
pub fn main_table(results: &Results, rows: &[Row]) -> String {
    let mut table = vec![
        [
            "shape",
            "cores",
            "tasks",
            "configuration",
            "rounds",
            "wall ms (median)",
            "× untraced (median ±95 %, min–max)",
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
    for storm in &results.storms {
        for config in Config::ALL {
            let row = rows
                .iter()
                .find(|row| row.config == config && row.storm.shape == storm.shape && row.storm.cores == storm.cores);
            let Some(row) = row else {
                if results.not_run.iter().any(|(c, _)| *c == config) {
                    let mut cells: [String; 14] = std::array::from_fn(|_| dash());
                    cells[..5].clone_from_slice(&[
                        storm.shape.to_owned(),
                        storm.cores.to_owned(),
                        storm.tasks.to_string(),
                        config.name().to_owned(),
                        "0".to_owned(),
                    ]);
                    cells[6] = "not run (see below)".to_owned();
                    table.push(cells);
                }
                continue;
            };
            table.push(main_row(row, results.rounds_of(storm)));
        }
    }
    markdown_table(&table)
}

fn main_row(row: &Row, rounds: usize) -> [String; 14] {
    let ratio = match (row.config, &row.ratio) {
        (Config::Untraced, _) => "1".to_owned(),
        (_, Some(summary)) => ratio(summary),
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
    let lost = match (row.lost, row.overruns) {
        (Some(lost), _) => lost.to_string(),
        (None, Some(overruns)) => format!("? ({overruns} nobufs)"),
        _ => dash(),
    };
    [
        row.storm.shape.to_owned(),
        row.storm.cores.to_owned(),
        row.storm.tasks.to_string(),
        row.config.name().to_owned(),
        rounds.to_string(),
        wall,
        ratio,
        captured,
        lost,
        row.cpu_ms.map_or_else(dash, |ms| format!("{ms:.1}")),
        match (row.cpu_per_event_ns, row.net_cpu_per_event_ns) {
            (Some(ns), Some(net)) => format!("{:.2} µs ({:.2} net)", ns / 1000.0, net / 1000.0),
            (Some(ns), None) => format!("{:.2} µs", ns / 1000.0),
            _ => dash(),
        },
        row.events_all.map_or_else(dash, |n| format!("{n:.0}")),
        row.peak_rss_mib.map_or_else(dash, |mib| format!("{mib:.1} MiB")),
        row.ready_ms.map_or_else(dash, |ms| format!("{ms:.0}")),
    ]
}

/// A median difference as a percentage, or a dash where it was not measured.
fn percent_cell(summary: &Option<Summary>) -> String {
    summary.as_ref().map_or_else(dash, percent)
}

pub fn breakdown_table(breakdowns: &[Breakdown]) -> String {
    let mut table = vec![
        [
            "shape",
            "cores",
            "floor − untraced (hooks alone)",
            "tracer-record − floor",
            "per event",
            "tracer-comm-miss − floor",
        ]
        .map(str::to_owned),
    ];
    for b in breakdowns {
        table.push([
            b.storm.shape.to_owned(),
            b.storm.cores.to_owned(),
            percent_cell(&b.hooks),
            percent_cell(&b.own_record),
            b.own_record_per_event_ns.map_or_else(dash, |ns| {
                let noise = b.own_record.is_none_or(|own| own.within_noise_of(0.0));
                format!("{}{ns:.0} ns", if noise { "≈ " } else { "" })
            }),
            percent_cell(&b.own_comm_miss),
        ]);
    }
    markdown_table(&table)
}

pub fn cpu_table(breakdowns: &[Breakdown]) -> String {
    let mut table = vec![
        ["shape", "cores", "in the storm's tasks", "in tracer's process", "total", "per event"].map(str::to_owned),
    ];
    for b in breakdowns {
        let cpu = &b.own_cpu;
        table.push([
            b.storm.shape.to_owned(),
            b.storm.cores.to_owned(),
            percent_cell(&cpu.in_tasks),
            percent_cell(&cpu.in_tracer),
            percent_cell(&cpu.total),
            cpu.per_event_ns.map_or_else(dash, |ns| format!("{ns:.0} ns")),
        ]);
    }
    markdown_table(&table)
}

pub fn hook_table(rows: &[HookRow]) -> String {
    let mut header = vec!["shape".to_owned(), "cores".to_owned(), "hook".to_owned(), "runs (tracer-record)".to_owned()];
    header.extend(HOOK_CONFIGS.map(|config| format!("ns/run {}", config.name())));
    header.push("ms (tracer-record)".to_owned());
    let mut table = vec![<[String; 8]>::try_from(header).expect("8 columns")];
    let record = HOOK_CONFIGS.iter().position(|&c| c == Config::TracerRecord).expect("tracer-record is measured");
    for row in rows {
        let per_run = row.per_run(record);
        table.push([
            row.storm.shape.to_owned(),
            row.storm.cores.to_owned(),
            if row.hook == "all hooks" { "**all hooks**".to_owned() } else { format!("`{}`", row.hook) },
            per_run.map_or_else(dash, |(runs, _)| format!("{runs:.0}")),
            row.ns_per_run(0).map_or_else(dash, |ns| format!("{ns:.0}")),
            row.ns_per_run(1).map_or_else(dash, |ns| format!("{ns:.0}")),
            row.ns_per_run(2).map_or_else(dash, |ns| format!("{ns:.0}")),
            per_run.map_or_else(dash, |(_, time)| format!("{:.1}", time / 1e6)),
        ]);
    }
    markdown_table(&table)
}

pub fn startup_table(results: &Results) -> String {
    let mut table = vec![
        ["tool", "ready ms (median)", "first event ms (median)", "first event min–max", "starts", "problems"]
            .map(str::to_owned),
    ];
    for (index, name) in Tool::ALL.map(Tool::label).into_iter().enumerate() {
        let failed = results.startups[index].errors.len();
        if let Some((ready, first, lo, hi, n)) = results.startup_summary(index) {
            table.push([
                name.to_owned(),
                format!("{ready:.0}"),
                format!("{first:.0}"),
                format!("{lo:.0}–{hi:.0}"),
                n.to_string(),
                failed.to_string(),
            ]);
        } else {
            let why = if failed > 0 { "failed" } else { "not run" };
            table.push([name.to_owned(), why.into(), dash(), dash(), "0".into(), failed.to_string()]);
        }
    }
    markdown_table(&table)
}

pub fn targets_table(targets: &[Target]) -> String {
    let mut table = vec![["target", "measured", "met"].map(str::to_owned)];
    for (target, measured, met) in targets {
        let met = match met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "not measured",
        };
        table.push([target.clone(), measured.clone(), met.to_owned()]);
    }
    markdown_table(&table)
}

/// A Markdown table with padded columns.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_differences_inside_the_noise() {
        let clear = Summary::of(&[1.10, 1.12, 1.11, 1.13, 1.09]).unwrap();
        assert_eq!(ratio(&clear), "1.110 ±0.014 (1.090–1.130)");
        let noisy = Summary::of(&[0.95, 1.10, 1.01, 1.20, 0.90]).unwrap();
        assert!(ratio(&noisy).starts_with("≈ 1.010 ±"));
        let cost = Summary::of(&[0.031, 0.034, 0.029, 0.036, 0.033]).unwrap();
        assert_eq!(percent(&cost), "+3.3 % ±0.2");
        let none = Summary::of(&[-0.01, 0.02, 0.0, 0.01, -0.02]).unwrap();
        assert_eq!(percent(&none), "≈ +0.0 % ±1.4");
    }
}
