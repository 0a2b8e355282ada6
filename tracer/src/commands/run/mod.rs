//! `tracer run -- COMMAND`: starts COMMAND as it would start untraced, traces it and every
//! process it creates from its first instruction, and ends the way it ended.
//!
//! - Start: see `spawn` (followed in the kernel before exec, same signals, environment and
//!   descriptors as untraced).
//! - Events: printed on stderr or `--events-to FILE`, never on stdout, which is the command's
//!   (see `events_to`).
//! - End: when the command and everything it created are gone, known from the kernel's own
//!   process tree with tracer as their subreaper (see `tree`), never from events, which task
//!   filters and a full ring buffer remove.
//! - Signals: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to tracer go to the
//!   command, and tracer goes on tracing; the same signals from the terminal already reached
//!   the command and are not sent twice; once the command has exited, they stop tracer
//!   waiting for what the command left running (see `tree::Supervisor`).
//! - Exit: with the command's exit code, or killed by the signal that killed it.
mod events_to;
mod signals;
mod spawn;
mod tree;

use std::{
    ffi::OsString,
    os::{
        fd::{AsFd, AsRawFd, RawFd},
        unix::process::ExitStatusExt,
    },
    path::PathBuf,
};

use anyhow::{Context, Result};
use aya::programs::RawTracePoint;
use tracer_common::program::FOLLOW_SELF;

use crate::{commands::live, config::TraceConfig, session};

/// Exit status for bad usage.
const EXIT_USAGE: u8 = 2;

/// `tracer run [OPTIONS] [--events-to FILE] -- COMMAND`. Returns tracer's exit status, unless
/// the command was killed by a signal: then tracer dies of the same signal.
pub async fn run(config: TraceConfig, events_to: Option<PathBuf>, command: Vec<OsString>) -> Result<u8> {
    let Some(program) = command.first() else {
        eprintln!("tracer: {}", spawn::LaunchError::NoCommand);
        return Ok(EXIT_USAGE);
    };
    if config.duration.is_some() {
        eprintln!(
            "tracer: --duration does not apply to tracer run, which ends with its command; \
             to bound the command, run it under timeout: tracer run -- timeout SECS COMMAND"
        );
        return Ok(EXIT_USAGE);
    }
    // The usual failures get their line before anything loads or is announced.
    if let Err(error) = spawn::check_program(program, std::env::var_os("PATH").as_deref()) {
        eprintln!("tracer: {error}");
        return Ok(error.exit_status());
    }
    // Taken over before anything can start a thread, so that they are blocked in every thread
    // and queue on the signalfd (a signal that arrives before the command starts stops tracer
    // below, as it would have without this).
    let startup = signals::Startup::recorded();
    let mut taken: Vec<i32> = signals::FORWARDED.iter().copied().filter(|&signal| !startup.ignored(signal)).collect();
    taken.push(libc::SIGCHLD);
    let signal_fd = signals::SignalFd::block(&taken).context("cannot take over signals")?;
    let destination = events_to::open(events_to.as_deref(), config.force)?;
    // Without task filters only the command's tree is traced; with them, the filters select
    // tasks as they do live, and `--follow` adds the command's tree.
    let follow_only = !config.filters.selects_tasks();
    let following = follow_only || config.filters.follow;
    let mut prepared = match live::prepare(&config, true, follow_only, destination.out) {
        Ok(prepared) => prepared,
        Err(error) => {
            // Nothing was traced: leave no empty events file behind.
            if let Some(path) = destination.created {
                let _ = std::fs::remove_file(path);
            }
            return Err(error);
        }
    };
    let follow_program = if following { Some(load_follow_self(&mut prepared.loaded.ebpf)?) } else { None };
    if let Some(received) = signal_fd.read().context("cannot read signals")? {
        // Asked to stop while loading: the command never starts.
        let _ = prepared.pipeline.finish();
        for path in [destination.created.as_ref(), config.output.as_ref()].into_iter().flatten() {
            let _ = std::fs::remove_file(path);
        }
        signals::die_of(received.signal);
        return Ok((128 + received.signal) as u8);
    }
    // An inherited "ignore SIGCHLD" would reap children unseen; the command gets it back.
    // SAFETY: sets tracer's own disposition.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
    tree::become_subreaper().context("cannot become the subreaper of the command's processes")?;

    live::announce(&prepared, &config, "Stops when the command's process tree is gone.");
    let pid = match spawn::spawn(&command, follow_program) {
        Ok(pid) => pid,
        Err(error) => {
            // Nothing was traced: close the recording, if any, properly.
            let _ = prepared.pipeline.finish();
            eprintln!("tracer: {error}");
            return Ok(error.exit_status());
        }
    };
    let mut supervisor = tree::Supervisor::new(pid, signal_fd).context("cannot watch the command")?;
    let model = prepared.model.take();
    let emitted = std::mem::take(&mut prepared.emitted);
    let ended = session::stream(prepared.loaded, prepared.pipeline, None, async {
        supervisor.until_done().await;
    })
    .await;
    if supervisor.done().is_none() {
        // Tracing stopped early (the reader of the events went away, or an error): the command
        // still runs, and tracer still ends with it.
        supervisor.until_done().await;
    }
    let ended = ended?;
    live::print_tree(model, emitted, &config, &ended)?;
    live::summarize(&ended, config.output.as_deref());
    Ok(match supervisor.status() {
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => code as u8,
            (None, Some(signal)) => {
                signals::die_of(signal);
                (128 + signal) as u8
            }
            (None, None) => 1,
        },
        // Only if someone else reaped the command; there is no status to pass on.
        None => 1,
    })
}

/// Loads (never attaches) the program the command runs to follow itself; returns its descriptor.
fn load_follow_self(ebpf: &mut aya::Ebpf) -> Result<RawFd> {
    let program: &mut RawTracePoint = ebpf
        .program_mut(FOLLOW_SELF)
        .with_context(|| format!("the eBPF object has no {FOLLOW_SELF} program"))?
        .try_into()
        .with_context(|| format!("{FOLLOW_SELF} is not a raw tracepoint program"))?;
    program.load().with_context(|| format!("cannot load {FOLLOW_SELF}"))?;
    Ok(program.fd().with_context(|| format!("{FOLLOW_SELF} has no descriptor"))?.as_fd().as_raw_fd())
}
