//! The line the bench prints after each run, while it goes.
use std::fmt::Write;

use super::{
    Record,
    run_parts::{Config, RunResult, Storm},
    summary,
};

/// One line per run while the bench goes.
pub fn line(storm: &Storm, config: Config, result: &RunResult, earlier: &[Record], round: usize) -> String {
    let mut line = format!("{:<6} {:<3} {:<16}", storm.shape, storm.cores, config.name());
    if let Some(wall) = result.wall_ns {
        let _ = write!(line, " {:>7.1} ms", wall as f64 / 1e6);
    }
    if let Some(ratio) = summary::paired_ratio(earlier, round, storm, result).filter(|_| config != Config::Untraced) {
        let _ = write!(line, " ×{ratio:.3}");
    }
    if let Some(captured) = result.captured {
        let _ = write!(line, "  events {}/{}", captured.total(), result.expected.total());
    }
    if let Some(lost) = result.lost {
        let _ = write!(line, "  lost {lost}");
    }
    if let Some(overruns) = result.overruns {
        let _ = write!(line, "  nobufs {overruns}");
    }
    if let (Some(cpu), Some(events)) = (result.cpu_ns, result.events_all) {
        let _ = write!(line, "  cpu {:.1} ms", cpu as f64 / 1e6);
        if events > 0 {
            let _ = write!(line, " ({:.0} ns/event of {events})", cpu as f64 / events as f64);
        }
    }
    if let (Some(bytes), Some(events)) = (result.recording_bytes, result.events_all)
        && events > 0
    {
        let _ = write!(line, "  recording {:.0} B/event", bytes as f64 / events as f64);
    }
    if let Some(rss) = result.peak_rss_kib {
        let _ = write!(line, "  rss {:.1} MiB", rss as f64 / 1024.0);
    }
    let hook_time: u64 = result.hooks.iter().map(|hook| hook.run_time_ns).sum();
    if !result.hooks.is_empty() {
        let _ = write!(line, "  hooks {:.1} ms in {} programs", hook_time as f64 / 1e6, result.hooks.len());
    }
    if let Some(error) = &result.error {
        let _ = write!(line, "  ERROR: {error}");
    }
    line
}
