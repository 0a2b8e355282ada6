//! A recording as a Perfetto trace. Every process gets a process track (its PID, named after
//! the program it ran last) holding one slice per program image; every thread a thread track
//! holding one slice over its life, with its fork, exec, rename, `/proc` lookup and exit as
//! instants whose details are debug annotations. A flow arrow joins each fork to the slice of
//! the task it created. Track identities are the model's entries, never PIDs, so a reused PID
//! gets tracks of its own. Timestamps are the kernel's boot-time nanoseconds, and a clock
//! snapshot maps them to the wall clock.
//!
//! Every string a task chose (comm, file names, arguments, `/proc` names) is escaped as the
//! table escapes it before it becomes a track, slice or argument: the Perfetto UI shows them,
//! and a bidirectional control or a line break there misleads as much as on a terminal.
use std::io::{self, Write};

use super::{
    packets::{BEGINS, ENDS, ENDS_IMAGE, INSTANT, Packets, flag, strings, text, uint},
    proto::{DebugAnnotation, ProcessDescriptor, ThreadDescriptor, TrackDescriptor, TrackEvent, track_event_type},
};
use crate::{
    event::{CloneFlags, names::signal_name},
    event::{Detail, Event, exit_status},
    tasks::{Coverage, End, Observed, ProcessKey, Start, TaskModel, ThreadKey},
    text::escape,
};

/// The track of tracer's own reports (lost events).
const TRACER_TRACK: u64 = 1;

fn process_uuid(key: ProcessKey) -> u64 {
    (1 << 32) + key.0 as u64
}

fn thread_uuid(key: ThreadKey) -> u64 {
    (2 << 32) + key.0 as u64
}

/// The flow from the fork that created `child` to `child`'s slice.
fn flow_id(child: ThreadKey) -> u64 {
    child.0 as u64 + 1
}

/// Activity the model does not keep, gathered while events are filed.
enum Mark {
    Fork {
        by: ThreadKey,
        child: ThreadKey,
        new_process: bool,
        child_tgid: u32,
        child_tid: u32,
        flags: Option<CloneFlags>,
    },
    Rename {
        thread: ThreadKey,
        old: String,
        new: String,
    },
    Lookup {
        thread: ThreadKey,
        name: String,
        target_tgid: Option<u32>,
    },
    Lost {
        count: u64,
    },
}

/// Builds a trace from a stream of events.
pub struct Export {
    model: TaskModel,
    marks: Vec<(u64, Mark)>,
    /// Wall-clock ns minus boot-time ns, from the recording's header.
    boot_to_wall_ns: u64,
}

impl Export {
    pub fn new(boot_to_wall_ns: u64) -> Self {
        Self { model: TaskModel::new(), marks: Vec::new(), boot_to_wall_ns }
    }

    pub fn model(&self) -> &TaskModel {
        &self.model
    }

    pub fn observe(&mut self, event: &Event) {
        let observed = self.model.observe(event);
        let ns = event.timestamp_ns;
        let mark = match (&event.detail, observed) {
            (Detail::Fork { child_tgid, child_tid, clone_flags, .. }, Some(Observed { thread, created, .. })) => {
                let Some((_, child)) = created else { return };
                Mark::Fork {
                    by: thread,
                    child,
                    new_process: *child_tgid != event.tgid,
                    child_tgid: *child_tgid,
                    child_tid: *child_tid,
                    flags: *clone_flags,
                }
            }
            (Detail::Rename { old_comm, new_comm }, Some(observed)) => {
                Mark::Rename { thread: observed.thread, old: old_comm.to_string(), new: new_comm.to_string() }
            }
            (Detail::Lookup { name, target_tgid, .. }, Some(observed)) => {
                Mark::Lookup { thread: observed.thread, name: name.to_string(), target_tgid: *target_tgid }
            }
            (Detail::Lost { count, .. }, _) => Mark::Lost { count: *count },
            _ => return,
        };
        self.marks.push((ns, mark));
    }

    /// Writes the trace; returns the number of packets.
    pub fn write(&self, coverage: Coverage, out: &mut dyn Write) -> io::Result<usize> {
        let mut packets = Packets::new(self.boot_to_wall_ns);
        packets.clock_snapshot(self.model.span().map_or(self.boot_to_wall_ns, |(first, _)| first));
        let span = self.model.span().unwrap_or((0, 0));
        let tracks = Tracks { model: &self.model, coverage, span };
        if self.marks.iter().any(|(_, mark)| matches!(mark, Mark::Lost { .. })) {
            packets.descriptor(
                span.0,
                TrackDescriptor { uuid: Some(TRACER_TRACK), name: Some("tracer".into()), ..TrackDescriptor::default() },
            );
        }
        for (key, _) in self.model.processes() {
            tracks.process(key, &mut packets);
        }
        for (key, _) in self.model.threads() {
            tracks.thread(key, &mut packets);
        }
        for (ns, mark) in &self.marks {
            mark_event(*ns, mark, &mut packets);
        }
        packets.write(out)
    }
}

/// `text` as the trace shows it.
fn shown(text: &str) -> String {
    escape(text).into_owned()
}

fn instant(track: u64, name: String, debug_annotations: Vec<DebugAnnotation>) -> TrackEvent {
    TrackEvent {
        debug_annotations,
        r#type: Some(track_event_type::INSTANT),
        track_uuid: Some(track),
        name: Some(shown(&name)),
        ..TrackEvent::default()
    }
}

fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The tracks and slices of the model's entries.
struct Tracks<'a> {
    model: &'a TaskModel,
    coverage: Coverage,
    /// First and last event time of the recording.
    span: (u64, u64),
}

impl Tracks<'_> {
    /// Where a life outside what was seen is drawn to begin: dated from its exit, else the
    /// recording's start when every birth would have been seen, else its first event.
    fn begin(&self, start: Start, started: Option<u64>, first_seen: u64) -> (u64, &'static str) {
        match (start, started) {
            (Start::Forked { ns, .. }, _) => (ns, "seen"),
            (Start::Unseen, Some(ns)) => (ns, "before the recording (dated from the lifetime at exit)"),
            (Start::Unseen, None) if self.coverage.births => (self.span.0, "before the recording"),
            (Start::Unseen, None) => (first_seen, "not recorded"),
        }
    }

    fn finish(&self, end: End, last_seen: u64) -> (u64, &'static str) {
        match end {
            End::Exited { ns, .. } => (ns, "seen"),
            End::Unseen if self.coverage.deaths => (self.span.1, "after the recording"),
            End::Unseen => (last_seen, "not recorded"),
        }
    }

    fn process(&self, key: ProcessKey, packets: &mut Packets) {
        let process = self.model.process(key);
        let uuid = process_uuid(key);
        let (begin, born) = self.begin(process.start, self.model.process_started_ns(key), process.first_seen_ns);
        let (end, died) = self.finish(process.end, process.last_seen_ns);
        let cmdline: Vec<String> = process
            .execs
            .last()
            .map(|exec| exec.argv.iter().map(|argument| shown(argument)).collect())
            .unwrap_or_default();
        packets.descriptor(
            begin,
            TrackDescriptor {
                uuid: Some(uuid),
                process: Some(ProcessDescriptor {
                    pid: Some(process.tgid as i32),
                    cmdline,
                    process_name: Some(shown(base(self.model.program(key)))),
                }),
                ..TrackDescriptor::default()
            },
        );
        // One slice per program image: the one it was created with, then each exec's.
        let mut images = vec![(begin, format!("({})", process.comm), Vec::new())];
        for exec in &process.execs {
            let mut args = vec![text("filename", &exec.filename), strings("argv", &exec.argv)];
            args.push(flag("argv_truncated", exec.argv_truncated));
            let name = match exec.argv.len() {
                0 | 1 => exec.filename.clone(),
                _ => format!("{} {}", base(&exec.filename), exec.argv[1..].join(" ")),
            };
            images.push((exec.ns.max(begin), name, args));
        }
        let mut ends: Vec<u64> = images.iter().skip(1).map(|(ns, _, _)| *ns).collect();
        ends.push(end.max(images.last().map_or(begin, |(ns, _, _)| *ns)));
        let last = images.len() - 1;
        for (index, ((ns, name, mut args), until)) in images.into_iter().zip(ends).enumerate() {
            if index == 0 {
                args.push(text("started", born));
            }
            if index == last {
                args.push(text("ended", died));
            }
            packets.event(
                ns,
                BEGINS,
                TrackEvent {
                    debug_annotations: args,
                    r#type: Some(track_event_type::SLICE_BEGIN),
                    track_uuid: Some(uuid),
                    name: Some(shown(&name)),
                    ..TrackEvent::default()
                },
            );
            let order = if index == last { ENDS } else { ENDS_IMAGE };
            packets.event(
                until,
                order,
                TrackEvent {
                    r#type: Some(track_event_type::SLICE_END),
                    track_uuid: Some(uuid),
                    ..TrackEvent::default()
                },
            );
        }
    }

    fn thread(&self, key: ThreadKey, packets: &mut Packets) {
        let thread = self.model.thread(key);
        let process = self.model.process(thread.process);
        let uuid = thread_uuid(key);
        let (begin, born) = self.begin(thread.start, thread.started_ns(), thread.first_seen_ns);
        let (end, died) = self.finish(thread.end, thread.last_seen_ns);
        packets.descriptor(
            begin,
            TrackDescriptor {
                uuid: Some(uuid),
                parent_uuid: Some(process_uuid(thread.process)),
                thread: Some(ThreadDescriptor {
                    pid: Some(process.tgid as i32),
                    tid: Some(i64::from(thread.tid)),
                    thread_name: Some(shown(thread.name())),
                }),
                ..TrackDescriptor::default()
            },
        );
        let mut args = vec![uint("tid", thread.tid), text("started", born), text("ended", died)];
        if let Some(tid) = thread.tid_after_exec {
            args.push(uint("tid_after_exec", tid));
        }
        let terminating_flow_ids = match thread.start {
            Start::Forked { .. } => vec![flow_id(key)],
            Start::Unseen => Vec::new(),
        };
        packets.event(
            begin,
            BEGINS,
            TrackEvent {
                debug_annotations: args,
                r#type: Some(track_event_type::SLICE_BEGIN),
                track_uuid: Some(uuid),
                name: Some(shown(thread.name())),
                terminating_flow_ids,
                ..TrackEvent::default()
            },
        );
        for exec in process.execs.iter().filter(|exec| exec.thread == key) {
            let mut args = vec![text("filename", &exec.filename), strings("argv", &exec.argv)];
            args.push(flag("argv_truncated", exec.argv_truncated));
            packets.event(exec.ns, INSTANT, instant(uuid, format!("exec {}", base(&exec.filename)), args));
        }
        if let End::Exited { ns, status } = thread.end {
            // The exit that ended the process is the one the process's end was taken from.
            let group_dead = process.end == thread.end;
            let mut args = Vec::new();
            match (exit_status::code(status), exit_status::signal(status)) {
                (Some(code), _) => args.push(uint("exit_code", code)),
                (None, Some(signal)) => args.push(text("signal", &signal_name(signal))),
                (None, None) => args.push(uint("status", status)),
            }
            args.push(flag("core_dumped", exit_status::core_dumped(status)));
            args.push(flag("group_dead", group_dead));
            if let Some(lifetime) = thread.lifetime_ns {
                args.push(uint("lifetime_ns", lifetime));
            }
            packets.event(ns, INSTANT, instant(uuid, exit_status::status_ending(status), args));
        }
        packets.event(
            end.max(begin),
            ENDS,
            TrackEvent { r#type: Some(track_event_type::SLICE_END), track_uuid: Some(uuid), ..TrackEvent::default() },
        );
    }
}

/// The instant of a fork, rename, lookup or loss.
fn mark_event(ns: u64, mark: &Mark, packets: &mut Packets) {
    let event = match mark {
        Mark::Fork { by, child, new_process, child_tgid, child_tid, flags } => {
            let name =
                if *new_process { format!("fork: process {child_tgid}") } else { format!("clone: thread {child_tid}") };
            let mut args = vec![uint("child_tgid", *child_tgid), uint("child_tid", *child_tid)];
            args.push(flag("thread", !new_process));
            if let Some(flags) = flags {
                args.push(strings("clone_flags", &flags.names()));
            }
            TrackEvent { flow_ids: vec![flow_id(*child)], ..instant(thread_uuid(*by), name, args) }
        }
        Mark::Rename { thread, old, new } => {
            let args = vec![text("old_comm", old), text("new_comm", new)];
            instant(thread_uuid(*thread), format!("rename {old} → {new}"), args)
        }
        Mark::Lookup { thread, name, target_tgid } => {
            let mut args = vec![text("name", name)];
            if let Some(tgid) = target_tgid {
                args.push(uint("target_tgid", *tgid));
                let hidden = name.parse::<u32>().is_ok_and(|tid| tid != *tgid);
                args.push(flag("hidden_thread", hidden));
            }
            instant(thread_uuid(*thread), format!("lookup /proc/{name}"), args)
        }
        Mark::Lost { count } => instant(TRACER_TRACK, format!("{count} events lost"), vec![uint("count", *count)]),
    };
    packets.event(ns, INSTANT, event);
}
