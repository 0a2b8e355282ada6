//! `tracer-workload nest DEPTH [--linger MS]`: a chain of processes, each the parent of the
//! next, for the ancestry tests. Each level prints `LEVEL PID`, then starts level `LEVEL - 1` by
//! running its own program again, and waits for it; level 0 waits `MS` milliseconds (0 unless
//! given) and exits 0. Every level exits with the status below it, so a failure anywhere shows.
use std::{
    io::Write,
    process::{Command, ExitCode},
};

const USAGE: &str = "usage: tracer-workload nest DEPTH [--linger MS]";

pub fn run(args: &[String]) -> ExitCode {
    let depth = args.first().and_then(|depth| depth.parse::<u32>().ok());
    let (Some(depth), Some(linger)) = (depth, linger_ms(args.get(1..).unwrap_or_default())) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{depth} {}", std::process::id());
    let _ = stdout.flush();
    drop(stdout);
    if depth == 0 {
        std::thread::sleep(std::time::Duration::from_millis(linger));
        return ExitCode::SUCCESS;
    }
    // The same file again (its comm is the file's name, which the tests filter on).
    let Ok(program) = std::env::current_exe() else {
        eprintln!("nest: cannot find its own program");
        return ExitCode::from(1);
    };
    let mut below = Command::new(program);
    below.args(["nest", &(depth - 1).to_string(), "--linger", &linger.to_string()]);
    match below.status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("nest: level {} ended with {status}", depth - 1);
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("nest: cannot start level {}: {error}", depth - 1);
            ExitCode::from(1)
        }
    }
}

/// `--linger MS`, 0 when absent; `None` for anything else.
fn linger_ms(args: &[String]) -> Option<u64> {
    match args {
        [] => Some(0),
        [flag, ms] if flag == "--linger" => ms.parse().ok(),
        _ => None,
    }
}
