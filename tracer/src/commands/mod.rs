//! tracer's commands, one per room: the live stream, `tracer run`, `replay`, `tree`, `export`,
//! `top` and `probes`, plus `--generate`. [`dispatch`] runs the one a command line names and
//! [`exit_status`] maps its error to the status the binary exits with.
pub mod export;
pub mod generate;
pub mod live;
pub mod probes;
pub mod replay;
pub mod run;
pub mod top;
pub mod trace;
pub mod tree;

use crate::{
    cli::{Cli, Command},
    config::{self, TraceConfig},
    filter, heap, loader,
};

/// Exit status for bad command lines, including bad flag values.
pub const EXIT_USAGE: u8 = 2;

/// Runs the command `cli` names; the exit status on success.
pub fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    heap::return_large_blocks();
    if let Some(what) = &cli.generate {
        return match generate::generate(what, &mut std::io::stdout().lock()) {
            Err(generate::GenerateError::Write(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
            other => other.map(|()| 0).map_err(Into::into),
        };
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let status = match cli.command {
        None => runtime.block_on(trace::trace(TraceConfig::from_args(&cli.trace)?)),
        Some(Command::Run { trace, events_to, command }) => {
            runtime.block_on(run::run(TraceConfig::from_args(&trace)?, events_to, command))
        }
        Some(Command::Replay { files, filters, json }) => replay::replay(&files, &filters, json),
        Some(Command::Tree { file, filters, layout }) => tree::tree(
            &file,
            &filters,
            crate::tree::Layout {
                depth: layout.depth.map(|depth| depth as usize),
                threads: layout.threads,
                all: layout.all,
            },
        ),
        Some(Command::Export { file, perfetto, force }) => export::perfetto(&file, &perfetto, force),
        Some(Command::Top(args)) => runtime.block_on(top::top(&args)),
        Some(Command::Probes { hooks }) => probes::probes(config::parse_hooks(&hooks)?),
    };
    // Dropping the runtime would wait for blocking tasks, such as the wait for `tracer run`'s
    // command after a SIGTERM: a stop must not.
    runtime.shutdown_background();
    status
}

/// The exit status for a command that failed with `error`: [`EXIT_USAGE`] for what the user
/// wrote (a flag's value, a filter, a cgroup that does not exist), 1 for everything else.
pub fn exit_status(error: &anyhow::Error) -> u8 {
    let usage = error.is::<config::ConfigError>()
        || error.is::<filter::FilterError>()
        || matches!(error.downcast_ref::<loader::LoadError>(), Some(loader::LoadError::Cgroup(_)))
        || matches!(error.downcast_ref(), Some(generate::GenerateError::Unknown { .. }));
    if usage { EXIT_USAGE } else { 1 }
}
