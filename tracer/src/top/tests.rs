//! The view from a known model: the model fed known events, and the frames drawn from it on
//! ratatui's test backend, compared line by line.
use ratatui::{Terminal, backend::TestBackend};

use crate::{
    event::{Detail, Event, LostOrigin, test_event, test_exec, test_fork},
    text::Text,
    top::{
        input::View,
        model::{TimeSource, TopModel},
        render::{self, Context},
        rows::{Layout, Sort},
        snapshot::{self, Snapshot, State},
        users::Users,
    },
};

const SECOND: u64 = 1_000_000_000;
/// The time of the first event.
const T0: u64 = 1_700_000_000 * SECOND;

/// `event` at `ns`, its process a child of `ppid`.
fn at(mut event: Event, ns: u64, ppid: u32) -> Event {
    event.timestamp_ns = ns;
    event.ppid = ppid;
    event
}

fn thread(tgid: u32, tid: u32) -> Detail {
    test_fork(tgid, tid, true, None)
}

/// A shell (100) whose worker (200) runs three extra threads; a short-lived `false` (300)
/// that exited 1, and a `sleep` (400) killed by SIGKILL; 20 lost events.
fn known_model() -> TopModel {
    // Process N started N ms after T0 (test_start_ns).
    let mut model = TopModel::new(T0 as i64, TimeSource::Wall);
    let events = [
        at(test_event(100, 100, "bash", test_fork(200, 200, false, None)), T0, 1),
        at(
            test_event(200, 200, "worker", test_exec("/usr/bin/worker", &["worker", "--jobs", "3"], 200)),
            T0 + 1_000,
            100,
        ),
        at(test_event(200, 200, "worker", thread(200, 201)), T0 + 2_000, 100),
        at(test_event(200, 200, "worker", thread(200, 202)), T0 + 3_000, 100),
        at(test_event(200, 200, "worker", thread(200, 203)), T0 + 4_000, 100),
        at(test_event(100, 100, "bash", test_fork(300, 300, false, None)), T0 + SECOND, 1),
        at(test_event(300, 300, "false", test_exec("/usr/bin/false", &["false"], 300)), T0 + SECOND + 1_000, 100),
        at(test_event(300, 300, "false", Detail::exit(1 << 8, true, 2_000_000)), T0 + SECOND + 2_000_000, 100),
        at(test_event(100, 100, "bash", test_fork(400, 400, false, None)), T0 + SECOND, 1),
        at(test_event(400, 400, "sleep", test_exec("/usr/bin/sleep", &["sleep", "60"], 400)), T0 + SECOND + 1_000, 100),
        at(test_event(400, 400, "sleep", Detail::exit(9, true, SECOND)), T0 + 2 * SECOND, 100),
        at(test_event(1, 1, "tracer", Detail::Lost { count: 20, origin: LostOrigin::RingBuffer }), T0 + 2 * SECOND, 1),
    ];
    for event in &events {
        model.observe(event);
    }
    model
}

fn frame(snapshot: &Snapshot, view: &View, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    let context = Context { source: "live".into(), filters: "none".into(), hooks: "fork=tp_btf exec=tp_btf".into() };
    terminal.draw(|frame| render::draw(frame, &context, snapshot, view)).unwrap();
    let buffer = terminal.backend().buffer();
    (0..height).map(|y| (0..width).map(|x| buffer[(x, y)].symbol()).collect::<String>().trim_end().to_owned()).collect()
}

#[test]
fn a_process_with_three_extra_threads_is_one_row_of_four_tasks_and_the_dead_stay_a_while() {
    let mut model = known_model();
    let by_tasks = Layout { sort: Sort::Tasks, ..Layout::default() };
    let snapshot = snapshot::take(&mut model, T0 + 3 * SECOND, &by_tasks, &Users::default());
    let rows: Vec<(u32, usize, &str, &State)> =
        snapshot.rows.iter().map(|row| (row.id, row.tasks, row.comm.as_str(), &row.state)).collect();
    assert_eq!(
        rows,
        [
            (100, 1, "bash", &State::Running),
            (200, 4, "worker", &State::Running),
            (300, 0, "false", &State::Gone("exit 1".into())),
            (400, 0, "sleep", &State::Gone("killed by SIGKILL".into())),
        ]
    );
    assert_eq!((snapshot.figures.lost, snapshot.figures.processes, snapshot.figures.tasks), (20, 2, 5));
    // Five seconds after their end, the gone are forgotten.
    let later = snapshot::take(&mut model, T0 + 8 * SECOND, &by_tasks, &Users::default());
    assert_eq!(later.rows.iter().map(|row| row.id).collect::<Vec<_>>(), [100, 200]);
}

#[test]
fn the_frame_of_a_known_model() {
    let mut model = known_model();
    let now = T0 + 2 * SECOND + SECOND / 10;
    let snapshot = snapshot::take(&mut model, now, &Layout::default(), &Users::parse("root:x:0:0::/:\n"));
    let lines = frame(&snapshot, &View::default(), 100, 20);
    let expected = [
        "tracer top · live · 3 events/s, 11 in all · lost 20 · 2 processes, 5 tasks",
        "filters: none · hooks: fork=tp_btf exec=tp_btf",
        "sort: churn",
        " processes (4 rows) ────────────────────────────────────────────────────────────────────────────────",
        "PID     PPID    USER     CONTAINER    TASKS AGE     STATE             COMMAND",
        "100     1       root                  1     2.00s                     bash",
        "300     100     root                  0     2.0ms   exit 1            ├─ false  false",
        "400     100     root                  0     1.00s   killed by SIGKILL ├─ sleep  sleep 60",
        "200     100     root                  4     1.90s   new               └─ worker  worker --jobs 3",
        "",
        "",
        "",
        "",
        " churn per comm, per second over the last 2 s ──────────────────────────────────────────────────────",
        "COMM             FORK/s   EXEC/s   EXIT/s   THREAD/s  /PROC/s  HIDDEN/s  EVENTS",
        "bash             1.0      ·        ·        ·         ·        ·         3",
        "false            ·        0.5      0.5      ·         ·        ·         2",
        "sleep            ·        0.5      0.5      ·         ·        ·         2",
        "worker           ·        ·        ·        ·         ·        ·         4",
        "q quit  / filter  p pause  s sort  t threads  Enter focus  ? help",
    ];
    assert_eq!(lines, expected, "\n{}", lines.join("\n"));
}

#[test]
fn hostile_names_are_escaped_and_filters_threads_and_focus_narrow_the_view() {
    let mut model = known_model();
    let hostile = Text::new(b"x\x1b]0;owned\x07\x1b[2J".to_vec());
    let mut rename = test_event(200, 201, "worker", Detail::Rename { old_comm: "worker".into(), new_comm: hostile });
    (rename.timestamp_ns, rename.ppid) = (T0 + 2 * SECOND, 100);
    model.observe(&rename);
    let mut exec = test_event(100, 100, "bash", test_exec("/bin/evil", &["evil", "\x1b[31mred\n"], 100));
    exec.timestamp_ns = T0 + 2 * SECOND;
    model.observe(&exec);
    let layout = Layout { threads: true, ..Layout::default() };
    let snapshot = snapshot::take(&mut model, T0 + 3 * SECOND, &layout, &Users::default());
    let lines = frame(&snapshot, &View { layout: layout.clone(), ..View::default() }, 110, 24);
    let text = lines.join("\n");
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text}");
    assert!(text.contains(r"x\x1b]0;owned\x07\x1b[2J"), "{text}");
    assert!(text.contains(r"bash  evil '\x1b[31mred\n'"), "{text}");
    let mut ids = |layout: &Layout| -> Vec<u32> {
        snapshot::take(&mut model, T0 + 3 * SECOND, layout, &Users::default()).rows.iter().map(|row| row.id).collect()
    };
    // Sorted by churn: the killed sleep had two events in the window, false one.
    assert_eq!(ids(&layout), [100, 200, 201, 202, 203, 400, 300]);
    assert_eq!(ids(&Layout { filter: "sle".into(), ..Layout::default() }), [400]);
    assert_eq!(ids(&Layout { filter: "300".into(), ..Layout::default() }), [300]);
    assert_eq!(ids(&Layout { focus: Some(200), ..Layout::default() }), [200]);
}

#[test]
fn a_terminal_too_small_says_so() {
    let lines = frame(&Snapshot::default(), &View::default(), 40, 6);
    assert!(lines.join(" ").contains("The terminal is too small (40×6)"), "{lines:?}");
}

#[test]
fn lost_events_are_red_pause_is_said_and_help_lists_the_keys() {
    let mut model = known_model();
    let snapshot = snapshot::take(&mut model, T0 + 3 * SECOND, &Layout::default(), &Users::default());
    let view = View { paused: true, help: true, ..View::default() };
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let context = Context::default();
    terminal.draw(|frame| render::draw(frame, &context, &snapshot, &view)).unwrap();
    let buffer = terminal.backend().buffer();
    let first: String = (0..100).map(|x| buffer[(x, 0)].symbol()).collect();
    let lost = first.find("lost 20").expect("the header counts the lost events");
    let column = first[..lost].chars().count() as u16;
    assert_eq!(buffer[(column, 0)].fg, ratatui::style::Color::Red, "{first}");
    assert!(first.contains("PAUSED"), "{first}");
    let screen: String =
        (0..30).map(|y| (0..100).map(|x| buffer[(x, y)].symbol()).collect::<String>() + "\n").collect();
    for key in ["quit", "filter: comm, command, PID or container", "pause the view", "sort by churn, age, tasks"] {
        assert!(screen.contains(key), "the help lacks {key:?}:\n{screen}");
    }
    // None lost: not red.
    let quiet = Snapshot::default();
    terminal.draw(|frame| render::draw(frame, &context, &quiet, &View::default())).unwrap();
    let buffer = terminal.backend().buffer();
    let first: String = (0..100).map(|x| buffer[(x, 0)].symbol()).collect();
    let column = first[..first.find("lost 0").unwrap()].chars().count() as u16;
    assert_eq!(buffer[(column, 0)].fg, ratatui::style::Color::Reset, "{first}");
}

#[test]
fn the_drain_never_waits_for_the_model_while_a_frame_is_taken() {
    use crate::{
        pipeline::Watcher,
        top::screen::{Feed, Shared},
    };
    let shared = Shared::new(TopModel::new(0, TimeSource::Wall));
    let mut feed = Feed::new(shared.clone());
    let fork = at(test_event(100, 100, "bash", test_fork(200, 200, false, None)), T0, 1);
    // The drawing thread holds the model: on this same thread, waiting would never end.
    let frame = shared.model();
    feed.observe(&fork);
    feed.flush();
    drop(frame);
    assert_eq!(shared.model().total_events, 0, "queued, not filed");
    feed.observe(&at(test_event(200, 200, "bash", thread(200, 201)), T0 + 1, 100));
    assert_eq!(shared.model().total_events, 0, "still behind the queued one");
    feed.flush();
    let model = shared.model();
    assert_eq!((model.total_events, model.live[&200].tasks.len()), (2, 2), "filed in order");
}

#[test]
fn a_huge_argument_list_is_cut_to_what_a_screen_can_show() {
    let mut model = TopModel::new(0, TimeSource::Wall);
    let argv: Vec<String> = (0..20_000).map(|n| format!("-Cflag{n}")).collect();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    model.observe(&at(test_event(500, 500, "rustc", test_exec("/usr/bin/rustc", &argv, 500)), T0, 1));
    let snapshot = snapshot::take(&mut model, T0, &Layout::default(), &Users::default());
    let command = &snapshot.rows[0].command;
    assert!(command.starts_with("-Cflag0 -Cflag1 ") && command.ends_with(" …") && command.len() < 600, "{command}");
}

#[test]
fn a_childs_exec_seen_before_its_fork_stands() {
    let mut model = TopModel::new(0, TimeSource::Wall);
    model.observe(&at(test_event(600, 600, "tracer-workload", test_exec("/bin/w", &["w", "12"], 600)), T0 + 2, 1));
    model.observe(&at(test_event(1, 1, "systemd", test_fork(600, 600, false, None)), T0 + 1, 1));
    let child = &model.live[&600];
    assert_eq!(
        (child.comm.to_string(), child.argv.words.len(), child.born_seen),
        ("tracer-workload".to_owned(), 2, true)
    );
}

#[test]
fn a_fork_storm_keeps_the_latest_ended_writes_out_only_the_rows_on_screen_and_scrolls() {
    use crate::top::model::GONE_MAX;
    let mut model = TopModel::new(T0 as i64, TimeSource::Wall);
    model.observe(&at(test_event(100, 100, "storm", test_exec("/bin/storm", &["storm", "3000"], 100)), T0, 1));
    for child in 1000..4000 {
        let ns = T0 + u64::from(child) * 1_000;
        model.observe(&at(test_event(100, 100, "storm", test_fork(child, child, false, None)), ns, 1));
        model.observe(&at(test_event(child, child, "storm", Detail::exit(0, true, 500)), ns + 500, 100));
    }
    let (width, height) = (100, 30);
    let mut view = View { layout: Layout { sort: Sort::Age, ..Layout::default() }, selected: 900, ..View::default() };
    let layout = view.layout.clone();
    let area = ratatui::layout::Rect::new(0, 0, width, height);
    let snapshot = snapshot::take_shown(&mut model, T0 + SECOND, &layout, &Users::default(), |ids, churn_rows| {
        view.follow(ids);
        view.scroll(ids.len(), render::tree_rows(area, churn_rows))
    });
    // The storm's process and the latest ended ones; the churn panel counted every exit.
    assert_eq!(snapshot.ids.len(), 1 + GONE_MAX);
    assert!(snapshot.ids.iter().any(|row| row.id == 3999) && !snapshot.ids.iter().any(|row| row.id == 1000));
    assert_eq!(snapshot.churn.iter().map(|row| row.total).sum::<u64>(), 1 + 2 * 3000);
    let on_screen = render::tree_rows(area, snapshot.churn.len());
    assert_eq!(snapshot.rows.len(), on_screen);
    assert_eq!(snapshot.first, 900 + 1 - on_screen, "scrolled just far enough");
    let selected = snapshot.ids[900];
    assert_eq!(snapshot.rows.last().map(|row| row.id), Some(selected.id));
    let lines = frame(&snapshot, &view, width, height);
    assert!(lines[3].contains(&format!("processes ({} rows)", 1 + GONE_MAX)), "{}", lines.join("\n"));
    let last_tree_line = &lines[4 + on_screen];
    assert!(last_tree_line.starts_with(&format!("{:<8}100", selected.id)), "{}", lines.join("\n"));
}

#[test]
fn the_model_keeps_of_a_long_command_line_what_the_view_can_show() {
    use crate::top::model::{Arguments, COMMAND_CHARS};
    let argv: Vec<Text> = (0..32).map(|n| Text::from(format!("{n:0>254}").as_bytes())).collect();
    let kept = Arguments::new(&argv);
    // The words up to the width shown, and the one that crosses it.
    assert_eq!((kept.words.len(), kept.cut), (3, true));
    assert!(kept.words.iter().map(|argument| argument.as_bytes().len() + 1).sum::<usize>() > COMMAND_CHARS);
    let short: Vec<Text> = ["ls", "-l"].iter().map(|word| Text::from(word.as_bytes())).collect();
    assert_eq!(Arguments::new(&short), Arguments { words: short.clone().into(), cut: false });
    let mut model = TopModel::new(0, TimeSource::Wall);
    let argv: Vec<String> = argv.iter().map(|word| word.to_string()).collect();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    model.observe(&at(test_event(500, 500, "cc", test_exec("/usr/bin/cc", &argv, 500)), T0, 1));
    let snapshot = snapshot::take(&mut model, T0, &Layout::default(), &Users::default());
    assert!(snapshot.rows[0].command.ends_with(" …"), "{}", snapshot.rows[0].command);
}

#[test]
fn a_command_line_shown_whole_says_nothing_was_left_out() {
    let mut model = TopModel::new(0, TimeSource::Wall);
    let words: Vec<String> = (0..3).map(|n| format!("{n:0>200}")).collect();
    let argv: Vec<&str> = words.iter().map(String::as_str).collect();
    model.observe(&at(test_event(500, 500, "cc", test_exec("/usr/bin/cc", &argv, 500)), T0, 1));
    let snapshot = snapshot::take(&mut model, T0, &Layout::default(), &Users::default());
    assert_eq!(snapshot.rows[0].command, words.join(" "));
}
