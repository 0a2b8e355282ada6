//! What tracer delivered in a run: its summary line (`tracer: N events …, L lost, S s`) and its
//! recording, replayed as JSON and tallied.
use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

use super::{
    count::Tally,
    process::Lines,
    run_parts::{Tools, tail},
};

/// Tallies `tracer replay FILE --json`.
pub fn replay(tools: &Tools, recording: &Path, w: u64, tally: &mut Tally) -> Result<()> {
    let mut child = Command::new(&tools.tracer)
        .arg("replay")
        .arg(recording)
        .arg("--json")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start tracer replay")?;
    let stderr = Lines::new(child.stderr.take().expect("stderr is piped"));
    for line in BufReader::new(child.stdout.take().expect("stdout is piped")).lines() {
        tally.add_tracer_json(w, &line?);
    }
    let status = child.wait()?;
    let lines = stderr.finish();
    if !status.success() {
        bail!("tracer replay {} failed ({status}): {}", recording.display(), tail(&lines));
    }
    Ok(())
}

/// Reads `tracer: <N> events (fork a, exec b, exit c, rename d, lookup e), <L> lost, <S> s`.
pub fn parse_summary(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("tracer: ")?;
    let events = rest.split_whitespace().next()?.parse().ok()?;
    let after = &rest[rest.find("), ")? + 3..];
    let lost = after.split_whitespace().next()?.parse().ok()?;
    Some((events, lost))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_summary_line() {
        assert_eq!(
            parse_summary("tracer: 1234 events (fork 600, exec 0, exit 634, rename 0, lookup 0), 5 lost, 1.2 s"),
            Some((1234, 5))
        );
        assert_eq!(parse_summary("Attached 7 programs"), None);
    }
}
