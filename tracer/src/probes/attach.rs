//! Loading and attaching the probe plan's programs: each kind's strategies in order, kinds on
//! up to two threads (the kernel verifies a program on the loading thread's CPU).
use std::collections::{BTreeSet, HashMap};

use aya::{
    Btf, Ebpf,
    programs::{BtfTracePoint, FEntry, KProbe, Program, RawTracePoint},
};

use super::{Attach, Attempt, Choice, ProbePlan, Strategy, strategies};
use crate::{
    event::{Kind, Source},
    kernel_btf::TracepointArguments,
};

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
