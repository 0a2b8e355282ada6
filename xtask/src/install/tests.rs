//! The installed tree, checked by the tools that will read it: systemd-analyze for the unit (and
//! its man: link), groff for the pages, bash, zsh and fish for the completions.
use std::{os::unix::fs::PermissionsExt, process::Output};

use super::*;

fn output(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"))
}

/// Fails with one line for a missing program: packages are installed by `cargo xtask test`
/// alone (`HOST_PROGRAMS` in xtask/src/test.rs), never by a test.
fn need_programs(wanted: &[(&str, &str)]) {
    for (program, package) in wanted {
        assert!(
            crate::packages::find_program(program).is_some(),
            "needs {program} from Debian's package {package}; `cargo xtask test` installs it"
        );
    }
}

#[test]
fn the_unit_names_the_installed_binary() {
    let template = fs::read_to_string(workspace_root().join(UNIT_TEMPLATE)).unwrap();
    let unit = render_unit(&template, Path::new("/usr")).unwrap();
    assert!(unit.contains("\nExecStart=/usr/bin/tracer --quiet --json-output /var/log/tracer/events.json "), "{unit}");
    assert!(!unit.contains("@BINDIR@"), "every placeholder is filled: {unit}");
    let error = render_unit(&template, Path::new("/opt/my tools")).unwrap_err();
    assert_eq!(error.to_string(), "--prefix /opt/my tools: a unit's ExecStart cannot hold this path as is");
}

#[test]
#[ignore = "needs the built tracer ($TRACER_BIN) and the tools `cargo xtask test` installs"]
fn installs_a_tree_that_systemd_man_and_the_shells_accept() {
    let tracer = PathBuf::from(std::env::var_os("TRACER_BIN").expect("TRACER_BIN names the built tracer"));
    need_programs(&[
        ("systemd-analyze", "systemd"),
        ("zsh", "zsh"),
        ("fish", "fish"),
        ("groff", "groff-base"),
        ("bash", "bash"),
    ]);
    let prefix = tempfile::tempdir().unwrap();
    let prefix = prefix.path();
    let items = stage(&tracer, prefix, &prefix.join("staging")).unwrap();
    put(&items, prefix).unwrap();

    let installed = |path: &str| {
        let path = prefix.join(path);
        let mode =
            fs::metadata(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display())).permissions().mode();
        (path, mode & 0o777)
    };
    let (binary, mode) = installed("bin/tracer");
    assert_eq!(mode, 0o755);
    // The installed binary is the built one: the same version, commit and eBPF object.
    let version = output(Command::new(&binary).arg("--version"));
    let built = output(Command::new(&tracer).arg("--version"));
    assert_eq!(String::from_utf8_lossy(&version.stdout), String::from_utf8_lossy(&built.stdout));
    assert!(
        String::from_utf8_lossy(&version.stdout).starts_with(&format!("tracer {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{version:?}"
    );

    for page in ["tracer", "tracer-run", "tracer-replay", "tracer-tree", "tracer-export", "tracer-top", "tracer-probes"]
    {
        let (path, mode) = installed(&format!("share/man/man1/{page}.1"));
        assert_eq!(mode, 0o644);
        let checked = output(Command::new("groff").args(["-man", "-Tutf8", "-ww", "-z"]).arg(&path));
        assert!(checked.status.success() && checked.stderr.is_empty(), "{page}: {checked:?}");
    }

    let (bash, _) = installed("share/bash-completion/completions/tracer");
    let registered =
        output(Command::new("bash").arg("-c").arg(format!("source {} && complete -p tracer", bash.display())));
    let registered = String::from_utf8_lossy(&registered.stdout);
    assert!(registered.contains(" -F _tracer ") && registered.trim_end().ends_with(" tracer"), "{registered}");
    let (zsh, _) = installed("share/zsh/site-functions/_tracer");
    let checked = output(Command::new("zsh").arg("-n").arg(&zsh));
    assert!(checked.status.success() && checked.stderr.is_empty(), "zsh -n: {checked:?}");
    let (fish, _) = installed("share/fish/vendor_completions.d/tracer.fish");
    let checked = output(Command::new("fish").arg("--no-execute").arg(&fish));
    assert!(checked.status.success() && checked.stderr.is_empty(), "fish -n: {checked:?}");

    // systemd-analyze checks the unit's keys and values, that ExecStart is executable and that
    // the Documentation= page exists, so the man pages are looked up where they were installed.
    let (unit, mode) = installed("lib/systemd/system/tracer.service");
    assert_eq!(mode, 0o644);
    let text = fs::read_to_string(&unit).unwrap();
    assert!(text.contains(&format!("\nExecStart={} --quiet ", binary.display())), "{text}");
    let verified =
        output(Command::new("systemd-analyze").arg("verify").arg(&unit).env("MANPATH", prefix.join("share/man")));
    assert!(
        verified.status.success() && verified.stderr.is_empty() && verified.stdout.is_empty(),
        "systemd-analyze verify {}: {}{}",
        unit.display(),
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
    // And it does fail on a unit it cannot accept.
    let broken = prefix.join("broken.service");
    fs::write(&broken, text.replace("ProtectClock=yes", "ProtectClok=yes")).unwrap();
    let verified =
        output(Command::new("systemd-analyze").arg("verify").arg(&broken).env("MANPATH", prefix.join("share/man")));
    assert!(String::from_utf8_lossy(&verified.stderr).contains("Unknown key 'ProtectClok'"), "{verified:?}");
}
