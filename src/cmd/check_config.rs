//! `emocue check-config`: a settings file or a wording profile checked as a whole.

use std::process::ExitCode;

use emocue::note;

use super::say;

/// Runs `emocue check-config`: 0 when valid, 1 with every mistake listed.
pub fn run(args: crate::CheckConfigArgs) -> anyhow::Result<ExitCode> {
    let crate::CheckConfigArgs { file } = args;
    match emocue::check::check(&file) {
        Ok(line) => {
            say(line)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            note!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
