//! Printers: the live stream, `tracer run` and `tracer replay` all print through these, so a
//! replayed recording prints byte for byte what the live run printed.
pub mod json;
mod place;
mod table;

use std::io::{self, Write};

pub use json::JsonPrinter;
pub use table::TablePrinter;

use crate::event::Event;

/// Writes events in one format.
pub trait Printer {
    fn print(&mut self, event: &Event) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
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
