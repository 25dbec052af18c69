//! libFuzzer entry for the `model_meta` target; the body is `emocue_fuzz::model_meta` (fuzz/targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    emocue_fuzz::model_meta(&data[..data.len().min(emocue_fuzz::MAX_INPUT)]);
});
