//! What happens to each decoded event, live or replayed: resolve `/proc` lookups, keep the
//! task table current, drop kinds the user did not ask for, count, record, print.
use std::{collections::BTreeSet, io, time::Duration};

use strum::EnumCount;

use crate::{
    cgroup::CgroupNames,
    event::{Detail, Event, Kind, LostOrigin},
    filter::EventFilter,
    output::Printer,
    recording::RecordingWriter,
    tasks::TaskTable,
};

/// Events shown, by kind, and events lost, by where.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    by_kind: [u64; Kind::COUNT],
    /// Events the kernel could not put in its ring buffer.
    pub lost: u64,
    /// Events that reached tracer but could not be printed in time.
    pub output_lost: u64,
}

impl Counts {
    pub fn add(&mut self, event: &Event) {
        match event.detail {
            Detail::Lost { count, origin: LostOrigin::RingBuffer } => self.lost += count,
            Detail::Lost { count, origin: LostOrigin::Output } => self.output_lost += count,
            _ => self.by_kind[event.kind() as usize] += 1,
        }
    }

    pub fn of(&self, kind: Kind) -> u64 {
        self.by_kind[kind as usize]
    }

    /// Events shown, every kind together.
    pub fn events(&self) -> u64 {
        self.by_kind.iter().sum()
    }

    /// The line printed on stderr at exit.
    pub fn summary(&self, elapsed: Duration) -> String {
        let kinds: Vec<String> = Kind::selectable().map(|kind| format!("{} {}", kind.name(), self.of(kind))).collect();
        let output = match self.output_lost {
            0 => String::new(),
            lost => format!(", {lost} not printed (output too slow)"),
        };
        format!(
            "tracer: {} events ({}), {} lost{output}, {:.2} s",
            self.events(),
            kinds.join(", "),
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
    /// Cgroup paths of live events; a replay keeps what was recorded (this machine's cgroups are
    /// not the recording's).
    cgroups: Option<CgroupNames>,
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
        let cgroups = filter.is_none().then(CgroupNames::default);
        Self { shown, filter, tasks, printer, recorder, cgroups, counts: Counts::default() }
    }

    pub fn handle(&mut self, mut event: Event) -> Result<(), PipelineError> {
        if let Some(cgroups) = &mut self.cgroups {
            cgroups.fill(&mut event);
        }
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
    use super::*;
    use crate::{event::test_event, output::NoPrinter};

    #[test]
    fn kinds_are_chosen_here_and_losses_always_pass() {
        let mut pipeline = Pipeline::new([Kind::Exit].into(), None, None, Box::new(NoPrinter), None);
        let exec = Detail::Exec { filename: "/bin/x".into(), argv: vec![], argv_truncated: false, old_tid: 1 };
        pipeline.handle(test_event(1, 1, "bash", exec)).unwrap();
        pipeline.handle(test_event(1, 1, "bash", Detail::exit(0, true, 1))).unwrap();
        pipeline.handle(test_event(1, 1, "tracer", Detail::Lost { count: 3, origin: LostOrigin::RingBuffer })).unwrap();
        pipeline.handle(test_event(1, 1, "tracer", Detail::Lost { count: 2, origin: LostOrigin::Output })).unwrap();
        let counts = pipeline.counts;
        assert_eq!((counts.of(Kind::Exec), counts.of(Kind::Exit), counts.events()), (0, 1, 1));
        assert_eq!((counts.lost, counts.output_lost), (3, 2));
        assert_eq!(
            counts.summary(Duration::from_millis(1500)),
            "tracer: 1 events (fork 0, exec 0, exit 1, rename 0, lookup 0, namespace 0), 3 lost, 2 not printed (output too slow), 1.50 s"
        );
    }
}
