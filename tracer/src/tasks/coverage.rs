//! How much of the tasks' lives a stream can show. With every fork recorded, a birth the model
//! did not see happened before the recording; with every exit recorded, a task not seen ending
//! was still running at its end. Filters that select tasks break that: a selected task's
//! creator, or an unselected child's exit, is not in the stream, and nothing can be said.
use clap::Parser;

use crate::{cli::FilterArgs, event::Kind, filter::Filters, recording::RecordingHeader};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coverage {
    /// Every task's creation is in the stream, if it happened during the recording.
    pub births: bool,
    /// Every task's exit is in the stream, if it happened during the recording.
    pub deaths: bool,
}

impl Coverage {
    /// What a stream with `filters` shows: every birth needs every fork, so no task filter;
    /// every death needs the exits, of every task or of followed descendants.
    pub fn of(filters: &Filters) -> Self {
        let every_task = !filters.selects_tasks();
        Coverage {
            births: filters.kinds.contains(&Kind::Fork) && every_task,
            deaths: filters.kinds.contains(&Kind::Exit) && (every_task || filters.follow),
        }
    }

    /// A recording read again through `filters`: what both the recording's and these show.
    pub fn of_recording(header: &RecordingHeader, filters: &Filters) -> Self {
        let read = Coverage::of(filters);
        match recorded_filters(header) {
            Some(recorded) => {
                let recorded = Coverage::of(&recorded);
                Coverage { births: recorded.births && read.births, deaths: recorded.deaths && read.deaths }
            }
            // Filters this tracer cannot read: assume the worst.
            None => Coverage { births: false, deaths: false },
        }
    }
}

/// The filters a recording was made with, from its header; `None` when they do not parse.
fn recorded_filters(header: &RecordingHeader) -> Option<Filters> {
    #[derive(Parser)]
    struct Recorded {
        #[command(flatten)]
        filters: FilterArgs,
    }
    let args = std::iter::once("tracer").chain(header.filters.iter().map(String::as_str));
    Filters::from_args(&Recorded::try_parse_from(args).ok()?.filters).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(filters: &[&str]) -> RecordingHeader {
        RecordingHeader { filters: filters.iter().map(|arg| arg.to_string()).collect(), ..RecordingHeader::default() }
    }

    #[test]
    fn task_filters_hide_births_and_unfollowed_deaths() {
        let all = Filters::from_args(&FilterArgs::default()).unwrap();
        let every = header(&["--events", "fork,exec,exit,rename,lookup"]);
        assert_eq!(Coverage::of_recording(&every, &all), Coverage { births: true, deaths: true });
        let followed = header(&["--comm", "make", "--events", "fork,exec,exit", "--follow"]);
        assert_eq!(Coverage::of_recording(&followed, &all), Coverage { births: false, deaths: true });
        let one = header(&["--pid", "812", "--events", "fork,exec,exit"]);
        assert_eq!(Coverage::of_recording(&one, &all), Coverage { births: false, deaths: false });
        let no_exits = header(&["--events", "fork,exec"]);
        assert_eq!(Coverage::of_recording(&no_exits, &all), Coverage { births: true, deaths: false });
        let unreadable = header(&["--from-the-future"]);
        assert_eq!(Coverage::of_recording(&unreadable, &all), Coverage { births: false, deaths: false });
        let only_bash =
            Filters::from_args(&FilterArgs { comms: vec!["bash".into()], ..FilterArgs::default() }).unwrap();
        assert_eq!(Coverage::of_recording(&every, &only_bash), Coverage { births: false, deaths: false });
    }
}
