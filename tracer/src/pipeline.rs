//! What happens to each decoded event, live or replayed: resolve `/proc` lookups, keep the
//! task table current, drop kinds the user did not ask for, count, record, print.
use std::{collections::BTreeSet, io, time::Duration};

use crate::{
    clock::Clock,
    event::{Detail, Event, Kind, LostOrigin, Source},
    filter::EventFilter,
    output::Printer,
    recording::RecordingWriter,
    tasks::TaskTable,
};

/// Events shown, by kind, events the kernel dropped, and events the output did not print.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub fork: u64,
    pub exec: u64,
    pub exit: u64,
    pub rename: u64,
    pub lookup: u64,
    pub lost: u64,
    /// Events recorded but not printed because the output did not keep up.
    pub output_lost: u64,
}

impl Counts {
    fn add(&mut self, event: &Event) {
        match event.detail {
            crate::event::Detail::Fork { .. } => self.fork += 1,
            crate::event::Detail::Exec { .. } => self.exec += 1,
            crate::event::Detail::Exit { .. } => self.exit += 1,
            crate::event::Detail::Rename { .. } => self.rename += 1,
            crate::event::Detail::Lookup { .. } => self.lookup += 1,
            crate::event::Detail::Lost { count, origin: LostOrigin::Ring } => self.lost += count,
            crate::event::Detail::Lost { count, origin: LostOrigin::Output } => self.output_lost += count,
        }
    }

    pub fn events(&self) -> u64 {
        self.fork + self.exec + self.exit + self.rename + self.lookup
    }

    /// The line printed on stderr at exit.
    pub fn summary(&self, elapsed: Duration) -> String {
        let not_printed = match self.output_lost {
            0 => String::new(),
            count => format!("{count} not printed (output too slow), "),
        };
        format!(
            "tracer: {} events (fork {}, exec {}, exit {}, rename {}, lookup {}), {} lost, {not_printed}{:.2} s",
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

/// tracer's own report of `count` events lost at `origin`.
pub fn lost_event(count: u64, origin: LostOrigin) -> Event {
    Event {
        timestamp_ns: Clock::wall_now_ns(),
        cpu: 0,
        tgid: std::process::id(),
        tid: std::process::id(),
        ppid: 0,
        comm: "tracer".into(),
        source: Source::Tracer,
        detail: Detail::Lost { count, origin },
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
    /// Events the printer did not print that a `lost` event already reported.
    unprinted_reported: u64,
}

impl Pipeline {
    pub fn new(
        shown: BTreeSet<Kind>,
        filter: Option<EventFilter>,
        tasks: Option<TaskTable>,
        printer: Box<dyn Printer>,
        recorder: Option<RecordingWriter>,
    ) -> Self {
        Self { shown, filter, tasks, printer, recorder, counts: Counts::default(), unprinted_reported: 0 }
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

    /// Emits a `lost` event (origin output) when the printer dropped events since the last one:
    /// it is counted, recorded, and printed when the output has room again.
    pub fn report_unprinted(&mut self) -> Result<(), PipelineError> {
        let total = self.printer.unprinted();
        if total <= self.unprinted_reported {
            return Ok(());
        }
        let count = total - self.unprinted_reported;
        self.unprinted_reported = total;
        self.handle(lost_event(count, LostOrigin::Output))
    }

    /// Ends printing: what the printer holds is still written out, in the background.
    pub fn close_output(&mut self) -> Result<(), PipelineError> {
        self.printer.close().map_err(output_error)
    }

    /// Waits up to `timeout` for the closed output to be written out; whether it was.
    pub fn wait_output(&mut self, timeout: Duration) -> bool {
        self.printer.wait_written(timeout)
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

#[cfg(test)]
mod tests {
    use std::{cell::Cell, rc::Rc};

    use super::*;
    use crate::event::test_event;

    /// Prints nothing; claims `dropped` events were not printed.
    struct Dropping {
        dropped: Rc<Cell<u64>>,
        printed: Rc<Cell<u64>>,
    }

    impl Printer for Dropping {
        fn print(&mut self, _: &Event) -> io::Result<()> {
            self.printed.set(self.printed.get() + 1);
            Ok(())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn unprinted(&self) -> u64 {
            self.dropped.get()
        }
    }

    #[test]
    fn output_losses_are_reported_once_counted_and_shown_in_the_summary() {
        let (dropped, printed) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
        let printer = Dropping { dropped: dropped.clone(), printed: printed.clone() };
        let kinds = BTreeSet::from([Kind::Fork]);
        let mut pipeline = Pipeline::new(kinds, None, None, Box::new(printer), None);
        let fork = test_event(5, 5, "sh", Detail::Fork { child_tgid: 6, child_tid: 6, clone_flags: None });
        pipeline.handle(fork.clone()).unwrap();
        pipeline.report_unprinted().unwrap();
        assert_eq!((pipeline.counts.output_lost, printed.get()), (0, 1), "nothing dropped, nothing reported");
        dropped.set(40);
        pipeline.report_unprinted().unwrap();
        dropped.set(42);
        pipeline.report_unprinted().unwrap();
        pipeline.report_unprinted().unwrap();
        // Two reports (40, then 2), handed to the printer like any event.
        assert_eq!((pipeline.counts.output_lost, printed.get()), (42, 3));
        pipeline.handle(lost_event(3, LostOrigin::Ring)).unwrap();
        let counts = pipeline.finish().unwrap();
        assert_eq!((counts.fork, counts.lost, counts.output_lost, counts.events()), (1, 3, 42, 1));
        assert_eq!(
            counts.summary(Duration::from_millis(1500)),
            "tracer: 1 events (fork 1, exec 0, exit 0, rename 0, lookup 0), 3 lost, 42 not printed (output too slow), 1.50 s"
        );
        let quiet = Counts { fork: 2, ..Counts::default() };
        assert_eq!(
            quiet.summary(Duration::from_secs(1)),
            "tracer: 2 events (fork 2, exec 0, exit 0, rename 0, lookup 0), 0 lost, 1.00 s"
        );
    }
}
