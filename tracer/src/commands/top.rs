//! `tracer top`: the full-screen view ([`crate::top`]) fed live through the same kernel side,
//! filters and pipeline as the stream (recording with `-o` as it does), or fed a recording at
//! the pace it was recorded. The terminal is given back before the summary line is printed.
use std::{
    io::IsTerminal,
    path::Path,
    sync::{Arc, atomic::Ordering},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, anyhow};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::{
    cli::{TopArgs, TraceArgs},
    clock::Clock,
    commands::{
        EXIT_USAGE,
        live::{EXIT_LOST, announce, prepare, summarize},
    },
    config::{ConfigError, TraceConfig},
    filter::{EventFilter, Filters},
    output::NoPrinter,
    pipeline::Pipeline,
    probes::ProbePlan,
    recording::ReadItem,
    recording_set::{self, EXIT_DAMAGED},
    session,
    text::escape,
    top::{
        model::{TimeSource, TopModel},
        render::Context,
        screen::{self, Feed, Shared},
        seed,
        users::Users,
    },
};

/// How often the session and the replay look whether the view was quit.
const QUIT_POLL: Duration = Duration::from_millis(50);

/// `tracer top [FILE]`; returns the exit status.
pub async fn top(args: &TopArgs) -> Result<u8> {
    if !std::io::stdout().is_terminal() {
        eprintln!(
            "tracer: top draws on a terminal and stdout is not one; use the stream (`tracer`) or `tracer --json` instead"
        );
        return Ok(EXIT_USAGE);
    }
    match &args.file {
        Some(file) => replay(args, file).await,
        None => live(args).await,
    }
}

async fn live(args: &TopArgs) -> Result<u8> {
    let trace = TraceArgs {
        filters: args.filters.clone(),
        output: args.output.clone(),
        force: args.force,
        quiet: true,
        duration: args.duration,
        buffer_mib: args.buffer_mib,
        arg_bytes: args.arg_bytes,
        // The view shows no chains; a recording keeps them as `tracer` would.
        ancestors: if args.output.is_some() { tracer_common::ANCESTOR_DEPTH as u32 } else { 0 },
        hooks: args.hooks.clone(),
        ..TraceArgs::default()
    };
    let config = TraceConfig::from_args(&trace)?;
    let prepared = prepare(&config, false, false, Box::new(std::io::sink()))?;
    let clock = Clock::sample();
    let shared = Shared::new(TopModel::new(clock.boot_to_wall_ns, TimeSource::Wall));
    {
        let mut model = shared.model();
        for group in seed::from_proc(Path::new("/proc"), &config.filters, clock.boot_to_wall_ns) {
            model.seed(group);
        }
    }
    let context = Context {
        source: "live".to_owned(),
        filters: describe_filters(&config.filters),
        hooks: describe_hooks(&prepared.loaded.plan),
    };
    // Before the view takes the terminal (it is there again once the view closes): what is
    // traced, and, to systemd or a bench, that tracing has begun.
    announce(&prepared, &config, "q to quit.");
    let pipeline = prepared.pipeline.watching(Box::new(Feed::new(shared.clone())));
    let screen = spawn_screen(shared.clone(), context, Users::local())?;
    let quit = shared.clone();
    let until = async move {
        while !quit.quitting() {
            tokio::time::sleep(QUIT_POLL).await;
        }
    };
    let ended = session::stream(prepared.loaded, pipeline, config.duration, until).await;
    shared.quit.store(true, Ordering::SeqCst);
    let drawn = join_screen(screen);
    let ended = ended?;
    // Even when the view failed (a panic there is already on stderr): what was traced is said.
    let lost = summarize(&ended, config.output.as_deref());
    drawn?;
    Ok(if lost { EXIT_LOST } else { 0 })
}

async fn replay(args: &TopArgs, file: &Path) -> Result<u8> {
    let speed = match args.speed {
        None => 1.0,
        Some(speed) if speed.is_finite() && speed > 0.0 && speed <= 1e6 => speed,
        Some(speed) => return Err(ConfigError::Speed(speed).into()),
    };
    let filters = Filters::from_args(&args.filters)?;
    let readers = recording_set::open_in_time_order(&[file.to_path_buf()])?;
    let Some(header) = readers.first().map(|(_, reader)| reader.header().clone()) else {
        return Err(anyhow!("{}: no recording", recording_set::shown(file)));
    };
    let shared = Shared::new(TopModel::new(header.boot_to_wall_ns as i64, TimeSource::Wall));
    let context = Context {
        source: format!("replay of {} at {speed}×", recording_set::shown(file)),
        filters: describe_filters(&filters),
        hooks: "as recorded".to_owned(),
    };
    let mut pipeline =
        Pipeline::new(filters.kinds.clone(), Some(EventFilter::new(filters)), None, Box::new(NoPrinter), None)
            .watching(Box::new(Feed::new(shared.clone())));
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot install signal handlers")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot install signal handlers")?;
    let screen = spawn_screen(shared.clone(), context, Users::default())?;
    let started = Instant::now();
    let mut problems = Vec::new();
    let mut first: Option<(u64, Instant)> = None;
    let mut last_ns = None;
    'files: for (path, reader) in readers {
        let shown = recording_set::shown(&path);
        for item in reader {
            match item {
                ReadItem::Event(event) => {
                    let (first_ns, at) = *first.get_or_insert_with(|| {
                        let at = Instant::now();
                        let event_ns = event.timestamp_ns;
                        shared.model().time = TimeSource::Replay { event_ns, at, speed, ended_at: None };
                        (event_ns, at)
                    });
                    let offset = event.timestamp_ns.saturating_sub(first_ns) as f64 / 1e9 / speed;
                    let due = at + Duration::from_secs_f64(offset.min(1e9));
                    if !wait_until(Some(due), &shared, &mut interrupt, &mut terminate).await {
                        break 'files;
                    }
                    last_ns = last_ns.max(Some(event.timestamp_ns));
                    pipeline.handle(event)?;
                    pipeline.flush_output()?;
                }
                ReadItem::Skipped { offset, reason } => {
                    problems.push(format!("{shown}: skipped a damaged record at byte {offset}: {reason}"))
                }
                ReadItem::Truncated { reason, .. } => {
                    problems.push(format!("{shown}: the recording was not closed cleanly ({reason})"))
                }
                ReadItem::ReadFailed { reason, .. } => problems.push(format!("{shown}: {reason}")),
                ReadItem::Trailer(_) => {}
            }
        }
    }
    pipeline.settle_watcher();
    // The end state stays on screen until the view is quit.
    if let TimeSource::Replay { ended_at, .. } = &mut shared.model().time {
        *ended_at = last_ns;
    }
    wait_until(None, &shared, &mut interrupt, &mut terminate).await;
    shared.quit.store(true, Ordering::SeqCst);
    let drawn = join_screen(screen);
    for problem in &problems {
        eprintln!("tracer: {problem}");
    }
    let counts = pipeline.finish()?;
    eprintln!("{}", counts.summary(started.elapsed()));
    drawn?;
    Ok(if problems.is_empty() { 0 } else { EXIT_DAMAGED })
}

/// Waits until `due` (forever without one); false if the view was quit or a stop signal came
/// first.
async fn wait_until(due: Option<Instant>, shared: &Shared, interrupt: &mut Signal, terminate: &mut Signal) -> bool {
    loop {
        if shared.quitting() {
            return false;
        }
        let now = Instant::now();
        let pause = match due {
            Some(due) if due <= now => return true,
            Some(due) => (due - now).min(QUIT_POLL),
            None => QUIT_POLL,
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
        }
    }
    shared.quit.store(true, Ordering::SeqCst);
    false
}

fn spawn_screen(shared: Arc<Shared>, context: Context, users: Users) -> Result<JoinHandle<std::io::Result<()>>> {
    std::thread::Builder::new()
        .name("tracer-top".into())
        .spawn(move || screen::run(shared, context, users))
        .context("cannot start the drawing thread")
}

/// Waits for the drawing thread, which has given the terminal back by then.
fn join_screen(screen: JoinHandle<std::io::Result<()>>) -> Result<()> {
    match screen.join() {
        Ok(drawn) => drawn.context("cannot draw on the terminal"),
        // The panic hook gave the terminal back and printed the panic.
        Err(_) => Err(anyhow!("the view failed")),
    }
}

/// The task filters as given on the command line, or "none".
fn describe_filters(filters: &Filters) -> String {
    let mut selection = Filters { follow: false, ..filters.clone() }.to_args();
    // Without --follow, `to_args` ends with the kinds; they are only a filter when named.
    selection.truncate(selection.len().saturating_sub(2));
    if filters.follow {
        selection.push("--follow".to_owned());
    }
    if filters.kinds_by_name {
        selection.push("--events".to_owned());
        selection.push(filters.kinds.iter().map(|kind| kind.name()).collect::<Vec<_>>().join(","));
    }
    if selection.is_empty() {
        "none".to_owned()
    } else {
        selection.iter().map(|arg| escape(arg)).collect::<Vec<_>>().join(" ")
    }
}

/// The hook serving each kind, `fork=tp_btf exec=tp_btf …`.
fn describe_hooks(plan: &ProbePlan) -> String {
    let hooks: Vec<String> = plan
        .choices
        .iter()
        .filter_map(|choice| Some(format!("{}={}", choice.kind.name(), choice.chosen()?.name())))
        .collect();
    if hooks.is_empty() { "none".to_owned() } else { hooks.join(" ") }
}
