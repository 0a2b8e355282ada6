//! The view's state as the keys change it: sort, filter (typed after `/`), focus, threads,
//! pause, help, and the selected row.
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use std::ops::Range;

use crate::top::rows::{Layout, RowId};

/// Rows PgUp and PgDn move by.
const PAGE: usize = 20;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    pub layout: Layout,
    /// The filter being typed, when `/` was pressed.
    pub editing: Option<String>,
    pub paused: bool,
    pub help: bool,
    /// Index of the selected row.
    pub selected: usize,
    /// Index of the first row on screen.
    pub offset: usize,
    /// The ID on the selected row, which the selection follows as rows move (htop's way).
    pub selected_id: Option<u32>,
    pub quit: bool,
}

impl View {
    /// Applies one key, with `rows` the tree's rows (Enter focuses the selected one's process).
    pub fn key(&mut self, key: KeyEvent, rows: &[RowId]) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        // Raw mode turns Ctrl-C into a key: it quits, as it would outside.
        if key.modifiers.contains(KeyModifiers::CONTROL) && matches!(key.code, KeyCode::Char('c' | 'd')) {
            self.quit = true;
            return;
        }
        if let Some(text) = &mut self.editing {
            match key.code {
                KeyCode::Enter => {
                    self.layout.filter = std::mem::take(text);
                    self.editing = None;
                    (self.selected, self.selected_id) = (0, None);
                }
                KeyCode::Esc => self.editing = None,
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char(c) if !c.is_control() && text.len() < 64 => text.push(c),
                _ => {}
            }
            return;
        }
        if self.help {
            self.help = false;
            return;
        }
        let last = rows.len().saturating_sub(1);
        let moves = matches!(
            key.code,
            KeyCode::Up
                | KeyCode::Down
                | KeyCode::PageUp
                | KeyCode::PageDown
                | KeyCode::Home
                | KeyCode::End
                | KeyCode::Char('k' | 'j')
        );
        match key.code {
            KeyCode::Char('q' | 'Q') => self.quit = true,
            KeyCode::Char('/') => self.editing = Some(self.layout.filter.clone()),
            KeyCode::Char('p' | 'P' | ' ') => self.paused = !self.paused,
            KeyCode::Char('s' | 'S') => self.layout.sort = self.layout.sort.next(),
            KeyCode::Char('t' | 'T') => self.layout.threads = !self.layout.threads,
            KeyCode::Char('?' | 'h') | KeyCode::F(1) => self.help = true,
            KeyCode::Enter => {
                if let Some(row) = rows.get(self.selected) {
                    self.layout.focus = Some(row.tgid);
                    (self.selected, self.selected_id) = (0, None);
                }
            }
            KeyCode::Esc | KeyCode::Backspace => {
                if self.layout.focus.is_some() {
                    self.layout.focus = None;
                } else {
                    self.layout.filter.clear();
                }
                (self.selected, self.selected_id) = (0, None);
            }
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1).min(last),
            KeyCode::Down | KeyCode::Char('j') => self.selected = (self.selected + 1).min(last),
            KeyCode::PageUp => self.selected = self.selected.saturating_sub(PAGE).min(last),
            KeyCode::PageDown => self.selected = (self.selected + PAGE).min(last),
            KeyCode::Home => self.selected = 0,
            KeyCode::End => self.selected = last,
            _ => {}
        }
        if moves {
            self.selected_id = rows.get(self.selected).map(|row| row.id);
        }
    }

    /// Keeps the selection on the same row in a new frame's `rows`.
    pub fn follow(&mut self, rows: &[RowId]) {
        if let Some(index) = self.selected_id.and_then(|id| rows.iter().position(|row| row.id == id)) {
            self.selected = index;
        }
        self.selected = self.selected.min(rows.len().saturating_sub(1));
    }

    /// The rows on screen, of `rows` in all, `height` at a time: scrolled no more than it takes
    /// to keep the selection in sight, as a list scrolls.
    pub fn scroll(&mut self, rows: usize, height: usize) -> Range<usize> {
        let height = height.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
        self.offset = self.offset.min(rows.saturating_sub(height));
        self.offset..(self.offset + height).min(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::top::rows::Sort;

    fn press(view: &mut View, code: KeyCode, rows: &[RowId]) {
        view.key(KeyEvent::new(code, KeyModifiers::NONE), rows);
    }

    fn row(tgid: u32) -> RowId {
        RowId { id: tgid, tgid }
    }

    #[test]
    fn keys_change_the_view() {
        let rows = [row(10), row(20), row(30)];
        let mut view = View::default();
        for c in ['/', 'b', 'a', 's'] {
            press(&mut view, KeyCode::Char(c), &rows);
        }
        assert_eq!((view.editing.as_deref(), view.layout.filter.as_str()), (Some("bas"), ""));
        press(&mut view, KeyCode::Backspace, &rows);
        press(&mut view, KeyCode::Enter, &rows);
        assert_eq!((view.editing.as_deref(), view.layout.filter.as_str()), (None, "ba"));
        press(&mut view, KeyCode::Char('s'), &rows);
        press(&mut view, KeyCode::Char('t'), &rows);
        press(&mut view, KeyCode::Char('p'), &rows);
        assert_eq!((view.layout.sort, view.layout.threads, view.paused), (Sort::Age, true, true));
        press(&mut view, KeyCode::Down, &rows);
        // The rows move: the selection stays on process 20.
        let moved = [row(20), row(10), row(30)];
        view.follow(&moved);
        assert_eq!(view.selected, 0);
        view.follow(&rows);
        assert_eq!(view.selected, 1);
        press(&mut view, KeyCode::Enter, &rows);
        assert_eq!((view.layout.focus, view.selected), (Some(20), 0));
        press(&mut view, KeyCode::End, &rows);
        assert_eq!(view.selected, 2);
        press(&mut view, KeyCode::Esc, &rows);
        assert_eq!((view.layout.focus, view.layout.filter.as_str()), (None, "ba"));
        press(&mut view, KeyCode::Esc, &rows);
        assert_eq!(view.layout.filter, "");
        press(&mut view, KeyCode::Char('?'), &rows);
        press(&mut view, KeyCode::Char('q'), &rows);
        assert!(!view.help && !view.quit, "a key closes the help first");
        press(&mut view, KeyCode::Char('q'), &rows);
        assert!(view.quit);
        let mut view = View::default();
        view.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL), &rows);
        assert!(view.quit);
    }

    #[test]
    fn the_list_scrolls_only_as_far_as_the_selection_needs() {
        let mut view = View::default();
        assert_eq!(view.scroll(100, 10), 0..10);
        view.selected = 15;
        assert_eq!(view.scroll(100, 10), 6..16);
        view.selected = 10;
        assert_eq!(view.scroll(100, 10), 6..16, "still in sight: no scrolling");
        view.selected = 2;
        assert_eq!(view.scroll(100, 10), 2..12);
        // Rows went away below: the window ends at the last one.
        view.selected = 7;
        assert_eq!(view.scroll(8, 10), 0..8);
        assert_eq!(view.scroll(0, 10), 0..0);
    }
}
