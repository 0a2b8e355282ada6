//! tracer: watch tasks being born, exec'ing, renaming and dying, every `/proc/<n>` lookup and
//! every namespace change, live, through eBPF programs on the scheduler's tracepoints, on
//! `proc_root_lookup` and on the kernel's namespace switches.
//!
//! The binary parses its command line and hands it to the library ([`tracer::commands`]).
use std::process::ExitCode;

use clap::Parser;
use tracer::{
    cli::Cli,
    commands::{self, EXIT_USAGE},
    text,
};

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
    match commands::dispatch(cli) {
        Ok(status) => ExitCode::from(status),
        Err(error) => {
            eprintln!("{}", text::error_line(&error));
            ExitCode::from(commands::exit_status(&error))
        }
    }
}
