//! A real log shipper collects the rotated JSON files (as root): rsyslog's imfile, from Debian's
//! package, follows FILE across tracer's renames and ships every line exactly once, in order,
//! exactly as a recording written alongside holds them.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::{Tracer, host_only, need_program, run_tracer, run_workload};

/// rsyslogd in the foreground with its own configuration, state and pid file; killed on drop.
struct Rsyslog(Child);

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_rsyslog(dir: &Path, json: &Path, shipped: &Path) -> Rsyslog {
    let work = dir.join("rsyslog");
    std::fs::create_dir_all(&work).unwrap();
    let config = dir.join("rsyslog.conf");
    // The README's configuration, writing what it ships to a file instead of forwarding it.
    let text = format!(
        "global(workDirectory=\"{work}\")\n\
         module(load=\"imfile\")\n\
         template(name=\"raw\" type=\"string\" string=\"%msg%\\n\")\n\
         input(type=\"imfile\" File=\"{json}\" Tag=\"tracer\" Ruleset=\"tracer\")\n\
         ruleset(name=\"tracer\") {{ action(type=\"omfile\" file=\"{shipped}\" template=\"raw\") }}\n",
        work = work.display(),
        json = json.display(),
        shipped = shipped.display(),
    );
    std::fs::write(&config, text).unwrap();
    let child = Command::new(need_program("rsyslogd", "rsyslog"))
        .args(["-n", "-f"])
        .arg(&config)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rsyslogd");
    Rsyslog(child)
}

/// FILE.N … FILE.1 then FILE, concatenated: what one file would hold.
fn union(path: &Path) -> String {
    let mut files: Vec<PathBuf> = (1..)
        .map(|index| PathBuf::from(format!("{}.{index}", path.display())))
        .take_while(|rotated| rotated.exists())
        .collect();
    files.reverse();
    files.push(path.to_owned());
    files.iter().map(|file| std::fs::read_to_string(file).unwrap()).collect()
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn rsyslog_ships_every_line_across_rotations() {
    host_only("rsyslog");
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("events.json");
    let shipped = dir.path().join("shipped.json");
    let recording = dir.path().join("all.rec");
    let _rsyslog = start_rsyslog(dir.path(), &json, &shipped);
    let tracer = Tracer::start(&[
        "-q",
        "-c",
        "tracer-workload",
        "-e",
        "fork,exit",
        "-o",
        recording.to_str().unwrap(),
        "--json-output",
        json.to_str().unwrap(),
        "--rotate-size",
        "128K",
        "--rotate-keep",
        "1000",
    ]);
    // A burst (61 lines of about 1.3 KB under the test harness: forks and exits carry about 10
    // ancestors, some 80 KiB) is smaller than a file, so rotations are at least a second apart:
    // the shipper notices each new file before it is renamed again. (A file that lives only
    // milliseconds, as one filled within a burst would, can be renamed away before a shipper
    // that follows the name sees it at all; see the README.)
    for _ in 0..16 {
        run_workload(&["storm", "--shape", "fork", "--tasks", "30", "--cores", "one"]);
        std::thread::sleep(Duration::from_millis(1500));
    }
    let stopped = tracer.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let written = union(&json);
    assert!(json.with_file_name("events.json.4").exists(), "rotated at least 4 times");
    // The recording rotated alongside, replayed from all its files.
    let pattern = format!("{}*", recording.display());
    let replayed = run_tracer(&["replay", &pattern, "--json"]);
    assert!(replayed.status.success(), "{}", String::from_utf8_lossy(&replayed.stderr));
    assert!(written == String::from_utf8_lossy(&replayed.stdout), "the files hold what was recorded");

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = String::new();
    while Instant::now() < deadline {
        got = std::fs::read_to_string(&shipped).unwrap_or_default();
        if got.len() >= written.len() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (got_lines, written_lines) = (got.lines().count(), written.lines().count());
    if got != written {
        // Which files the shipper missed lines of, oldest first: (lines, shipped).
        let shipped: std::collections::HashSet<&str> = got.lines().collect();
        let mut files: Vec<PathBuf> = (1..)
            .map(|index| json.with_file_name(format!("events.json.{index}")))
            .take_while(|rotated| rotated.exists())
            .collect();
        files.reverse();
        files.push(json.clone());
        let per_file: Vec<(usize, usize)> = files
            .iter()
            .map(|file| {
                let text = std::fs::read_to_string(file).unwrap();
                (text.lines().count(), text.lines().filter(|line| shipped.contains(line)).count())
            })
            .collect();
        panic!(
            "rsyslog shipped {got_lines} lines; tracer wrote {written_lines}; per file (lines, shipped): {per_file:?}"
        );
    }
}
