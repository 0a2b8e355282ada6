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
use ratatui::{Terminal, backend::CrosstermBackend, widgets::TableState};

use crate::{
    event::Event,
    pipeline::Watcher,
    top::{
        input::View,
        model::TopModel,
        render::{self, Context},
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

/// Feeds the pipeline's events to the shared model.
pub struct Feed(pub Arc<Shared>);

impl Watcher for Feed {
    fn observe(&mut self, event: &Event) {
        self.0.model().observe(event);
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
    let mut table = TableState::default();
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
                    view.key(key, &snapshot.rows);
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
        snapshot = match &mut frozen {
            Some((model, now)) => {
                let mut snapshot = snapshot::take(model, *now, &view.layout, &users);
                // Paused, the view stays; the count of events goes on.
                let live = shared.model();
                snapshot.figures = snapshot::figures(&live, live.now_ns());
                snapshot
            }
            None => {
                let mut model = shared.model();
                let now = model.now_ns();
                snapshot::take(&mut model, now, &view.layout, &users)
            }
        };
        view.selected = view.selected.min(snapshot.rows.len().saturating_sub(1));
        terminal.draw(|frame| render::draw(frame, &context, &snapshot, &view, &mut table))?;
        last_frame = Some(Instant::now());
        changed = false;
    }
    Ok(())
}
