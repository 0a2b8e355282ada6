//! `cargo xtask bench`: tracer's overhead, losses and costs, measured against the untraced
//! workload, against the bare hooks (the floor), and against peers (bpftrace, forkstat).
//!
//! Storms of `tracer-workload storm` (thread, fork and exec shapes, on one core and on all) run
//! in rounds; each round runs every configuration of a storm once, in an order rotated each
//! round, so slow drifts of the machine hit every configuration alike. Configurations:
//! `untraced`, `floor` (tracer's hooks with programs that return at once), `tracer-record`
//! (recording every event to a file), `tracer-static-record` (the same with the static musl
//! build the packages ship; `--no-static` leaves it out), `tracer-comm-miss` (recording with a
//! `--comm` filter nothing matches), `tracer-top` (`tracer top -o FILE`, drawing on a
//! pseudo-terminal), `bpftrace` (a script on the sched tracepoints printing the same facts to a
//! file) and `forkstat` (the proc connector tool); a peer that cannot be had is reported as not
//! run, with the reason. Storms whose figures are still noisy after the first rounds get more,
//! up to a cap. Then, with the kernel's BPF run-time statistics on, one run per storm of the floor
//! and of tracer measures each hook's cost. Each of the first rounds also measures
//! start-to-first-event for tracer (both builds) and bpftrace. At the end, replay speed is measured on a
//! recording and on a hostile file.
//!
//! Results: the tables on stdout, `target/bench/results.json` and `target/bench/README-figures.md`;
//! with `--write PATH`, also the whole report as a page (docs/benchmarks.md).
mod count;
mod floor;
mod forkstat;
mod hooks;
mod json;
mod machine;
mod page;
mod peers;
mod process;
mod progress;
mod recorded;
mod replay;
mod report;
mod results;
mod run_parts;
mod runs;
mod startup;
mod stats;
mod summary;
mod tables;
mod workload;

use std::{
    fs,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::{
    build,
    command::{is_root, step, target_dir},
};
use results::{Results, Rounds};
use run_parts::{Config, RunResult, Storm, Tools};
use stats::Summary;

/// Tasks per storm, by shape: each storm takes about 1.3 s untraced on the 2-core VM this was
/// tuned on (one core: thread ≈ 45,000 tasks/s, fork ≈ 7,000/s, exec ≈ 1,300/s). `exec-8k`
/// execs with 8 KiB of arguments: variable-length exec records of 8 KiB each.
const TASKS: [(&str, u64); 4] = [("thread", 60_000), ("fork", 9_000), ("exec", 1_800), ("exec-8k", 1_800)];
const CORES: [&str; 2] = ["one", "all"];

#[derive(clap::Args)]
pub struct Options {
    /// Rounds every storm gets; each runs every configuration of the storm once, in a rotating
    /// order.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Rounds a noisy storm may get in all (see --noise).
    #[arg(long, default_value_t = 10)]
    max_rounds: usize,
    /// A storm gets another round while the 95 % interval of a median ratio or difference of the
    /// floor or of tracer (to untraced) is wider than ± this.
    #[arg(long, default_value_t = 0.03)]
    noise: f64,
    /// Multiply every storm's task count by this (e.g. 0.1 for a quick smoke run).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Storm shapes to run.
    #[arg(long, value_delimiter = ',', default_values = ["thread", "fork", "exec", "exec-8k"])]
    shapes: Vec<String>,
    /// Leave bpftrace out even when it is installed.
    #[arg(long)]
    no_bpftrace: bool,
    /// Leave forkstat out even when it is installed.
    #[arg(long)]
    no_forkstat: bool,
    /// Leave out the static (musl) build of tracer (`tracer-static-record` and its start-up).
    #[arg(long)]
    no_static: bool,
    /// Skip the per-hook cost runs.
    #[arg(long)]
    no_hook_costs: bool,
    /// Run the storms' tasks in this cgroup, a directory of the unified (v2) hierarchy created
    /// if missing (e.g. a container-style `…/system.slice/docker-<64 hex>.scope`): events then
    /// carry its path and container ID.
    #[arg(long)]
    cgroup: Option<PathBuf>,
    /// Also write the whole report, with the machine, date, commit and these options, as a
    /// markdown page to PATH (e.g. docs/benchmarks.md).
    #[arg(long, value_name = "PATH")]
    write: Option<PathBuf>,
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
    let positive = |value: f64| value.partial_cmp(&0.0) == Some(std::cmp::Ordering::Greater);
    if options.rounds == 0 || !positive(options.scale) || !positive(options.noise) {
        bail!("--rounds, --scale and --noise must be positive");
    }
    if options.max_rounds < options.rounds {
        bail!("--max-rounds ({}) is below --rounds ({})", options.max_rounds, options.rounds);
    }
    let page_path = options.write.as_deref().map(page::check_target).transpose()?;
    let commit = page::commit();
    let workload_cgroup = options.cgroup.as_deref().map(cgroup_for_storms).transpose()?;
    let mut storms = Vec::new();
    for shape in &options.shapes {
        let Some(&(shape, tasks)) = TASKS.iter().find(|(name, _)| name == shape) else {
            bail!("unknown shape `{shape}` (thread, fork, exec or exec-8k)");
        };
        let tasks = ((tasks as f64 * options.scale).round() as u64).max(1);
        storms.extend(CORES.map(|cores| Storm { shape, cores, tasks }));
    }

    let artifacts = build::build()?;
    let tracer_floor = floor::build()?;
    // A static build that cannot be had (no rustup, no musl target offline) costs its rows, not
    // the whole bench: the glibc figures are still worth having.
    let tracer_static = match options.no_static {
        true => Err("left out (--no-static)".to_owned()),
        false => crate::dist::static_tracer(&artifacts).map_err(|error| format!("not built: {error:#}")),
    };
    let out_dir = target_dir().join("bench");
    let scratch = out_dir.join("scratch");
    fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
    let tracefs = peers::mount_tracefs();
    let bpftrace = if options.no_bpftrace { peers::Peer::left_out("--no-bpftrace") } else { peers::bpftrace(&tracefs) };
    let forkstat = if options.no_forkstat { peers::Peer::left_out("--no-forkstat") } else { peers::forkstat() };
    step(format!("bpftrace: {}", bpftrace.status));
    step(format!("forkstat: {}", forkstat.status));
    let mut configs =
        vec![Config::Untraced, Config::Floor, Config::TracerRecord, Config::TracerCommMiss, Config::TracerTop];
    let mut not_run = Vec::new();
    match &tracer_static {
        Ok(_) => configs.push(Config::TracerStaticRecord),
        Err(why) => {
            step(format!("static tracer: {why}"));
            not_run.push((Config::TracerStaticRecord, why.clone()));
        }
    }
    for (config, peer) in [(Config::Bpftrace, &bpftrace), (Config::Forkstat, &forkstat)] {
        match peer.path {
            Some(_) => configs.push(config),
            None => not_run.push((config, peer.status.clone())),
        }
    }
    let peer_statuses = vec![("bpftrace", bpftrace.status.clone()), ("forkstat", forkstat.status.clone())];
    let tools = Tools {
        tracer: artifacts.tracer,
        tracer_static: tracer_static.ok(),
        tracer_floor,
        workload: artifacts.workload,
        bpftrace: bpftrace.path,
        forkstat: forkstat.path,
        scratch,
        workload_cgroup: workload_cgroup.clone(),
    };
    tools.write_script()?;
    let machine = machine::machine(json!({"bpftrace": bpftrace.status, "forkstat": forkstat.status}));
    step(format!("machine: {}", machine.line));

    // Warm-up, not recorded: page cache, CPU frequency, the first exec of every binary.
    step("warming up");
    for storm in &storms {
        let _ = runs::run(&tools, Config::Untraced, *storm, false);
    }

    let load_before = machine::load_average();
    if load_before.split_whitespace().next().and_then(|l| l.parse::<f64>().ok()).is_some_and(|l| l > 0.5) {
        step(format!("the machine is busy (load average {load_before}): figures will be noisy"));
    }
    let began = Instant::now();
    let mut records = Vec::new();
    let mut disturbances = Vec::new();
    let mut startups: [Startup; 3] = Default::default();
    let rounds = Rounds { base: options.rounds, max: options.max_rounds, noise: options.noise };
    for round in 0..rounds.max {
        let storms_now: Vec<Storm> = if round < rounds.base {
            storms.clone()
        } else {
            storms.iter().copied().filter(|storm| noisy(&records, storm, &configs, rounds.noise)).collect()
        };
        if storms_now.is_empty() {
            break;
        }
        let names: Vec<String> = storms_now.iter().map(|s| format!("{}/{}", s.shape, s.cores)).collect();
        step(format!("round {} (at least {}, at most {}): {}", round + 1, rounds.base, rounds.max, names.join(", ")));
        let foreign = machine::foreign_load();
        if !foreign.is_empty() {
            step(format!("other load on the machine: {foreign}"));
        }
        disturbances.push(format!(
            "round {}: load average {}{}{foreign}",
            round + 1,
            machine::load_average(),
            if foreign.is_empty() { "" } else { "; " }
        ));
        if round < rounds.base {
            measure_startups(&tools, &mut startups);
        }
        for storm in &storms_now {
            let mut order = configs.clone();
            order.rotate_left(round % configs.len());
            for config in order {
                let result = runs::run(&tools, config, *storm, false);
                eprintln!("    {}", progress::line(storm, config, &result, &records, round));
                records.push(Record { round, storm: *storm, config, result });
            }
        }
    }
    let (hook_records, hooks_status) = if options.no_hook_costs {
        (Vec::new(), "left out (--no-hook-costs)".to_owned())
    } else {
        hook_costs(&tools, &storms)
    };
    let elapsed = began.elapsed();
    step("replay speed");
    let replay_speed = replay::measure(&tools);
    let _ = fs::remove_dir_all(&tools.scratch);

    let results = Results {
        machine,
        peers: peer_statuses,
        tracefs: match tracefs {
            Ok(done) => done,
            Err(problem) => problem,
        },
        rounds,
        storms,
        configs,
        not_run,
        records,
        hook_records,
        hooks_status,
        startups,
        elapsed,
        load: (load_before, machine::load_average()),
        disturbances,
        cgroup: workload_cgroup,
    };
    println!("{}", results.tables());
    let json_path = out_dir.join("results.json");
    fs::write(&json_path, serde_json::to_string_pretty(&json::to_json(&results))? + "\n")
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
    println!("figures: {}", readme_path.display());
    if let Some(path) = &page_path {
        page::write(path, &page::render(&results, options, &commit, &replay_section))?;
        println!("page: {}", path.display());
    }
    let failed = results.records.iter().chain(&results.hook_records).filter(|r| r.result.error.is_some()).count();
    let startup_problems: usize = results.startups.iter().map(|startup| startup.errors.len()).sum();
    replay_speed?;
    if failed + startup_problems > 0 {
        bail!(
            "{failed} of {} runs failed and {startup_problems} start-to-first-event measurements had problems; see `errors` in {}",
            results.records.len() + results.hook_records.len(),
            json_path.display()
        );
    }
    Ok(())
}

/// The cgroup `--cgroup` names, created (below an existing cgroup) if missing.
fn cgroup_for_storms(path: &Path) -> Result<PathBuf> {
    let is_cgroup = |dir: &Path| dir.join("cgroup.procs").is_file();
    if !path.exists() && path.parent().is_some_and(is_cgroup) {
        fs::create_dir(path).with_context(|| format!("--cgroup: cannot create {}", path.display()))?;
    }
    if !is_cgroup(path) {
        bail!(
            "--cgroup: {} is not a cgroup, nor a new one's name below a cgroup; name a directory of the unified (v2) hierarchy",
            path.display()
        );
    }
    Ok(path.to_owned())
}

/// Whether `storm`'s figures are still too noisy: the 95 % interval of the median ratio of the
/// floor or of tracer to untraced, or of tracer's own cost over the floor, is wider than
/// ± `noise`.
fn noisy(records: &[Record], storm: &Storm, configs: &[Config], noise: f64) -> bool {
    let mut samples: Vec<Vec<f64>> =
        [Config::Floor, Config::TracerRecord, Config::TracerStaticRecord, Config::TracerCommMiss]
            .into_iter()
            .filter(|config| configs.contains(config))
            .map(|config| summary::paired_ratios(records, storm, config))
            .collect();
    for config in [Config::TracerRecord, Config::TracerCommMiss] {
        samples.push(summary::paired_differences(records, storm, config, Config::Floor));
    }
    samples.iter().filter_map(|values| Summary::of(values)).any(|summary| summary.half_width > noise)
}

/// One start-to-first-event sample of each tool that is there.
fn measure_startups(tools: &Tools, startups: &mut [Startup; 3]) {
    for (index, tool) in startup::Tool::ALL.into_iter().enumerate() {
        if !tool.available(tools) {
            continue;
        }
        let name = tool.name();
        match startup::measure(tools, tool) {
            Ok(sample) => {
                let ready = sample.ready_ns.unwrap_or(0);
                let first = sample.first_event_ns;
                eprintln!(
                    "    {name:<13} start-to-first-event {:.0} ms (ready after {:.0} ms)",
                    first as f64 / 1e6,
                    ready as f64 / 1e6
                );
                startups[index].samples.push((ready, first));
                if let Some(problem) = sample.problem {
                    eprintln!("    {name:<13} PROBLEM: {problem}");
                    startups[index].errors.push(problem);
                }
            }
            Err(error) => {
                eprintln!("    {name:<13} start-to-first-event: FAILED: {error:#}");
                startups[index].errors.push(format!("{error:#}"));
            }
        }
    }
}

/// One run per storm of each configuration in [`summary::HOOK_CONFIGS`] with the kernel's BPF
/// run-time statistics on; returns the runs and how they were measured (or why not).
fn hook_costs(tools: &Tools, storms: &[Storm]) -> (Vec<Record>, String) {
    step("per-hook costs: BPF run-time statistics on, one run per storm of floor, tracer-comm-miss, tracer-record");
    let switch = match hooks::enable_stats() {
        Ok(switch) => switch,
        Err(error) => return (Vec::new(), format!("not measured: {error:#}")),
    };
    let mut records = Vec::new();
    for storm in storms {
        for config in summary::HOOK_CONFIGS {
            let result = runs::run(tools, config, *storm, true);
            eprintln!("    {}", progress::line(storm, config, &result, &[], 0));
            records.push(Record { round: 0, storm: *storm, config, result });
        }
    }
    drop(switch);
    (records, "one run per storm and configuration, after the timed rounds".to_owned())
}
