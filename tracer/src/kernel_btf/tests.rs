//! Reading BTF blobs built here, and this kernel's own.
use super::*;

/// Builds a BTF blob from (name, info, size_or_type, trailing words) types.
fn blob(strings: &[&str], types: &[(u32, u32, u32, Vec<u32>)]) -> Vec<u8> {
    let mut string_section = vec![0u8];
    let mut string_offsets = Vec::new();
    for text in strings {
        string_offsets.push(string_section.len() as u32);
        string_section.extend_from_slice(text.as_bytes());
        string_section.push(0);
    }
    let mut type_section = Vec::new();
    for (name, info, size_or_type, trailing) in types {
        let name = if *name == 0 { 0 } else { string_offsets[*name as usize - 1] };
        // Header names are string numbers; trailing words are already string offsets.
        for word in [name, *info, *size_or_type].iter().chain(trailing) {
            type_section.extend_from_slice(&word.to_le_bytes());
        }
    }
    let mut data = Vec::new();
    data.extend_from_slice(&MAGIC.to_le_bytes());
    data.extend_from_slice(&[1, 0]);
    for word in
        [HEADER_LEN as u32, 0, type_section.len() as u32, type_section.len() as u32, string_section.len() as u32]
    {
        data.extend_from_slice(&word.to_le_bytes());
    }
    data.extend_from_slice(&type_section);
    data.extend_from_slice(&string_section);
    data
}

fn info(kind: u32, vlen: u32) -> u32 {
    (kind << 24) | vlen
}

/// String offset of the n-th string (1-based) given the strings list.
fn string(strings: &[&str], n: usize) -> u32 {
    1 + strings[..n - 1].iter().map(|text| text.len() as u32 + 1).sum::<u32>()
}

#[test]
fn finds_nested_and_anonymous_members_and_prototypes() {
    let strings = ["int", "qstr", "name", "dentry", "d_name", "other", "btf_trace_demo"];
    let s = |n| string(&strings, n);
    // 1 int; 2 struct qstr { int pad@0; union { int name@64 } @0 }; 3 union anon;
    // 4 struct dentry { int other@0; struct qstr d_name@256 }; 5 ptr -> 6 proto(ctx, a, b);
    // 7 typedef btf_trace_demo -> 5
    let types = vec![
        (1, info(1, 0), 4, vec![32]),
        (2, info(kind::STRUCT, 2), 16, vec![s(6), 1, 0, 0, 3, 0]),
        (0, info(kind::UNION, 1), 8, vec![s(3), 1, 64]),
        (4, info(kind::STRUCT, 2), 48, vec![s(6), 1, 0, s(5), 2, 256]),
        (0, info(kind::PTR, 0), 6, vec![]),
        (0, info(kind::FUNC_PROTO, 3), 0, vec![0, 5, 0, 1, 0, 1]),
        (7, info(kind::TYPEDEF, 0), 5, vec![]),
    ];
    let btf = KernelBtf::parse(blob(&strings, &types)).unwrap();
    assert_eq!(btf.field_offset("dentry", "other").unwrap(), 0);
    assert_eq!(btf.field_offset("dentry", "d_name").unwrap(), 32);
    assert_eq!(btf.field_offset("dentry", "d_name.name").unwrap(), 40);
    assert!(matches!(btf.field_offset("dentry", "d_name.nope"), Err(BtfError::MissingField { .. })));
    assert!(matches!(btf.field_offset("nothing", "x"), Err(BtfError::MissingStruct("nothing"))));
    assert_eq!(btf.tracepoint_arguments("demo"), Some(2));
    assert_eq!(btf.tracepoint_arguments("absent"), None);
}

#[test]
fn bit_fields_need_asking_for_and_damaged_blobs_are_rejected() {
    let strings = ["s", "flag"];
    let s = |n| string(&strings, n);
    let types = vec![
        (1, info(1, 0), 4, vec![32]),
        // kind_flag set: member offsets carry a bitfield size in their top byte.
        (1, info(kind::STRUCT, 1) | 1 << 31, 4, vec![s(2), 1, (1 << 24) | 3]),
    ];
    let data = blob(&strings, &types);
    let btf = KernelBtf::parse(data.clone()).unwrap();
    assert!(matches!(btf.field_offset("s", "flag"), Err(BtfError::Bitfield { .. })));
    assert_eq!(btf.bit_offset("s", "flag").unwrap(), 3);
    for len in 0..data.len() - 1 {
        let _ = KernelBtf::parse(data[..len].to_vec());
    }
    assert!(KernelBtf::parse(vec![0; 64]).is_err());
    // A struct whose member list runs past the type section.
    let long = vec![(1, info(1, 0), 4, vec![32]), (1, info(kind::STRUCT, 40), 4, vec![s(2), 1, 0])];
    assert_eq!(KernelBtf::parse(blob(&strings, &long)).err(), Some("type section ends inside a type"));
}

#[test]
fn refuses_devices_and_oversized_files_before_reading_them_whole() {
    let error = KernelBtf::load(Path::new("/dev/zero")).err().expect("/dev/zero is no BTF");
    assert_eq!(error.to_string(), "cannot read kernel BTF from /dev/zero: not a regular file");
    let dir = std::env::temp_dir().join(format!("tracer-btf-cap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let huge = dir.join("huge");
    // Sparse: MAX_BTF_BYTES + 1 bytes of zeros that take no disk space.
    std::fs::File::create(&huge).unwrap().set_len(MAX_BTF_BYTES + 1).unwrap();
    let error = KernelBtf::load(&huge).err().expect("too large");
    assert_eq!(
        error.to_string(),
        format!("cannot read kernel BTF from {}: larger than 64 MiB, which no kernel's BTF is", huge.display())
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn reads_this_kernels_btf() {
    let btf = KernelBtf::load(Path::new(VMLINUX_BTF)).expect("tracer's machines have kernel BTF");
    let offsets = btf.offsets().expect("every field tracer needs exists");
    assert_eq!(offsets.task_tgid, offsets.task_pid + 4, "pid and tgid are adjacent in task_struct");
    assert_eq!(offsets.cred_euid, offsets.cred_uid + 16, "uid, gid, suid, sgid, euid in struct cred");
    assert!(btf.tracepoint_arguments("sched_process_fork") == Some(2));
}

/// What aya finds for each name in `btf`, as its program loaders look it up.
fn aya_ids(btf: &aya::Btf, tracepoints: &[&str], functions: &[&str]) -> Vec<Option<u32>> {
    use aya_obj::btf::BtfKind;
    tracepoints
        .iter()
        .map(|name| btf.id_by_type_name_kind(&format!("btf_trace_{name}"), BtfKind::Typedef).ok())
        .chain(functions.iter().map(|name| btf.id_by_type_name_kind(name, BtfKind::Func).ok()))
        .collect()
}

#[test]
fn attach_ids_keep_each_names_id_and_kind_and_the_first_of_twins() {
    let strings = ["btf_trace_a", "f", "btf_trace_b", "g"];
    let (typedef, func, int) = (info(kind::TYPEDEF, 0), info(12, 0), info(1, 0));
    let types = vec![
        (0, int, 4, vec![32]),   // 1
        (2, func, 9, vec![]),    // 2: f, before the last typedef
        (1, typedef, 1, vec![]), // 3: btf_trace_a
        (2, typedef, 1, vec![]), // 4: a typedef named f is not the function f
        (3, typedef, 1, vec![]), // 5: btf_trace_b
        (4, int, 4, vec![32]),   // 6: an int named g is not the function g
        (4, func, 9, vec![]),    // 7: g
        (4, func, 9, vec![]),    // 8: a second g (a static function of another file)
    ];
    let kernel = KernelBtf::parse(blob(&strings, &types)).unwrap();
    let ids = kernel.attach_ids(&["a", "b", "absent"], &["f", "g", "absent"]);
    let btf = ids.btf().unwrap();
    assert_eq!(
        aya_ids(&btf, &["a", "b", "absent"], &["f", "g", "absent"]),
        [Some(3), Some(5), None, Some(2), Some(7), None]
    );
    // No names at all: an empty BTF, in which every lookup fails.
    let none = kernel.attach_ids(&[], &[]).btf().unwrap();
    assert_eq!(aya_ids(&none, &["a"], &["f"]), [None, None]);
}

#[test]
fn attach_ids_of_this_kernel_are_the_ones_a_full_parse_finds() {
    use crate::probes::{BTF_TRACEPOINTS, FENTRY_FUNCTIONS};
    let kernel = KernelBtf::load(Path::new(VMLINUX_BTF)).expect("tracer's machines have kernel BTF");
    let small = kernel.attach_ids(&BTF_TRACEPOINTS, &FENTRY_FUNCTIONS).btf().unwrap();
    let full = aya::Btf::from_sys_fs().unwrap();
    let expected = aya_ids(&full, &BTF_TRACEPOINTS, &FENTRY_FUNCTIONS);
    assert!(expected.iter().all(Option::is_some), "this kernel has every hook's type: {expected:?}");
    assert_eq!(aya_ids(&small, &BTF_TRACEPOINTS, &FENTRY_FUNCTIONS), expected);
}
