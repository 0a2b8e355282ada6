//! The `floor` configuration's binary: tracer embedding an eBPF object whose programs return at
//! once (tracer-ebpf's bench-only `floor` feature). It attaches the very hooks tracer attaches on
//! this kernel, so its cost over the untraced run is the kernel's price for hooking at all.
//!
//! Both are built apart, under `target/bench/` (their own target directories), so neither the
//! shipped object nor `target/release/tracer` is ever replaced by them.
use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

use crate::{
    build,
    command::{run, step, target_dir},
    toolchain,
};

/// Builds `target/bench/tracer-floor` and returns its path.
pub fn build() -> Result<PathBuf> {
    let root = target_dir().join("bench");
    let bpf = toolchain::ensure()?;
    step("building the floor eBPF object (every program returns at once) into target/bench/floor-ebpf");
    let object = build::build_ebpf_variant(&bpf, &["floor"], &root.join("floor-ebpf"))?;
    check_returns_at_once(&object)?;
    step("building tracer-floor (release, embedding the floor object) into target/bench/floor-build");
    let build_dir = root.join("floor-build");
    run(build::userspace_cargo(&object)
        .args(["build", "--release", "--package", "tracer", "--target-dir"])
        .arg(&build_dir))?;
    let binary = root.join("tracer-floor");
    let built = build_dir.join("release/tracer");
    fs::copy(&built, &binary).with_context(|| format!("cannot copy {} to {}", built.display(), binary.display()))?;
    Ok(binary)
}

/// BPF instructions are 8 bytes, and `r0 = 0; exit` is two of them.
const RETURN_AT_ONCE_BYTES: u64 = 16;

/// Fails unless every program of the floor object is `return 0`: an entry point without
/// `floor_return!()` would do real work in the floor and blur what it measures.
fn check_returns_at_once(path: &Path) -> Result<()> {
    let data = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file = object::File::parse(&*data).with_context(|| format!("{} is not an ELF object", path.display()))?;
    let mut programs = 0;
    for symbol in file.symbols().filter(|symbol| symbol.kind() == SymbolKind::Text) {
        let Some(index) = symbol.section_index() else { continue };
        let section = file.section_by_index(index)?;
        // `.text` holds functions programs call (memcpy…), not programs.
        if section.name()? == ".text" {
            continue;
        }
        programs += 1;
        if symbol.size() > RETURN_AT_ONCE_BYTES {
            bail!(
                "the floor object's program `{}` ({}) is {} instructions long, not 2: its entry point lacks `floor_return!()`",
                symbol.name()?,
                section.name()?,
                symbol.size() / 8
            );
        }
    }
    if programs == 0 {
        bail!("the floor object {} holds no program", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::EBPF_OBJECT_ENV;

    #[test]
    #[ignore = "needs the eBPF object: run by `cargo xtask test`, which names it in TRACER_EBPF_OBJECT"]
    fn the_shipped_object_is_not_a_floor() {
        let shipped = std::env::var_os(EBPF_OBJECT_ENV).expect("TRACER_EBPF_OBJECT names the built eBPF object");
        let error = check_returns_at_once(Path::new(&shipped)).unwrap_err().to_string();
        assert!(error.contains("lacks `floor_return!()`"), "{error}");
    }
}
