//! The fuzz corpus as ordinary tests: every seed (`fuzz/seeds/`) must be accepted, and
//! every saved crash (`fuzz/regressions/`) must now run without panicking, through the
//! same target bodies the fuzzers call (fuzz/targets.rs). Adding a crash found by
//! fuzzing as a regression test is copying its file into `fuzz/regressions/TARGET/`.

#[allow(dead_code)]
#[path = "../fuzz/runner.rs"]
mod runner;
#[allow(dead_code)]
#[path = "../fuzz/seeds.rs"]
mod seeds;
#[allow(dead_code)]
#[path = "../fuzz/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"));
    out.sort();
    out
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

#[test]
fn every_seed_is_accepted() {
    for t in targets::TARGETS {
        let seeds = files(&fuzz_dir().join("seeds").join(t.name));
        assert!(
            seeds.len() >= 2,
            "{}: only {} seeds; run: cargo run --example fuzz -- --write-seeds",
            t.name,
            seeds.len()
        );
        for f in seeds {
            let sig = (t.run)(&std::fs::read(&f).unwrap());
            assert!(sig.starts_with("ok"), "{}: {}", f.display(), sig);
        }
    }
}

#[test]
fn saved_crashes_no_longer_crash() {
    // Some were huge allocations: should one come back, it fails here at the fuzz
    // runner's limit instead of taking the machine's memory.
    runner::limit_memory(runner::DEFAULT_MEM_MB);
    for t in targets::TARGETS {
        for f in files(&fuzz_dir().join("regressions").join(t.name)) {
            let data = std::fs::read(&f).unwrap();
            let sig = (t.run)(&data[..data.len().min(targets::MAX_INPUT)]);
            eprintln!("{}: {sig}", f.display());
        }
    }
}

#[test]
fn every_dictionary_parses() {
    for t in targets::TARGETS {
        let dict = runner::load_dict(&fuzz_dir().join("dict").join(t.dict));
        assert!(dict.len() >= 20, "{}: {} tokens", t.dict, dict.len());
    }
    let y4m = runner::load_dict(&fuzz_dir().join("dict/y4m.dict"));
    assert!(y4m.contains(&b"FRAME\n".to_vec()), "\\x0a escape");
    assert!(y4m.contains(&"\u{e9}".as_bytes().to_vec()), "\\xNN escapes");
}

#[test]
fn the_model_target_sees_its_metadata_in_the_loaded_model() {
    // The hand-encoded ONNX must carry the metadata into the Classifier: a contract
    // value set in the input shows up in the loaded contract.
    let props = targets::metadata_lines(b"labels=a,b,c\ninput_size=16\ntemperature=2.5\n");
    let path = std::env::temp_dir().join(format!("emocue-fuzz-test-{}.onnx", std::process::id()));
    std::fs::write(&path, targets::tiny_classifier(&props)).unwrap();
    let c = emocue::classify::Classifier::load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(c.labels(), ["a", "b", "c"]);
    assert_eq!(c.contract().crop.size, 16);
    assert_eq!(c.contract().temperature, 2.5);
}
