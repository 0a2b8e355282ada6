//! Cgroup paths from the IDs the kernel side reports. Events carry the ID of the task's cgroup in
//! the unified (v2) hierarchy, which the kernel gives for the price of one helper call; tracer
//! turns it into a path here, once per cgroup: the ID is a kernfs file handle
//! (`open_by_handle_at`), so resolving it costs two syscalls, without scanning the hierarchy.
//! That call needs CAP_DAC_READ_SEARCH, which the service runs without: there the IDs are
//! named by walking the hierarchy (an ID is its directory's inode number), again when an
//! unknown ID turns up, at most once a second.
//!
//! A cgroup that is removed before its first event is drained cannot be resolved any more: its
//! events keep `cgroup_id` but have no `cgroup` path (nor `container`). On hybrid v1+v2
//! machines the unified hierarchy is the one mounted as `cgroup2` (here
//! `/sys/fs/cgroup/unified`); the v1 hierarchies are not consulted.
use std::{
    fs::File,
    os::{
        fd::{AsRawFd, FromRawFd, OwnedFd},
        unix::{ffi::OsStrExt, fs::MetadataExt},
    },
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use foldhash::HashMap;

use crate::{
    place::{Place, container},
    text::Text,
};

/// `FILEID_KERNFS`: the file handle type of kernfs (cgroupfs), whose 8 bytes are the node's ID.
const FILEID_KERNFS: i32 = 0xfe;
/// Cgroups remembered before the cache starts over.
const CACHE_LIMIT: usize = 16_384;
/// Without file handles, the hierarchy is walked again for an unknown ID at most this often.
const REWALK_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CgroupError {
    #[error("{0}: no unified (cgroup2) hierarchy is mounted here")]
    NoHierarchy(String),
    #[error(
        "--cgroup {path:?}: no such cgroup under {mount} (give the path as /proc/<pid>/cgroup shows it, e.g. /system.slice)"
    )]
    NoSuchCgroup { path: String, mount: String },
}

/// Where the unified hierarchy is mounted, from `/proc/self/mountinfo`.
pub fn unified_mount() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo.lines().find_map(|line| {
        // `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPEROPTS`
        let (mount, filesystem) = line.split_once(" - ")?;
        let fields: Vec<&str> = mount.split(' ').collect();
        let whole_hierarchy = fields.get(3) == Some(&"/");
        if filesystem.split(' ').next() != Some("cgroup2") || !whole_hierarchy {
            return None;
        }
        Some(PathBuf::from(unescape_mount_path(fields.get(4)?)))
    })
}

/// Mount points in mountinfo escape space, tab, newline and backslash as `\ooo`.
fn unescape_mount_path(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal =
            bytes.get(i + 1..i + 4).and_then(|digits| u8::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Walks every cgroup of the unified hierarchy, parents before children, calling `visit` with
/// each one's ID and path (below the root) before listing its children: a child created after
/// the listing was made after `visit` saw its parent.
pub fn walk(mut visit: impl FnMut(u64, &[u8])) -> Result<(), CgroupError> {
    let mount = unified_mount().ok_or_else(|| CgroupError::NoHierarchy("--container, --cgroup".to_owned()))?;
    let mut pending = vec![(mount.clone(), b"/".to_vec())];
    while let Some((directory, path)) = pending.pop() {
        // A cgroup removed meanwhile is simply gone.
        let Ok(meta) = std::fs::symlink_metadata(&directory) else { continue };
        visit(meta.ino(), &path);
        let Ok(entries) = std::fs::read_dir(&directory) else { continue };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                let mut child = path.clone();
                if child.len() > 1 {
                    child.push(b'/');
                }
                child.extend_from_slice(entry.file_name().as_bytes());
                pending.push((entry.path(), child));
            }
        }
    }
    Ok(())
}

/// The ID of the cgroup at `path` (as events show it, below the hierarchy's root).
pub fn id_of(path: &str) -> Result<u64, CgroupError> {
    let mount = unified_mount().ok_or_else(|| CgroupError::NoHierarchy(format!("--cgroup {path:?}")))?;
    let full = mount.join(path.trim_start_matches('/'));
    match std::fs::metadata(&full) {
        // The inode number of a cgroup's directory is its kernfs ID (on 64-bit kernels).
        Ok(meta) if meta.is_dir() => Ok(meta.ino()),
        _ => Err(CgroupError::NoSuchCgroup { path: path.to_owned(), mount: mount.display().to_string() }),
    }
}

struct Hierarchy {
    mount: PathBuf,
    fd: OwnedFd,
    /// Cleared when `open_by_handle_at` is refused (no CAP_DAC_READ_SEARCH): names come from
    /// walks of the hierarchy from then on.
    by_handle: bool,
    walked: HashMap<u64, Text>,
    walked_at: Option<Instant>,
}

/// Resolves cgroup IDs to paths and containers, remembering each answer.
#[derive(Default)]
pub struct CgroupNames {
    /// Found on first use; `Some(None)` when there is no unified hierarchy.
    hierarchy: Option<Option<Hierarchy>>,
    known: HashMap<u64, Option<(Text, Option<Text>)>>,
}

impl CgroupNames {
    /// Fills in `cgroup` and `container` of a place that has only the ID.
    pub fn fill(&mut self, place: &mut Place) {
        let Some(id) = place.cgroup_id else { return };
        if place.cgroup.is_some() {
            return;
        }
        if !self.known.contains_key(&id) {
            if self.known.len() >= CACHE_LIMIT {
                self.known.clear();
            }
            let path = match self.resolve(id) {
                Name::Path(path) => Some(path),
                Name::Gone => None,
                // Asked again at the next event.
                Name::NotYet => return,
            };
            let entry = path.map(|path| {
                let container = container::container_of(path.as_bytes());
                (path, container)
            });
            self.known.insert(id, entry);
        }
        if let Some(Some((path, container))) = self.known.get(&id) {
            place.cgroup = Some(path.clone());
            place.container = container.clone();
        }
    }

    fn hierarchy(&mut self) -> Option<&mut Hierarchy> {
        self.hierarchy
            .get_or_insert_with(|| {
                let mount = unified_mount()?;
                let fd = File::open(&mount).ok()?.into();
                Some(Hierarchy { mount, fd, by_handle: true, walked: HashMap::default(), walked_at: None })
            })
            .as_mut()
    }

    /// The path of cgroup `id` below the hierarchy's root.
    fn resolve(&mut self, id: u64) -> Name {
        let Some(hierarchy) = self.hierarchy() else { return Name::Gone };
        if hierarchy.by_handle {
            match by_handle(hierarchy, id) {
                Err(error) if error.raw_os_error() == Some(libc::EPERM) => {
                    log::info!(
                        "cgroups cannot be opened by ID here (open_by_handle_at needs CAP_DAC_READ_SEARCH): \
                         naming them by walking {}",
                        hierarchy.mount.display()
                    );
                    hierarchy.by_handle = false;
                }
                outcome => return outcome.ok().flatten().map_or(Name::Gone, Name::Path),
            }
        }
        if let Some(path) = hierarchy.walked.get(&id) {
            return Name::Path(path.clone());
        }
        if hierarchy.walked_at.is_some_and(|at| at.elapsed() < REWALK_AFTER) {
            // Perhaps too new for the last walk.
            return Name::NotYet;
        }
        hierarchy.walked_at = Some(Instant::now());
        let mut walked = HashMap::default();
        // Only a hierarchy that disappeared fails; then nothing can be named.
        let _ = walk(|id, path| {
            walked.insert(id, Text::from(path));
        });
        hierarchy.walked = walked;
        hierarchy.walked.get(&id).cloned().map_or(Name::NotYet, Name::Path)
    }
}

/// What [`CgroupNames::resolve`] found.
enum Name {
    Path(Text),
    /// Removed, or no hierarchy to look in: remembered as nameless.
    Gone,
    /// Not in the last walk of the hierarchy: asked again later.
    NotYet,
}

/// The path of cgroup `id` through its kernfs file handle: `Ok(None)` when it no longer exists.
fn by_handle(hierarchy: &Hierarchy, id: u64) -> std::io::Result<Option<Text>> {
    #[repr(C)]
    struct KernfsHandle {
        handle_bytes: u32,
        handle_type: i32,
        id: [u8; 8],
    }
    let mut handle = KernfsHandle { handle_bytes: 8, handle_type: FILEID_KERNFS, id: id.to_ne_bytes() };
    // SAFETY: a file handle of the declared size; the kernel only reads it.
    let fd = unsafe {
        libc::open_by_handle_at(
            hierarchy.fd.as_raw_fd(),
            (&raw mut handle).cast(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        let error = std::io::Error::last_os_error();
        return if error.raw_os_error() == Some(libc::EPERM) { Err(error) } else { Ok(None) };
    }
    // SAFETY: a descriptor we just opened and own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let Ok(link) = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())) else { return Ok(None) };
    Ok(relative_path(&hierarchy.mount, &link))
}

/// `full` below `mount`, as `/a/b` (`/` for the root itself).
fn relative_path(mount: &Path, full: &Path) -> Option<Text> {
    let below = full.strip_prefix(mount).ok()?;
    let mut path = b"/".to_vec();
    path.extend_from_slice(below.as_os_str().as_bytes());
    Some(Text::new(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape_mount_path(r"/sys/fs/cgroup/unified"), "/sys/fs/cgroup/unified");
        assert_eq!(unescape_mount_path(r"/mnt/with\040space\\x"), r"/mnt/with space\\x");
    }

    #[test]
    fn paths_are_relative_to_the_hierarchy() {
        let mount = Path::new("/sys/fs/cgroup/unified");
        assert_eq!(relative_path(mount, Path::new("/sys/fs/cgroup/unified")), Some(Text::from("/")));
        assert_eq!(relative_path(mount, Path::new("/sys/fs/cgroup/unified/a/b")), Some(Text::from("/a/b")));
        assert_eq!(relative_path(mount, Path::new("/elsewhere")), None);
    }

    /// The hierarchy's root always exists and has ID 1; the machines tracer is built on mount it.
    /// Root names it by file handle, anyone else by walking the hierarchy.
    #[test]
    fn resolves_the_root_and_nothing_that_does_not_exist() {
        let mut names = CgroupNames::default();
        assert!(unified_mount().is_some(), "tracer's machines mount the unified hierarchy");
        let mut place = Place { cgroup_id: Some(1), ..Place::default() };
        names.fill(&mut place);
        assert_eq!(place.cgroup, Some(Text::from("/")), "the root (ID 1) is /");
        assert_eq!(place.container, None);
        // IDs are never reused and 2^62 was never handed out.
        place.cgroup = None;
        place.cgroup_id = Some(1 << 62);
        names.fill(&mut place);
        assert_eq!(place.cgroup, None);
        assert_eq!(id_of("/"), Ok(1));
        let mut seen = Vec::new();
        walk(|id, path| seen.push((id, path.to_vec()))).unwrap();
        assert_eq!(seen.first(), Some(&(1, b"/".to_vec())), "the walk starts at the root");
        assert!(matches!(id_of("/no/such/cgroup"), Err(CgroupError::NoSuchCgroup { .. })));
    }

    #[test]
    fn without_file_handles_names_come_from_walking_the_hierarchy() {
        let mut names = CgroupNames::default();
        names.hierarchy().expect("tracer's machines mount the unified hierarchy").by_handle = false;
        let cgroups = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let own = cgroups.lines().find_map(|line| line.strip_prefix("0::")).expect("a unified cgroup").to_owned();
        let mut place = Place { cgroup_id: Some(1), ..Place::default() };
        place.cgroup_id = Some(id_of(&own).unwrap());
        names.fill(&mut place);
        assert_eq!(place.cgroup, Some(Text::from(own.as_str())));
        // Unknown to the walk just made: no name, and not remembered, so a later event asks again.
        place.cgroup = None;
        place.cgroup_id = Some(1 << 62);
        names.fill(&mut place);
        assert_eq!(place.cgroup, None);
        assert!(!names.known.contains_key(&(1 << 62)));
    }
}
