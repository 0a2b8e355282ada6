//! The fuzz target's seeds and every input it found breaking the reader (`fuzz/`), replayed
//! through the same checks.

use super::*;

fn inputs(dir: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz").join(dir);
    let mut inputs: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
            (path, bytes)
        })
        .collect();
    inputs.sort();
    inputs
}

#[test]
fn seeds_read_as_expected_and_keep_every_promise() {
    let seeds = inputs("seeds/reader");
    let names: Vec<String> =
        seeds.iter().map(|(path, _)| path.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["closed.rec", "cut.rec", "killed.rec", "packed-markers.rec"]);
    for (path, bytes) in &seeds {
        invariants::check(bytes);
        invariants::check_after_header(bytes);
        let items = read_items(bytes);
        let last = items.last();
        match path.file_name().and_then(|name| name.to_str()) {
            Some("closed.rec") => assert!(matches!(last, Some(ReadItem::Trailer(_)))),
            Some("killed.rec") => assert!(matches!(last, Some(ReadItem::Event(_)))),
            Some("cut.rec") => assert!(matches!(last, Some(ReadItem::Truncated { .. }))),
            _ => assert!(matches!(last, Some(ReadItem::Truncated { .. }))),
        }
    }
}

#[test]
fn inputs_the_fuzzer_found_keep_every_promise() {
    for (path, bytes) in inputs("regressions/reader") {
        eprintln!("checking {}", path.display());
        invariants::check(&bytes);
        invariants::check_after_header(&bytes);
    }
}
