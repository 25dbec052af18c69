//! The stable fuzz runner (what CI runs): see `fuzz/runner.rs` and docs/fuzzing.md.
//!
//! `cargo run --example fuzz -- --help`

#[path = "../fuzz/runner.rs"]
mod runner;
#[path = "../fuzz/seeds.rs"]
mod seeds;
#[path = "../fuzz/targets.rs"]
mod targets;

fn main() -> std::process::ExitCode {
    runner::main()
}
