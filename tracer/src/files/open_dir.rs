//! Opening the directory `-o` writes into. A symlink among its directories is followed only as
//! the kernel's `fs.protected_symlinks` would allow, whatever that setting is: never one that
//! lies in a sticky world-writable directory (such as `/tmp`) and belongs to someone other than
//! that directory's owner or the user running tracer. Each step opens one name relative to the
//! directory before it, without following it, so nothing can be swapped in between.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, ErrorKind};
use std::os::fd::FromRawFd;
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};

use super::at::{c_name, open_dir_at, read_link_at, stat_at};

/// Symlinks followed at most, as the kernel's own limit.
const MAX_SYMLINKS: usize = 40;

/// Opens directory `dir` (an `O_PATH` descriptor, for `*at` calls).
pub fn open_dir(dir: &Path) -> io::Result<File> {
    let (mut current, mut shown) = start(dir.is_absolute())?;
    let mut pending: VecDeque<OsString> = components(dir).collect();
    let mut followed = 0;
    while let Some(component) = pending.pop_front() {
        let error = match open_dir_at(&current, &component) {
            Ok(next) => {
                current = next;
                shown.push(&component);
                continue;
            }
            Err(error) => error,
        };
        let link = match stat_at(&current, &component) {
            Ok(stat) if stat.st_mode & libc::S_IFMT == libc::S_IFLNK => stat,
            _ => return Err(error),
        };
        check_protected(&current, &link, &shown, &component)?;
        followed += 1;
        if followed > MAX_SYMLINKS {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        let target = PathBuf::from(OsString::from_vec(read_link_at(&current, &component)?));
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
    let name = c_name(OsStr::new(from))?;
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
