//! A live tracing session: drains the ring buffer when the kernel wakes it for a batch of
//! records (epoll through tokio) and every 50 ms, reports lost records as they are noticed, forwards kernel-side logs, and
//! stops on Ctrl-C, SIGTERM, `--duration`, a closed output, or the end of `tracer run`'s tree.
use std::{
    collections::HashSet,
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
    event::{Detail, Event, Source},
    loader::Loaded,
    pipeline::{Counts, Pipeline, PipelineError},
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

/// How a session ended.
pub struct Ended {
    pub counts: Counts,
    pub elapsed: Duration,
    /// For `tracer run`: the command's exit status.
    pub command_status: Option<std::process::ExitStatus>,
    /// The reader of our output went away (`tracer | head`).
    pub output_closed: bool,
}

/// Process trees `tracer run` waits for: the command's process and every process it (or they)
/// created, known from the fork and exit events of followed processes.
pub struct RunTree {
    /// Resolves to the command's exit status.
    waiter: tokio::task::JoinHandle<std::process::ExitStatus>,
    live: HashSet<u32>,
    status: Option<std::process::ExitStatus>,
}

impl RunTree {
    pub fn new(waiter: tokio::task::JoinHandle<std::process::ExitStatus>, tgid: u32) -> Self {
        Self { waiter, live: HashSet::from([tgid]), status: None }
    }

    fn observe(&mut self, event: &Event) {
        match event.detail {
            Detail::Fork { child_tgid, .. } if child_tgid != event.tgid && self.live.contains(&event.tgid) => {
                self.live.insert(child_tgid);
            }
            Detail::Exit { group_dead: true, .. } => {
                self.live.remove(&event.tgid);
            }
            _ => {}
        }
    }

    fn finished(&self) -> bool {
        self.status.is_some() && self.live.is_empty()
    }
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
fn drain(
    ring: &mut RingBuf<MapData>,
    clock: &Clock,
    pipeline: &mut Pipeline,
    run: &mut Option<RunTree>,
) -> Result<bool, PipelineError> {
    for _ in 0..DRAIN_BATCH {
        let Some(record) = ring.next() else { return Ok(false) };
        match decode(&record, clock) {
            Ok(event) => {
                if let Some(run) = run {
                    run.observe(&event);
                }
                pipeline.handle(event)?;
            }
            Err(error) => log::warn!("skipping a kernel record: {error}"),
        }
    }
    Ok(true)
}

/// Emits a `lost` event when the kernel's count of dropped records grew.
fn report_lost(sources: &mut Sources, pipeline: &mut Pipeline) -> Result<(), PipelineError> {
    let total = sources.lost_total();
    if total > sources.lost_seen {
        let count = total - sources.lost_seen;
        sources.lost_seen = total;
        pipeline.handle(Event {
            timestamp_ns: Clock::wall_now_ns(),
            cpu: 0,
            tgid: std::process::id(),
            tid: std::process::id(),
            ppid: 0,
            comm: "tracer".into(),
            source: Source::Tracer,
            detail: Detail::Lost { count },
        })?;
    }
    Ok(())
}

/// Takes map `name` out of the object as a typed map.
fn take_map<T>(ebpf: &mut aya::Ebpf, name: &'static str) -> Result<T, SessionError>
where
    T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf.take_map(name).ok_or_else(|| SessionError::Map(name, "missing from the object".into()))?;
    T::try_from(map).map_err(|error| SessionError::Map(name, error.to_string()))
}

/// Streams events until a stop condition holds.
pub async fn stream(
    mut loaded: Loaded,
    mut pipeline: Pipeline,
    duration: Option<Duration>,
    mut run: Option<RunTree>,
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

    let result: Result<(), PipelineError> = async {
        let mut more = false;
        loop {
            tokio::select! {
                // Stop requests first: a busy ring must not starve them.
                biased;
                _ = interrupt.recv(), if run.is_none() => break,
                _ = terminate.recv() => break,
                _ = &mut deadline => break,
                _ = async { hangup.as_mut()?.recv().await }, if hangup.is_some() => pipeline.reopen_outputs()?,
                _ = std::future::ready(()), if more => {
                    more = drain(sources.ring.get_mut(), &clock, &mut pipeline, &mut run)?;
                    pipeline.flush_output()?;
                }
                guard = sources.ring.readable_mut() => {
                    let mut guard = match guard {
                        Ok(guard) => guard,
                        Err(error) => return Err(PipelineError::Output(error)),
                    };
                    more = drain(guard.get_inner_mut(), &clock, &mut pipeline, &mut run)?;
                    guard.clear_ready();
                    pipeline.flush_output()?;
                }
                guard = async { logger.as_mut()?.readable_mut().await.ok() }, if logger.is_some() => {
                    if let Some(mut guard) = guard {
                        guard.get_inner_mut().flush();
                        guard.clear_ready();
                    }
                }
                _ = ticker.tick() => {
                    more = drain(sources.ring.get_mut(), &clock, &mut pipeline, &mut run)?;
                    report_lost(&mut sources, &mut pipeline)?;
                    pipeline.tick()?;
                    pipeline.flush_output()?;
                }
                status = async { (&mut run.as_mut()?.waiter).await.ok() }, if run.as_ref().is_some_and(|run| run.status.is_none()) => {
                    if let Some(run) = &mut run {
                        // A failed wait still ends the command's own part of the tree.
                        run.status = status.or(Some(std::os::unix::process::ExitStatusExt::from_raw(1 << 8)));
                    }
                }
            }
            if run.as_ref().is_some_and(RunTree::finished) {
                break;
            }
        }
        Ok(())
    }
    .await;
    // What the kernel wrote before the stop is still delivered (one batch: a storm that goes
    // on must not keep tracer from stopping).
    let outcome = result
        .and_then(|()| drain(sources.ring.get_mut(), &clock, &mut pipeline, &mut run).map(drop))
        .and_then(|()| report_lost(&mut sources, &mut pipeline));
    let output_closed = matches!(outcome, Err(PipelineError::OutputClosed));
    let counts = pipeline.counts;
    // The recording is closed properly whatever happened to the printed output.
    let finished = pipeline.finish();
    match (outcome, finished) {
        (Err(PipelineError::OutputClosed) | Ok(()), Ok(_) | Err(PipelineError::OutputClosed)) => {}
        (Err(error), _) | (_, Err(error)) => return Err(error.into()),
    }
    Ok(Ended { counts, elapsed: start.elapsed(), command_status: run.and_then(|run| run.status), output_closed })
}
