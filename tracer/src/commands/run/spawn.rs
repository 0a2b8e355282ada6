//! Starting `tracer run`'s command so that it is traced from its first instruction and starts
//! exactly as it would have untraced.
//!
//! The child of `fork` names itself as exec will name it (so the kernel's rename at exec is no
//! change, and no "rename" from tracer's name is reported), marks itself followed in the kernel
//! under its global TGID, restores the signal dispositions and mask tracer inherited, and
//! exec's with `execvp`, like a shell. Everything else it inherits untouched: environment,
//! working directory, process group, and every descriptor tracer was given (all of tracer's own
//! are close-on-exec).
use std::{
    ffi::{CString, OsStr, OsString},
    io,
    os::{
        fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
        unix::ffi::OsStrExt,
    },
    path::{Path, PathBuf},
};

use super::signals::Startup;

/// Why the command could not start, with the exit status a shell would give.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("tracer run needs a command: tracer run [OPTIONS] -- COMMAND [ARGS...]")]
    NoCommand,
    #[error("cannot run {0}: command not found")]
    NotFound(String),
    #[error("cannot run {0}: {1}")]
    Exec(String, io::Error),
    #[error("a command argument contains a NUL byte")]
    Nul,
    #[error("cannot start the command: {0}")]
    Fork(io::Error),
    #[error("cannot follow the command in the kernel: {0}")]
    Follow(io::Error),
    #[error(
        "cannot follow the command in the kernel: this kernel cannot run BPF programs on demand (needs Linux 5.10)"
    )]
    FollowUnsupported,
    #[error("cannot follow the command in the kernel: tracer's map of followed processes is full")]
    FollowFull,
}

impl LaunchError {
    /// 127 for a command that does not exist, 126 for one that cannot be executed (as shells
    /// do), 2 for no command at all, 1 for tracer's own failures.
    pub fn exit_status(&self) -> u8 {
        match self {
            Self::NoCommand | Self::Nul => 2,
            Self::NotFound(_) => 127,
            Self::Exec(_, error) if error.kind() == io::ErrorKind::NotFound => 127,
            Self::Exec(..) => 126,
            Self::Fork(_) | Self::Follow(_) | Self::FollowUnsupported | Self::FollowFull => 1,
        }
    }
}

/// The search path `execvp` uses when `PATH` is unset (glibc).
const DEFAULT_PATH: &[u8] = b"/bin:/usr/bin";

/// Checks, before anything is loaded, that `program` can be found and executed, by the rules
/// `execvp` follows: a name with a slash is a path; otherwise the first executable entry of
/// `PATH` wins, and an entry that exists but cannot be executed makes "permission denied"
/// rather than "not found". The real exec decides in the end; this only gives the usual
/// failures their one clear line before tracer attaches.
pub fn check_program(program: &OsStr, path_variable: Option<&OsStr>) -> Result<PathBuf, LaunchError> {
    let shown = Path::new(program).display().to_string();
    let bytes = program.as_bytes();
    if bytes.is_empty() {
        return Err(LaunchError::NotFound(shown));
    }
    if bytes.contains(&b'/') {
        return executable(Path::new(program))
            .map(|()| PathBuf::from(program))
            .map_err(|e| LaunchError::Exec(shown, e));
    }
    let search = path_variable.map_or(DEFAULT_PATH, OsStr::as_bytes);
    let mut denied = None;
    for directory in search.split(|&byte| byte == b':') {
        // An empty entry means the working directory.
        let directory = if directory.is_empty() { Path::new(".") } else { Path::new(OsStr::from_bytes(directory)) };
        let candidate = directory.join(program);
        match executable(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(error) if error.kind() == io::ErrorKind::PermissionDenied => denied = Some(error),
            Err(_) => {}
        }
    }
    Err(match denied {
        Some(error) => LaunchError::Exec(shown, error),
        None => LaunchError::NotFound(shown),
    })
}

/// Whether exec could run `path`: it exists, is not a directory, and may be executed.
fn executable(path: &Path) -> io::Result<()> {
    let metadata = std::fs::metadata(path)?;
    if metadata.is_dir() {
        return Err(io::Error::from_raw_os_error(libc::EISDIR));
    }
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: a valid NUL-terminated path.
    if unsafe { libc::access(c_path.as_ptr(), libc::X_OK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The comm exec gives a process: the last component of the path it was given, at most 15
/// bytes (`execvp` passes `DIR/NAME` for a name found in `PATH`, so that is NAME as well).
pub fn comm_after_exec(program: &OsStr) -> CString {
    let bytes = program.as_bytes();
    let name = bytes.rsplit(|&byte| byte == b'/').next().unwrap_or(bytes);
    let name: Vec<u8> = name.iter().copied().filter(|&byte| byte != 0).take(15).collect();
    CString::new(name).unwrap_or_default()
}

/// What the child needs, prepared before fork: after it, it may only make system calls.
struct Plan {
    /// The strings `argv` points into.
    _arguments: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    comm: CString,
    follow_program: Option<RawFd>,
    startup: Startup,
}

/// Where the child failed, sent to tracer through the status pipe with errno.
const STAGE_EXEC: u32 = 1;
const STAGE_FOLLOW: u32 = 2;
const STAGE_FOLLOW_FULL: u32 = 3;

/// Forks and exec's `command`. With `follow_program` (the kernel's `follow_self`), the child
/// marks itself followed first. Returns the child's PID once it exec'd.
pub fn spawn(command: &[OsString], follow_program: Option<RawFd>) -> Result<libc::pid_t, LaunchError> {
    let program = command.first().ok_or(LaunchError::NoCommand)?;
    let arguments: Vec<CString> = command
        .iter()
        .map(|argument| CString::new(argument.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| LaunchError::Nul)?;
    let mut argv: Vec<*const libc::c_char> = arguments.iter().map(|argument| argument.as_ptr()).collect();
    argv.push(std::ptr::null());
    let plan = Plan {
        comm: comm_after_exec(program),
        _arguments: arguments,
        argv,
        follow_program,
        startup: Startup::recorded(),
    };
    let (status_read, status_write) = status_pipe().map_err(LaunchError::Fork)?;
    // SAFETY: the child runs only `child`, which makes system calls on memory prepared above.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(LaunchError::Fork(io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(status_read);
        // SAFETY: in the child of fork, see `child`.
        unsafe { child(&plan, status_write.as_raw_fd()) }
    }
    drop(status_write);
    let mut report = [0u8; 8];
    let read = read_full(&status_read, &mut report);
    if read == 0 {
        // The pipe closed on exec.
        return Ok(pid);
    }
    // The child has _exit'ed or is about to: collect it.
    let mut status = 0;
    // SAFETY: waits for our own child.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0
        && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
    {}
    let stage = u32::from_ne_bytes(report[..4].try_into().unwrap_or_default());
    let error = io::Error::from_raw_os_error(i32::from_ne_bytes(report[4..].try_into().unwrap_or_default()));
    Err(match stage {
        // ENOTSUPP (524, kernel-internal) before raw tracepoints could be test-run (5.10).
        STAGE_FOLLOW if matches!(error.raw_os_error(), Some(524 | libc::EINVAL | libc::EOPNOTSUPP)) => {
            LaunchError::FollowUnsupported
        }
        STAGE_FOLLOW => LaunchError::Follow(error),
        STAGE_FOLLOW_FULL => LaunchError::FollowFull,
        _ => LaunchError::Exec(Path::new(program).display().to_string(), error),
    })
}

/// Reads until `buffer` is full or the pipe's writers are gone; returns the bytes read.
fn read_full(fd: &OwnedFd, buffer: &mut [u8]) -> usize {
    let mut done = 0;
    while done < buffer.len() {
        // SAFETY: reads into the unfilled part of our buffer.
        let read = unsafe { libc::read(fd.as_raw_fd(), buffer[done..].as_mut_ptr().cast(), buffer.len() - done) };
        match read {
            0 => break,
            read if read > 0 => done += read as usize,
            _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
            _ => break,
        }
    }
    done
}

/// A pipe whose ends close on exec: the child reports a failure through it, and its closing
/// at exec tells tracer the exec happened.
fn status_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut ends = [0; 2];
    // SAFETY: pipe2 fills the two descriptors, owned below.
    if unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) })
}

/// The forked child: name, follow, restore, exec. Only system calls from here on (tracer may
/// have other threads, whose locks a fork does not copy released).
unsafe fn child(plan: &Plan, status: RawFd) -> ! {
    let report = |stage: u32, errno: i32| -> ! {
        let mut message = [0u8; 8];
        message[..4].copy_from_slice(&stage.to_ne_bytes());
        message[4..].copy_from_slice(&errno.to_ne_bytes());
        // SAFETY: writes our own buffer to our own pipe, then ends the child.
        unsafe {
            libc::write(status, message.as_ptr().cast(), message.len());
            libc::_exit(127)
        }
    };
    // SAFETY (all below): system calls on memory prepared before fork.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, plan.comm.as_ptr());
        if let Some(program) = plan.follow_program {
            match crate::loader::run_once(program) {
                Ok(0) => {}
                Ok(_) => report(STAGE_FOLLOW_FULL, 0),
                Err(errno) => report(STAGE_FOLLOW, errno),
            }
        }
        plan.startup.restore_in_child();
        libc::execvp(plan.argv[0], plan.argv.as_ptr());
        report(STAGE_EXEC, *libc::__errno_location())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_is_what_exec_will_set() {
        assert_eq!(comm_after_exec(OsStr::new("sh")).as_bytes(), b"sh");
        assert_eq!(comm_after_exec(OsStr::new("/usr/bin/env")).as_bytes(), b"env");
        assert_eq!(comm_after_exec(OsStr::new("./a-very-long-program-name")).as_bytes(), b"a-very-long-pro");
    }

    #[test]
    fn finds_programs_as_execvp_does() {
        let dir = std::env::temp_dir().join(format!("tracer-spawn-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("plain");
        std::fs::write(&plain, "not executable").unwrap();
        let path = std::env::join_paths([dir.as_path(), Path::new("/usr/bin"), Path::new("/bin")]).unwrap();
        let path = Some(path.as_os_str());

        assert_eq!(check_program(OsStr::new("sh"), path).unwrap().file_name().unwrap(), "sh");
        let missing = check_program(OsStr::new("no-such-program-anywhere"), path).unwrap_err();
        assert_eq!(
            (missing.exit_status(), missing.to_string().as_str()),
            (127, "cannot run no-such-program-anywhere: command not found")
        );
        let missing = check_program(OsStr::new("/nonexistent"), path).unwrap_err();
        assert_eq!(
            (missing.exit_status(), missing.to_string().as_str()),
            (127, "cannot run /nonexistent: No such file or directory (os error 2)")
        );
        let directory = check_program(dir.as_os_str(), path).unwrap_err();
        assert_eq!(directory.exit_status(), 126, "{directory}");
        assert!(directory.to_string().ends_with("Is a directory (os error 21)"), "{directory}");
        // Root may read anything, but executes only what has an execute bit.
        let plain_by_path = check_program(plain.as_os_str(), path).unwrap_err();
        assert_eq!(plain_by_path.exit_status(), 126, "{plain_by_path}");
        let plain_by_name = check_program(OsStr::new("plain"), path).unwrap_err();
        assert_eq!(plain_by_name.exit_status(), 126, "{plain_by_name}");
        assert!(plain_by_name.to_string().starts_with("cannot run plain: Permission denied"), "{plain_by_name}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
