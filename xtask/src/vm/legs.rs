//! Running several VM legs: the shared parts prepared once, then the legs one after another or
//! `jobs` at a time. Under TCG each guest is one host thread (`qemu.rs`), so two guests share
//! a 2-core machine without slowing each other much; side by side, their consoles go to their
//! logs only, and each leg's closing lines are printed when it ends.
use std::{
    fs,
    path::Path,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    thread,
};

use super::{Outcome, init_script::MARKER, leg, prepare, series::Series};
use crate::{build::Artifacts, command::step};

pub struct LegResult {
    pub series: Series,
    pub outcome: anyhow::Result<Outcome>,
}

/// Every leg of `series`, `jobs` at a time; the results in the order of `series`.
pub fn run_legs(artifacts: &Artifacts, series: &[Series], jobs: usize, test_args: &[String]) -> Vec<LegResult> {
    let shared = match prepare(artifacts) {
        Ok(Ok(shared)) => shared,
        Ok(Err(reason)) => {
            return series
                .iter()
                .map(|series| LegResult {
                    series: *series,
                    outcome: Ok(Outcome::Unavailable { reason: reason.clone() }),
                })
                .collect();
        }
        Err(error) => {
            let error = format!("{error:#}");
            return series
                .iter()
                .map(|series| LegResult { series: *series, outcome: Err(anyhow::anyhow!("{error}")) })
                .collect();
        }
    };
    let jobs = jobs.clamp(1, series.len().max(1));
    let echo = jobs == 1;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<LegResult>>> = Mutex::new(series.iter().map(|_| None).collect());
    thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(series) = series.get(index) else { break };
                    if !echo {
                        step(format!(
                            "[{}] VM leg started (console in target/vm/legs/{}/serial.log)",
                            series.name, series.name
                        ));
                    }
                    let outcome = leg(artifacts, &shared, series, test_args, echo);
                    if !echo {
                        print_closing_lines(
                            series,
                            &crate::command::target_dir().join("vm/legs").join(series.name).join("serial.log"),
                        );
                    }
                    results.lock().unwrap()[index] = Some(LegResult { series: *series, outcome });
                }
            });
        }
    });
    results.into_inner().unwrap().into_iter().map(|result| result.expect("every leg ran")).collect()
}

/// What a leg run out of sight says about itself: its kernel, every failure, libtest's summary
/// and the leg's count, from its console log.
fn print_closing_lines(series: &Series, log: &Path) {
    let Ok(text) = fs::read_to_string(log) else { return };
    let mut out = Vec::new();
    let mut in_failures = false;
    // The serial console ends its lines with CR LF.
    for line in text.lines().map(str::trim_end) {
        let keep = line.starts_with("tracer-vm: Linux ")
            || line.starts_with("test result: ")
            || line.starts_with("tracer-vm: leg summary")
            || line.starts_with("tracer-vm:     skipped: ")
            || line.contains(MARKER)
            || line.contains("FAILED")
            || line.contains("panicked at");
        if line == "failures:" {
            in_failures = true;
        }
        if in_failures || keep {
            out.push(line);
        }
        if line.starts_with("test result: ") {
            in_failures = false;
        }
    }
    let lines: String = out.iter().map(|line| format!("    [{}] {line}\n", series.name)).collect();
    eprint!("{lines}");
}
