//! Where `tracer run` prints its events: never on stdout, which belongs to the command (as with
//! strace), but on stderr, or where `--events-to FILE` says.
//!
//! tracer runs as root, so FILE is never written through a path someone else could have
//! prepared: a new file is created exclusively (mode 0600); an existing regular file is only
//! replaced with `--force`, atomically (a new file renamed over it), so its inode never receives
//! a byte; an existing FIFO or terminal is written to only if it belongs to tracer's user and
//! is not reached through a symbolic link. `/dev/stdout`, `/dev/stderr`, `/dev/fd/N` and
//! `/proc/self/fd/N` name tracer's own descriptors, which are used as they are.
use std::{
    fs::{File, OpenOptions},
    io::{self, Write},
    os::{
        fd::{FromRawFd, RawFd},
        unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt},
    },
    path::{Path, PathBuf},
};

use crate::files::CreateError;

#[derive(Debug, thiserror::Error)]
pub enum EventsToError {
    #[error("--events-to {0}: the file exists; pass --force to replace it")]
    Exists(PathBuf),
    #[error("--events-to {0}: {1}")]
    Refused(PathBuf, &'static str),
    #[error("--events-to {0}: {1}")]
    Io(PathBuf, io::Error),
}

/// Where the events go.
pub struct Destination {
    pub out: Box<dyn Write + Send>,
    /// The file tracer created for them, if it did: removed if tracer fails before using it.
    pub created: Option<PathBuf>,
}

/// The destination of the printed events: `path`, or stderr.
pub fn open(path: Option<&Path>, force: bool) -> Result<Destination, EventsToError> {
    let out = writer(path, force)?;
    let created = path.filter(|path| descriptor_alias(path).is_none() && path.is_file()).map(Path::to_owned);
    Ok(Destination { out, created })
}

fn writer(path: Option<&Path>, force: bool) -> Result<Box<dyn Write + Send>, EventsToError> {
    let Some(path) = path else { return Ok(Box::new(io::stderr())) };
    let failed = |error| EventsToError::Io(path.to_owned(), error);
    if let Some(fd) = descriptor_alias(path) {
        // SAFETY: duplicates a descriptor number into a new one we own; fcntl checks it is open.
        let duplicate = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        if duplicate < 0 {
            return Err(failed(io::Error::last_os_error()));
        }
        return Ok(Box::new(unsafe { File::from_raw_fd(duplicate) }));
    }
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return create(path, false),
        Err(error) => return Err(failed(error)),
    };
    let kind = metadata.file_type();
    if kind.is_file() {
        if !force {
            return Err(EventsToError::Exists(path.to_owned()));
        }
        return create(path, true);
    }
    if kind.is_symlink() {
        return Err(EventsToError::Refused(path.to_owned(), "a symbolic link; tracer does not write through one"));
    }
    if !(kind.is_fifo() || kind.is_char_device()) {
        return Err(EventsToError::Refused(path.to_owned(), "not a regular file, FIFO or terminal"));
    }
    // SAFETY: no preconditions.
    if metadata.uid() != unsafe { libc::geteuid() } {
        return Err(EventsToError::Refused(path.to_owned(), "belongs to another user"));
    }
    let file =
        OpenOptions::new().write(true).custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY).open(path).map_err(failed)?;
    Ok(Box::new(file))
}

/// The descriptor a path like `/dev/fd/3` names in tracer itself.
fn descriptor_alias(path: &Path) -> Option<RawFd> {
    match path.to_str()? {
        "/dev/stdout" => Some(1),
        "/dev/stderr" => Some(2),
        text => text.strip_prefix("/dev/fd/").or_else(|| text.strip_prefix("/proc/self/fd/"))?.parse().ok(),
    }
}

/// A new file at `path`, made as `-o` makes its file ([`crate::files::create`]); with
/// `overwrite`, renamed over the one there, whose inode never sees a byte.
fn create(path: &Path, overwrite: bool) -> Result<Box<dyn Write + Send>, EventsToError> {
    match crate::files::create(path, overwrite, &[]) {
        Ok(created) => Ok(Box::new(created.file)),
        Err(CreateError::Exists { .. }) => Err(EventsToError::Exists(path.to_owned())),
        Err(
            CreateError::Create { error, .. } | CreateError::Replace { error, .. } | CreateError::Write { error, .. },
        ) => Err(EventsToError::Io(path.to_owned(), error)),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn names_of_tracers_own_descriptors() {
        assert_eq!(descriptor_alias(Path::new("/dev/stdout")), Some(1));
        assert_eq!(descriptor_alias(Path::new("/dev/fd/7")), Some(7));
        assert_eq!(descriptor_alias(Path::new("/proc/self/fd/12")), Some(12));
        assert_eq!(descriptor_alias(Path::new("/proc/1/fd/1")), None);
        assert_eq!(descriptor_alias(Path::new("/dev/fd/x")), None);
    }

    #[test]
    fn creates_privately_and_replaces_only_when_forced() {
        let dir = std::env::temp_dir().join(format!("tracer-events-to-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.jsonl");
        open(Some(&path), false).unwrap().out.write_all(b"first\n").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let refused = open(Some(&path), false).err().expect("an existing file is refused");
        assert_eq!(
            refused.to_string(),
            format!("--events-to {}: the file exists; pass --force to replace it", path.display())
        );

        // Whoever holds the old file keeps its bytes: it is replaced, not rewritten.
        let old = File::open(&path).unwrap();
        open(Some(&path), true).unwrap().out.write_all(b"second\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second\n");
        assert_eq!(io::read_to_string(old).unwrap(), "first\n");

        let link = dir.join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let refused = open(Some(&link), true).err().expect("a symbolic link is refused");
        assert!(refused.to_string().ends_with("a symbolic link; tracer does not write through one"), "{refused}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
