//! What the bench measured, as one value the report, the tables and the JSON file read.
use std::{collections::BTreeSet, time::Duration};

use super::{
    Record, Startup,
    machine::Machine,
    run_parts::{Config, Storm},
    stats::Summary,
    summary::{self, Breakdown, Row},
};

/// How many rounds the bench runs: `base` for every storm, then more for the storms whose
/// figures are still noisy, up to `max`.
#[derive(Clone, Copy)]
pub struct Rounds {
    pub base: usize,
    pub max: usize,
    /// A storm gets another round while the 95 % interval of the median ratio of the floor or
    /// of tracer is wider than ± this.
    pub noise: f64,
}

/// Everything the bench measured.
pub struct Results {
    pub machine: Machine,
    /// Each peer's version, or why it could not run.
    pub peers: Vec<(&'static str, String)>,
    /// Whether tracefs was there, was mounted, or could not be.
    pub tracefs: String,
    pub rounds: Rounds,
    pub storms: Vec<Storm>,
    /// The configurations that ran.
    pub configs: Vec<Config>,
    /// The configurations that could not run, and why.
    pub not_run: Vec<(Config, String)>,
    pub records: Vec<Record>,
    /// Runs with BPF statistics on, for the per-hook costs (not used for the timings).
    pub hook_records: Vec<Record>,
    /// How the per-hook costs were measured, or why they were not.
    pub hooks_status: String,
    /// By [`super::startup::Tool::ALL`]: tracer's, bpftrace's, the static tracer's.
    pub startups: [Startup; 3],
    pub elapsed: Duration,
    /// Load averages before the first round and after the last.
    pub load: (String, String),
    /// Per round: the load average and other tracers, VMs and compilers running.
    pub disturbances: Vec<String>,
    /// The cgroup the storms' tasks ran in (`--cgroup`), when not the bench's own.
    pub cgroup: Option<std::path::PathBuf>,
}

/// A target: what, the measured value, and whether it is met (`None`: not measured).
pub type Target = (String, String, Option<bool>);

impl Results {
    pub fn rows(&self) -> Vec<Row> {
        summary::rows(&self.records, &self.storms, &self.configs)
    }

    pub fn breakdowns(&self) -> Vec<Breakdown> {
        summary::breakdowns(&self.records, &self.storms)
    }

    /// Rounds run for `storm`.
    pub fn rounds_of(&self, storm: &Storm) -> usize {
        let rounds: BTreeSet<usize> =
            self.records.iter().filter(|r| summary::same_storm(&r.storm, storm)).map(|r| r.round).collect();
        rounds.len()
    }

    /// (ready, first event median, min, max, starts) in ms.
    pub fn startup_summary(&self, index: usize) -> Option<(f64, f64, f64, f64, usize)> {
        let samples = &self.startups[index].samples;
        let first = Summary::of(&samples.iter().map(|&(_, first)| first as f64 / 1e6).collect::<Vec<_>>())?;
        let ready = Summary::of(&samples.iter().map(|&(ready, _)| ready as f64 / 1e6).collect::<Vec<_>>())?;
        Some((ready.median, first.median, first.min, first.max, samples.len()))
    }
}
