//! Every name userspace looks up in the eBPF object (programs, maps, globals) is a constant of
//! tracer-common; this checks each against the object `cargo xtask build` embedded, so a
//! misspelt or renamed program fails here rather than at attach time on some kernel.
use object::{Object, ObjectSymbol};
use tracer_common::{global_name, map_name, program};

use super::EBPF_OBJECT;

#[test]
#[ignore = "needs the eBPF object `cargo xtask test` embeds"]
fn every_program_map_and_global_name_is_in_the_object() {
    assert!(!EBPF_OBJECT.is_empty(), "this test binary was built without the eBPF object (TRACER_EBPF_OBJECT)");
    let parsed = aya_obj::Object::parse(EBPF_OBJECT).expect("the embedded object parses");
    for name in program::ALL {
        assert!(parsed.programs.contains_key(name), "the object has no program {name}");
    }
    for name in map_name::ALL {
        assert!(parsed.maps.contains_key(name), "the object has no map {name}");
    }
    let elf = object::File::parse(EBPF_OBJECT).expect("the embedded object is an ELF file");
    let symbols: Vec<&str> = elf.symbols().filter_map(|symbol| symbol.name().ok()).collect();
    for name in global_name::ALL {
        assert!(symbols.contains(&name), "the object has no global {name}");
    }
    // And the other way round: a program the object gained must be named here too.
    for name in parsed.programs.keys() {
        assert!(program::ALL.contains(&name.as_str()), "program {name} of the object is not in program::ALL");
    }
}
