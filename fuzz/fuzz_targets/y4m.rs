//! libFuzzer entry for the `y4m` target; the body is `emocue_fuzz::y4m` (fuzz/targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    emocue_fuzz::y4m(&data[..data.len().min(emocue_fuzz::MAX_INPUT)]);
});
