//! The `*at` system calls every file tracer creates goes through: each names one entry relative
//! to a directory opened once ([`super::open_dir`]), never follows a symlink at that entry, and
//! creates only with `O_EXCL` and mode 0600, so nothing another user prepared is written into.
use std::{
    ffi::{CString, OsStr},
    fs::File,
    io,
    os::{
        fd::{AsFd, AsRawFd, FromRawFd},
        unix::ffi::OsStrExt,
    },
};

/// `name` for a system call.
pub fn c_name(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "the name holds a NUL byte"))
}

/// Checks a system call's return value; the error is `errno`'s.
fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 { Err(io::Error::last_os_error()) } else { Ok(result) }
}

/// Creates `name` in `dir` for writing, mode 0600, failing if anything (a symlink included) is
/// there. `append` opens it `O_APPEND`: an outside `copytruncate` then leaves no hole.
pub fn create_at(dir: impl AsFd, name: &OsStr, append: bool) -> io::Result<File> {
    let name = c_name(name)?;
    let append = if append { libc::O_APPEND } else { 0 };
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC | append;
    // SAFETY: a NUL-terminated name relative to an open directory.
    let fd = check(unsafe { libc::openat(dir.as_fd().as_raw_fd(), name.as_ptr(), flags, 0o600 as libc::c_uint) })?;
    // SAFETY: `fd` was just opened and is owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Opens directory `name` in `dir` as an `O_PATH` descriptor, without following a symlink.
pub fn open_dir_at(dir: impl AsFd, name: &OsStr) -> io::Result<File> {
    let name = c_name(name)?;
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: a NUL-terminated name relative to an open directory.
    let fd = check(unsafe { libc::openat(dir.as_fd().as_raw_fd(), name.as_ptr(), flags) })?;
    // SAFETY: as in `create_at`.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// `lstat` of `name` in `dir`.
pub fn stat_at(dir: impl AsFd, name: &OsStr) -> io::Result<libc::stat> {
    let name = c_name(name)?;
    // SAFETY: an all-zero stat is valid; fstatat fills it.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated name relative to an open directory, and a writable stat.
    check(unsafe { libc::fstatat(dir.as_fd().as_raw_fd(), name.as_ptr(), &mut stat, libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(stat)
}

/// `fstat` of an open file.
pub fn fstat(file: impl AsFd) -> io::Result<libc::stat> {
    // SAFETY: as in `stat_at`.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor and a writable stat.
    check(unsafe { libc::fstat(file.as_fd().as_raw_fd(), &mut stat) })?;
    Ok(stat)
}

/// Whether anything (a dangling symlink included) is at `name` in `dir`.
pub fn exists_at(dir: impl AsFd, name: &OsStr) -> io::Result<bool> {
    match stat_at(dir, name) {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

/// Renames `from` to `to`, both in `dir`. A rename moves directory entries and never opens or
/// follows what they name.
pub fn rename_at(dir: impl AsFd, from: &OsStr, to: &OsStr) -> io::Result<()> {
    let (from, to) = (c_name(from)?, c_name(to)?);
    let dir = dir.as_fd().as_raw_fd();
    // SAFETY: NUL-terminated names relative to an open directory.
    check(unsafe { libc::renameat(dir, from.as_ptr(), dir, to.as_ptr()) }).map(drop)
}

/// Removes `name` from `dir`; a symlink is removed, never followed.
pub fn unlink_at(dir: impl AsFd, name: &OsStr) -> io::Result<()> {
    let name = c_name(name)?;
    // SAFETY: a NUL-terminated name relative to an open directory.
    check(unsafe { libc::unlinkat(dir.as_fd().as_raw_fd(), name.as_ptr(), 0) }).map(drop)
}

/// The target of symlink `name` in `dir`.
pub fn read_link_at(dir: impl AsFd, name: &OsStr) -> io::Result<Vec<u8>> {
    let name = c_name(name)?;
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: `buf` is writable for its length.
        let len =
            unsafe { libc::readlinkat(dir.as_fd().as_raw_fd(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        let len = usize::try_from(len).map_err(|_| io::Error::last_os_error())?;
        if len < buf.len() {
            buf.truncate(len);
            return Ok(buf);
        }
        buf.resize(buf.len() * 2, 0);
    }
}
