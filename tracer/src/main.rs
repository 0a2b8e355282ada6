//! tracer: watch tasks being born, exec'ing, renaming and dying, and every `/proc/<n>` lookup,
//! live, through eBPF programs on the scheduler's tracepoints and on `proc_root_lookup`.
mod cli;
mod clock;
mod config;
mod decode;
mod event;
mod filter;
mod generate;
mod kernel_btf;
mod live;
mod loader;
mod names;
mod output;
mod pipeline;
mod probes;
mod recording;
mod replay;
mod rotate;
mod session;
mod tasks;

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
            let mut lines = rendered.lines();
            let mut first = lines.next().unwrap_or("invalid arguments").trim_start_matches("error: ").to_owned();
            // "the following required arguments were not provided:" names them on the next lines.
            if first.ends_with(':') {
                for line in lines.take_while(|line| line.starts_with("  ")) {
                    first.push(' ');
                    first.push_str(line.trim());
                }
            }
            eprintln!("tracer: {first}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).format_timestamp(None).init();
    match run(cli) {
        Ok(status) => ExitCode::from(status),
        Err(error) => {
            eprintln!("tracer: {error:#}");
            let usage = error.is::<config::ConfigError>()
                || error.is::<filter::FilterError>()
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
    match cli.command {
        None => runtime.block_on(live::trace(TraceConfig::from_args(&cli.trace)?, None)),
        Some(Command::Run { trace, command }) => {
            runtime.block_on(live::trace(TraceConfig::from_args(&trace)?, Some(command)))
        }
        Some(Command::Replay { file, filters, json }) => replay::replay(&file, &filters, json),
        Some(Command::Probes { hooks }) => live::probes(config::parse_hooks(&hooks)?),
    }
}
