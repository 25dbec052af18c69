//! libFuzzer entry for the `settings` target; the body is `emocue_fuzz::settings` (fuzz/targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    emocue_fuzz::settings(&data[..data.len().min(emocue_fuzz::MAX_INPUT)]);
});
