//! `emocue preview-labels`: every caption of a wording profile on one PNG sheet.

use std::process::ExitCode;

use anyhow::Context;

use emocue::note;

use super::load_config;

/// Runs `emocue preview-labels`.
pub fn run(args: crate::PreviewLabelsArgs) -> anyhow::Result<ExitCode> {
    let crate::PreviewLabelsArgs {
        profile,
        out,
        config,
        screen,
    } = args;
    let cfg = load_config(config.as_deref())?;
    let wording = match profile {
        Some(p) => emocue::profile::Profile::open(&p)?,
        None => cfg.load_profile()?,
    };
    let sheet = emocue::render::preview::render_sheet(&wording, &cfg.overlay, screen)?;
    sheet
        .save(&out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    note!(
        "emocue: wrote {} ({}x{}): every caption of \"{}\" ({})",
        out.display(),
        sheet.width(),
        sheet.height(),
        wording.name,
        wording.path.display()
    );
    Ok(ExitCode::SUCCESS)
}
