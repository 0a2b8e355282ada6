//! Creating a file tracer writes (`-o`, `tracer export`, `--events-to`). tracer runs as root and
//! the path may lie in a directory other users can write to, so it never follows a symlink at
//! the path (nor one another user planted among its directories, see
//! [`open_dir`](super::open_dir)) and never writes into an inode it did not create: a new file is
//! created exclusively, and `--force` renames a new file over what is there.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, ErrorKind, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::at::{create_at, rename_at, stat_at, unlink_at};
use super::open_dir::open_dir;

/// Why a file could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{} already exists (use --force to overwrite it)", path.display())]
    Exists { path: PathBuf },
    #[error("cannot create {}: {error}", path.display())]
    Create { path: PathBuf, error: io::Error },
    #[error("cannot replace {}: {error}{why}", path.display())]
    Replace { path: PathBuf, error: io::Error, why: String },
    #[error("cannot write {}: {error}", path.display())]
    Write { path: PathBuf, error: io::Error },
}

/// Tries at finding an unused temporary name (each is 64 random bits: a clash means someone
/// is guessing, or the directory is odd).
const TEMP_TRIES: usize = 8;

/// A new recording file, its first bytes written.
pub struct Created {
    pub file: File,
    /// The directory it is in, opened once for good (rotation and reopening work in it).
    pub dir: File,
    /// What `--force` replaced, when it was not the user's own file: worth telling.
    pub replaced: Option<String>,
}

/// Creates `path` with mode 0600 holding `first_bytes`: exclusively, or with `overwrite` by
/// renaming a new file over whatever is there.
pub fn create(path: &Path, overwrite: bool, first_bytes: &[u8]) -> Result<Created, CreateError> {
    let create_error = |error: io::Error| CreateError::Create { path: path.to_owned(), error };
    let write_error = |error: io::Error| CreateError::Write { path: path.to_owned(), error };
    let name = path
        .file_name()
        .ok_or_else(|| create_error(io::Error::new(ErrorKind::InvalidInput, "the path does not name a file")))?;
    let parent = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir = open_dir(parent).map_err(create_error)?;
    if !overwrite {
        let mut file = create_at(&dir, name, false).map_err(|error| match error.kind() {
            ErrorKind::AlreadyExists => CreateError::Exists { path: path.to_owned() },
            _ => create_error(error),
        })?;
        file.write_all(first_bytes).map_err(write_error)?;
        return Ok(Created { file, dir, replaced: None });
    }

    // A device, FIFO or socket at the path is not a file someone left there: replacing it would
    // take it away from the system (`-o /dev/null --force` would leave a regular file as
    // `/dev/null`). Only files, and symbolic links (replaced, never followed), are replaced.
    if let Some(kind) = stat_at(&dir, name).ok().and_then(|existing| special_kind(existing.st_mode)) {
        return Err(create_error(io::Error::other(format!(
            "it is {kind}, not a file; --force replaces only files and symbolic links"
        ))));
    }
    let (mut file, temp) = create_temp(&dir).map_err(create_error)?;
    let discard_temp = |error: CreateError| {
        let _ = unlink_at(&dir, &temp);
        error
    };
    file.write_all(first_bytes).map_err(write_error).map_err(discard_temp)?;

    let before = stat_at(&dir, name).ok();
    if let Err(error) = rename_at(&dir, &temp, name) {
        let why = sticky_hint(&error, &dir, before.as_ref(), parent);
        return Err(discard_temp(CreateError::Replace { path: path.to_owned(), error, why }));
    }
    // Someone able to write the directory (without a sticky bit) could have swapped the
    // temporary file before the rename: the path must now be the file we write.
    let ours = file.metadata().map_err(create_error)?;
    match stat_at(&dir, name) {
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
pub fn remove_if_ours(path: &Path, file: &File) {
    let (Ok(ours), Ok(there)) = (file.metadata(), std::fs::symlink_metadata(path)) else { return };
    if ours.dev() == there.dev() && ours.ino() == there.ino() {
        let _ = std::fs::remove_file(path);
    }
}

/// Creates `.tracer-<16 hex digits>.tmp` exclusively in `dir`; returns it and its name.
fn create_temp(dir: &File) -> io::Result<(File, OsString)> {
    for _ in 0..TEMP_TRIES {
        let mut random = [0u8; 8];
        // The system call, not libc's wrapper: the static (musl) build links no getrandom symbol,
        // and its call through an unresolved entry jumped to address 0.
        // SAFETY: fills the 8-byte buffer.
        let got = unsafe { libc::syscall(libc::SYS_getrandom, random.as_mut_ptr(), random.len(), 0) };
        if got != random.len() as libc::c_long {
            return Err(io::Error::other("no random bytes for a temporary name (getrandom failed)"));
        }
        let name = OsString::from(format!(".tracer-{:016x}.tmp", u64::from_ne_bytes(random)));
        match create_at(dir, &name, false) {
            Ok(file) => return Ok((file, name)),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
    }
    Err(io::Error::new(ErrorKind::AlreadyExists, "every temporary name tried was taken"))
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
