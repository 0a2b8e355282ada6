//! `cargo xtask vm-test`: the integration tests inside VMs booting Debian's stock kernels, one
//! leg per kernel series (`series::ALL`: 5.10, 6.1, 6.1-rt, 6.12).
//!
//! The development kernel refuses fentry and has no kprobes, and is newer than what people run,
//! so the hooks on `proc_root_lookup` and the fallbacks for older kernels can only be exercised
//! on stock kernels. This builds the integration test executable once, packs it with the static
//! (musl) tracer that the packages ship, tracer-workload, busybox and their shared libraries
//! into an initramfs per leg, boots each
//! kernel on it under qemu (TCG) and reads the verdict and counts from the serial console.
//!
//! Everything comes from Debian's packages and is cached under `target/vm/`:
//! `kernel/<package>_<version>/` (extracted kernel packages, never installed into /boot),
//! `busybox/<package>_<version>/`, `apt/` (the private apt configuration for the suites the
//! machine does not list) and `legs/<series>/` (each leg's initramfs, rebuilt every run, and the
//! console of its last run, `serial.log`).
mod apt;
mod debian;
mod init_script;
mod initramfs;
mod legs;
mod qemu;
pub mod series;
mod test_binary;

use std::{
    fs::{self, File},
    os::fd::AsRawFd,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

pub use legs::run_legs;
use series::Series;

use crate::{
    build::{self, Artifacts},
    command::{step, target_dir},
    dist, packages,
};

/// `cargo xtask vm-test [--kernel SERIES] [-- TEST-ARGS]`: build, then run one leg (or every
/// leg). Asked for by name, a VM that cannot run here is an error.
pub fn vm_test(kernel: Option<&str>, test_args: &[String]) -> Result<()> {
    let chosen: Vec<Series> = match kernel {
        Some(name) => vec![
            Series::by_name(name)
                .with_context(|| format!("no kernel series {name:?}: choose one of {}", Series::names()))?,
        ],
        None => series::ALL.to_vec(),
    };
    let artifacts = build::build()?;
    let results = run_legs(&artifacts, &chosen, 1, test_args);
    let mut failed = 0;
    for result in &results {
        match &result.outcome {
            Ok(Outcome::Passed(passed)) => step(format!("{}: PASSED: {}", result.series.name, passed.describe())),
            Ok(Outcome::Unavailable { reason }) => bail!("the VM cannot run on this machine: {reason}"),
            Err(error) => {
                failed += 1;
                step(format!("{}: FAILED: {error:#}", result.series.name));
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} VM legs failed", results.len());
    }
    Ok(())
}

/// How a VM leg ended, when it did not fail.
pub enum Outcome {
    Passed(Passed),
    /// The VM cannot run on this machine (not x86-64, no Debian packages, no qemu): nothing was
    /// tested.
    Unavailable {
        reason: String,
    },
}

/// A leg whose tests all passed or were skipped.
pub struct Passed {
    /// The guest kernel, e.g. `5.10.0-35-cloud-amd64 (Linux 5.10.237), from …`.
    pub kernel: String,
    /// The guest's own count: `P passed, F failed, S skipped, H not run`.
    pub counts: String,
    pub took: Duration,
}

impl Passed {
    pub fn describe(&self) -> String {
        format!("{} on {}, in {} s", self.counts, self.kernel, self.took.as_secs())
    }
}

/// Integration tests the guest does not run, with what they need that it lacks: it has busybox,
/// not Debian's userland. They are skipped by name (`--skip`), so libtest's summary in the guest
/// counts them as filtered out, never as passed; each also fails if run in a VM anyway
/// (`common::host_only`), so a renamed test cannot pass there untested.
pub const HOST_ONLY: [(&str, &str); 8] = [
    ("container::a_podman_container_is_seen_from_inside_and_selected_by_its_id", "podman"),
    ("pictures::make_build_tree_and_perfetto_trace", "make, a C compiler and Python"),
    ("rotation::sighup_reopens_after_logrotate_and_never_writes_into_its_files", "logrotate"),
    ("service::the_units_capabilities_and_syscall_filter_are_all_tracer_needs", "systemd, strace and setpriv"),
    ("shipper::rsyslog_ships_every_line_across_rotations", "rsyslog"),
    ("systemd::the_unit_starts_reloads_and_stops_under_systemd", "systemd"),
    ("top::top_shows_threads_as_one_row_a_short_lived_child_with_its_exit_and_filters_then_quits", "tmux"),
    ("top::top_gives_the_terminal_back_on_sigterm", "tmux"),
];

/// What every leg shares: the host's tools, busybox, the static tracer and the one test
/// executable.
pub struct Shared {
    tools: debian::HostTools,
    busybox: PathBuf,
    /// The tracer users download (`cargo xtask dist`): the guests prove it, not the glibc build.
    tracer: PathBuf,
    test: PathBuf,
}

/// The host tools, busybox and the test executable, or why this machine cannot run a VM.
pub fn prepare(artifacts: &Artifacts) -> Result<Result<Shared, String>> {
    let dir = vm_dir()?;
    let arch = std::env::consts::ARCH;
    if arch != "x86_64" {
        return Ok(Err(format!(
            "the host is {arch}, and the VM boots an x86-64 kernel on the host's own tracer and test binaries"
        )));
    }
    if packages::find_program("apt-get").is_none() || packages::find_program("dpkg").is_none() {
        return Ok(Err(
            "no apt-get or dpkg: qemu, busybox and the guest kernels come from Debian's packages".to_owned()
        ));
    }
    let from_debian = |what: &str, error: anyhow::Error| format!("cannot get {what} from Debian's packages: {error:#}");
    // Held while apt runs (its lists and the busybox cache are shared), not while cargo builds.
    let lock = lock(&dir)?;
    let tools = match debian::host_tools() {
        Ok(tools) => tools,
        Err(error) => return Ok(Err(from_debian("qemu", error))),
    };
    let busybox = match debian::busybox(&dir) {
        Ok(busybox) => busybox,
        Err(error) => return Ok(Err(from_debian("busybox-static", error))),
    };
    drop(lock);
    let tracer = dist::static_tracer(artifacts)?;
    let test = test_binary::build_test_executable(&artifacts.ebpf_object)?;
    test_binary::check_host_only(&test)?;
    Ok(Ok(Shared { tools, busybox, tracer, test }))
}

/// How long one leg's tests may run in the guest, and the whole boot on the host. The slowest
/// leg took about 6 min under TCG with nothing else running; a busy machine makes it longer.
const TEST_TIMEOUT: Duration = Duration::from_secs(20 * 60);
const BOOT_TIMEOUT: Duration = Duration::from_secs(25 * 60);

/// One leg: fetch `series`' newest kernel, pack the guest, boot it and read its verdict.
/// `echo`: copy the console to the terminal as it comes. A kernel that cannot be obtained gives
/// [`Outcome::Unavailable`]; a guest that boots and fails its tests is an error.
pub fn leg(
    artifacts: &Artifacts,
    shared: &Shared,
    series: &Series,
    test_args: &[String],
    echo: bool,
) -> Result<Outcome> {
    let started = Instant::now();
    let dir = vm_dir()?;
    let kernel = {
        // The package lists and the kernel cache are shared by every leg and every clone's run.
        let _lock = lock(&dir)?;
        match debian::kernel(&dir, series) {
            Ok(kernel) => kernel,
            Err(error) => {
                return Ok(Outcome::Unavailable {
                    reason: format!("cannot get a {series} kernel from Debian's packages: {error:#}"),
                });
            }
        }
    };
    let leg_dir = dir.join("legs").join(series.name);
    fs::create_dir_all(&leg_dir).with_context(|| format!("cannot create {}", leg_dir.display()))?;
    let _lock = lock(&leg_dir)?;
    step(format!("[{}] guest kernel: {}", series.name, kernel.describe()));
    let vm_name = series.vm_name();
    let initrd = initramfs::build(
        &leg_dir,
        &initramfs::Contents {
            busybox: &shared.busybox,
            shell: &shared.tools.dash,
            tracer: &shared.tracer,
            workload: &artifacts.workload,
            test: &shared.test,
            leg: init_script::Leg {
                vm_name: &vm_name,
                test_timeout_secs: TEST_TIMEOUT.as_secs() as u32,
                host_only: &HOST_ONLY,
                test_args,
            },
        },
    )?;
    let log_path = leg_dir.join("serial.log");
    let counts = qemu::boot(&qemu::Boot {
        qemu: &shared.tools.qemu,
        kernel: &kernel,
        initrd: &initrd,
        log_path: &log_path,
        echo,
        timeout: BOOT_TIMEOUT,
    })?;
    Ok(Outcome::Passed(Passed { kernel: kernel.describe(), counts, took: started.elapsed() }))
}

/// `target/vm/`, created.
fn vm_dir() -> Result<PathBuf> {
    let dir = target_dir().join("vm");
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// An exclusive lock on `dir`, held until dropped: several people (and `cargo xtask test`)
/// share this target directory.
fn lock(dir: &Path) -> Result<File> {
    let path = dir.join(".lock");
    let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        step(format!("another vm-test is using {}: waiting for it", dir.display()));
        // SAFETY: as above.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            bail!("cannot lock {}: {}", path.display(), std::io::Error::last_os_error());
        }
    }
    Ok(file)
}
