//! Opening the directory `-o` writes into. A symlink among its directories is followed only as
//! the kernel's `fs.protected_symlinks` would allow, whatever that setting is: never one that
//! lies in a sticky world-writable directory (such as `/tmp`) and belongs to someone other than
//! that directory's owner or the user running tracer. Each step opens one name relative to the
//! directory before it, without following it, so nothing can be swapped in between.

use std::collections::VecDeque;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, ErrorKind};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

/// Symlinks followed at most, as the kernel's own limit.
const MAX_SYMLINKS: usize = 40;

/// Opens directory `dir` (an `O_PATH` descriptor, for `*at` calls).
pub(crate) fn open_dir(dir: &Path) -> io::Result<File> {
    let (mut current, mut shown) = start(dir.is_absolute())?;
    let mut pending: VecDeque<OsString> = components(dir).collect();
    let mut followed = 0;
    while let Some(component) = pending.pop_front() {
        let name = c_string(&component)?;
        let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: a NUL-terminated name relative to an open directory.
        let fd = unsafe { libc::openat(current.as_raw_fd(), name.as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: `fd` was just opened and is owned by nobody else.
            current = unsafe { File::from_raw_fd(fd) };
            shown.push(&component);
            continue;
        }
        let error = io::Error::last_os_error();
        let link = match stat_at(&current, &name) {
            Ok(stat) if stat.st_mode & libc::S_IFMT == libc::S_IFLNK => stat,
            _ => return Err(error),
        };
        check_protected(&current, &link, &shown, &component)?;
        followed += 1;
        if followed > MAX_SYMLINKS {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        let target = PathBuf::from(OsString::from_vec(read_link_at(&current, &name)?));
        if target.is_absolute() {
            (current, shown) = start(true)?;
        }
        for (index, part) in components(&target).enumerate() {
            pending.insert(index, part);
        }
    }
    Ok(current)
}

/// The root or the working directory, and how to show it.
fn start(absolute: bool) -> io::Result<(File, PathBuf)> {
    let from = if absolute { "/" } else { "." };
    let name = c_string(OsStr::new(from))?;
    // SAFETY: a NUL-terminated path.
    let fd = unsafe { libc::open(name.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nobody else.
    Ok((unsafe { File::from_raw_fd(fd) }, PathBuf::from(from)))
}

/// The names to open in turn (`..` included; `.` and the root left out).
fn components(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|component| match component {
        Component::Normal(name) => Some(name.to_owned()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

/// Refuses the symlink `name` in directory `dir` (shown as `shown`) when following it is what
/// `fs.protected_symlinks` forbids.
fn check_protected(dir: &File, link: &libc::stat, shown: &Path, name: &OsStr) -> io::Result<()> {
    let dir_stat = dir.metadata()?;
    let mode = std::os::unix::fs::MetadataExt::mode(&dir_stat);
    let dir_uid = std::os::unix::fs::MetadataExt::uid(&dir_stat);
    // SAFETY: no preconditions.
    let euid = unsafe { libc::geteuid() };
    let shared = mode & libc::S_ISVTX != 0 && mode & libc::S_IWOTH != 0;
    if shared && link.st_uid != euid && link.st_uid != dir_uid {
        return Err(io::Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "refusing to follow the symlink {} (of uid {}) in {}, a sticky world-writable directory",
                shown.join(name).display(),
                link.st_uid,
                shown.display()
            ),
        ));
    }
    Ok(())
}

fn c_string(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::new(ErrorKind::InvalidInput, "the path holds a NUL byte"))
}

/// `lstat` of `name` in `dir`.
pub(super) fn stat_at(dir: &File, name: &CString) -> io::Result<libc::stat> {
    // SAFETY: an all-zero stat is valid; fstatat fills it.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated name relative to an open directory, and a writable stat.
    if unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), &mut stat, libc::AT_SYMLINK_NOFOLLOW) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(stat)
}

/// The target of symlink `name` in `dir`.
fn read_link_at(dir: &File, name: &CString) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: `buf` is writable for its length.
        let len = unsafe { libc::readlinkat(dir.as_raw_fd(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if len < 0 {
            return Err(io::Error::last_os_error());
        }
        let len = len as usize;
        if len < buf.len() {
            buf.truncate(len);
            return Ok(buf);
        }
        buf.resize(buf.len() * 2, 0);
    }
}
