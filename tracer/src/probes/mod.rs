//! The probe plan: which hook serves each event kind on the running kernel. Strategies are
//! tried best first (tp_btf, then raw tracepoints; for `/proc` lookups fentry, kprobe, then
//! syscall entry; for namespace changes fentry, kprobe, then syscall exit); each refusal is recorded with the kernel's reason, so `tracer probes` and
//! the logs say exactly what is attached and why.
use std::{
    collections::{BTreeSet, HashMap},
    fmt,
};

use aya::{
    Btf, Ebpf,
    programs::{BtfTracePoint, FEntry, KProbe, Program, RawTracePoint},
};

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
pub const BTF_TRACEPOINTS: [&str; 5] =
    ["sched_process_fork", "task_newtask", "sched_process_exec", "sched_process_exit", "task_rename"];

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
            tp_btf(vec![
                ("task_newtask", Attach::TpBtf("task_newtask")),
                ("sched_process_fork", Attach::TpBtf("sched_process_fork")),
            ]),
            raw(vec![
                ("task_newtask_raw", Attach::RawTracepoint("task_newtask")),
                ("sched_process_fork_raw", Attach::RawTracepoint("sched_process_fork")),
            ]),
        ],
        Kind::Exec => vec![
            tp_btf(vec![("sched_process_exec", Attach::TpBtf("sched_process_exec"))]),
            raw(vec![("sched_process_exec_raw", Attach::RawTracepoint("sched_process_exec"))]),
        ],
        Kind::Exit => {
            // Linux 6.16 added `group_dead`; the program must not read an argument that is absent.
            let program = match tracepoints.get("sched_process_exit") {
                Some(arguments) if arguments >= 2 => "sched_process_exit",
                _ => "sched_process_exit_task_only",
            };
            vec![
                tp_btf(vec![(program, Attach::TpBtf("sched_process_exit"))]),
                raw(vec![("sched_process_exit_raw", Attach::RawTracepoint("sched_process_exit"))]),
            ]
        }
        Kind::Rename => vec![
            tp_btf(vec![("task_rename", Attach::TpBtf("task_rename"))]),
            raw(vec![("task_rename_raw", Attach::RawTracepoint("task_rename"))]),
        ],
        Kind::Lookup => vec![
            Strategy {
                source: Source::Fentry,
                programs: vec![("proc_root_lookup", Attach::Fentry("proc_root_lookup"))],
                unavailable: None,
                costly: None,
            },
            Strategy {
                source: Source::Kprobe,
                programs: vec![("proc_root_lookup_kprobe", Attach::Kprobe("proc_root_lookup"))],
                unavailable: None,
                costly: None,
            },
            Strategy {
                source: Source::SyscallEntry,
                programs: vec![("proc_path_syscalls", Attach::RawTracepoint("sys_enter"))],
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
                        ("switch_task_namespaces", Attach::Fentry("switch_task_namespaces")),
                        ("commit_creds", Attach::Fentry("commit_creds")),
                    ],
                    unavailable: x86_only.clone(),
                    costly: None,
                },
                Strategy {
                    source: Source::Kprobe,
                    programs: vec![
                        ("switch_task_namespaces_kprobe", Attach::Kprobe("switch_task_namespaces")),
                        ("commit_creds_kprobe", Attach::Kprobe("commit_creds")),
                    ],
                    unavailable: x86_only.clone(),
                    costly: None,
                },
                Strategy {
                    source: Source::SyscallExit,
                    programs: vec![
                        ("namespace_syscalls_enter", Attach::RawTracepoint("sys_enter")),
                        ("namespace_syscalls_exit", Attach::RawTracepoint("sys_exit")),
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

/// Programs of one kind, by name, taken out of the object so that a worker owns them.
type KindPrograms<'a> = HashMap<&'a str, &'a mut Program>;

/// At most this many threads load programs at once: the kernel verifies each program on the
/// loading thread's CPU, and one program (fork's) takes about as long as all the others.
const LOADERS: usize = 2;

/// Loads and attaches, for each kind, the first strategy the kernel accepts (or only the forced
/// one). Kinds no strategy serves are left in the plan with their reasons; the caller decides.
/// For `optional` kinds (not asked for by name), costly strategies are not tried.
///
/// Kinds are loaded by up to [`LOADERS`] threads, each taking the next kind: a kind's strategies
/// stay in order, and kinds share no programs.
pub fn attach(
    ebpf: &mut Ebpf,
    btf: &Btf,
    tracepoints: &TracepointArguments,
    kinds: &[Kind],
    forced: &HashMap<Kind, Source>,
    optional: &BTreeSet<Kind>,
) -> ProbePlan {
    let mut programs: KindPrograms = ebpf.programs_mut().collect();
    let queue: Vec<(usize, Kind, KindPrograms)> = kinds
        .iter()
        .enumerate()
        .map(|(index, &kind)| {
            let mine = strategies(kind, tracepoints)
                .iter()
                .flat_map(|strategy| strategy.programs.iter().map(|(name, _)| *name))
                .filter_map(|name| programs.remove_entry(name))
                .collect();
            (index, kind, mine)
        })
        .collect();
    let queue = std::sync::Mutex::new(queue.into_iter());
    let choices = std::sync::Mutex::new(Vec::with_capacity(kinds.len()));
    let work = || {
        loop {
            let next = queue.lock().map(|mut queue| queue.next());
            let Ok(Some((index, kind, mut programs))) = next else { break };
            let choice = choose(kind, &mut programs, btf, tracepoints, forced, optional);
            if let Ok(mut choices) = choices.lock() {
                choices.push((index, choice));
            }
        }
    };
    let loaders = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, LOADERS);
    std::thread::scope(|scope| {
        for _ in 1..loaders {
            // No thread to spare: the others (and this one) do its share.
            let _ = std::thread::Builder::new().name("tracer-attach".into()).spawn_scoped(scope, work);
        }
        work();
    });
    let mut choices = choices.into_inner().unwrap_or_default();
    choices.sort_by_key(|(index, _)| *index);
    ProbePlan { choices: choices.into_iter().map(|(_, choice)| choice).collect() }
}

/// Tries `kind`'s strategies in order until one attaches.
fn choose(
    kind: Kind,
    programs: &mut KindPrograms,
    btf: &Btf,
    tracepoints: &TracepointArguments,
    forced: &HashMap<Kind, Source>,
    optional: &BTreeSet<Kind>,
) -> Choice {
    let mut choice = Choice { kind, attempts: Vec::new(), skipped: false, cost: None };
    for strategy in strategies(kind, tracepoints) {
        if forced.get(&kind).is_some_and(|source| *source != strategy.source) {
            continue;
        }
        if let Some(cost) = strategy.costly
            && optional.contains(&kind)
            && !forced.contains_key(&kind)
        {
            let reason = format!("not attached unless asked for by name (-e {}): {cost}", kind.name());
            log::info!("{}: {} {reason}", kind.name(), strategy.source.name());
            choice.attempts.push(Attempt { source: strategy.source, outcome: Err(reason) });
            choice.skipped = true;
            break;
        }
        let outcome = match &strategy.unavailable {
            Some(reason) => Err(reason.clone()),
            None => attach_strategy(programs, btf, &strategy),
        };
        match &outcome {
            Ok(_) => log::debug!("{}: attached {}", kind.name(), strategy.source.name()),
            Err(reason) => log::info!("{}: {} refused: {reason}", kind.name(), strategy.source.name()),
        }
        let attached = outcome.is_ok();
        choice.attempts.push(Attempt { source: strategy.source, outcome });
        if attached {
            choice.cost = strategy.costly;
            break;
        }
    }
    choice
}

fn attach_strategy(programs: &mut KindPrograms, btf: &Btf, strategy: &Strategy) -> Result<Vec<String>, String> {
    let mut attached: Vec<String> = Vec::new();
    for (name, how) in &strategy.programs {
        let started = std::time::Instant::now();
        let outcome = match programs.get_mut(name) {
            Some(program) => attach_program(program, btf, *how),
            None => Err(format!("the object has no program {name}")),
        };
        log::debug!("{name}: loaded and attached in {:?}", started.elapsed());
        if let Err(reason) = outcome {
            // Leave nothing half-attached: the next strategy must not double-report events.
            for done in attached.iter().map(String::as_str).chain([*name]) {
                if let Some(program) = programs.get_mut(done) {
                    unload(program);
                }
            }
            return Err(reason);
        }
        attached.push((*name).to_owned());
    }
    Ok(attached)
}

fn attach_program(program: &mut Program, btf: &Btf, how: Attach) -> Result<(), String> {
    match how {
        Attach::TpBtf(tracepoint) => <&mut BtfTracePoint>::try_from(program).map_err(error_chain).and_then(|program| {
            program.load(tracepoint, btf).map_err(error_chain)?;
            program.attach().map(drop).map_err(error_chain)
        }),
        Attach::RawTracepoint(tracepoint) => {
            <&mut RawTracePoint>::try_from(program).map_err(error_chain).and_then(|program| {
                program.load().map_err(error_chain)?;
                program.attach(tracepoint).map(drop).map_err(error_chain)
            })
        }
        Attach::Fentry(function) => <&mut FEntry>::try_from(program).map_err(error_chain).and_then(|program| {
            program.load(function, btf).map_err(error_chain)?;
            program.attach().map(drop).map_err(error_chain)
        }),
        Attach::Kprobe(function) => <&mut KProbe>::try_from(program).map_err(error_chain).and_then(|program| {
            // Without the kprobe PMU no kprobe can attach: say so before loading for nothing.
            if !std::path::Path::new(KPROBE_PMU_TYPE).exists() {
                return Err(format!("`{KPROBE_PMU_TYPE}` does not exist: this kernel has no kprobe PMU"));
            }
            program.load().map_err(error_chain)?;
            program.attach(function, 0).map(drop).map_err(error_chain)
        }),
    }
}

/// What aya's kprobe attach reads first.
const KPROBE_PMU_TYPE: &str = "/sys/bus/event_source/devices/kprobe/type";

fn unload(program: &mut Program) {
    // Unloading also detaches; a program that never loaded has nothing to undo.
    let _ = match program {
        Program::BtfTracePoint(program) => program.unload(),
        Program::RawTracePoint(program) => program.unload(),
        Program::FEntry(program) => program.unload(),
        Program::KProbe(program) => program.unload(),
        _ => Ok(()),
    };
}

/// An error and its sources on one line, verifier logs cut to their last lines.
fn error_chain(error: impl std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    let line = parts.join(": ").split_whitespace().collect::<Vec<_>>().join(" ");
    const LIMIT: usize = 300;
    if line.len() > LIMIT {
        let mut cut = line.len() - LIMIT;
        while !line.is_char_boundary(cut) {
            cut += 1;
        }
        format!("…{}", &line[cut..])
    } else {
        line
    }
}
