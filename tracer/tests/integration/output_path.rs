//! `-o FILE` as root in a directory other users can write to (sticky, like `/tmp`): tracer never
//! follows a symlink an unprivileged user planted there (as the file or as a directory on the
//! way), and never writes into a file that user created; `--force` replaces the path with a new
//! file instead.

use std::{
    os::unix::{
        fs::{MetadataExt, PermissionsExt},
        process::CommandExt,
    },
    path::{Path, PathBuf},
    process::Command,
};

use crate::common::{Tracer, require_root, run_tracer, run_workload, stderr_of, tracer_bin};

/// The unprivileged user planting things (`nobody`; no passwd entry is needed).
const USER: u32 = 65534;
/// Another unprivileged user.
const OTHER_USER: u32 = 65533;

/// A fresh directory like `/tmp`: world-writable and sticky.
fn sticky_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracer-test-output-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the directory");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).expect("chmod 1777");
    dir
}

/// A fresh directory only root can enter, for root's own files.
fn root_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracer-test-output-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the directory");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod 700");
    dir
}

/// Runs `script` with `sh` as `uid` (std drops root's supplementary groups).
fn as_user(uid: u32, script: &str) {
    let status = Command::new("/bin/sh").args(["-c", script]).uid(uid).gid(uid).status().expect("run sh");
    assert!(status.success(), "`{script}` as uid {uid}: {status}");
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Records the lifecycle workload to `path` (root's data: other users must never see it).
fn record(path: &Path, force: bool) -> crate::common::Stopped {
    let mut args = vec!["--json", "-c", "tracer-workload", "-f", "-o", path.to_str().unwrap()];
    if force {
        args.push("--force");
    }
    let tracer = Tracer::start(&args);
    run_workload(&["lifecycle"]);
    tracer.stop()
}

/// What a file looks like, to show it was not touched.
fn fingerprint(path: &Path) -> (Vec<u8>, u64, u32, i64, i64) {
    let meta = std::fs::metadata(path).expect("stat");
    (std::fs::read(path).expect("read"), meta.ino(), meta.mode(), meta.mtime(), meta.mtime_nsec())
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_symlink_planted_by_a_user_is_never_followed() {
    require_root();
    let dir = sticky_dir("symlink");
    let secret_dir = root_dir("symlink-target");
    let target = secret_dir.join("root-only.conf");
    std::fs::write(&target, b"root's file\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    let missing = secret_dir.join("created-by-nobody");
    let link = dir.join("trace.rec");
    let dangling = dir.join("dangling.rec");
    as_user(
        USER,
        &format!("ln -s {} {} && ln -s {} {}", target.display(), link.display(), missing.display(), dangling.display()),
    );
    let before = fingerprint(&target);

    // Without --force: refused, whether the link leads somewhere or not.
    for path in [&link, &dangling] {
        let output = run_tracer(&["-o", path.to_str().unwrap(), "-q", "-d", "0.2", "-c", "no-such-comm"]);
        assert_eq!(output.status.code(), Some(1));
        assert_eq!(
            stderr_of(&output).trim(),
            format!("tracer: {} already exists (use --force to overwrite it)", path.display())
        );
    }
    assert_eq!(fingerprint(&target), before);
    assert!(!missing.exists(), "the dangling link's target was created");

    // With --force: the links themselves are replaced; their targets never see a byte.
    for path in [&link, &dangling] {
        let stopped = record(path, true);
        assert!(stopped.status.success(), "{}", stopped.stderr);
        assert!(
            stopped.stderr.contains(&format!(
                "tracer: --force replaced the symlink {} (of uid {USER}) with a new file; the symlink was not followed",
                path.display()
            )),
            "{}",
            stopped.stderr
        );
        let meta = std::fs::symlink_metadata(path).expect("lstat");
        assert!(meta.file_type().is_file(), "{} is now a regular file", path.display());
        assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o600));
        let replayed = run_tracer(&["replay", path.to_str().unwrap(), "--json"]);
        assert_eq!(replayed.status.code(), Some(0), "{}", stderr_of(&replayed));
        assert_eq!(String::from_utf8_lossy(&replayed.stdout).lines().count(), stopped.lines.len());
    }
    assert_eq!(fingerprint(&target), before, "the symlink's target is untouched");
    assert!(!missing.exists(), "the dangling link's target was created");
    assert_eq!(names(&dir), ["dangling.rec", "trace.rec"], "no temporary file is left");
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(secret_dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_file_a_user_created_never_receives_roots_data() {
    require_root();
    let dir = sticky_dir("user-file");
    let path = dir.join("trace.rec");
    let kept = dir.join("kept-link");
    // The user creates the file world-readable and keeps a second name for its inode.
    as_user(USER, &format!("umask 022; printf 'user data' > {0} && ln {0} {1}", path.display(), kept.display()));
    let before = fingerprint(&kept);
    // An open descriptor, like the user's own `tail -f`.
    let held = std::fs::File::open(&path).expect("open the user's file");

    let output = run_tracer(&["-o", path.to_str().unwrap(), "-q", "-d", "0.2", "-c", "no-such-comm"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
    assert_eq!(fingerprint(&kept), before);

    let stopped = record(&path, true);
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert!(stopped.lines.len() > 10);
    assert!(
        stopped.stderr.contains(&format!(
            "tracer: --force replaced {}, a file of uid {USER}, with a new file; that file was not written to",
            path.display()
        )),
        "{}",
        stopped.stderr
    );
    assert_eq!(fingerprint(&kept), before, "the user's inode never got a byte");
    let mut through_fd = String::new();
    std::io::Read::read_to_string(&mut &held, &mut through_fd).unwrap();
    assert_eq!(through_fd, "user data");
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert_ne!(meta.ino(), before.1);
    assert_eq!((meta.uid(), meta.mode() & 0o7777, meta.nlink()), (0, 0o600, 1));
    assert_eq!(names(&dir), ["kept-link", "trace.rec"], "no temporary file is left");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn without_privilege_force_cannot_replace_another_users_file_and_says_why() {
    require_root();
    let dir = sticky_dir("other-user");
    let path = dir.join("trace.rec");
    as_user(USER, &format!("printf 'user data' > {}", path.display()));
    let before = fingerprint(&path);
    // tracer as another unprivileged user: the file is created before anything needs root.
    let output = Command::new(tracer_bin())
        .args(["-o", path.to_str().unwrap(), "--force", "-q", "-d", "0.2"])
        .uid(OTHER_USER)
        .gid(OTHER_USER)
        .output()
        .expect("run tracer");
    assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
    assert_eq!(
        stderr_of(&output).trim(),
        format!(
            "tracer: cannot replace {}: Operation not permitted (os error 1) (it belongs to uid {USER} and {} is a \
             sticky directory, where only an entry's owner or root may replace it)",
            path.display(),
            dir.display()
        )
    );
    assert_eq!(fingerprint(&path), before);
    assert_eq!(names(&dir), ["trace.rec"], "the new file was removed");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn a_directory_symlink_planted_by_a_user_is_never_followed() {
    require_root();
    let dir = sticky_dir("dir-symlink");
    let secret_dir = root_dir("dir-symlink-target");
    let victim = secret_dir.join("passwd");
    std::fs::write(&victim, b"root:x:0:0\n").unwrap();
    let planted = dir.join("d");
    as_user(USER, &format!("ln -s {} {}", secret_dir.display(), planted.display()));
    let before = fingerprint(&victim);

    for (name, force) in [("passwd", true), ("new.rec", false), ("new.rec", true)] {
        let path = planted.join(name);
        let mut args = vec!["-o", path.to_str().unwrap(), "-q", "-d", "0.2", "-c", "no-such-comm"];
        if force {
            args.push("--force");
        }
        let output = run_tracer(&args);
        assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
        assert_eq!(
            stderr_of(&output).trim(),
            format!(
                "tracer: cannot create {}: refusing to follow the symlink {} (of uid {USER}) in {}, a sticky \
                 world-writable directory",
                path.display(),
                planted.display(),
                dir.display()
            )
        );
    }
    assert_eq!(fingerprint(&victim), before);
    assert_eq!(names(&secret_dir), ["passwd"], "nothing was created through the symlink");

    // The directory's owner may keep symlinks there: root's own is followed.
    let own = dir.join("root-link");
    std::os::unix::fs::symlink(&secret_dir, &own).unwrap();
    let stopped = record(&own.join("ok.rec"), false);
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert_eq!(names(&secret_dir), ["ok.rec", "passwd"]);
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(secret_dir);
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn force_never_replaces_a_device_or_a_fifo() {
    require_root();
    let dir = root_dir("special");
    // A null device of its own (as /dev/null is: major 1, minor 3), and a FIFO.
    let device = dir.join("null");
    let fifo = dir.join("fifo");
    let made = Command::new("mknod").args([device.to_str().unwrap(), "c", "1", "3"]).status().expect("run mknod");
    assert!(made.success(), "mknod: {made}");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("run mkfifo");
    assert!(made.success(), "mkfifo: {made}");
    let rdev = std::fs::symlink_metadata(&device).expect("stat the device").rdev();
    for (path, kind) in [(&device, "a character device"), (&fifo, "a FIFO")] {
        let output = run_tracer(&["-o", path.to_str().unwrap(), "--force", "-q", "-d", "0.2"]);
        assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
        assert_eq!(
            stderr_of(&output).trim(),
            format!(
                "tracer: cannot create {}: it is {kind}, not a file; --force replaces only files and symbolic links",
                path.display()
            )
        );
    }
    let after = std::fs::symlink_metadata(&device).expect("stat the device");
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(&after.file_type()), "the device is still a device");
    assert_eq!(after.rdev(), rdev);
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&std::fs::symlink_metadata(&fifo).expect("stat").file_type()));
    assert_eq!(names(&dir), ["fifo", "null"], "no temporary file is left");
    let _ = std::fs::remove_dir_all(dir);
}
