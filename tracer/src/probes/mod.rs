//! The probe plan: which hook serves each event kind on the running kernel. Strategies are
//! tried best first (tp_btf, then raw tracepoints; for `/proc` lookups fentry, kprobe, then
//! syscall entry; for namespace changes fentry, kprobe, then syscall exit); each refusal is
//! recorded with the kernel's reason, so `tracer probes` and the logs say exactly what is
//! attached and why.
use std::{collections::HashMap, fmt};

use tracer_common::program as p;

mod attach;
pub use attach::attach;

use crate::{
    event::{Kind, Source},
    kernel_btf::TracepointArguments,
};

/// How one program attaches.
#[derive(Clone, Copy, Debug)]
enum Attach {
    TpBtf(&'static str),
    RawTracepoint(&'static str),
    Fentry(&'static str),
    Kprobe(&'static str),
}

/// One way to serve an event kind: the programs (by name in the object) it needs.
struct Strategy {
    source: Source,
    programs: Vec<(&'static str, Attach)>,
    /// Why this strategy cannot even be tried on this kernel.
    unavailable: Option<String>,
    /// What it costs every task, when that is too much to pay for a kind nobody asked for.
    costly: Option<&'static str>,
}

/// What happened when a strategy was tried.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub source: Source,
    /// `Ok` with the attached programs, or the reason it was refused.
    pub outcome: Result<Vec<String>, String>,
}

/// The outcome for one event kind.
#[derive(Clone, Debug)]
pub struct Choice {
    pub kind: Kind,
    pub attempts: Vec<Attempt>,
    /// The kind was not asked for by name and only a costly strategy was left: left out.
    pub skipped: bool,
    /// The chosen strategy's cost, when it has one worth saying.
    pub cost: Option<&'static str>,
}

impl Choice {
    /// The strategy serving this kind, if any attached.
    pub fn chosen(&self) -> Option<Source> {
        self.attempts.iter().find(|attempt| attempt.outcome.is_ok()).map(|attempt| attempt.source)
    }
}

/// Which hook serves each requested event kind.
#[derive(Clone, Debug, Default)]
pub struct ProbePlan {
    pub choices: Vec<Choice>,
}

impl ProbePlan {
    pub fn attached_programs(&self) -> usize {
        self.choices
            .iter()
            .flat_map(|choice| &choice.attempts)
            .filter_map(|attempt| attempt.outcome.as_ref().ok())
            .map(Vec::len)
            .sum()
    }

    /// Kinds nothing could serve (kinds left out for their cost are not missing).
    pub fn unserved(&self) -> Vec<Kind> {
        self.choices
            .iter()
            .filter(|choice| choice.chosen().is_none() && !choice.skipped)
            .map(|choice| choice.kind)
            .collect()
    }

    /// Whether `kind` was left out for its cost.
    pub fn skips(&self, kind: Kind) -> bool {
        self.choices.iter().any(|choice| choice.kind == kind && choice.skipped)
    }

    /// What a run says about `kind` when it was left out for its cost.
    pub fn left_out(&self, kind: Kind) -> Option<String> {
        let choice = self.choices.iter().find(|choice| choice.kind == kind && choice.skipped)?;
        let source = choice.attempts.last().map_or("its only hook", |attempt| attempt.source.name());
        Some(format!(
            "not {name}: this kernel serves it only by {source}, which costs every system call; \
             -e {name} traces it",
            name = kind.name()
        ))
    }

    /// Whether `kind` is served.
    pub fn serves(&self, kind: Kind) -> bool {
        self.choices.iter().any(|choice| choice.kind == kind && choice.chosen().is_some())
    }

    /// Why `kinds` are not served, on one line, naming the hooks forced with `--hook`.
    pub fn refusals(&self, kinds: &[Kind], forced: &HashMap<Kind, Source>) -> String {
        let mut parts = Vec::new();
        for choice in self.choices.iter().filter(|choice| kinds.contains(&choice.kind)) {
            let kind = choice.kind.name();
            let refused: Vec<String> = choice
                .attempts
                .iter()
                .filter_map(|attempt| attempt.outcome.as_ref().err().map(|reason| (attempt.source, reason)))
                .map(|(source, reason)| format!("{} refused: {reason}", source.name()))
                .collect();
            let refused = if refused.is_empty() { "no hook to try".to_owned() } else { refused.join("; ") };
            match forced.get(&choice.kind) {
                Some(source) => parts.push(format!(
                    "{refused} (forced with --hook {kind}={}; `tracer probes` shows which hooks attach here)",
                    source.name()
                )),
                None if kinds.len() > 1 => parts.push(format!("{kind}: {refused}")),
                None => parts.push(refused),
            }
        }
        parts.join("; ")
    }
}

impl fmt::Display for ProbePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<8} {:<16} DETAILS", "EVENT", "HOOK")?;
        for choice in &self.choices {
            let chosen = choice.chosen().map_or("none", Source::name);
            let mut details = Vec::new();
            for attempt in &choice.attempts {
                match &attempt.outcome {
                    Ok(programs) => details.push(format!("attached {}", programs.join(", "))),
                    Err(reason) => details.push(format!("{} refused: {reason}", attempt.source.name())),
                }
            }
            if let Some(cost) = choice.cost {
                details.push(format!("attached only when asked for by name (-e {}): {cost}", choice.kind.name()));
            }
            writeln!(f, "{:<8} {:<16} {}", choice.kind.name(), chosen, details.join("; "))?;
        }
        Ok(())
    }
}

/// Every tracepoint a `tp_btf` strategy may attach to.
pub const BTF_TRACEPOINTS: [&str; 4] = ["task_newtask", "sched_process_exec", "sched_process_exit", "task_rename"];

/// Every function an `fentry` strategy may attach to.
pub const FENTRY_FUNCTIONS: [&str; 3] = ["proc_root_lookup", "switch_task_namespaces", "commit_creds"];

/// Strategies for `kind`, best first.
fn strategies(kind: Kind, tracepoints: &TracepointArguments) -> Vec<Strategy> {
    let tp_btf = |programs: Vec<(&'static str, Attach)>| {
        let missing: Vec<&str> = programs
            .iter()
            .filter_map(|(_, attach)| match attach {
                Attach::TpBtf(name) if tracepoints.get(name).is_none() => Some(*name),
                _ => None,
            })
            .collect();
        Strategy {
            source: Source::TpBtf,
            programs,
            unavailable: (!missing.is_empty()).then(|| format!("kernel BTF has no tracepoint {}", missing.join(", "))),
            costly: None,
        }
    };
    let raw = |programs: Vec<(&'static str, Attach)>| Strategy {
        source: Source::RawTracepoint,
        programs,
        unavailable: None,
        costly: None,
    };
    match kind {
        Kind::Fork => vec![
            tp_btf(vec![(p::TASK_NEWTASK, Attach::TpBtf("task_newtask"))]),
            raw(vec![(p::TASK_NEWTASK_RAW, Attach::RawTracepoint("task_newtask"))]),
        ],
        Kind::Exec => vec![
            tp_btf(vec![(p::SCHED_PROCESS_EXEC, Attach::TpBtf("sched_process_exec"))]),
            raw(vec![(p::SCHED_PROCESS_EXEC_RAW, Attach::RawTracepoint("sched_process_exec"))]),
        ],
        Kind::Exit => {
            // Linux 6.16 added `group_dead`; the program must not read an argument that is absent.
            let program = match tracepoints.get("sched_process_exit") {
                Some(arguments) if arguments >= 2 => p::SCHED_PROCESS_EXIT,
                _ => p::SCHED_PROCESS_EXIT_TASK_ONLY,
            };
            vec![
                tp_btf(vec![(program, Attach::TpBtf("sched_process_exit"))]),
                raw(vec![(p::SCHED_PROCESS_EXIT_RAW, Attach::RawTracepoint("sched_process_exit"))]),
            ]
        }
        Kind::Rename => vec![
            tp_btf(vec![(p::TASK_RENAME, Attach::TpBtf("task_rename"))]),
            raw(vec![(p::TASK_RENAME_RAW, Attach::RawTracepoint("task_rename"))]),
        ],
        Kind::Lookup => vec![
            Strategy {
                source: Source::Fentry,
                programs: vec![(p::PROC_ROOT_LOOKUP, Attach::Fentry("proc_root_lookup"))],
                unavailable: None,
                costly: None,
            },
            Strategy {
                source: Source::Kprobe,
                programs: vec![(p::PROC_ROOT_LOOKUP_KPROBE, Attach::Kprobe("proc_root_lookup"))],
                unavailable: None,
                costly: None,
            },
            Strategy {
                source: Source::SyscallEntry,
                programs: vec![(p::PROC_PATH_SYSCALLS, Attach::RawTracepoint("sys_enter"))],
                unavailable: (!cfg!(target_arch = "x86_64"))
                    .then(|| "the syscall fallback knows x86-64 syscall numbers only".to_owned()),
                costly: None,
            },
        ],
        Kind::Namespace => {
            let x86_only =
                (!cfg!(target_arch = "x86_64")).then(|| "namespace hooks know x86-64 syscall numbers only".to_owned());
            vec![
                Strategy {
                    source: Source::Fentry,
                    programs: vec![
                        (p::SWITCH_TASK_NAMESPACES, Attach::Fentry("switch_task_namespaces")),
                        (p::COMMIT_CREDS, Attach::Fentry("commit_creds")),
                    ],
                    unavailable: x86_only.clone(),
                    costly: None,
                },
                Strategy {
                    source: Source::Kprobe,
                    programs: vec![
                        (p::SWITCH_TASK_NAMESPACES_KPROBE, Attach::Kprobe("switch_task_namespaces")),
                        (p::COMMIT_CREDS_KPROBE, Attach::Kprobe("commit_creds")),
                    ],
                    unavailable: x86_only.clone(),
                    costly: None,
                },
                Strategy {
                    source: Source::SyscallExit,
                    programs: vec![
                        (p::NAMESPACE_SYSCALLS_ENTER, Attach::RawTracepoint("sys_enter")),
                        (p::NAMESPACE_SYSCALLS_EXIT, Attach::RawTracepoint("sys_exit")),
                    ],
                    unavailable: x86_only,
                    costly: Some("two programs run at every syscall's entry and exit, on every task"),
                },
            ]
        }
        Kind::Lost => Vec::new(),
    }
}

/// The strategies a user may force per kind (`--hook KIND=STRATEGY`).
pub fn strategy_names(kind: Kind) -> &'static [Source] {
    match kind {
        Kind::Fork | Kind::Exec | Kind::Exit | Kind::Rename => &[Source::TpBtf, Source::RawTracepoint],
        Kind::Lookup => &[Source::Fentry, Source::Kprobe, Source::SyscallEntry],
        Kind::Namespace => &[Source::Fentry, Source::Kprobe, Source::SyscallExit],
        Kind::Lost => &[],
    }
}
