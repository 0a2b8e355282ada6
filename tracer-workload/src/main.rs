//! `tracer-workload SCENARIO`: task workloads with known outcomes. The integration tests run
//! them under tracer and assert the exact events they cause; benchmarks use them as load.
use std::process::ExitCode;

mod lifecycle;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("lifecycle") => lifecycle::run(&args[1..]),
        _ => {
            eprintln!("usage: tracer-workload lifecycle");
            ExitCode::from(2)
        }
    }
}
