//! `tracer-workload SCENARIO`: task workloads with known outcomes. The integration tests run
//! them under tracer and assert the exact events they cause; benchmarks use them as load.
use std::process::ExitCode;

mod clones;
mod container;
mod hostile;
mod lifecycle;
mod namespaces;
mod nest;
mod pair;
mod signals;
mod storm;
mod thread_exec;
mod top_family;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("clones") => clones::run(&args[1..]),
        Some("hostile-names") => hostile::run(&args[1..]),
        Some("lifecycle") => lifecycle::run(&args[1..]),
        Some("nest") => nest::run(&args[1..]),
        Some("pair") => pair::run(&args[1..]),
        Some("signals") => signals::run(&args[1..]),
        Some("storm") => storm::run(&args[1..]),
        Some("top-family") => top_family::run(&args[1..]),
        Some("thread-exec") => thread_exec::run(&args[1..]),
        Some("ns-setns-thread") => namespaces::setns_thread(&args[1..]),
        Some("ns-unshare-uts") => namespaces::unshare_uts(&args[1..]),
        Some("ns-clone-user") => namespaces::clone_user(&args[1..]),
        Some("ns-report") => namespaces::report(&args[1..]),
        Some("container") => container::run(&args[1..]),
        // What `hostile-names` execs under a hostile argv[0]: exits 0 whatever its arguments.
        Some("true") => ExitCode::SUCCESS,
        _ => {
            eprintln!(
                "usage: tracer-workload lifecycle\n       tracer-workload clones\n       tracer-workload nest DEPTH [--linger MS]\n       tracer-workload pair\n       tracer-workload signals [--exit N]\n       tracer-workload thread-exec\n       tracer-workload top-family SECONDS\n       tracer-workload storm --shape thread|fork|exec --tasks N [--cores one|all]\n       tracer-workload hostile-names DIR\n       tracer-workload ns-setns-thread | ns-unshare-uts | ns-clone-user | ns-report\n       tracer-workload container"
            );
            ExitCode::from(2)
        }
    }
}
