//! libFuzzer entry for the `image` target; the body is `emocue_fuzz::image` (fuzz/targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    emocue_fuzz::image(&data[..data.len().min(emocue_fuzz::MAX_INPUT)]);
});
