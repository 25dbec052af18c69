//! libFuzzer entry for the `profile` target; the body is `emocue_fuzz::profile` (fuzz/targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    emocue_fuzz::profile(&data[..data.len().min(emocue_fuzz::MAX_INPUT)]);
});
