//! Rotation on a real filesystem: naming, keeping, refusing links, reopening after an outside
//! rename, and retrying a failed rotation later.
use std::{
    fs,
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::Path,
};

use super::*;

fn policy(max_size: Option<u64>, keep: u32) -> RotatePolicy {
    RotatePolicy { max_size, max_age: None, keep }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn creates_a_private_file_and_counts_what_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.json");
    let mut file = RotatingFile::create(&path, policy(Some(10), 2)).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!file.size_due(0, 100), "an empty file takes any record");
    file.write_all(b"12345").unwrap();
    assert!(!file.size_due(0, 5), "exactly at the limit");
    assert!(file.size_due(0, 6));
    assert!(file.size_due(5, 1), "buffered bytes count");
    assert_eq!(read(&path), "12345");
}

#[test]
fn an_existing_file_is_rotated_away_never_appended_to() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.json");
    fs::write(&path, "previous run\n").unwrap();
    let mut file = RotatingFile::create(&path, policy(None, 3)).unwrap();
    file.write_all(b"this run\n").unwrap();
    assert_eq!(read(&path), "this run\n");
    assert_eq!(read(&dir.path().join("events.json.1")), "previous run\n");
}

#[test]
fn an_existing_empty_file_is_removed_not_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.json");
    fs::write(dir.path().join("events.json.1"), "history\n").unwrap();
    fs::write(&path, "").unwrap();
    RotatingFile::create(&path, policy(None, 1)).unwrap();
    assert_eq!(listing(dir.path()), ["events.json", "events.json.1"]);
    assert_eq!(read(&dir.path().join("events.json.1")), "history\n", "history is not pushed out");
}

#[test]
fn links_and_non_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    fs::write(&target, "keep").unwrap();
    let link = dir.path().join("events.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let error = RotatingFile::create(&link, RotatePolicy::default()).err().expect("a link is refused");
    assert_eq!(
        error.to_string(),
        format!("{} is a symbolic link; tracer does not write through links", link.display())
    );
    assert_eq!(read(&target), "keep");
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is left alone");

    let error = RotatingFile::create(dir.path(), RotatePolicy::default()).err().expect("a directory is refused");
    assert!(error.to_string().ends_with("exists and is not a regular file"), "{error}");
    let error = RotatingFile::create(&dir.path().join("missing/x.json"), RotatePolicy::default()).err().unwrap();
    assert!(error.to_string().starts_with("cannot open the directory of "), "{error}");
}

#[test]
fn rotation_shifts_names_and_keeps_n_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.json");
    let mut file = RotatingFile::create(&path, policy(Some(1), 3)).unwrap();
    for generation in 0..6 {
        write!(file, "generation {generation}").unwrap();
        assert!(file.size_due(0, 1));
        file.rotate().unwrap();
    }
    write!(file, "generation 6").unwrap();
    assert_eq!(listing(dir.path()), ["e.json", "e.json.1", "e.json.2", "e.json.3"]);
    assert_eq!(read(&path), "generation 6");
    assert_eq!(read(&dir.path().join("e.json.1")), "generation 5");
    assert_eq!(read(&dir.path().join("e.json.3")), "generation 3");
    for name in listing(dir.path()) {
        assert_eq!(fs::metadata(dir.path().join(&name)).unwrap().mode() & 0o777, 0o600, "{name}");
    }
}

#[test]
fn keep_zero_deletes_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.json");
    let mut file = RotatingFile::create(&path, policy(Some(1), 0)).unwrap();
    file.write_all(b"old").unwrap();
    file.rotate().unwrap();
    file.write_all(b"new").unwrap();
    assert_eq!(listing(dir.path()), ["e.json"]);
    assert_eq!(read(&path), "new");
}

#[test]
fn a_file_past_a_gap_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.json");
    fs::write(dir.path().join("e.json.1"), "one").unwrap();
    fs::write(dir.path().join("e.json.3"), "three").unwrap();
    let mut file = RotatingFile::create(&path, policy(Some(1), 5)).unwrap();
    file.write_all(b"current").unwrap();
    file.rotate().unwrap();
    // At create "e.json" did not exist: only the rotation moved things.
    assert_eq!(listing(dir.path()), ["e.json", "e.json.1", "e.json.2", "e.json.3"]);
    assert_eq!(read(&dir.path().join("e.json.1")), "current");
    assert_eq!(read(&dir.path().join("e.json.2")), "one");
    assert_eq!(read(&dir.path().join("e.json.3")), "three");
}

#[test]
fn reopen_follows_an_outside_rename_and_never_writes_into_a_stranger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.json");
    let rotated = dir.path().join("e.json.1");
    let mut file = RotatingFile::create(&path, RotatePolicy::default()).unwrap();
    file.write_all(b"a").unwrap();
    assert_eq!(file.reopen().unwrap(), Reopened::Unchanged);
    file.write_all(b"b").unwrap();
    fs::rename(&path, &rotated).unwrap();
    file.write_all(b"c").unwrap();
    assert_eq!(file.reopen().unwrap(), Reopened::New);
    file.write_all(b"d").unwrap();
    assert_eq!((read(&rotated), read(&path)), ("abc".into(), "d".into()));

    // logrotate's `create`: a new file appears before tracer is told.
    fs::rename(&path, &rotated).unwrap();
    fs::write(&path, "").unwrap();
    let error = file.reopen().expect_err("a stranger's file is refused");
    assert!(matches!(error, RotateError::Occupied { .. }), "{error}");
    file.write_all(b"e").unwrap();
    assert_eq!((read(&rotated), read(&path)), ("de".into(), "".into()));
}

#[test]
fn a_failed_rotation_is_retried_after_another_max_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.json");
    // keep 1 must delete e.json.1 to rotate; a non-empty directory cannot be unlinked, even by root.
    fs::create_dir_all(dir.path().join("e.json.1/x")).unwrap();
    let mut file = RotatingFile::create(&path, policy(Some(4), 1)).unwrap();
    file.write_all(b"1234").unwrap();
    assert!(file.size_due(0, 1));
    let error = file.rotate().expect_err("the rotation fails");
    assert!(error.to_string().starts_with(&format!("cannot rotate {}: ", path.display())), "{error}");
    assert!(!file.size_due(0, 4), "not retried before every record");
    file.write_all(b"5678").unwrap();
    assert!(file.size_due(0, 1), "retried after another max_size");
    fs::remove_dir_all(dir.path().join("e.json.1")).unwrap();
    file.rotate().unwrap();
    assert_eq!(read(&dir.path().join("e.json.1")), "12345678");
}

#[test]
fn age_counts_from_the_first_byte_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.json");
    let age = RotatePolicy { max_size: None, max_age: Some(Duration::from_millis(50)), keep: 2 };
    let mut file = RotatingFile::create(&path, age).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    assert!(!file.age_due(), "an empty file does not age");
    file.write_all(b"x").unwrap();
    assert!(!file.age_due(), "its age starts with its first byte");
    std::thread::sleep(Duration::from_millis(60));
    assert!(file.age_due());
    file.rotate().unwrap();
    std::thread::sleep(Duration::from_millis(60));
    assert!(!file.age_due(), "the new file is empty");
    file.write_all(b"y").unwrap();
    assert!(!file.age_due());
    assert_eq!((read(&path), read(&dir.path().join("e.json.1"))), ("y".into(), "x".into()));
}
