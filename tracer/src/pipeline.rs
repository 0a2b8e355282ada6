//! What happens to each decoded event, live or replayed: resolve `/proc` lookups, keep the
//! task table current, drop kinds the user did not ask for, count, record, print.
use std::{collections::BTreeSet, io, time::Duration};

use crate::{
    event::{Event, Kind},
    filter::EventFilter,
    output::Printer,
    recording::RecordingWriter,
    tasks::TaskTable,
};

/// Events shown, by kind, and events the kernel dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub fork: u64,
    pub exec: u64,
    pub exit: u64,
    pub rename: u64,
    pub lookup: u64,
    pub lost: u64,
}

impl Counts {
    fn add(&mut self, event: &Event) {
        match event.detail {
            crate::event::Detail::Fork { .. } => self.fork += 1,
            crate::event::Detail::Exec { .. } => self.exec += 1,
            crate::event::Detail::Exit { .. } => self.exit += 1,
            crate::event::Detail::Rename { .. } => self.rename += 1,
            crate::event::Detail::Lookup { .. } => self.lookup += 1,
            crate::event::Detail::Lost { count } => self.lost += count,
        }
    }

    pub fn events(&self) -> u64 {
        self.fork + self.exec + self.exit + self.rename + self.lookup
    }

    /// The line printed on stderr at exit.
    pub fn summary(&self, elapsed: Duration) -> String {
        format!(
            "tracer: {} events (fork {}, exec {}, exit {}, rename {}, lookup {}), {} lost, {:.2} s",
            self.events(),
            self.fork,
            self.exec,
            self.exit,
            self.rename,
            self.lookup,
            self.lost,
            elapsed.as_secs_f64()
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Whoever reads our output went away (`tracer | head`): stop quietly.
    #[error("output closed")]
    OutputClosed,
    #[error("cannot write events: {0}")]
    Output(io::Error),
    #[error(transparent)]
    Recording(#[from] crate::recording::RecordingError),
}

fn output_error(error: io::Error) -> PipelineError {
    if error.kind() == io::ErrorKind::BrokenPipe { PipelineError::OutputClosed } else { PipelineError::Output(error) }
}

pub struct Pipeline {
    /// Kinds to show (the kernel may emit more for tracer's own bookkeeping).
    shown: BTreeSet<Kind>,
    /// Task filters applied in userspace (replay; live runs filter in the kernel).
    filter: Option<EventFilter>,
    tasks: Option<TaskTable>,
    printer: Box<dyn Printer>,
    recorder: Option<RecordingWriter>,
    pub counts: Counts,
}

impl Pipeline {
    pub fn new(
        shown: BTreeSet<Kind>,
        filter: Option<EventFilter>,
        tasks: Option<TaskTable>,
        printer: Box<dyn Printer>,
        recorder: Option<RecordingWriter>,
    ) -> Self {
        Self { shown, filter, tasks, printer, recorder, counts: Counts::default() }
    }

    pub fn handle(&mut self, mut event: Event) -> Result<(), PipelineError> {
        if let Some(tasks) = &mut self.tasks {
            tasks.resolve_lookup(&mut event);
            tasks.observe(&event);
        }
        if let Some(filter) = &mut self.filter
            && !filter.admits(&event)
        {
            return Ok(());
        }
        let kind = event.kind();
        if kind != Kind::Lost && !self.shown.contains(&kind) {
            return Ok(());
        }
        self.counts.add(&event);
        if let Some(recorder) = &mut self.recorder {
            recorder.append(&event)?;
        }
        self.printer.print(&event).map_err(output_error)
    }

    /// Pushes printed lines out (after each batch, so a live stream shows promptly).
    pub fn flush_output(&mut self) -> Result<(), PipelineError> {
        self.printer.flush().map_err(output_error)
    }

    /// Whether an output file can be reopened (SIGHUP is then handled rather than fatal).
    pub fn reopens(&self) -> bool {
        self.printer.reopens()
    }

    /// Reopens output files an outside tool renamed (logrotate, then SIGHUP).
    pub fn reopen_outputs(&mut self) -> Result<(), PipelineError> {
        self.printer.reopen().map_err(output_error)
    }

    /// Writes buffered records out when a second has passed since the last write.
    pub fn tick(&mut self) -> Result<(), PipelineError> {
        if let Some(recorder) = &mut self.recorder {
            recorder.flush_if_due()?;
        }
        Ok(())
    }

    /// Flushes and closes the output and the recording.
    pub fn finish(mut self) -> Result<Counts, PipelineError> {
        let printed = self.printer.flush().map_err(output_error);
        if let Some(recorder) = self.recorder.take() {
            recorder.finish()?;
        }
        printed.map(|()| self.counts)
    }
}
