//! What happens to each decoded event, live or replayed: resolve `/proc` lookups, keep the
//! task table current, drop kinds the user did not ask for, count, record, print.
use crate::place::Place;
use std::{cell::RefCell, collections::BTreeSet, io, rc::Rc, time::Duration};

use strum::EnumCount;

use crate::{
    clock::Clock,
    event::{Detail, Event, Kind, LostOrigin, Source},
    filter::EventFilter,
    output::Printer,
    place::cgroup::CgroupNames,
    recording::RecordingWriter,
    tasks::{Ancestry, TaskModel, TaskTable},
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

/// tracer's own report of `count` events lost at `origin`.
pub fn lost_event(count: u64, origin: LostOrigin) -> Event {
    Event {
        timestamp_ns: Clock::wall_now_ns(),
        cpu: 0,
        tgid: std::process::id(),
        // Not a task's event: nothing to join on.
        start_ns: None,
        tid: std::process::id(),
        ppid: 0,
        comm: "tracer".into(),
        uid: 0,
        source: Source::Tracer,
        detail: Detail::Lost { count, origin },
        place: Place::default(),
    }
}

/// Something else that is shown every event of the selected tasks, whatever its kind, and
/// every loss (`tracer top`'s model).
pub trait Watcher {
    fn observe(&mut self, event: &Event);
    /// Called after each batch, as the output is flushed.
    fn flush(&mut self) {}
    /// Done with what it was shown, whatever it takes (the end of a replay).
    fn settle(&mut self) {}
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
    /// `--env-filter`: the only environment variables exec events keep.
    env_names: Option<BTreeSet<String>>,
    /// Adds the programs of fork, exec and exit events' ancestors (live runs; a replay has them
    /// recorded).
    ancestry: Option<Ancestry>,
    /// Fed every event of the selected tasks, whatever its kind (`--tree`).
    model: Option<Rc<RefCell<TaskModel>>>,
    watcher: Option<Box<dyn Watcher>>,
    /// Cgroup paths of live events; a replay keeps what was recorded (this machine's cgroups are
    /// not the recording's).
    cgroups: Option<CgroupNames>,
    pub counts: Counts,
    /// Events the printer did not print that a `lost` event already reported.
    unprinted_reported: u64,
    /// Whether SIGHUP reopens output files.
    hangup_reopens: bool,
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
        Self {
            shown,
            filter,
            tasks,
            printer,
            recorder,
            env_names: None,
            ancestry: None,
            model: None,
            watcher: None,
            cgroups,
            counts: Counts::default(),
            unprinted_reported: 0,
            hangup_reopens: false,
        }
    }

    /// Fills in ancestors from `ancestry`, before anything is recorded.
    pub fn tracing_ancestry(mut self, ancestry: Ancestry) -> Self {
        self.ancestry = Some(ancestry);
        self
    }

    /// Keeps only these environment variables in exec events, before anything is recorded.
    pub fn keep_env(mut self, names: BTreeSet<String>) -> Self {
        self.env_names = Some(names);
        self
    }

    /// Also files every event of the selected tasks into `model`, whatever its kind.
    pub fn feeding(mut self, model: Rc<RefCell<TaskModel>>) -> Self {
        self.model = Some(model);
        self
    }

    /// Also shows every event of the selected tasks to `watcher`, whatever its kind.
    pub fn watching(mut self, watcher: Box<dyn Watcher>) -> Self {
        self.watcher = Some(watcher);
        self
    }

    pub fn handle(&mut self, mut event: Event) -> Result<(), PipelineError> {
        if let Some(cgroups) = &mut self.cgroups {
            cgroups.fill(&mut event.place);
        }
        if let Some(names) = &self.env_names {
            crate::decode::keep_env(&mut event, names);
        }
        if let Some(ancestry) = &mut self.ancestry {
            ancestry.observe(&mut event);
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
        if let Some(model) = &self.model {
            model.borrow_mut().observe(&event);
        }
        if let Some(watcher) = &mut self.watcher {
            watcher.observe(&event);
        }
        let kind = event.kind();
        if kind != Kind::Lost && !self.shown.contains(&kind) {
            return Ok(());
        }
        self.counts.add(&event);
        if let Some(recorder) = &mut self.recorder {
            recorder.append(&mut event)?;
        }
        self.printer.print(&event).map_err(output_error)
    }

    /// Pushes printed lines out (after each batch, so a live stream shows promptly).
    pub fn flush_output(&mut self) -> Result<(), PipelineError> {
        if let Some(watcher) = &mut self.watcher {
            watcher.flush();
        }
        self.printer.flush().map_err(output_error)
    }

    /// Lets the watcher finish with every event it was shown.
    pub fn settle_watcher(&mut self) {
        if let Some(watcher) = &mut self.watcher {
            watcher.settle();
        }
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

    /// Whether SIGHUP reopens output files (rather than ending tracer).
    pub fn reopens(&self) -> bool {
        self.hangup_reopens && (self.recorder.is_some() || self.printer.reopens())
    }

    /// SIGHUP reopens the recording and the JSON file (the plain stream: `tracer run` passes
    /// SIGHUP on to its command).
    pub fn reopening_on_hangup(mut self) -> Self {
        self.hangup_reopens = true;
        self
    }

    /// Reopens output files an outside tool renamed (logrotate, then SIGHUP).
    pub fn reopen_outputs(&mut self) -> Result<(), PipelineError> {
        if let Some(recorder) = &mut self.recorder {
            recorder.reopen()?;
        }
        self.printer.reopen().map_err(output_error)
    }

    /// Writes buffered records to the recording (after each drained batch, so a killed tracer
    /// loses at most what the kernel still held).
    pub fn flush_recording(&mut self) -> Result<(), PipelineError> {
        if let Some(recorder) = &mut self.recorder {
            recorder.flush()?;
        }
        Ok(())
    }

    /// Flushes and closes the output and the recording (with its trailer).
    pub fn finish(mut self) -> Result<Counts, PipelineError> {
        let printed = self.printer.flush().map_err(output_error);
        if let Some(recorder) = self.recorder.take() {
            recorder.finish(crate::recording::Losses { kernel: self.counts.lost, output: self.counts.output_lost })?;
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
        let exec = crate::event::test_exec("/bin/x", &[], 1);
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

    /// Prints nothing; claims `dropped` events were not printed.
    struct Dropping {
        dropped: std::rc::Rc<std::cell::Cell<u64>>,
        printed: std::rc::Rc<std::cell::Cell<u64>>,
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
        let (dropped, printed) = (std::rc::Rc::new(std::cell::Cell::new(0)), std::rc::Rc::new(std::cell::Cell::new(0)));
        let printer = Dropping { dropped: dropped.clone(), printed: printed.clone() };
        let kinds = BTreeSet::from([Kind::Fork]);
        let mut pipeline = Pipeline::new(kinds, None, None, Box::new(printer), None);
        let fork = test_event(5, 5, "sh", crate::event::test_fork(6, 6, false, None));
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
        pipeline.handle(lost_event(3, LostOrigin::RingBuffer)).unwrap();
        let counts = pipeline.finish().unwrap();
        assert_eq!((counts.of(Kind::Fork), counts.lost, counts.output_lost, counts.events()), (1, 3, 42, 1));
        assert_eq!(
            counts.summary(Duration::from_millis(1500)),
            "tracer: 1 events (fork 1, exec 0, exit 0, rename 0, lookup 0, namespace 0), 3 lost, 42 not printed (output too slow), 1.50 s"
        );
    }
}
