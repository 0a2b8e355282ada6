//! Printers: the live stream, `tracer run` and `tracer replay` all print through these, so a
//! replayed recording prints byte for byte what the live run printed. Live output goes through
//! [`QueuedPrinter`], so a stalled reader never holds up the kernel drain; so does the JSON file.
pub mod json;
mod json_file;
mod place;
mod queued;
#[cfg(test)]
mod schema_doc;
mod table;

use std::{
    io::{self, Write},
    os::fd::AsFd,
    time::Duration,
};

pub use json::JsonPrinter;
pub use json_file::JsonFile;
pub use queued::{FILE_QUEUE_BYTES, QUEUE_BYTES, QueuedPrinter};
pub use table::TablePrinter;

use crate::event::Event;

/// Writes events in one format.
pub trait Printer {
    fn print(&mut self, event: &Event) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;

    /// Events handed to [`print`](Self::print) that will not be printed because the output did
    /// not keep up, so far (after [`close`](Self::close), everything not written yet).
    fn unprinted(&self) -> u64 {
        0
    }

    /// Takes no more events; what was handed over is still written out.
    fn close(&mut self) -> io::Result<()> {
        self.flush()
    }

    /// Waits up to `timeout` for closed output to be written out; whether it was.
    fn wait_written(&mut self, _timeout: Duration) -> bool {
        true
    }

    /// Whether [`reopen`](Self::reopen) does anything (a file output: tracer then handles SIGHUP).
    fn reopens(&self) -> bool {
        false
    }

    /// Reopens output files an outside tool renamed (SIGHUP after logrotate).
    fn reopen(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Prints every event through two printers: the JSON file first, then stdout. Their losses add
/// up: a `lost` event of origin output counts the events one of them did not get.
pub struct Both(pub Box<dyn Printer>, pub Box<dyn Printer>);

impl Printer for Both {
    fn print(&mut self, event: &Event) -> io::Result<()> {
        self.0.print(event)?;
        self.1.print(event)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()?;
        self.1.flush()
    }
    fn unprinted(&self) -> u64 {
        self.0.unprinted() + self.1.unprinted()
    }
    fn close(&mut self) -> io::Result<()> {
        let first = self.0.close();
        first.and(self.1.close())
    }
    fn wait_written(&mut self, timeout: Duration) -> bool {
        let start = std::time::Instant::now();
        self.0.wait_written(timeout) && self.1.wait_written(timeout.saturating_sub(start.elapsed()))
    }
    fn reopens(&self) -> bool {
        self.0.reopens() || self.1.reopens()
    }
    fn reopen(&mut self) -> io::Result<()> {
        self.0.reopen()?;
        self.1.reopen()
    }
}

/// The printer for the chosen format, writing to `out`.
pub fn printer<W: Write + 'static>(json: bool, out: W) -> Box<dyn Printer> {
    if json { Box::new(JsonPrinter::new(out)) } else { Box::new(TablePrinter::new(out)) }
}

/// A printer that prints nothing (`--quiet`).
pub struct NoPrinter;

impl Printer for NoPrinter {
    fn print(&mut self, _: &Event) -> io::Result<()> {
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes `text` to stderr, giving up after `timeout`: stderr may be the very pipe whose reader
/// stalled (`tracer 2>&1 | less`), and a stop must not wait for it. The write goes on in the
/// background and ends with the process.
pub fn write_stderr_within(text: &str, timeout: Duration) {
    let Ok(descriptor) = io::stderr().as_fd().try_clone_to_owned() else { return };
    let mut stderr = std::fs::File::from(descriptor);
    let text = text.to_owned();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let spawned = std::thread::Builder::new().name("tracer-stderr".into()).spawn(move || {
        let _ = stderr.write_all(text.as_bytes());
        drop(done);
    });
    if spawned.is_ok() {
        let _ = finished.recv_timeout(timeout);
    }
}
