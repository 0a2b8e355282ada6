//! The drawing thread: reads keys, and at most [`FRAMES_PER_SECOND`] times a second takes a
//! snapshot of the model and draws it. The drain feeds the model on its own thread and only
//! ever waits for the short copy a snapshot takes, never for the terminal.
use std::{
    io,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use crossterm::event::{self, Event as TerminalEvent};
use ratatui::{Terminal, backend::CrosstermBackend, layout::Rect};

use crate::{
    event::Event,
    pipeline::Watcher,
    top::{
        input::View,
        model::TopModel,
        render::{self, Context},
        rows::RowId,
        snapshot::{self, Snapshot},
        terminal::TerminalGuard,
        users::Users,
    },
};

pub const FRAMES_PER_SECOND: u32 = 10;
const FRAME: Duration = Duration::from_millis(1000 / FRAMES_PER_SECOND as u64);

/// What the drain and the drawing thread share.
pub struct Shared {
    pub model: Mutex<TopModel>,
    /// Set by whichever side ends first: `q`, or the session's end (signal, `--duration`).
    pub quit: AtomicBool,
}

impl Shared {
    pub fn new(model: TopModel) -> Arc<Self> {
        Arc::new(Shared { model: Mutex::new(model), quit: AtomicBool::new(false) })
    }

    /// The model, even if the drawing thread panicked holding it (its panic is reported apart).
    pub fn model(&self) -> MutexGuard<'_, TopModel> {
        self.model.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn quitting(&self) -> bool {
        self.quit.load(Ordering::SeqCst)
    }
}

/// Feeds the pipeline's events to the shared model without ever waiting for it: while the
/// drawing thread holds the model (and it may be preempted holding it, on a machine busy with a
/// storm), events queue here and are filed at the next batch's end.
pub struct Feed {
    shared: Arc<Shared>,
    pending: Vec<Event>,
}

/// Queued events past which the drain does wait for the model, rather than grow without bound.
const PENDING_MAX: usize = 1 << 20;

impl Feed {
    pub fn new(shared: Arc<Shared>) -> Self {
        Feed { shared, pending: Vec::new() }
    }

    fn file_pending(&mut self, model: &mut TopModel) {
        for event in self.pending.drain(..) {
            model.observe(&event);
        }
    }
}

impl Watcher for Feed {
    fn observe(&mut self, event: &Event) {
        if self.pending.is_empty()
            && let Some(mut model) = try_model(&self.shared)
        {
            model.observe(event);
            return;
        }
        self.pending.push(event.clone());
        if self.pending.len() >= PENDING_MAX {
            let shared = self.shared.clone();
            self.file_pending(&mut shared.model());
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let shared = self.shared.clone();
        if let Some(mut model) = try_model(&shared) {
            self.file_pending(&mut model);
        }
    }

    fn settle(&mut self) {
        let shared = self.shared.clone();
        self.file_pending(&mut shared.model());
    }
}

/// The model if nobody holds it now.
fn try_model(shared: &Shared) -> Option<MutexGuard<'_, TopModel>> {
    match shared.model.try_lock() {
        Ok(model) => Some(model),
        Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

/// Sets `quit` when the drawing thread ends, however it ends, so the session stops with it.
struct QuitOnDrop(Arc<Shared>);

impl Drop for QuitOnDrop {
    fn drop(&mut self) {
        self.0.quit.store(true, Ordering::SeqCst);
    }
}

/// Runs the view on stdout until `q` or until `shared.quit` is set.
pub fn run(shared: Arc<Shared>, context: Context, users: Users) -> io::Result<()> {
    let _quit = QuitOnDrop(shared.clone());
    let _terminal_guard = TerminalGuard::take()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    let mut view = View::default();
    // While paused: the model as it was, drawn at the time it was frozen.
    let mut frozen: Option<(TopModel, u64)> = None;
    let mut snapshot = Snapshot::default();
    let mut last_frame: Option<Instant> = None;
    let mut changed = true;
    while !shared.quitting() {
        let due = last_frame.map_or(Duration::ZERO, |at| FRAME.saturating_sub(at.elapsed()));
        if event::poll(due)? {
            match event::read()? {
                TerminalEvent::Key(key) => {
                    view.key(key, &snapshot.ids);
                    changed = true;
                }
                TerminalEvent::Resize(..) => changed = true,
                _ => {}
            }
            if view.quit {
                break;
            }
            if !changed || last_frame.is_some_and(|at| at.elapsed() < FRAME) {
                continue;
            }
        }
        match (&mut frozen, view.paused) {
            (None, true) => {
                let model = shared.model();
                let now = model.now_ns();
                frozen = Some((model.clone(), now));
            }
            (Some(_), false) => frozen = None,
            _ => {}
        }
        let size = terminal.size()?;
        let layout = view.layout.clone();
        let shown = |ids: &[RowId], churn_rows: usize| {
            view.follow(ids);
            view.scroll(ids.len(), render::tree_rows(Rect::new(0, 0, size.width, size.height), churn_rows))
        };
        snapshot = match &mut frozen {
            Some((model, now)) => {
                let mut snapshot = snapshot::take_shown(model, *now, &layout, &users, shown);
                // Paused, the view stays; the count of events goes on.
                let live = shared.model();
                snapshot.figures = snapshot::figures(&live, live.now_ns());
                snapshot
            }
            None => {
                let mut model = shared.model();
                let now = model.now_ns();
                snapshot::take_shown(&mut model, now, &layout, &users, shown)
            }
        };
        terminal.draw(|frame| render::draw(frame, &context, &snapshot, &view))?;
        last_frame = Some(Instant::now());
        changed = false;
    }
    Ok(())
}
