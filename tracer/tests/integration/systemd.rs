//! The systemd unit under a real systemd (as root): the host's own system, booted read-only in a
//! systemd-nspawn container that may use CAP_BPF and CAP_PERFMON, starts tracer.service with
//! the unit's whole sandbox (dynamic user, capabilities, syscall filter, read-only system),
//! reloads it after a logrotate-style rename, and stops it. The check runs in the container as
//! a oneshot unit and leaves its findings in a shared directory.

use std::{
    collections::BTreeMap,
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::Path,
    process::Command,
};

use crate::common::{host_only, need_program, require_root, tracer_bin, workload_bin};
use serde_json::Value;

const UNIT: &str = include_str!("../../../packaging/tracer.service");

/// Where the shared directory appears in the container (a directory every Debian root has).
const SHARED: &str = "/srv";

/// Runs in the container: start, work, rename and reload, work, stop; then report.
const CHECK_SCRIPT: &str = r#"#!/bin/sh
exec >/srv/out/check.log 2>&1
set -x
systemctl start tracer.service || exit 1
/srv/tracer-workload lifecycle
sleep 1
mv /var/log/tracer/events.json /var/log/tracer/events.json.renamed
systemctl reload tracer.service
sleep 1
/srv/tracer-workload lifecycle
sleep 1
pid=$(systemctl show -p MainPID --value tracer.service)
grep -E '^(Uid|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/$pid/status > /srv/out/status
systemctl stop tracer.service
systemctl show -p Result -p ExecMainStatus tracer.service > /srv/out/show
mkdir /srv/out/logs && cp -a /var/log/tracer/. /srv/out/logs/
journalctl --no-pager -o cat -u tracer.service > /srv/out/journal
"#;

const CHECK_UNIT: &str =
    "[Service]\nType=oneshot\nExecStart=/srv/check.sh\nExecStopPost=/bin/systemctl --no-block poweroff\n";

/// `key: value` lines (as in /proc/PID/status) or `key=value` lines (systemctl show).
fn pairs(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once(':').or_else(|| line.split_once('=')))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

#[test]
#[ignore = "needs root and the eBPF object: run by `cargo xtask test`"]
fn the_unit_starts_reloads_and_stops_under_systemd() {
    host_only("systemd");
    require_root();
    for (program, package) in [("systemd-nspawn", "systemd-container"), ("systemctl", "systemd")] {
        need_program(program, package);
    }
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    let root = dir.path().join("root");
    std::fs::create_dir_all(shared.join("out")).unwrap();
    std::fs::create_dir_all(shared.join("tracer.service.d")).unwrap();
    std::fs::create_dir(&root).unwrap();
    std::fs::copy(tracer_bin(), shared.join("tracer")).unwrap();
    std::fs::copy(workload_bin(), shared.join("tracer-workload")).unwrap();
    std::fs::write(shared.join("check.sh"), CHECK_SCRIPT).unwrap();
    std::fs::set_permissions(shared.join("check.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(shared.join("check.service"), CHECK_UNIT).unwrap();
    std::fs::write(shared.join("tracer.service"), UNIT.replace("@BINDIR@", SHARED)).unwrap();
    // Only the workload's events, and small files, through the drop-in `systemctl edit` makes.
    // (In a PID namespace tracer cannot tell its own process from the kernel's point of view,
    // so the unfiltered default would also report tracer's own /proc reads.)
    let exec = UNIT.lines().find(|line| line.starts_with("ExecStart=")).expect("ExecStart");
    let exec = exec.replace("@BINDIR@", SHARED).replace("--rotate-size 100M", "--rotate-size 4K");
    std::fs::write(
        shared.join("tracer.service.d/test.conf"),
        format!("[Service]\nExecStart=\n{exec} -c tracer-workload -f\n"),
    )
    .unwrap();

    let nspawn = format!(
        "mount --bind / {root} && exec systemd-nspawn --quiet --directory={root} --volatile=state --register=no \
         --link-journal=no --keep-unit --machine=tracer-unit-test --capability=CAP_BPF,CAP_PERFMON \
         --system-call-filter='bpf perf_event_open' --bind={shared}:{SHARED} \
         --bind-ro={shared}/tracer.service:/run/systemd/system/tracer.service \
         --bind-ro={shared}/tracer.service.d:/run/systemd/system/tracer.service.d \
         --bind-ro={shared}/check.service:/run/systemd/system/tracer-check.service \
         --boot -- --unit=tracer-check.service",
        root = root.display(),
        shared = shared.display(),
    );
    // A private mount namespace: the bind of / (without its submounts) never shows on the host.
    let output = Command::new("timeout")
        .args(["300", "unshare", "--mount", "--propagation", "private", "sh", "-c", &nspawn])
        .output()
        .expect("run systemd-nspawn");
    let out = shared.join("out");
    let log = std::fs::read_to_string(out.join("check.log")).unwrap_or_default();
    assert!(output.status.success(), "systemd-nspawn: {}\n{log}", String::from_utf8_lossy(&output.stderr));

    let read = |name: &str| {
        std::fs::read_to_string(out.join(name))
            .unwrap_or_else(|error| panic!("{name}: {error}; the check said:\n{log}"))
    };
    let show = pairs(&read("show"));
    assert_eq!((show["Result"].as_str(), show["ExecMainStatus"].as_str()), ("success", "0"), "{log}");
    let status = pairs(&read("status"));
    let caps = format!("{:016x}", (1u64 << 38) | (1 << 39)); // CAP_PERFMON, CAP_BPF
    for set in ["CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status[set], caps, "{set}: {status:?}");
    }
    assert_eq!((status["NoNewPrivs"].as_str(), status["Seccomp"].as_str()), ("1", "2"), "{status:?}");
    let uid: u32 = status["Uid"].split_whitespace().next().unwrap().parse().unwrap();
    assert_ne!(uid, 0, "a dynamic user, not root");

    let journal = read("journal");
    assert!(journal.contains("Attached "), "{journal}");
    assert!(journal.lines().any(|line| line.starts_with("tracer: ") && line.contains(", 0 lost, ")), "{journal}");

    // Files: the service user's, private; the renamed one and those after the reload, with both
    // workloads' events (their PIDs are the host's, so they are recognised by what they did).
    let logs = out.join("logs");
    let read = |path: &Path| std::fs::read_to_string(path).unwrap();
    let mut events: Vec<Value> = Vec::new();
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&logs).unwrap() {
        let path = entry.unwrap().path();
        let metadata = std::fs::metadata(&path).unwrap();
        assert_eq!((metadata.uid(), metadata.mode() & 0o777), (uid, 0o600), "{}", path.display());
        names.push(path.file_name().unwrap().to_string_lossy().into_owned());
        events.extend(read(&path).lines().map(|line| serde_json::from_str::<Value>(line).unwrap()));
    }
    assert!(
        names.contains(&"events.json.renamed".to_owned()) && names.contains(&"events.json".to_owned()),
        "{names:?}"
    );
    assert!(!read(&logs.join("events.json.renamed")).is_empty(), "written before the reload: {names:?}\n{log}");
    let count = |predicate: &dyn Fn(&Value) -> bool| events.iter().filter(|event| predicate(event)).count();
    assert_eq!(count(&|e| e["event"] == "exit" && e["exit_code"] == 3), 2, "{events:?}");
    assert_eq!(count(&|e| e["event"] == "exit" && e["signal"] == "SIGKILL"), 2);
    assert_eq!(count(&|e| e["event"] == "rename" && e["new_comm"] == "lc-renamed"), 2);
    assert_eq!(count(&|e| e["event"] == "exec" && e["filename"] == "/usr/bin/cat"), 2);
    // Under the unit (no CAP_DAC_READ_SEARCH, cgroups read-only) cgroups are still named.
    let exits: Vec<&Value> = events.iter().filter(|e| e["event"] == "exit" && e["exit_code"] == 3).collect();
    assert!(exits.iter().all(|e| e["cgroup"].as_str().is_some_and(|path| path.starts_with('/'))), "{exits:?}");
}
