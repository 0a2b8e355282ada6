//! Creating the file `-o` names. tracer runs as root and the path may lie in a directory other
//! users can write to, so it never follows a symlink at the path (nor one another user planted
//! among its directories, see [`open_dir`](super::open_dir)) and never writes into an inode it
//! did not create (see "Creating the file" in the [module documentation](super)).

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, ErrorKind, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::RecordingError;
use super::open_dir::{open_dir, stat_at};

/// Tries at finding an unused temporary name (each is 64 random bits: a clash means someone
/// is guessing, or the directory is odd).
const TEMP_TRIES: usize = 8;

/// A new recording file, its first bytes written.
pub(super) struct Created {
    pub file: File,
    /// The directory it is in, opened once for good (rotation and reopening work in it).
    pub dir: File,
    /// What `--force` replaced, when it was not the user's own file: worth telling.
    pub replaced: Option<String>,
}

/// Creates `path` with mode 0600 holding `first_bytes`: exclusively, or with `overwrite` by
/// renaming a new file over whatever is there.
pub(super) fn create(path: &Path, overwrite: bool, first_bytes: &[u8]) -> Result<Created, RecordingError> {
    let create_error = |error: io::Error| RecordingError::Create { path: path.to_owned(), error };
    let write_error = |error: io::Error| RecordingError::Write { path: path.to_owned(), error };
    let name = path
        .file_name()
        .ok_or_else(|| create_error(io::Error::new(ErrorKind::InvalidInput, "the path does not name a file")))?;
    let name_c = c_name(name).map_err(create_error)?;
    let parent = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir = open_dir(parent).map_err(create_error)?;
    if !overwrite {
        let mut file = create_exclusive(&dir, &name_c).map_err(|error| match error.kind() {
            ErrorKind::AlreadyExists => RecordingError::Exists { path: path.to_owned() },
            _ => create_error(error),
        })?;
        file.write_all(first_bytes).map_err(write_error)?;
        return Ok(Created { file, dir, replaced: None });
    }

    // A device, FIFO or socket at the path is not a file someone left there: replacing it would
    // take it away from the system (`-o /dev/null --force` would leave a regular file as
    // `/dev/null`). Only files, and symbolic links (replaced, never followed), are replaced.
    if let Some(kind) = stat_at(&dir, &name_c).ok().and_then(|existing| special_kind(existing.st_mode)) {
        return Err(create_error(io::Error::other(format!(
            "it is {kind}, not a file; --force replaces only files and symbolic links"
        ))));
    }
    let (mut file, temp) = create_temp(&dir).map_err(create_error)?;
    let discard_temp = |error: RecordingError| {
        // SAFETY: `dir` is an open directory and `temp` a NUL-terminated name in it.
        unsafe { libc::unlinkat(dir.as_raw_fd(), temp.as_ptr(), 0) };
        error
    };
    file.write_all(first_bytes).map_err(write_error).map_err(discard_temp)?;

    let before = stat_at(&dir, &name_c).ok();
    // SAFETY: both names are NUL-terminated and relative to the open directory.
    if unsafe { libc::renameat(dir.as_raw_fd(), temp.as_ptr(), dir.as_raw_fd(), name_c.as_ptr()) } != 0 {
        let error = io::Error::last_os_error();
        let why = sticky_hint(&error, &dir, before.as_ref(), parent);
        return Err(discard_temp(RecordingError::Replace { path: path.to_owned(), error, why }));
    }
    // Someone able to write the directory (without a sticky bit) could have swapped the
    // temporary file before the rename: the path must now be the file we write.
    let ours = file.metadata().map_err(create_error)?;
    match stat_at(&dir, &name_c) {
        Ok(now) if now.st_dev == ours.dev() && now.st_ino == ours.ino() => {}
        _ => {
            return Err(create_error(io::Error::other(
                "another process replaced it while it was being created; nothing was written there",
            )));
        }
    }
    let replaced = before.and_then(|before| describe_replaced(path, &before));
    Ok(Created { file, dir, replaced })
}

/// Removes `path` if it is still `file` (used when nothing was recorded after all).
pub(super) fn remove_if_ours(path: &Path, file: &File) {
    let (Ok(ours), Ok(there)) = (file.metadata(), std::fs::symlink_metadata(path)) else { return };
    if ours.dev() == there.dev() && ours.ino() == there.ino() {
        let _ = std::fs::remove_file(path);
    }
}

/// Creates `name` in `dir`, mode 0600, failing if anything (a symlink included) is there.
fn create_exclusive(dir: &File, name: &CString) -> io::Result<File> {
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: a NUL-terminated name relative to an open directory.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, 0o600 as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Creates `.tracer-<16 hex digits>.tmp` exclusively in `dir`; returns it and its name.
fn create_temp(dir: &File) -> io::Result<(File, CString)> {
    for _ in 0..TEMP_TRIES {
        let mut random = [0u8; 8];
        // SAFETY: fills the 8-byte buffer.
        let got = unsafe { libc::getrandom(random.as_mut_ptr().cast(), random.len(), 0) };
        if got != random.len() as isize {
            return Err(io::Error::other("no random bytes for a temporary name (getrandom failed)"));
        }
        let name =
            CString::new(format!(".tracer-{:016x}.tmp", u64::from_ne_bytes(random))).expect("hex digits hold no NUL");
        match create_exclusive(dir, &name) {
            Ok(file) => return Ok((file, name)),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
    }
    Err(io::Error::new(ErrorKind::AlreadyExists, "every temporary name tried was taken"))
}

fn c_name(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::new(ErrorKind::InvalidInput, "the name holds a NUL byte"))
}

/// Why a rename in a sticky directory was refused, if that is why.
fn sticky_hint(error: &io::Error, dir: &File, before: Option<&libc::stat>, parent: &Path) -> String {
    let refused = matches!(error.raw_os_error(), Some(libc::EPERM | libc::EACCES));
    let sticky = dir.metadata().is_ok_and(|meta| meta.mode() & libc::S_ISVTX != 0);
    // SAFETY: no preconditions.
    let euid = unsafe { libc::geteuid() };
    match before {
        Some(before) if refused && sticky && before.st_uid != euid => format!(
            " (it belongs to uid {} and {} is a sticky directory, where only an entry's owner or root may replace it)",
            before.st_uid,
            parent.display()
        ),
        _ => String::new(),
    }
}

/// What a node that `--force` must not replace is, by its `st_mode`; `None` for files, symbolic
/// links and directories (which a rename cannot replace anyway).
fn special_kind(mode: libc::mode_t) -> Option<&'static str> {
    match mode & libc::S_IFMT {
        libc::S_IFCHR => Some("a character device"),
        libc::S_IFBLK => Some("a block device"),
        libc::S_IFIFO => Some("a FIFO"),
        libc::S_IFSOCK => Some("a socket"),
        _ => None,
    }
}

/// A line about what `--force` replaced, unless it was a regular file of the user's own.
fn describe_replaced(path: &Path, before: &libc::stat) -> Option<String> {
    // SAFETY: no preconditions.
    let euid = unsafe { libc::geteuid() };
    let kind = before.st_mode & libc::S_IFMT;
    let path = path.display();
    let owner = before.st_uid;
    match kind {
        libc::S_IFREG if owner == euid => None,
        libc::S_IFREG => Some(format!(
            "--force replaced {path}, a file of uid {owner}, with a new file; that file was not written to"
        )),
        libc::S_IFLNK => Some(format!(
            "--force replaced the symlink {path} (of uid {owner}) with a new file; the symlink was not followed"
        )),
        _ => Some(format!("--force replaced {path} (not a regular file; uid {owner}) with a new file")),
    }
}
