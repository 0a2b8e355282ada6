//! `tracer-workload storm --shape thread|fork|exec|exec-8k --tasks N [--cores one|all]`: creates
//! N tasks of one shape as fast as it can, as load for `cargo xtask bench`.
//!
//! - `thread`: `pthread_create` + `pthread_join` of a thread that returns at once;
//! - `fork`: `fork()`, the child calls `_exit(0)`, the parent `waitpid`s it;
//! - `exec`: `fork()`, the child `execv`s `/bin/true`, the parent `waitpid`s it;
//! - `exec-8k`: the same with 8 KiB of arguments (32 of 255 bytes), a build's long command line.
//!
//! `--cores one` pins the process to CPU 0 and creates every task from the main thread.
//! `--cores all` starts one worker thread per CPU this process may run on, pins each to its CPU
//! and splits N between them (the first `N % workers` get one more); those workers are tasks
//! too, so the process then creates `N + workers` tasks in all.
//!
//! At the end it prints one JSON line on stdout:
//! `{"shape":"thread","cores":"all","tasks":N,"workers":2,"wall_ns":…,"cpu_ns":…}`, where `wall_ns`
//! runs from just before the first task is created (workers included) to just after the last is
//! reaped, and `cpu_ns` is the CPU time (user and system) the storm's tasks used over that span:
//! this process's threads and its reaped children, exec'd programs included.
//! It exits 2 with one line on stderr on bad arguments, 1 when a task cannot be created or a
//! child does not exit 0.
use std::{
    ffi::CString,
    process::ExitCode,
    ptr,
    sync::{Arc, Barrier},
    time::Instant,
};

const USAGE: &str = "usage: tracer-workload storm --shape thread|fork|exec|exec-8k --tasks N [--cores one|all]";
/// Arguments after the program name in the `exec-8k` shape, and the bytes of each.
const LONG_ARGS: (usize, usize) = (32, 255);
/// The tiny program the `exec` shape runs.
const EXEC_PROGRAM: &str = "/bin/true";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Thread,
    Fork,
    Exec,
    /// An exec with 8 KiB of arguments.
    ExecLong,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Thread => "thread",
            Shape::Fork => "fork",
            Shape::Exec => "exec",
            Shape::ExecLong => "exec-8k",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cores {
    One,
    All,
}

impl Cores {
    fn name(self) -> &'static str {
        match self {
            Cores::One => "one",
            Cores::All => "all",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Options {
    shape: Shape,
    tasks: u64,
    cores: Cores,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut shape = None;
    let mut tasks = None;
    let mut cores = Cores::One;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        if !matches!(name, "--shape" | "--tasks" | "--cores") {
            return Err(format!("unknown argument `{arg}`"));
        }
        let value = match inline.or_else(|| args.next().cloned()) {
            Some(value) => value,
            None => return Err(format!("{name} needs a value")),
        };
        match name {
            "--shape" => {
                shape = Some(match value.as_str() {
                    "thread" => Shape::Thread,
                    "fork" => Shape::Fork,
                    "exec" => Shape::Exec,
                    "exec-8k" => Shape::ExecLong,
                    _ => return Err(format!("--shape must be thread, fork, exec or exec-8k, not `{value}`")),
                })
            }
            "--tasks" => {
                tasks =
                    Some(value.parse::<u64>().map_err(|_| format!("--tasks must be a whole number, not `{value}`"))?)
            }
            _ => {
                cores = match value.as_str() {
                    "one" => Cores::One,
                    "all" => Cores::All,
                    _ => return Err(format!("--cores must be one or all, not `{value}`")),
                }
            }
        }
    }
    Ok(Options { shape: shape.ok_or("--shape is required")?, tasks: tasks.ok_or("--tasks is required")?, cores })
}

pub fn run(args: &[String]) -> ExitCode {
    let options = match parse(args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("tracer-workload storm: {message} ({USAGE})");
            return ExitCode::from(2);
        }
    };
    let cpu_before = cpu_ns();
    match storm(&options) {
        Ok((workers, wall_ns)) => {
            let cpu_ns = cpu_ns().saturating_sub(cpu_before);
            println!(
                "{{\"shape\":\"{}\",\"cores\":\"{}\",\"tasks\":{},\"workers\":{workers},\"wall_ns\":{wall_ns},\"cpu_ns\":{cpu_ns}}}",
                options.shape.name(),
                options.cores.name(),
                options.tasks
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("tracer-workload storm: {message}");
            ExitCode::from(1)
        }
    }
}

/// User and system time of this process (every thread, live or gone) and of its reaped
/// children, in ns.
fn cpu_ns() -> u128 {
    let used = |who| {
        // SAFETY: getrusage fills the zeroed struct it is given; it cannot fail for these `who`.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut usage) };
        [usage.ru_utime, usage.ru_stime]
            .iter()
            .map(|time| time.tv_sec as u128 * 1_000_000_000 + time.tv_usec as u128 * 1_000)
            .sum::<u128>()
    };
    used(libc::RUSAGE_SELF) + used(libc::RUSAGE_CHILDREN)
}

/// Runs the storm; returns the number of worker threads started and the wall time in ns.
fn storm(options: &Options) -> Result<(usize, u128), String> {
    let program = CString::new(EXEC_PROGRAM).expect("no NUL in the program path");
    match options.cores {
        Cores::One => {
            pin_to(0).map_err(|error| format!("cannot pin to CPU 0: {error}"))?;
            let start = Instant::now();
            create_tasks(options.shape, options.tasks, &program)?;
            Ok((0, start.elapsed().as_nanos()))
        }
        Cores::All => {
            let cpus = allowed_cpus().map_err(|error| format!("cannot read the CPU affinity: {error}"))?;
            let workers = cpus.len();
            let barrier = Arc::new(Barrier::new(workers + 1));
            let start = Instant::now();
            let mut handles = Vec::with_capacity(workers);
            for (index, cpu) in cpus.into_iter().enumerate() {
                let share = options.tasks / workers as u64 + u64::from((index as u64) < options.tasks % workers as u64);
                let barrier = Arc::clone(&barrier);
                let program = program.clone();
                let shape = options.shape;
                handles.push(std::thread::spawn(move || {
                    let pinned = pin_to(cpu).map_err(|error| format!("cannot pin a worker to CPU {cpu}: {error}"));
                    barrier.wait();
                    pinned?;
                    create_tasks(shape, share, &program)
                }));
            }
            // Workers start creating tasks together, once every one is pinned.
            barrier.wait();
            let mut result = Ok(());
            for handle in handles {
                let outcome = handle.join().unwrap_or_else(|_| Err("a worker panicked".to_owned()));
                if result.is_ok() {
                    result = outcome;
                }
            }
            let wall = start.elapsed().as_nanos();
            result.map(|()| (workers, wall))
        }
    }
}

fn create_tasks(shape: Shape, count: u64, program: &CString) -> Result<(), String> {
    match shape {
        Shape::Thread => (0..count).try_for_each(|_| thread_task()),
        Shape::Fork => (0..count).try_for_each(|_| fork_task(None)),
        Shape::Exec => {
            let argv = [program.as_ptr(), ptr::null()];
            (0..count).try_for_each(|_| fork_task(Some(&argv)))
        }
        Shape::ExecLong => {
            let (number, bytes) = LONG_ARGS;
            let argument = CString::new(vec![b'x'; bytes]).expect("no NUL");
            let mut argv = vec![program.as_ptr()];
            argv.extend(std::iter::repeat_n(argument.as_ptr(), number));
            argv.push(ptr::null());
            (0..count).try_for_each(|_| fork_task(Some(&argv)))
        }
    }
}

extern "C" fn thread_body(_: *mut libc::c_void) -> *mut libc::c_void {
    ptr::null_mut()
}

/// Creates a thread that returns at once and joins it. Raw pthreads: glibc reuses the stacks of
/// joined threads, where `std::thread` would also allocate a name, a packet and an Arc.
fn thread_task() -> Result<(), String> {
    let mut thread: libc::pthread_t = 0;
    // SAFETY: default attributes; the body touches nothing.
    let error = unsafe { libc::pthread_create(&mut thread, ptr::null(), thread_body, ptr::null_mut()) };
    if error != 0 {
        return Err(format!("pthread_create failed: {}", std::io::Error::from_raw_os_error(error)));
    }
    // SAFETY: `thread` was just created and is joined exactly once.
    let error = unsafe { libc::pthread_join(thread, ptr::null_mut()) };
    if error != 0 {
        return Err(format!("pthread_join failed: {}", std::io::Error::from_raw_os_error(error)));
    }
    Ok(())
}

/// Forks a child that exits 0 at once, or execs `argv[0]` when given, and reaps it.
fn fork_task(argv: Option<&[*const libc::c_char]>) -> Result<(), String> {
    // SAFETY: the child only calls async-signal-safe functions (execv, _exit) on memory prepared
    // before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork failed: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        unsafe {
            if let Some(argv) = argv {
                libc::execv(argv[0], argv.as_ptr());
                libc::_exit(127);
            }
            libc::_exit(0);
        }
    }
    let mut status = 0;
    loop {
        // SAFETY: `pid` is our child and `status` a valid out-pointer.
        let reaped = unsafe { libc::waitpid(pid, &mut status, 0) };
        if reaped == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("waitpid({pid}) failed: {error}"));
        }
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(match argv {
            Some(_) if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 127 => {
                format!("cannot exec {EXEC_PROGRAM} in the child")
            }
            _ => format!("child {pid} ended with wait status {status:#x}"),
        });
    }
    Ok(())
}

/// Pins the calling thread (and the tasks it creates from now on) to `cpu`.
fn pin_to(cpu: usize) -> std::io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET stays in bounds for cpu < CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The CPUs this process may run on (online ones within its affinity mask).
fn allowed_cpus() -> std::io::Result<Vec<usize>> {
    // SAFETY: `set` is a valid out-buffer of the size passed.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((0..libc::CPU_SETSIZE as usize).filter(|&cpu| libc::CPU_ISSET(cpu, &set)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(
            parse(&args("--shape fork --tasks 10 --cores all")),
            Ok(Options { shape: Shape::Fork, tasks: 10, cores: Cores::All })
        );
        assert_eq!(
            parse(&args("--tasks=3 --shape=exec")),
            Ok(Options { shape: Shape::Exec, tasks: 3, cores: Cores::One })
        );
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(parse(&args("--shape fork")).is_err());
        assert!(parse(&args("--tasks 3")).is_err());
        assert!(parse(&args("--shape spawn --tasks 3")).is_err());
        assert!(parse(&args("--shape fork --tasks -3")).is_err());
        assert!(parse(&args("--shape fork --tasks 3 --cores two")).is_err());
        assert!(parse(&args("--shape fork --tasks 3 --verbose")).is_err());
        assert!(parse(&args("--shape fork --tasks")).is_err());
    }

    #[test]
    fn creates_tasks_of_every_shape() {
        let program = CString::new(EXEC_PROGRAM).unwrap();
        for shape in [Shape::Thread, Shape::Fork, Shape::Exec, Shape::ExecLong] {
            create_tasks(shape, 3, &program).unwrap();
        }
    }
}
