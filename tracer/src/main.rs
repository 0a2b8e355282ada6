//! tracer: watch tasks being born, exec'ing, renaming and dying, every `/proc/<n>` lookup and
//! every namespace change, live, through eBPF programs on the scheduler's tracepoints, on
//! `proc_root_lookup` and on the kernel's namespace switches.
mod cgroup;
mod cli;
mod clock;
mod config;
mod container;
mod decode;
mod event;
mod export;
mod filter;
mod generate;
mod kernel_btf;
mod live;
mod loader;
mod names;
mod namespace_offsets;
mod namespaces;
mod output;
mod pipeline;
mod probes;
mod recording;
mod recording_set;
mod replay;
mod rotate;
mod run;
mod self_id;
mod session;
mod tasks;
mod text;
mod tree;

use std::process::ExitCode;

use clap::Parser;

use crate::{
    cli::{Cli, Command},
    config::TraceConfig,
};

/// Exit status for bad command lines, including bad flag values.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version.
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            let rendered = error.render().to_string();
            let mut lines = rendered.lines().map(str::trim).filter(|line| !line.is_empty());
            let mut message = lines.next().unwrap_or("invalid arguments").trim_start_matches("error: ").to_owned();
            // "the following required arguments were not provided:" names them on the next line.
            if message.ends_with(':')
                && let Some(next) = lines.next()
            {
                message = format!("{message} {next}");
            }
            eprintln!("tracer: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).format_timestamp(None).init();
    match run(cli) {
        Ok(status) => ExitCode::from(status),
        Err(error) => {
            // Errors can quote file names and file contents (a glob can pick up a name another
            // user chose): escaped, so they cannot drive the terminal.
            eprintln!("tracer: {}", output::escape::escape(&format!("{error:#}")));
            let usage = error.is::<config::ConfigError>()
                || error.is::<filter::FilterError>()
                || matches!(error.downcast_ref::<loader::LoadError>(), Some(loader::LoadError::Cgroup(_)))
                || matches!(error.downcast_ref(), Some(generate::GenerateError::Unknown { .. }));
            ExitCode::from(if usage { EXIT_USAGE } else { 1 })
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    if let Some(what) = &cli.generate {
        return match generate::generate(what, &mut std::io::stdout().lock()) {
            Err(generate::GenerateError::Write(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
            other => other.map(|()| 0).map_err(Into::into),
        };
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let status = match cli.command {
        None => runtime.block_on(live::trace(TraceConfig::from_args(&cli.trace)?)),
        Some(Command::Run { trace, events_to, command }) => {
            runtime.block_on(run::run(TraceConfig::from_args(&trace)?, events_to, command))
        }
        Some(Command::Replay { files, filters, json }) => replay::replay(&files, &filters, json),
        Some(Command::Tree { file, filters, layout }) => tree::tree(
            &file,
            &filters,
            tree::Layout { depth: layout.depth.map(|depth| depth as usize), threads: layout.threads, all: layout.all },
        ),
        Some(Command::Export { file, perfetto, force }) => export::perfetto(&file, &perfetto, force),
        Some(Command::Probes { hooks }) => live::probes(config::parse_hooks(&hooks)?),
    };
    // Dropping the runtime would wait for blocking tasks, such as the wait for `tracer run`'s
    // command after a SIGTERM: a stop must not.
    runtime.shutdown_background();
    status
}
