//! When `tracer run` is done, from the kernel's own truth rather than from events (which task
//! filters select and a full ring buffer drops).
//!
//! tracer is a child subreaper (`PR_SET_CHILD_SUBREAPER`): every process the command creates,
//! however deep, is reparented to tracer when its parent dies, instead of to init. So the
//! command's tree is gone exactly when tracer has no child left: `waitpid` says `ECHILD`. That
//! needs no process IDs, so it holds inside a PID namespace too, and no polling: each death
//! raises SIGCHLD, read from the same signalfd as the signals tracer forwards.
use std::{
    io,
    os::unix::process::ExitStatusExt,
    process::ExitStatus,
    task::{Context, Poll},
};

use tokio::{io::unix::AsyncFd, time::Interval};

use super::signals::{self, Received, SignalFd};

/// Makes tracer the reaper of every orphan it descends from. Not inherited by the command.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: plain prctl on tracer's own process.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Why supervision ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    /// The command and every process it created are gone.
    TreeGone,
    /// The command exited, and a signal asked tracer to stop waiting for what it left behind.
    StopRequested,
}

/// The command's process tree, the signals tracer takes over while it runs, and the policy
/// that joins them.
pub struct Supervisor {
    command: libc::pid_t,
    status: Option<ExitStatus>,
    signals: AsyncFd<SignalFd>,
    /// Set if the signalfd failed (never seen): deaths are then polled for.
    polling: Option<Interval>,
    done: Option<Done>,
}

/// How often deaths are polled for when signals cannot be read.
const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

impl Supervisor {
    /// `signals` must already hold SIGCHLD and the forwarded signals.
    pub fn new(command: libc::pid_t, signals: SignalFd) -> io::Result<Self> {
        // SAFETY: the signalfd owns its descriptor, open and unchanged until it is dropped with
        // the AsyncFd.
        let signals = unsafe { AsyncFd::register(signals) }?;
        Ok(Self { command, status: None, signals, polling: None, done: None })
    }

    /// The command's own exit status, once it exited.
    pub fn status(&self) -> Option<ExitStatus> {
        self.status
    }

    pub fn done(&self) -> Option<Done> {
        self.done
    }

    /// Handles signals and deaths until the tree is gone or a stop was requested.
    pub async fn until_done(&mut self) -> Done {
        std::future::poll_fn(|context| self.poll_done(context)).await
    }

    fn poll_done(&mut self, context: &mut Context<'_>) -> Poll<Done> {
        loop {
            if let Some(done) = self.done {
                return Poll::Ready(done);
            }
            if let Some(polling) = &mut self.polling {
                if polling.poll_tick(context).is_pending() {
                    return Poll::Pending;
                }
                self.reap();
                continue;
            }
            let mut guard = match self.signals.poll_read_ready(context) {
                Poll::Ready(Ok(guard)) => guard,
                Poll::Ready(Err(error)) => {
                    self.poll_instead(error);
                    continue;
                }
                Poll::Pending => return Poll::Pending,
            };
            // One at a time, lowest signal number first: a terminal's SIGINT that reached the
            // command and tracer together is seen before the SIGCHLD of the death it caused.
            match guard.get_inner().read() {
                Ok(Some(received)) => {
                    drop(guard);
                    self.handle(received);
                }
                Ok(None) => guard.clear_ready(),
                Err(error) => {
                    drop(guard);
                    self.poll_instead(error);
                }
            }
        }
    }

    fn handle(&mut self, received: Received) {
        if received.signal == libc::SIGCHLD {
            self.reap();
            return;
        }
        if self.status.is_some() {
            // Nothing left to forward to: the command is gone, only what it left behind runs.
            self.done = Some(Done::StopRequested);
        } else if !signals::from_kernel(&received) {
            // Sent to tracer's process, as if to the command's. (A terminal's Ctrl-C already
            // reached the command, which shares tracer's foreground process group.)
            // SAFETY: the command is tracer's child and not reaped yet, so its PID is still its own.
            unsafe { libc::kill(self.command, received.signal) };
        }
    }

    /// Collects every child that died; notices when none is left.
    fn reap(&mut self) {
        loop {
            let mut status = 0;
            // SAFETY: waits for tracer's own children without blocking.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
            match pid {
                0 => return,
                pid if pid > 0 => {
                    if pid == self.command {
                        self.status = Some(ExitStatus::from_raw(status));
                    }
                }
                _ => {
                    let error = io::Error::last_os_error();
                    if error.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    if error.raw_os_error() != Some(libc::ECHILD) {
                        log::warn!("cannot wait for the command's processes: {error}");
                    }
                    self.done = Some(Done::TreeGone);
                    return;
                }
            }
        }
    }

    /// The fallback when signals cannot be read (not expected of a signalfd): deaths are polled
    /// for, and signals are no longer forwarded.
    fn poll_instead(&mut self, error: io::Error) {
        log::warn!("cannot read signals ({error}); checking for the command's end every {POLL_INTERVAL:?}");
        self.polling = Some(tokio::time::interval(POLL_INTERVAL));
    }
}
