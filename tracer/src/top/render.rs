//! Drawing one frame of `tracer top` with ratatui: the header, the process tree, the churn
//! panel, the key line, and the help over them. It draws a [`Snapshot`], whose text is already
//! escaped, and takes no lock.
use ratatui::{
    Frame,
    layout::{Constraint, Layout as Split, Rect},
    style::{Color, Modifier, Style},
    text::{Line, Span},
    widgets::{Block, Borders, Cell, Clear, Paragraph, Row as TableRow, Table, TableState},
};

use crate::top::{
    input::View,
    model::GONE_MAX,
    snapshot::{ChurnRow, Snapshot, State},
};

/// The smallest terminal the view fits in.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

/// What the header says about the session, fixed for its length (escaped by whoever builds it).
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// "live", or what is replayed and how fast.
    pub source: String,
    pub filters: String,
    pub hooks: String,
}

/// The key line's reminder, and the help's full list.
const KEYS: &[(&str, &str)] = &[
    ("q", "quit"),
    ("/", "filter: comm, command, PID or container"),
    ("p", "pause the view (events are still counted)"),
    ("s", "sort by churn, age, tasks"),
    ("t", "show each process's threads"),
    ("Enter", "focus the selected process's subtree"),
    ("Esc", "leave the focus, clear the filter"),
    ("↑ ↓ PgUp PgDn Home End", "select"),
    ("?", "this help"),
];

/// The header, the tree, the churn panel and the key line, in a terminal of `area`.
fn areas(area: Rect, churn_rows: usize) -> [Rect; 4] {
    let churn_height = (churn_rows as u16 + 3).clamp(4, area.height / 3);
    Split::vertical([
        Constraint::Length(3),
        Constraint::Min(4),
        Constraint::Length(churn_height),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// How many rows of the tree a terminal of `area` shows beside `churn_rows` lines of churn.
pub fn tree_rows(area: Rect, churn_rows: usize) -> usize {
    // The tree's border and its column titles.
    usize::from(areas(area, churn_rows)[1].height.saturating_sub(2))
}

pub fn draw(frame: &mut Frame, context: &Context, snapshot: &Snapshot, view: &View) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "The terminal is too small ({}×{}): tracer top needs {MIN_WIDTH}×{MIN_HEIGHT}. q quits.",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: true }), area);
        return;
    }
    let [header, tree, churn, footer] = areas(area, snapshot.churn.len());
    draw_header(frame, header, context, snapshot, view);
    draw_tree(frame, tree, snapshot, view);
    draw_churn(frame, churn, &snapshot.churn);
    draw_footer(frame, footer, view);
    if view.help {
        draw_help(frame, area);
    }
}

fn draw_header(frame: &mut Frame, area: Rect, context: &Context, snapshot: &Snapshot, view: &View) {
    let figures = &snapshot.figures;
    let lost_style =
        if figures.lost > 0 { Style::new().fg(Color::Red).add_modifier(Modifier::BOLD) } else { Style::new() };
    let mut first = vec![
        Span::styled("tracer top", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!(
            " · {} · {:.0} events/s, {} in all · ",
            context.source, figures.events_per_second, figures.events
        )),
        Span::styled(format!("lost {}", figures.lost), lost_style),
        Span::raw(format!(" · {} processes, {} tasks", figures.processes, figures.tasks)),
    ];
    if view.paused {
        first.push(Span::raw(" · "));
        first.push(Span::styled("PAUSED", Style::new().fg(Color::Black).bg(Color::Yellow)));
    }
    let mut third = format!("sort: {}", view.layout.sort.name());
    if !view.layout.filter.is_empty() {
        third.push_str(&format!(" · filter: {}", crate::text::escape(&view.layout.filter)));
    }
    if let Some(focus) = view.layout.focus {
        third.push_str(&format!(" · focus: {focus} and below"));
    }
    if view.layout.threads {
        third.push_str(" · threads shown");
    }
    let lines = vec![
        Line::from(first),
        Line::from(format!("filters: {} · hooks: {}", context.filters, context.hooks)),
        Line::from(third),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}

fn row_style(state: &State) -> Style {
    match state {
        State::New => Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
        State::Running => Style::new(),
        State::Gone(_) => Style::new().fg(Color::DarkGray).add_modifier(Modifier::DIM),
        State::Thread => Style::new().fg(Color::Cyan),
    }
}

fn draw_tree(frame: &mut Frame, area: Rect, snapshot: &Snapshot, view: &View) {
    let rows = &snapshot.rows;
    let header = TableRow::new(["PID", "PPID", "USER", "CONTAINER", "TASKS", "AGE", "STATE", "COMMAND"])
        .style(Style::new().add_modifier(Modifier::REVERSED));
    let lines = rows.iter().map(|row| {
        let state = match &row.state {
            State::New => "new".to_owned(),
            State::Running => String::new(),
            State::Gone(ending) => ending.clone(),
            State::Thread => "thread".to_owned(),
        };
        let command = if row.command.is_empty() || row.state == State::Thread {
            format!("{}{}", row.branch, row.comm)
        } else {
            format!("{}{}  {}", row.branch, row.comm, row.command)
        };
        TableRow::new([
            Cell::from(row.id.to_string()),
            Cell::from(if row.state == State::Thread { String::new() } else { row.ppid.to_string() }),
            Cell::from(row.user.clone()),
            Cell::from(row.container.clone()),
            Cell::from(if row.state == State::Thread { String::new() } else { row.tasks.to_string() }),
            Cell::from(row.age.clone()),
            Cell::from(state),
            Cell::from(command),
        ])
        .style(row_style(&row.state))
    });
    let widths = [
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(12),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(17),
        Constraint::Fill(1),
    ];
    let title = if snapshot.ids.is_empty() {
        " processes: none shown ".to_owned()
    } else {
        format!(" processes ({} rows) ", snapshot.ids.len())
    };
    let widget = Table::new(lines, widths)
        .header(header)
        .block(Block::new().borders(Borders::TOP).title(title))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    // The snapshot holds the rows on screen only, from `first` on: the view scrolls, not the table.
    let selected = view.selected.checked_sub(snapshot.first).filter(|&index| index < rows.len());
    frame.render_stateful_widget(widget, area, &mut TableState::default().with_selected(selected));
}

fn rate(value: f64) -> String {
    if value == 0.0 { "·".to_owned() } else { format!("{value:.1}") }
}

fn draw_churn(frame: &mut Frame, area: Rect, rows: &[ChurnRow]) {
    let header = TableRow::new(["COMM", "FORK/s", "EXEC/s", "EXIT/s", "THREAD/s", "/PROC/s", "HIDDEN/s", "EVENTS"])
        .style(Style::new().add_modifier(Modifier::REVERSED));
    let lines = rows.iter().map(|row| {
        TableRow::new([
            row.comm.clone(),
            rate(row.forks),
            rate(row.execs),
            rate(row.exits),
            rate(row.threads),
            rate(row.lookups),
            rate(row.hidden),
            row.total.to_string(),
        ])
    });
    let widths = [
        Constraint::Length(16),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Length(9),
    ];
    let widget = Table::new(lines, widths)
        .header(header)
        .block(Block::new().borders(Borders::TOP).title(" churn per comm, per second over the last 2 s "));
    frame.render_widget(widget, area);
}

fn draw_footer(frame: &mut Frame, area: Rect, view: &View) {
    let line = match &view.editing {
        Some(text) => Line::from(vec![
            Span::styled("filter: ", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(crate::text::escape(text).into_owned()),
            Span::styled(" ", Style::new().add_modifier(Modifier::REVERSED)),
            Span::raw("  Enter apply · Esc cancel"),
        ]),
        None => Line::from(
            [
                ("q", "quit"),
                ("/", "filter"),
                ("p", "pause"),
                ("s", "sort"),
                ("t", "threads"),
                ("Enter", "focus"),
                ("?", "help"),
            ]
            .iter()
            .flat_map(|(key, what)| {
                [Span::styled(*key, Style::new().add_modifier(Modifier::BOLD)), Span::raw(format!(" {what}  "))]
            })
            .collect::<Vec<_>>(),
        ),
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn draw_help(frame: &mut Frame, area: Rect) {
    let width = 72.min(area.width);
    let height = (KEYS.len() as u16 + 5).min(area.height);
    let popup = Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height };
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!("{key:>22}"), Style::new().add_modifier(Modifier::BOLD)),
                Span::raw(format!("  {what}")),
            ])
        })
        .chain([
            Line::from(""),
            Line::from("  new rows are bright; ended ones stay dimmed for 5 s"),
            Line::from(format!("  (the latest {GONE_MAX} of them)")),
        ])
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" keys (any key closes) ")), popup);
}
