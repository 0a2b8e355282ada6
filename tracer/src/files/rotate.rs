//! Output files that run for months: rotation by size and by age, keeping N old files named the
//! way logrotate and log shippers expect (`FILE` is renamed to `FILE.1`, `FILE.1` to `FILE.2`, …,
//! then a new `FILE` is created), and reopening after an outside tool renamed the file (SIGHUP).
//!
//! tracer runs as root, often in directories other users can write to. So a [`RotatingFile`]
//! only ever writes into files it created itself: `O_CREAT | O_EXCL | O_NOFOLLOW`, mode 0600.
//! Everything happens relative to the directory opened once at start (as `-o` opens it, see
//! [`super::open_dir`]) with `openat`, `renameat` and `unlinkat`, so swapping a
//! directory on the path later changes nothing. An existing `FILE` at start is rotated away
//! like at any rotation (or removed when empty), never appended to.
//!
//! The writer decides where a rotation may happen (between two JSON lines, or between two
//! recording frames): it asks [`RotatingFile::size_due`] before each record and
//! [`RotatingFile::age_due`] now and then, writes what it buffered, then calls
//! [`RotatingFile::rotate_with`], which renames the file and hands it to the writer to close
//! (a recording's trailer) before a new `FILE` is created. A file may begin with a preamble
//! (a recording's header, [`RotatingFile::write_preamble`]) that neither counts as content
//! for rotation nor starts its age. Bytes go through `Write`, which counts them.
use std::{
    ffi::{OsStr, OsString},
    fs::File,
    io::{self, Write},
    os::fd::OwnedFd,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use super::at::{self, exists_at, fstat, rename_at, stat_at as lstat_at, unlink_at};

/// Rotated files kept when `--rotate-keep` is not given.
pub const DEFAULT_KEEP: u32 = 5;

/// When to rotate and how many old files to keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotatePolicy {
    /// Rotate before a record would make the file larger than this many bytes.
    pub max_size: Option<u64>,
    /// Rotate a file this long after its first byte was written (an empty file never ages, so
    /// a quiet stream makes no empty files, and a burst after a pause is not split at once).
    pub max_age: Option<Duration>,
    /// Rotated files kept: `FILE.1` (newest) to `FILE.<keep>`; 0 deletes the file at rotation.
    pub keep: u32,
}

impl Default for RotatePolicy {
    fn default() -> Self {
        Self { max_size: None, max_age: None, keep: DEFAULT_KEEP }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("{} names no file", path.display())]
    NoFileName { path: PathBuf },
    #[error("cannot open the directory of {}: {error}", path.display())]
    Directory { path: PathBuf, error: io::Error },
    #[error("{} is a symbolic link; tracer does not write through links", path.display())]
    Symlink { path: PathBuf },
    #[error("{} exists and is not a regular file", path.display())]
    NotAFile { path: PathBuf },
    #[error("cannot create {}: {error}", path.display())]
    Create { path: PathBuf, error: io::Error },
    #[error("cannot rotate {}: {error}", path.display())]
    Rename { path: PathBuf, error: io::Error },
    #[error("cannot close {} after renaming it: {error}", path.display())]
    Close { path: PathBuf, error: io::Error },
    #[error(
        "{} was replaced by a file tracer did not create; still writing to the renamed file \
         (rotate with logrotate's `nocreate`)",
        path.display()
    )]
    Occupied { path: PathBuf },
}

/// What [`RotatingFile::reopen`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Reopened {
    /// `FILE` had been moved away: a new one was created.
    New,
    /// `FILE` is still the file being written: nothing to do.
    Unchanged,
}

/// A file tracer created, with its rotation state.
pub struct RotatingFile {
    dir: OwnedFd,
    name: OsString,
    path: PathBuf,
    file: File,
    /// (device, inode) of `file`, to recognise it at `FILE` on reopen.
    identity: (u64, u64),
    policy: RotatePolicy,
    /// Bytes written to the current file.
    len: u64,
    /// Bytes of the current file's preamble (a recording's header): a file holding no more is
    /// empty as far as rotation goes.
    preamble: u64,
    /// Size at which the next rotation is due (moved on when a rotation fails, so a failing
    /// rotation is retried after another `max_size` bytes rather than before every record).
    size_limit: Option<u64>,
    /// Time at which the next rotation is due: `max_age` after the first byte written (moved on
    /// likewise after a failed rotation).
    age_deadline: Option<Instant>,
}

impl RotatingFile {
    /// Creates `path` for writing. An existing regular file is rotated away first (an empty one
    /// is removed); a link or anything else that is not a regular file is refused.
    pub fn create(path: &Path, policy: RotatePolicy) -> Result<Self, RotateError> {
        let name = path.file_name().ok_or_else(|| RotateError::NoFileName { path: path.to_owned() })?.to_owned();
        let parent = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let dir = super::open_dir(parent)
            .map(OwnedFd::from)
            .map_err(|error| RotateError::Directory { path: path.to_owned(), error })?;
        match lstat_at(&dir, &name) {
            // An empty file holds nothing to keep: rotating it would only push older files out
            // (a service restarting in a loop would otherwise rotate its history away).
            Ok(stat) if stat.st_mode & libc::S_IFMT == libc::S_IFREG && stat.st_size == 0 => {
                not_found_ok(unlink_at(&dir, &name))
                    .map_err(|error| RotateError::Rename { path: path.to_owned(), error })?
            }
            Ok(stat) if stat.st_mode & libc::S_IFMT == libc::S_IFREG => {
                shift(&dir, &name, policy.keep).map_err(|error| RotateError::Rename { path: path.to_owned(), error })?
            }
            Ok(stat) if stat.st_mode & libc::S_IFMT == libc::S_IFLNK => {
                return Err(RotateError::Symlink { path: path.to_owned() });
            }
            Ok(_) => return Err(RotateError::NotAFile { path: path.to_owned() }),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(RotateError::Create { path: path.to_owned(), error }),
        }
        let (file, identity) =
            create_at(&dir, &name).map_err(|error| RotateError::Create { path: path.to_owned(), error })?;
        let mut rotating = Self {
            dir,
            name,
            path: path.to_owned(),
            file,
            identity,
            policy,
            len: 0,
            preamble: 0,
            size_limit: None,
            age_deadline: None,
        };
        rotating.reset_limits();
        Ok(rotating)
    }

    /// Takes over `file`, just created at `path` in directory `dir` (how `-o` creates a
    /// recording without rotation flags), so that it can be reopened on SIGHUP and rotated.
    pub fn adopt(path: &Path, dir: File, file: File, policy: RotatePolicy) -> Result<Self, RotateError> {
        let name = path.file_name().ok_or_else(|| RotateError::NoFileName { path: path.to_owned() })?.to_owned();
        let stat = fstat(&file).map_err(|error| RotateError::Create { path: path.to_owned(), error })?;
        let len = stat.st_size as u64;
        let mut rotating = Self {
            dir: OwnedFd::from(dir),
            name,
            path: path.to_owned(),
            file,
            identity: (stat.st_dev, stat.st_ino),
            policy,
            len,
            preamble: len,
            size_limit: None,
            age_deadline: None,
        };
        rotating.reset_limits();
        Ok(rotating)
    }

    /// Writes the start of a new file (a recording's header), which does not count as content.
    pub fn write_preamble(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        self.preamble = self.len;
        Ok(())
    }

    /// The file being written.
    pub fn file(&self) -> &File {
        &self.file
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file must be rotated before a record of `next` bytes is written, with
    /// `pending` bytes still buffered for it. A record larger than the limit gets a file alone.
    pub fn size_due(&self, pending: u64, next: u64) -> bool {
        let used = self.len + pending;
        used > self.preamble && self.size_limit.is_some_and(|limit| used + next > limit)
    }

    /// Whether the file has reached its age.
    pub fn age_due(&self) -> bool {
        self.age_deadline.is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// Renames `FILE` to `FILE.1` (shifting older ones, deleting the one past `keep`) and
    /// creates a new `FILE`. The caller writes everything that belongs to the old file first.
    /// On failure writing goes on into the current file, and the next attempt waits for another
    /// `max_size` bytes or `max_age`.
    pub fn rotate(&mut self) -> Result<(), RotateError> {
        self.rotate_with(|_| Ok(()))
    }

    /// [`rotate`](Self::rotate), handing the renamed file to `close` before the new `FILE` is
    /// created: whatever `close` writes ends the old file. If the rename fails, `close` is not
    /// called and writing goes on into the current file; if `close` or the creation fails, the
    /// error says so and the old file stays the one written.
    pub fn rotate_with(&mut self, close: impl FnOnce(&mut File) -> io::Result<()>) -> Result<(), RotateError> {
        let result = shift(&self.dir, &self.name, self.policy.keep)
            .map_err(|error| RotateError::Rename { path: self.path.clone(), error })
            .and_then(|()| close(&mut self.file).map_err(|error| RotateError::Close { path: self.path.clone(), error }))
            .and_then(|()| self.replace());
        if result.is_err() {
            self.size_limit = self.policy.max_size.map(|max| self.len.saturating_add(max));
            self.age_deadline = self.policy.max_age.and_then(|age| Instant::now().checked_add(age));
        }
        result
    }

    /// After an outside tool renamed `FILE` (logrotate, then SIGHUP): creates a new `FILE` if
    /// the path no longer names the file being written. A file someone else put there is never
    /// written into.
    pub fn reopen(&mut self) -> Result<Reopened, RotateError> {
        self.reopen_with(|_| Ok(()))
    }

    /// [`reopen`](Self::reopen), handing the renamed file to `close` before a new `FILE` is
    /// created.
    pub fn reopen_with(&mut self, close: impl FnOnce(&mut File) -> io::Result<()>) -> Result<Reopened, RotateError> {
        match lstat_at(&self.dir, &self.name) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                close(&mut self.file).map_err(|error| RotateError::Close { path: self.path.clone(), error })?;
                self.replace().map(|()| Reopened::New)
            }
            Ok(stat) if (stat.st_dev, stat.st_ino) == self.identity => Ok(Reopened::Unchanged),
            Ok(_) => Err(RotateError::Occupied { path: self.path.clone() }),
            Err(error) => Err(RotateError::Create { path: self.path.clone(), error }),
        }
    }

    /// Creates a new `FILE` (which must not exist) and writes there from now on.
    fn replace(&mut self) -> Result<(), RotateError> {
        let (file, identity) =
            create_at(&self.dir, &self.name).map_err(|error| RotateError::Create { path: self.path.clone(), error })?;
        self.file = file;
        self.identity = identity;
        self.len = 0;
        self.preamble = 0;
        self.reset_limits();
        Ok(())
    }

    fn reset_limits(&mut self) {
        self.size_limit = self.policy.max_size;
        self.age_deadline = None;
    }
}

impl Write for RotatingFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let written = self.file.write(bytes)?;
        if self.len == self.preamble && written > 0 && self.age_deadline.is_none() {
            self.age_deadline = self.policy.max_age.and_then(|age| Instant::now().checked_add(age));
        }
        self.len += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// `name.<index>`, e.g. `events.json.3`.
pub fn numbered(name: &OsStr, index: u32) -> OsString {
    let mut numbered = name.to_owned();
    numbered.push(format!(".{index}"));
    numbered
}

/// Moves `name` to `name.1` and each existing `name.i` to `name.i+1`, deleting `name.keep`
/// first; with `keep` 0, deletes `name`. Only the unbroken run `name.1, name.2, …` moves: a file
/// past a gap is left alone rather than overwritten.
fn shift(dir: &OwnedFd, name: &OsStr, keep: u32) -> io::Result<()> {
    if keep == 0 {
        return not_found_ok(unlink_at(dir, name));
    }
    let mut top = 0;
    while top < keep && exists_at(dir, &numbered(name, top + 1))? {
        top += 1;
    }
    if top == keep {
        not_found_ok(unlink_at(dir, &numbered(name, keep)))?;
        top -= 1;
    }
    for index in (1..=top).rev() {
        not_found_ok(rename_at(dir, &numbered(name, index), &numbered(name, index + 1)))?;
    }
    not_found_ok(rename_at(dir, name, &numbered(name, 1)))
}

fn not_found_ok(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// A new file `name` in `dir` (see [`at::create_at`]) and its identity (device, inode).
fn create_at(dir: &OwnedFd, name: &OsStr) -> io::Result<(File, (u64, u64))> {
    // O_APPEND keeps an outside `copytruncate` from leaving a hole at the start of the file.
    let file = at::create_at(dir, name, true)?;
    let stat = fstat(&file)?;
    Ok((file, (stat.st_dev, stat.st_ino)))
}

#[cfg(test)]
mod tests;
