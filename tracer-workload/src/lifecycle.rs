use std::process::ExitCode; pub fn run(_: &[String]) -> ExitCode { ExitCode::SUCCESS }
