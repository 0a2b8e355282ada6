//! Printing that never holds up the kernel drain: events are formatted into chunks that a thread
//! of its own writes to stdout (or to a [`Sink`] such as the rotating JSON file), through a queue
//! bounded in bytes. A reader that stalls (a paused `less`, a slow consumer, a full terminal)
//! blocks only that thread; once the queue is full, further events are not printed but counted,
//! and the pipeline reports them as `lost` with origin output. The recording, written on the
//! drain side, still gets every event.
//!
//! A file is no exception: its writes can stall too (a disk under pressure, a network file
//! system, a frozen file system), and nothing bounds how long, so blocking the drain on it is
//! never provably safe. Its queue is larger (a local disk drains it far faster than a storm
//! fills it), and what it cannot take is counted and reported exactly like stdout's losses.
//! Chunks carry where each event ends, so a sink that rotates does so between two events.
//!
//! The writer thread may stay blocked in write(2) forever: nobody joins it. At exit the session
//! waits for it a bounded time, counts what it did not write, and the process ends without it.
//! stdout is never made non-blocking: its file description may be shared with other processes
//! (a shell's pipeline), which O_NONBLOCK would change too.
use std::{
    cell::RefCell,
    io::{self, Write},
    rc::Rc,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
        mpsc,
    },
    time::Duration,
};

use crate::{
    event::{Detail, Event, LostOrigin},
    output::Printer,
};

/// Bytes of formatted events that may wait for the writer: about 40,000 table lines, a few
/// seconds of a terminal's scrolling under a task storm.
pub const QUEUE_BYTES: usize = 4 << 20;

/// Bytes of JSON lines that may wait for the JSON file's writer: a few seconds of a storm.
pub const FILE_QUEUE_BYTES: usize = 16 << 20;

/// A chunk is handed to the writer once it holds this much (or at the end of each drain).
const CHUNK_BYTES: usize = 64 << 10;

/// How long the writer waits for a chunk before giving its sink a turn ([`Sink::idle`]).
const IDLE: Duration = Duration::from_secs(1);

/// Where a writer thread puts formatted events.
pub trait Sink: Send + 'static {
    /// Writes `bytes`, whole events; event `i` ends at `ends[i]`.
    fn write_events(&mut self, bytes: &[u8], ends: &[u32]) -> io::Result<()>;

    /// Nothing came for a while (a file may have reached its age).
    fn idle(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Goes on in a new file if an outside tool renamed the current one (SIGHUP).
    fn reopen(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// stdout, a pipe, a FIFO, a file given whole: written as it comes.
struct Stream<W>(W);

impl<W: Write + Send + 'static> Sink for Stream<W> {
    fn write_events(&mut self, bytes: &[u8], _: &[u32]) -> io::Result<()> {
        self.0.write_all(bytes)?;
        self.0.flush()
    }
}

/// Formatted events on their way to the writer.
struct Chunk {
    bytes: Vec<u8>,
    /// Where each event in `bytes` ends.
    ends: Vec<u32>,
    /// Events in `bytes` (reports of output losses excepted).
    events: u64,
}

/// What the drain side hands the writer, in order.
enum Message {
    Chunk(Chunk),
    Reopen,
}

/// What the writer thread tells the drain side.
#[derive(Default)]
struct Shared {
    queued_bytes: AtomicUsize,
    /// Events in chunks written out completely.
    written_events: AtomicU64,
    /// Why the writer stopped (a closed pipe or a write error).
    failure: Mutex<Option<io::Error>>,
}

/// Lets the format printer write into the chunk being filled.
struct ChunkBuffer(Rc<RefCell<Vec<u8>>>);

impl Write for ChunkBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A [`Printer`] whose output is written by a thread of its own.
pub struct QueuedPrinter {
    /// Table or JSON, writing into `chunk`.
    format: Box<dyn Printer>,
    chunk: Rc<RefCell<Vec<u8>>>,
    chunk_ends: Vec<u32>,
    chunk_events: u64,
    /// `None` once closed.
    sender: Option<mpsc::Sender<Message>>,
    /// Whether the sink reopens files (SIGHUP).
    reopens: bool,
    shared: Arc<Shared>,
    /// Disconnected when the writer thread has ended.
    done: mpsc::Receiver<()>,
    capacity: usize,
    /// Events handed to the writer, and events dropped because the queue was full.
    submitted: u64,
    dropped: u64,
}

impl QueuedPrinter {
    /// Starts the writer thread on `out`; events are formatted as JSON lines or as the table.
    pub fn spawn(json: bool, out: impl Write + Send + 'static, capacity: usize) -> io::Result<Self> {
        Self::spawn_sink(json, Stream(out), capacity, false)
    }

    /// Starts the writer thread on `sink`; `reopens`: whether the sink reopens files.
    pub fn spawn_sink(json: bool, sink: impl Sink, capacity: usize, reopens: bool) -> io::Result<Self> {
        let chunk = Rc::new(RefCell::new(Vec::with_capacity(CHUNK_BYTES + 4096)));
        let format = super::printer(json, ChunkBuffer(Rc::clone(&chunk)));
        let (sender, receiver) = mpsc::channel();
        let (done_sender, done) = mpsc::channel::<()>();
        let shared = Arc::new(Shared::default());
        let writer_shared = Arc::clone(&shared);
        std::thread::Builder::new().name("tracer-output".into()).spawn(move || {
            let _done = done_sender;
            write_chunks(sink, &receiver, &writer_shared);
        })?;
        Ok(Self {
            format,
            chunk,
            chunk_ends: Vec::new(),
            chunk_events: 0,
            sender: Some(sender),
            reopens,
            shared,
            done,
            capacity,
            submitted: 0,
            dropped: 0,
        })
    }

    fn has_room(&self, bytes: usize) -> bool {
        self.shared.queued_bytes.load(Ordering::Acquire) + bytes <= self.capacity
    }

    /// Hands the chunk being filled to the writer, or drops it when the queue is full.
    fn submit(&mut self) {
        let bytes = std::mem::replace(&mut *self.chunk.borrow_mut(), Vec::with_capacity(CHUNK_BYTES + 4096));
        let events = std::mem::take(&mut self.chunk_events);
        let ends = std::mem::take(&mut self.chunk_ends);
        let Some(sender) = &self.sender else { return };
        if bytes.is_empty() {
            return;
        }
        if !self.has_room(bytes.len()) {
            self.dropped += events;
            return;
        }
        self.shared.queued_bytes.fetch_add(bytes.len(), Ordering::AcqRel);
        // A send fails only when the writer has stopped, and then `failure` says why.
        match sender.send(Message::Chunk(Chunk { bytes, ends, events })) {
            Ok(()) => self.submitted += events,
            Err(_) => self.dropped += events,
        }
    }

    fn failure(&self) -> io::Result<()> {
        match &*self.shared.failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) {
            Some(error) => Err(io::Error::new(error.kind(), error.to_string())),
            None => Ok(()),
        }
    }
}

/// The writer thread: writes chunks until the queue is closed or a write fails.
fn write_chunks(mut sink: impl Sink, messages: &mpsc::Receiver<Message>, shared: &Shared) {
    loop {
        let done = match messages.recv_timeout(IDLE) {
            Ok(Message::Chunk(chunk)) => {
                let written = sink.write_events(&chunk.bytes, &chunk.ends);
                shared.queued_bytes.fetch_sub(chunk.bytes.len(), Ordering::AcqRel);
                written.map(|()| chunk.events)
            }
            Ok(Message::Reopen) => sink.reopen().map(|()| 0),
            Err(mpsc::RecvTimeoutError::Timeout) => sink.idle().map(|()| 0),
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        match done {
            Ok(events) => shared.written_events.fetch_add(events, Ordering::AcqRel),
            Err(error) => {
                *shared.failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(error);
                return;
            }
        };
    }
}

/// Whether `event` reports events the output lost (it does not count as one of them).
fn reports_output_loss(event: &Event) -> bool {
    matches!(event.detail, Detail::Lost { origin: LostOrigin::Output, .. })
}

impl Printer for QueuedPrinter {
    fn print(&mut self, event: &Event) -> io::Result<()> {
        if self.sender.is_none() {
            return Ok(());
        }
        let counted = u64::from(!reports_output_loss(event));
        // With the queue full, formatting would be wasted: count the event as not printed.
        if self.chunk.borrow().is_empty() && !self.has_room(CHUNK_BYTES) {
            self.dropped += counted;
            return Ok(());
        }
        self.format.print(event)?;
        self.chunk_ends.push(self.chunk.borrow().len() as u32);
        self.chunk_events += counted;
        if self.chunk.borrow().len() >= CHUNK_BYTES {
            self.submit();
        }
        Ok(())
    }

    /// Hands what is formatted to the writer; fails once the writer has stopped (a closed pipe
    /// fails with `BrokenPipe`).
    fn flush(&mut self) -> io::Result<()> {
        self.submit();
        self.failure()
    }

    fn unprinted(&self) -> u64 {
        match self.sender {
            Some(_) => self.dropped,
            // Closed: what the writer has not written by now never will be, as far as anyone waits.
            None => self.dropped + self.submitted - self.shared.written_events.load(Ordering::Acquire),
        }
    }

    fn close(&mut self) -> io::Result<()> {
        self.submit();
        self.sender = None;
        self.failure()
    }

    fn wait_written(&mut self, timeout: Duration) -> bool {
        matches!(self.done.recv_timeout(timeout), Err(mpsc::RecvTimeoutError::Disconnected) | Ok(()))
    }

    fn reopens(&self) -> bool {
        self.reopens
    }

    /// Events handed over so far go to the file as it was; the writer reopens after them.
    fn reopen(&mut self) -> io::Result<()> {
        self.submit();
        if let Some(sender) = &self.sender {
            let _ = sender.send(Message::Reopen);
        }
        self.failure()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::test_event;

    fn fork(n: u32) -> Event {
        test_event(n, n, "bash", crate::event::test_fork(n + 1, n + 1, false, None))
    }

    /// Collects what is written, in memory.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A reader that never reads: every write blocks until the test ends.
    struct Stalled(mpsc::Receiver<()>);

    impl Write for Stalled {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            let _ = self.0.recv();
            Err(io::Error::other("released"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_reader_that_keeps_up_gets_every_line() {
        let sink = Sink::default();
        let mut printer = QueuedPrinter::spawn(true, sink.clone(), QUEUE_BYTES).unwrap();
        for n in 0..5000 {
            printer.print(&fork(n)).unwrap();
        }
        printer.flush().unwrap();
        printer.close().unwrap();
        assert!(printer.wait_written(Duration::from_secs(10)));
        assert_eq!(printer.unprinted(), 0);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 5000);
        assert!(text.lines().last().unwrap().contains("\"tgid\":4999"));
    }

    #[test]
    fn a_stalled_reader_costs_printed_lines_never_a_blocked_caller() {
        let (release, stalled) = mpsc::channel();
        let capacity = 256 << 10;
        let mut printer = QueuedPrinter::spawn(false, Stalled(stalled), capacity).unwrap();
        let total = 20_000u64;
        for n in 0..total as u32 {
            printer.print(&fork(n)).unwrap();
            if n % 1000 == 0 {
                printer.flush().unwrap();
            }
        }
        printer.flush().unwrap();
        let dropped = printer.unprinted();
        // About 100 bytes a line: the queue holds a few thousand, the rest is dropped.
        assert!(dropped > total / 2 && dropped < total, "{dropped}");
        // A report of the loss is printed when there is room, and never counts as lost itself.
        printer
            .print(&test_event(1, 1, "tracer", Detail::Lost { count: dropped, origin: LostOrigin::Output }))
            .unwrap();
        assert_eq!(printer.unprinted(), dropped);
        printer.close().unwrap();
        assert!(!printer.wait_written(Duration::from_millis(50)), "the writer is stuck in write");
        // Closed: whatever the stuck writer holds is not printed either.
        assert_eq!(printer.unprinted(), total);
        drop(release);
    }

    #[test]
    fn a_closed_pipe_is_reported_as_broken_pipe() {
        let mut printer = QueuedPrinter::spawn(true, Closed, QUEUE_BYTES).unwrap();
        printer.print(&fork(1)).unwrap();
        // The writer may fail at once, so already the first flush can report it.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let error = loop {
            if let Err(error) = printer.flush() {
                break error;
            }
            assert!(std::time::Instant::now() < deadline, "the writer never failed");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
        assert!(printer.wait_written(Duration::from_secs(10)), "the writer thread ended");
    }
}
