//! Creating the recording file: never through a symlink, never into someone else's inode.

use std::os::unix::fs::MetadataExt;

use super::*;

/// A fresh directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = TempPath::new(name);
        std::fs::create_dir(&path.0).expect("create the directory");
        let dir = TempDir(path.0.clone());
        std::mem::forget(path);
        dir
    }

    /// Names in the directory, sorted.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .expect("list")
            .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn exclusive_creation_refuses_symlinks_and_never_creates_their_target() {
    let dir = TempDir::new("symlinks");
    let target = dir.0.join("target");
    std::fs::write(&target, b"keep me").expect("write");
    let link = dir.0.join("link");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let dangling = dir.0.join("dangling");
    let nowhere = dir.0.join("nowhere");
    std::os::unix::fs::symlink(&nowhere, &dangling).expect("symlink");

    for path in [&link, &dangling] {
        let error = RecordingWriter::create(path, &header(), false).err().expect("refused");
        assert!(matches!(error, RecordingError::File(crate::files::CreateError::Exists { .. })), "{error}");
    }
    assert_eq!(std::fs::read(&target).expect("read"), b"keep me");
    assert!(!nowhere.exists(), "a dangling symlink's target was created");
    assert_eq!(dir.names(), ["dangling", "link", "target"]);
}

#[test]
fn force_replaces_a_symlink_itself_and_leaves_its_target_alone() {
    let dir = TempDir::new("force-link");
    let target = dir.0.join("target");
    std::fs::write(&target, b"keep me").expect("write");
    let link = dir.0.join("link");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let dangling = dir.0.join("dangling");
    std::os::unix::fs::symlink(dir.0.join("nowhere"), &dangling).expect("symlink");

    for path in [&link, &dangling] {
        let writer = RecordingWriter::create(path, &header(), true).expect("replace");
        let note = writer.replaced().expect("a note about the symlink").to_owned();
        assert!(note.contains("symlink") && note.contains("not followed"), "{note}");
        writer.finish(Losses::default()).expect("finish");
        let meta = std::fs::symlink_metadata(path).expect("lstat");
        assert!(meta.is_file(), "the path is now a regular file");
        assert_eq!(meta.mode() & 0o777, 0o600);
        let (items, _) = split_trailer(RecordingReader::open(path).expect("open").collect());
        assert_eq!(items, vec![]);
    }
    assert_eq!(std::fs::read(&target).expect("read"), b"keep me");
    assert_eq!(dir.names(), ["dangling", "link", "target"], "no temporary file is left");
}

#[test]
fn force_gives_a_new_inode_and_the_old_one_no_byte() {
    let dir = TempDir::new("force-file");
    let path = dir.0.join("trace.rec");
    std::fs::write(&path, b"old contents").expect("write");
    let keep = dir.0.join("hard-link");
    std::fs::hard_link(&path, &keep).expect("hard link");
    let old_inode = std::fs::metadata(&path).expect("stat").ino();

    let mut writer = RecordingWriter::create(&path, &header(), true).expect("replace");
    writer.append(&mut sample_events()[0]).expect("append");
    writer.finish(Losses::default()).expect("finish");
    assert_ne!(std::fs::metadata(&path).expect("stat").ino(), old_inode);
    assert_eq!(std::fs::read(&keep).expect("read"), b"old contents");
    assert_eq!(dir.names(), ["hard-link", "trace.rec"]);
}

#[test]
fn force_failures_are_named_and_leave_nothing_behind() {
    let dir = TempDir::new("force-fail");
    let subdir = dir.0.join("a-directory");
    std::fs::create_dir(&subdir).expect("mkdir");
    let message = RecordingWriter::create(&subdir, &header(), true).err().expect("refused").to_string();
    assert_eq!(message, format!("cannot replace {}: Is a directory (os error 21)", subdir.display()));
    assert_eq!(dir.names(), ["a-directory"]);

    let missing = dir.0.join("no-such-dir").join("x.rec");
    let message = RecordingWriter::create(&missing, &header(), true).err().expect("refused").to_string();
    assert_eq!(message, format!("cannot create {}: No such file or directory (os error 2)", missing.display()));
}

#[test]
fn discarding_removes_only_the_file_it_created() {
    let dir = TempDir::new("discard");
    let path = dir.0.join("trace.rec");
    RecordingWriter::create(&path, &header(), false).expect("create").discard();
    assert_eq!(dir.names(), Vec::<String>::new());

    // Someone put another file at the path meanwhile: it stays.
    let writer = RecordingWriter::create(&path, &header(), false).expect("create");
    std::fs::remove_file(&path).expect("remove");
    std::fs::write(&path, b"someone else's").expect("write");
    writer.discard();
    assert_eq!(std::fs::read(&path).expect("read"), b"someone else's");
}

#[test]
fn directories_reached_through_ones_own_symlinks_and_dot_dots_are_fine() {
    let dir = TempDir::new("dir-links");
    let real = dir.0.join("real");
    std::fs::create_dir(&real).expect("mkdir");
    std::os::unix::fs::symlink("real", dir.0.join("relative-link")).expect("symlink");
    std::os::unix::fs::symlink(&real, dir.0.join("absolute-link")).expect("symlink");
    let paths = [
        dir.0.join("relative-link").join("a.rec"),
        dir.0.join("absolute-link").join("b.rec"),
        dir.0.join("real").join("..").join("absolute-link").join(".").join("c.rec"),
    ];
    for (index, path) in paths.iter().enumerate() {
        let writer = RecordingWriter::create(path, &header(), index == 1).expect("create");
        writer.finish(Losses::default()).expect("finish");
    }
    let mut names: Vec<String> = std::fs::read_dir(&real)
        .expect("list")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a.rec", "b.rec", "c.rec"]);

    let file = dir.0.join("real").join("a.rec");
    let under_a_file = file.join("x.rec");
    let message = RecordingWriter::create(&under_a_file, &header(), false).err().expect("refused").to_string();
    assert_eq!(message, format!("cannot create {}: Not a directory (os error 20)", under_a_file.display()));
    std::os::unix::fs::symlink("loop", dir.0.join("loop")).expect("symlink");
    let looping = dir.0.join("loop").join("x.rec");
    let message = RecordingWriter::create(&looping, &header(), true).err().expect("refused").to_string();
    assert!(message.ends_with("Too many levels of symbolic links (os error 40)"), "{message}");
}

#[test]
fn create_refuses_an_existing_file_unless_overwriting() {
    let path = TempPath::new("exists");
    write_recording(&path.0, &sample_events());
    let mode = std::fs::metadata(&path.0).expect("metadata").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let error = RecordingWriter::create(&path.0, &header(), false).err().expect("refused");
    assert!(matches!(error, RecordingError::File(crate::files::CreateError::Exists { .. })));
    let message = error.to_string();
    assert!(message.contains(&*path.0.to_string_lossy()) && message.contains("already exists"), "{message}");
    assert!(message.contains("--force"), "{message}");
    // The refused create left the file alone.
    assert_eq!(events_of(&RecordingReader::open(&path.0).expect("open").collect::<Vec<_>>()), sample_events());

    // Overwriting puts a new file, mode 0600, in place of the old one, which keeps its bytes.
    std::fs::set_permissions(&path.0, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let old = std::fs::File::open(&path.0).expect("open the old file");
    let old_bytes = std::fs::read(&path.0).expect("read");
    let writer = RecordingWriter::create(&path.0, &header(), true).expect("overwrite");
    assert_eq!(writer.replaced(), None, "replacing one's own file is not worth a note");
    writer.finish(Losses::default()).expect("finish");
    let (items, _) = split_trailer(RecordingReader::open(&path.0).expect("open").collect());
    assert_eq!(items, vec![]);
    let mode = std::fs::metadata(&path.0).expect("metadata").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let mut kept = Vec::new();
    (&old).read_to_end(&mut kept).expect("read the old inode");
    assert_eq!(kept, old_bytes);
}

#[test]
fn create_names_the_path_on_failure() {
    let path = std::env::temp_dir().join("tracer-recording-test-no-such-dir").join("x.rec");
    let error = RecordingWriter::create(&path, &header(), false).err().expect("fails");
    let message = error.to_string();
    assert!(message.starts_with("cannot create ") && message.contains("x.rec"), "{message}");
}
