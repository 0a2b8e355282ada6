//! `cargo xtask bench`: tracer's overhead, losses and costs, measured against the untraced
//! workload and against bpftrace.
//!
//! Storms of `tracer-workload storm` (thread, fork and exec shapes, on one core and on all) run
//! in rounds; each round runs every configuration of every storm once, in an order rotated each
//! round, so slow drifts of the machine hit every configuration alike. Configurations:
//! `untraced`, `tracer-record` (recording every event to a file), `tracer-comm-miss` (recording
//! with a `--comm` filter nothing matches) and `bpftrace` (a script on the sched tracepoints
//! printing the same facts to a file; left out, and said so, when bpftrace cannot be had).
//! Each round also measures start-to-first-event for tracer and bpftrace. At the end, replay
//! speed is measured on a recording and on a hostile file.
//!
//! Results: a table on stdout, `target/bench/results.json` and `target/bench/README-figures.md`.
mod count;
mod process;
mod replay;
mod report;
mod runs;

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, Result, bail};

use crate::{
    build,
    command::{is_root, run, step, target_dir},
};
use runs::{Config, RunResult, Storm, Tools};

/// Tasks per storm, by shape: each storm takes about 1.3 s untraced on the 2-core VM this was
/// tuned on (one core: thread ≈ 45,000 tasks/s, fork ≈ 7,000/s, exec ≈ 1,300/s), and the whole
/// bench (5 rounds, bpftrace included) about 5 minutes.
const TASKS: [(&str, u64); 3] = [("thread", 60_000), ("fork", 9_000), ("exec", 1_800)];
const CORES: [&str; 2] = ["one", "all"];

#[derive(clap::Args)]
pub struct Options {
    /// Rounds; each runs every configuration of every storm once, in a rotating order.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Multiply every storm's task count by this (e.g. 0.1 for a quick smoke run).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Storm shapes to run.
    #[arg(long, value_delimiter = ',', default_values = ["thread", "fork", "exec"])]
    shapes: Vec<String>,
    /// Leave bpftrace out even when it is installed.
    #[arg(long)]
    no_bpftrace: bool,
}

/// One run, placed in the schedule.
pub struct Record {
    pub round: usize,
    pub storm: Storm,
    pub config: Config,
    pub result: RunResult,
}

/// Start-to-first-event samples of one tool.
#[derive(Default)]
pub struct Startup {
    /// (ready, first event) in ns after spawn.
    pub samples: Vec<(u64, u64)>,
    pub errors: Vec<String>,
}

pub fn bench(options: &Options) -> Result<()> {
    if !is_root() {
        bail!("the bench loads BPF programs and runs bpftrace: run it as root (e.g. `sudo -E cargo xtask bench`)");
    }
    if options.rounds == 0 || options.scale.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        bail!("--rounds and --scale must be positive");
    }
    let mut storms = Vec::new();
    for shape in &options.shapes {
        let Some(&(shape, tasks)) = TASKS.iter().find(|(name, _)| name == shape) else {
            bail!("unknown shape `{shape}` (thread, fork or exec)");
        };
        let tasks = ((tasks as f64 * options.scale).round() as u64).max(1);
        storms.extend(CORES.map(|cores| Storm { shape, cores, tasks }));
    }

    let artifacts = build::build()?;
    let out_dir = target_dir().join("bench");
    let scratch = out_dir.join("scratch");
    fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
    let (bpftrace, bpftrace_status) =
        if options.no_bpftrace { (None, "left out (--no-bpftrace)".to_owned()) } else { find_bpftrace() };
    step(format!("bpftrace: {bpftrace_status}"));
    let tools = Tools { tracer: artifacts.tracer, workload: artifacts.workload, bpftrace, scratch };
    tools.write_script()?;
    let machine = report::machine(&bpftrace_status);
    step(format!("machine: {}", machine.line));

    let mut configs = vec![Config::Untraced, Config::TracerRecord, Config::TracerCommMiss];
    if tools.bpftrace.is_some() {
        configs.push(Config::Bpftrace);
    }
    // Warm-up, not recorded: page cache, CPU frequency, the first exec of every binary.
    step("warming up");
    for storm in &storms {
        let _ = runs::run(&tools, Config::Untraced, *storm);
    }

    let load_before = report::load_average();
    if load_before.split_whitespace().next().and_then(|l| l.parse::<f64>().ok()).is_some_and(|l| l > 0.5) {
        step(format!("the machine is busy (load average {load_before}): figures will be noisy"));
    }
    let began = Instant::now();
    let mut records = Vec::new();
    let mut disturbances = Vec::new();
    let mut startups = [Startup::default(), Startup::default()];
    for round in 0..options.rounds {
        step(format!("round {}/{}", round + 1, options.rounds));
        let foreign = report::foreign_load();
        if !foreign.is_empty() {
            step(format!("other load on the machine: {foreign}"));
        }
        disturbances.push(format!(
            "round {}: load average {}{}{foreign}",
            round + 1,
            report::load_average(),
            if foreign.is_empty() { "" } else { "; " }
        ));
        for (index, bpftrace) in [false, true].into_iter().enumerate() {
            if bpftrace && tools.bpftrace.is_none() {
                continue;
            }
            let name = if bpftrace { "bpftrace" } else { "tracer" };
            match runs::startup(&tools, bpftrace) {
                Ok(sample) => {
                    let ready = sample.ready_ns.unwrap_or(0);
                    let first = sample.first_event_ns;
                    eprintln!(
                        "    {name:<8} start-to-first-event {:.0} ms (ready after {:.0} ms)",
                        first as f64 / 1e6,
                        ready as f64 / 1e6
                    );
                    startups[index].samples.push((ready, first));
                    if let Some(problem) = sample.problem {
                        eprintln!("    {name:<8} PROBLEM: {problem}");
                        startups[index].errors.push(problem);
                    }
                }
                Err(error) => {
                    eprintln!("    {name:<8} start-to-first-event: FAILED: {error:#}");
                    startups[index].errors.push(format!("{error:#}"));
                }
            }
        }
        for storm in &storms {
            let mut order = configs.clone();
            order.rotate_left(round % configs.len());
            for config in order {
                let result = runs::run(&tools, config, *storm);
                eprintln!("    {}", report::progress_line(storm, config, &result, &records, round));
                records.push(Record { round, storm: *storm, config, result });
            }
        }
    }
    let elapsed = began.elapsed();
    step("replay speed");
    let replay_speed = replay::measure(&tools);
    let _ = fs::remove_dir_all(&tools.scratch);

    let results = report::Results {
        machine,
        bpftrace_status,
        rounds: options.rounds,
        storms,
        configs,
        records,
        startups,
        elapsed,
        load: (load_before, report::load_average()),
        disturbances,
    };
    let table = results.tables();
    println!("{table}");
    let json_path = out_dir.join("results.json");
    fs::write(&json_path, serde_json::to_string_pretty(&results.to_json())? + "\n")
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    let replay_section = match &replay_speed {
        Ok(samples) => replay::markdown(samples),
        Err(error) => format!("Replay speed: FAILED: {error:#}\n"),
    };
    println!("{replay_section}");
    let readme_path = out_dir.join("README-figures.md");
    fs::write(&readme_path, format!("{}\n{replay_section}", results.markdown()))
        .with_context(|| format!("cannot write {}", readme_path.display()))?;
    println!("results: {}", json_path.display());
    println!("figures for README.md: {}", readme_path.display());
    let failed = results.records.iter().filter(|record| record.result.error.is_some()).count();
    let startup_problems: usize = results.startups.iter().map(|startup| startup.errors.len()).sum();
    replay_speed?;
    if failed + startup_problems > 0 {
        bail!(
            "{failed} of {} runs failed and {startup_problems} start-to-first-event measurements had problems; see `errors` in {}",
            results.records.len(),
            json_path.display()
        );
    }
    Ok(())
}

/// bpftrace on PATH, or installed with apt-get; with the tracefs its tracepoints need.
fn find_bpftrace() -> (Option<PathBuf>, String) {
    let mut path = on_path("bpftrace");
    if path.is_none() && on_path("apt-get").is_some() {
        step("bpftrace is not installed: trying `apt-get install -y bpftrace`");
        let install = || {
            Command::new("apt-get")
                .args(["install", "-y", "bpftrace"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .is_ok_and(|status| status.success())
        };
        if !install() {
            let _ = Command::new("apt-get").arg("update").status();
            install();
        }
        path = on_path("bpftrace");
    }
    let Some(path) = path else {
        return (None, "not installed, and `apt-get install -y bpftrace` did not install it".to_owned());
    };
    let version = Command::new(&path)
        .arg("--version")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default();
    // Its tracepoints need tracefs, which this machine does not mount at boot.
    let tracefs = Path::new("/sys/kernel/tracing");
    if !tracefs.join("events/sched").is_dir() {
        step("mounting tracefs on /sys/kernel/tracing (bpftrace's tracepoints need it)");
        if let Err(error) = run(Command::new("mount").args(["-t", "tracefs", "nodev"]).arg(tracefs)) {
            return (None, format!("{version} installed, but tracefs cannot be mounted: {error:#}"));
        }
    }
    let status = format!("{version} ({})", path.display());
    (Some(path), status)
}

fn on_path(program: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH").unwrap_or_default())
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}
