//! A live tracing session: drains the ring buffer when the kernel wakes it for a batch of
//! records (epoll through tokio) and every 50 ms, reports lost records as they are noticed
//! (in the kernel's ring or in the printed output), forwards kernel-side logs, and stops on
//! Ctrl-C, SIGTERM, `--duration`, a closed output, or when the caller's `until` future
//! resolves (`tracer run`: the command's tree is gone).
//!
//! Nothing here waits on stdout: printing goes through a queue to a writer thread
//! ([`crate::output::QueuedPrinter`]), so a stalled reader can neither hold up the drain (and
//! with it the recording and the loss accounting) nor delay a stop beyond [`STOP_GRACE`].
use std::{
    future::Future,
    time::{Duration, Instant},
};

use aya::maps::{MapData, PerCpuArray, RingBuf};
use tokio::{
    io::unix::AsyncFd,
    signal::unix::{SignalKind, signal},
};
use tracer_common::map_name;

use crate::{
    clock::Clock,
    decode::decode,
    event::LostOrigin,
    loader::Loaded,
    pipeline::{Counts, Pipeline, PipelineError, lost_event},
};

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot open the {0} map: {1}")]
    Map(&'static str, String),
    #[error("cannot watch the ring buffer: {0}")]
    Poll(std::io::Error),
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// How often the ring buffer is drained (and lost records counted) without a wake-up.
const DRAIN_INTERVAL: Duration = Duration::from_millis(50);

/// After a stop signal, how long the writer may still take to print what it holds; what it
/// has not printed by then is counted as lost (origin output). Keeps Ctrl-C and SIGTERM under a
/// second whatever the reader of stdout does.
pub const STOP_GRACE: Duration = Duration::from_millis(300);

/// How often the end of the output is checked for while waiting for it.
const OUTPUT_POLL: Duration = Duration::from_millis(10);

/// How a session ended.
pub struct Ended {
    pub counts: Counts,
    pub elapsed: Duration,
    /// The reader of our output went away (`tracer | head`).
    pub output_closed: bool,
}

struct Sources {
    ring: AsyncFd<RingBuf<MapData>>,
    lost: PerCpuArray<MapData, u64>,
    lost_seen: u64,
}

impl Sources {
    fn lost_total(&self) -> u64 {
        self.lost.get(&0, 0).map(|values| values.iter().sum()).unwrap_or(self.lost_seen)
    }
}

/// Records handled per pass before signals and timers get a turn: under a storm the ring
/// may never be empty.
const DRAIN_BATCH: usize = 16 * 1024;

/// Decodes and handles records waiting in the ring buffer, at most [`DRAIN_BATCH`]; returns
/// whether more may be waiting.
fn drain(ring: &mut RingBuf<MapData>, clock: &Clock, pipeline: &mut Pipeline) -> Result<bool, PipelineError> {
    for _ in 0..DRAIN_BATCH {
        let Some(record) = ring.next() else { return Ok(false) };
        match decode(&record, clock) {
            Ok(event) => pipeline.handle(event)?,
            Err(error) => log::warn!("skipping a kernel record: {error}"),
        }
    }
    Ok(true)
}

/// Emits a `lost` event when the kernel's count of dropped records grew, and one when the
/// printer dropped events.
fn report_lost(sources: &mut Sources, pipeline: &mut Pipeline) -> Result<(), PipelineError> {
    let total = sources.lost_total();
    if total > sources.lost_seen {
        let count = total - sources.lost_seen;
        sources.lost_seen = total;
        pipeline.handle(lost_event(count, LostOrigin::RingBuffer))?;
    }
    pipeline.report_unprinted()
}

/// Waits for the writer to print what it holds. After a natural end (`--duration`, the end of
/// `tracer run`) that is as long as it takes, like any program writing to a pipe; a stop signal,
/// before or during the wait, cuts it to [`STOP_GRACE`].
async fn wait_for_output(
    pipeline: &mut Pipeline,
    mut stop_at: Option<Instant>,
    interrupt: &mut tokio::signal::unix::Signal,
    terminate: &mut tokio::signal::unix::Signal,
) {
    while !pipeline.wait_output(Duration::ZERO) {
        if stop_at.is_some_and(|at| Instant::now() >= at) {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(OUTPUT_POLL) => {}
            _ = interrupt.recv() => { stop_at.get_or_insert_with(|| Instant::now() + STOP_GRACE); }
            _ = terminate.recv() => { stop_at.get_or_insert_with(|| Instant::now() + STOP_GRACE); }
        }
    }
}

/// Takes map `name` out of the object as a typed map.
fn take_map<T>(ebpf: &mut aya::Ebpf, name: &'static str) -> Result<T, SessionError>
where
    T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf.take_map(name).ok_or_else(|| SessionError::Map(name, "missing from the object".into()))?;
    T::try_from(map).map_err(|error| SessionError::Map(name, error.to_string()))
}

/// Streams events until a stop condition holds or `until` resolves.
pub async fn stream(
    mut loaded: Loaded,
    mut pipeline: Pipeline,
    duration: Option<Duration>,
    until: impl Future<Output = ()>,
) -> Result<Ended, SessionError> {
    let start = Instant::now();
    let clock = Clock::sample();
    let ring: RingBuf<MapData> = take_map(&mut loaded.ebpf, map_name::EVENTS)?;
    let lost: PerCpuArray<MapData, u64> = take_map(&mut loaded.ebpf, map_name::LOST)?;
    // SAFETY (both): the ring buffer and the logger own their descriptors, which stay open and
    // unchanged until they are dropped with their AsyncFd.
    let ring = unsafe { AsyncFd::register(ring) }.map_err(|error| SessionError::Poll(error.into()))?;
    let mut sources = Sources { ring, lost, lost_seen: 0 };
    let mut logger = match loaded.logger.take() {
        Some(logger) => Some(unsafe { AsyncFd::register(logger) }.map_err(|error| SessionError::Poll(error.into()))?),
        None => None,
    };
    let mut interrupt = signal(SignalKind::interrupt()).map_err(SessionError::Signals)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(SessionError::Signals)?;
    // SIGHUP reopens output files (logrotate's way); without one it keeps its default: stop.
    let mut hangup =
        if pipeline.reopens() { Some(signal(SignalKind::hangup()).map_err(SessionError::Signals)?) } else { None };
    // The kernel side wakes tracer only per batch of records, so it also drains on this timer:
    // it bounds how late a record is printed on a quiet machine.
    let mut ticker = tokio::time::interval(DRAIN_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let deadline = tokio::time::sleep(duration.unwrap_or(Duration::MAX / 4));
    tokio::pin!(deadline);
    tokio::pin!(until);

    // Ok(when a stop signal came, if one did).
    let result: Result<Option<Instant>, PipelineError> = async {
        let mut more = false;
        let stop_signal = loop {
            tokio::select! {
                // Stop requests first: a busy ring must not starve them.
                biased;
                _ = interrupt.recv() => break Some(Instant::now()),
                _ = terminate.recv() => break Some(Instant::now()),
                _ = &mut deadline => break None,
                _ = &mut until => break None,
                _ = async { hangup.as_mut()?.recv().await }, if hangup.is_some() => pipeline.reopen_outputs()?,
                _ = std::future::ready(()), if more => {
                    more = drain(sources.ring.get_mut(), &clock, &mut pipeline)?;
                    pipeline.flush_recording()?;
                    pipeline.flush_output()?;
                    // Without a yield this arm is ready again at once, the runtime never polls
                    // its drivers, and a stream that never lets up would leave signals and the
                    // timer unheard.
                    tokio::task::yield_now().await;
                }
                guard = sources.ring.readable_mut() => {
                    let mut guard = match guard {
                        Ok(guard) => guard,
                        Err(error) => return Err(PipelineError::Output(error)),
                    };
                    more = drain(guard.get_inner_mut(), &clock, &mut pipeline)?;
                    guard.clear_ready();
                    pipeline.flush_recording()?;
                    pipeline.flush_output()?;
                }
                guard = async { logger.as_mut()?.readable_mut().await.ok() }, if logger.is_some() => {
                    if let Some(mut guard) = guard {
                        guard.get_inner_mut().flush();
                        guard.clear_ready();
                    }
                }
                _ = ticker.tick() => {
                    more = drain(sources.ring.get_mut(), &clock, &mut pipeline)?;
                    report_lost(&mut sources, &mut pipeline)?;
                    pipeline.flush_recording()?;
                    pipeline.flush_output()?;
                }
            }
        };
        Ok(stop_signal)
    }
    .await;
    // What the kernel wrote before the stop is still delivered (one batch: a storm that goes
    // on must not keep tracer from stopping).
    let outcome = result.and_then(|stop_signal| {
        drain(sources.ring.get_mut(), &clock, &mut pipeline)?;
        report_lost(&mut sources, &mut pipeline)?;
        pipeline.close_output()?;
        Ok(stop_signal)
    });
    let output_closed = matches!(outcome, Err(PipelineError::OutputClosed));
    let outcome = match outcome {
        Ok(stop_signal) => {
            let stop_at = stop_signal.map(|at| at + STOP_GRACE);
            wait_for_output(&mut pipeline, stop_at, &mut interrupt, &mut terminate).await;
            // What the writer has not printed by now is reported (and recorded) as lost.
            pipeline.report_unprinted()
        }
        Err(error) => Err(error),
    };
    let counts = pipeline.counts;
    // The recording is closed properly whatever happened to the printed output.
    let finished = pipeline.finish();
    match (outcome, finished) {
        (Err(PipelineError::OutputClosed) | Ok(()), Ok(_) | Err(PipelineError::OutputClosed)) => {}
        (Err(error), _) | (_, Err(error)) => return Err(error.into()),
    }
    Ok(Ended { counts, elapsed: start.elapsed(), output_closed })
}
