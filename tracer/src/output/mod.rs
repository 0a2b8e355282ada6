//! Printers: the live stream, `tracer run` and `tracer replay` all print through these, so a
//! replayed recording prints byte for byte what the live run printed.
mod file;
mod json;
mod table;

use std::io::{self, Write};

pub use file::JsonFile;
pub use json::{JsonPrinter, rfc3339};
pub use table::TablePrinter;

use crate::event::Event;

/// Writes events in one format.
pub trait Printer {
    fn print(&mut self, event: &Event) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
    /// Whether [`reopen`](Self::reopen) does anything (a file output: tracer then handles SIGHUP).
    fn reopens(&self) -> bool {
        false
    }
    /// Reopens output files an outside tool renamed (SIGHUP after logrotate).
    fn reopen(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Prints every event through two printers: the JSON file first, so it stays complete when the
/// reader of the second (stdout) goes away.
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
