//! Booting the guest under qemu (TCG), streaming its serial console to the terminal and
//! `target/vm/serial.log`, and reading the verdict from the marker line.
use std::{
    fs::File,
    io::{Read, Write},
    path::Path,
    process::{Command, Stdio},
    sync::mpsc::{self, RecvTimeoutError},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use super::{debian::Kernel, init_script::MARKER};
use crate::command::step;

/// After the marker (or the console closing), how long qemu gets to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(10);

enum Event {
    /// The marker line's verdict: `pass`, or `fail …`.
    Verdict(String),
    /// The console closed: qemu is exiting.
    Closed,
}

/// How one boot is run.
pub struct Boot<'a> {
    pub qemu: &'a Path,
    pub kernel: &'a Kernel,
    pub initrd: &'a Path,
    /// Where the console is kept.
    pub log_path: &'a Path,
    /// Whether the console is also copied to the terminal (not when legs run side by side).
    pub echo: bool,
    /// The whole boot-test-poweroff cycle; a boot alone takes a few seconds under TCG.
    pub timeout: Duration,
}

/// Boots the guest and waits for its verdict; returns what follows `pass` on the marker line
/// (the leg's counts).
pub fn boot(boot: &Boot) -> Result<String> {
    let Boot { qemu, kernel, initrd, log_path, echo, timeout } = *boot;
    let mut command = Command::new(qemu);
    command
        .args(["-nographic", "-no-reboot", "-m", "1G", "-smp", "2"])
        // TCG, not KVM: this host's /dev/kvm cannot run a stock kernel (see KERNEL-NOTES.md).
        // One TCG thread for both vCPUs: with one host thread per vCPU, a vCPU can keep
        // running a stale translation of kernel text another vCPU has just patched. Attaching or
        // detaching a tracepoint mid-storm flips its static key with int3 patching, and
        // qemu 7.2 then left both vCPUs re-trapping on an int3 already gone (soft lockup in
        // copy_process, 1 run in 3 of the stop-mid-storm tests; 0 in 5 with one thread, at the
        // same speed).
        .args(["-accel", "tcg,thread=single", "-cpu", "max", "-net", "none"])
        .arg("-kernel")
        .arg(&kernel.vmlinuz)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", "console=ttyS0 quiet panic=-1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    step(format!(
        "booting {} under qemu (TCG; serial console below and in {}; timeout {})",
        kernel.release,
        log_path.display(),
        human(timeout)
    ));
    let log = File::create(log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    let started = Instant::now();
    let mut child = command.spawn().with_context(|| format!("cannot start {}", qemu.display()))?;
    let console = child.stdout.take().expect("piped");
    let (events, received) = mpsc::channel();
    let reader = thread::spawn(move || tee_console(console, log, echo, events));

    let outcome = wait_for_verdict(&received, started, timeout);
    if !matches!(outcome, Outcome::TimedOut) {
        // The guest powers off right after the marker (and the VM exits after a panic, thanks to
        // panic=-1 and -no-reboot): give qemu a moment to exit by itself.
        let grace = Instant::now() + EXIT_GRACE;
        while Instant::now() < grace && child.try_wait().ok().flatten().is_none() {
            thread::sleep(Duration::from_millis(50));
        }
    }
    // Whatever happened, qemu must not outlive us.
    if child.try_wait().ok().flatten().is_none() {
        let _ = child.kill();
    }
    let status = child.wait().ok();
    let ended_with_newline = reader.join().unwrap_or(true);
    if echo && !ended_with_newline {
        println!();
    }
    let elapsed = started.elapsed().as_secs();
    let place = format!(
        "guest kernel {}, Linux {}; serial log: {}",
        kernel.release,
        kernel.upstream_version(),
        log_path.display()
    );
    match outcome {
        Outcome::Verdict(verdict) if verdict.starts_with("pass") => {
            let counts = verdict.trim_start_matches("pass").trim().to_owned();
            step(format!("VM integration tests passed on {} in {elapsed} s: {counts}", kernel.release));
            Ok(counts)
        }
        Outcome::Verdict(verdict) => {
            let which = verdict.strip_prefix("fail").unwrap_or(&verdict).trim();
            bail!("integration tests failed in the VM: {which} ({place})")
        }
        Outcome::Closed => bail!(
            "the VM stopped after {elapsed} s without a result line (qemu {}; {place})",
            status.map_or_else(|| "status unknown".to_owned(), |status| status.to_string())
        ),
        Outcome::TimedOut => {
            bail!("the VM gave no result within {}, killed it ({place})", human(timeout))
        }
    }
}

enum Outcome {
    Verdict(String),
    Closed,
    TimedOut,
}

fn wait_for_verdict(received: &mpsc::Receiver<Event>, started: Instant, timeout: Duration) -> Outcome {
    let left = (started + timeout).saturating_duration_since(Instant::now());
    match received.recv_timeout(left) {
        Ok(Event::Verdict(verdict)) => Outcome::Verdict(verdict),
        Ok(Event::Closed) | Err(RecvTimeoutError::Disconnected) => Outcome::Closed,
        Err(RecvTimeoutError::Timeout) => Outcome::TimedOut,
    }
}

/// `15 min`, `90 s`.
fn human(duration: Duration) -> String {
    match duration.as_secs() {
        seconds if seconds % 60 == 0 => format!("{} min", seconds / 60),
        seconds => format!("{seconds} s"),
    }
}

/// Copies the console to the terminal and the log as it comes, without terminal control
/// sequences (SeaBIOS and the kernel reset the screen and turn off line wrapping); reports the
/// marker line.
/// Returns whether the console's output ended with a newline.
fn tee_console(mut console: impl Read, mut log: File, echo: bool, events: mpsc::Sender<Event>) -> bool {
    let mut terminal = std::io::stdout();
    let mut buffer = [0u8; 4096];
    let mut filter = EscapeFilter::default();
    let mut clean = Vec::with_capacity(buffer.len());
    let mut line = Vec::new();
    loop {
        let count = match console.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(count) => count,
        };
        clean.clear();
        clean.extend(buffer[..count].iter().copied().filter(|&byte| filter.keep(byte)));
        if echo {
            let _ = terminal.write_all(&clean);
            let _ = terminal.flush();
        }
        let _ = log.write_all(&clean);
        for &byte in &clean {
            if byte != b'\n' {
                line.push(byte);
                continue;
            }
            let text = String::from_utf8_lossy(&line);
            if let Some(at) = text.find(MARKER) {
                let verdict = text[at + MARKER.len()..].trim();
                let _ = events.send(Event::Verdict(verdict.to_owned()));
            }
            line.clear();
        }
    }
    let _ = log.flush();
    let _ = events.send(Event::Closed);
    line.is_empty()
}

/// Drops ANSI escape sequences (`ESC x`, `ESC [ params final`) from a byte stream.
#[derive(Default)]
enum EscapeFilter {
    #[default]
    Text,
    Escape,
    ControlSequence,
}

impl EscapeFilter {
    fn keep(&mut self, byte: u8) -> bool {
        const ESC: u8 = 0x1b;
        match self {
            EscapeFilter::Text if byte == ESC => *self = EscapeFilter::Escape,
            EscapeFilter::Text => return true,
            EscapeFilter::Escape if byte == b'[' => *self = EscapeFilter::ControlSequence,
            EscapeFilter::Escape => *self = EscapeFilter::Text,
            EscapeFilter::ControlSequence if (0x40..=0x7e).contains(&byte) => *self = EscapeFilter::Text,
            EscapeFilter::ControlSequence => {}
        }
        false
    }
}
