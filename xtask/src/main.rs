//! `cargo xtask`: the project's commands. Each sets up what it needs (the pinned nightly with
//! `rust-src`, a `bpf-linker` matching its LLVM, Debian packages) before building, so a fresh
//! clone needs nothing else.
mod bench;
mod build;
mod command;
mod dist;
mod fuzz;
mod install;
mod packages;
mod run;
mod test;
mod toolchain;
mod vm;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, run and test tracer")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Set up the toolchain, then build the eBPF object and `target/release/tracer`.
    Build,
    /// Build, then install tracer, its man pages, shell completions and systemd unit under a prefix
    Install(install::Options),
    /// Build, then run `target/release/tracer ARGS` as root (through sudo when needed).
    Run {
        /// Arguments for tracer (after `--`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Lint, build, then run every test: unit tests, the privileged integration tests, and the
    /// same in VMs booting Debian's 5.10, 6.1, 6.1-rt and 6.12 kernels (skipped, and said so,
    /// where a VM cannot run)
    Test(test::Options),
    /// Measure tracer's overhead, losses and costs against the untraced workload and bpftrace
    Bench(bench::Options),
    /// Build the static binary, then write a tarball, a .deb, an OCI image and SHA256SUMS into
    /// target/dist/
    Dist {
        /// Then test them as `cargo xtask test` does: lintian, the .deb in clean Debian 11, 12
        /// and 13, the OCI image under podman.
        #[arg(long)]
        verify: bool,
    },
    /// Fuzz the recording reader (nightly, libFuzzer) for a while
    Fuzz(fuzz::Options),
    /// Run the integration tests inside VMs booting Debian's stock kernels
    VmTest {
        /// The kernel series to boot: 5.10, 6.1, 6.1-rt or 6.12 (every one when not given).
        #[arg(long)]
        kernel: Option<String>,
        /// Extra arguments for every test executable (after `--`), e.g. a test name filter.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Build => build::build().map(|_| ()),
        Task::Install(options) => install::install(&options),
        Task::Run { args } => run::run(&args),
        Task::Test(options) => test::test(&options),
        Task::Bench(options) => bench::bench(&options),
        Task::Dist { verify } => dist::dist(verify),
        Task::Fuzz(options) => fuzz::fuzz(&options),
        Task::VmTest { kernel, args } => vm::vm_test(kernel.as_deref(), &args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}
