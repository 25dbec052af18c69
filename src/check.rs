//! `emocue check-config FILE`: one command for both files a clinician edits, the
//! settings and a wording profile, so nobody has to know which checker to run.
//!
//! The kind is told by content: a settings file has sections such as `[smoothing]`
//! or `[captions]`; a wording profile has emotion tables such as `[happiness]`. A
//! file with neither (or only misspelt names) goes with the kind its names are
//! nearest to, so a typo is reported against the right list of keys.

use std::path::Path;

use crate::config::{Config, ConfigError};
use crate::diag::nearest;
use crate::profile::{self, Profile};

/// Which file a text is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// Settings (`config/default.toml` and copies).
    Settings,
    /// A wording profile (`config/labels/*.toml`).
    Profile,
}

/// Top-level names of the settings file (its sections).
fn settings_names() -> Vec<String> {
    toml::Table::try_from(Config::default())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

/// Tells the kind from the table headers and top-level keys, read line by line so
/// it works on files that do not parse.
pub fn detect(text: &str) -> FileKind {
    let mut names = Vec::new();
    let mut in_table = false;
    for line in text.lines().map(str::trim) {
        if let Some(h) = line.strip_prefix('[') {
            in_table = true;
            let h = h.trim_start_matches('[');
            let first = h.split(['.', ']']).next().unwrap_or_default();
            names.push(first.trim().trim_matches('"').to_string());
        } else if !in_table && !line.starts_with('#') {
            if let Some((k, _)) = line.split_once('=') {
                names.push(k.split('.').next().unwrap_or_default().trim().to_string());
            }
        }
    }
    let settings = settings_names();
    let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
    let mut wording: Vec<&str> = profile::KEYS.to_vec();
    wording.extend(["name", "language"]);
    if names.iter().any(|n| settings.contains(&n.as_str())) {
        return FileKind::Settings;
    }
    if names.iter().any(|n| wording.contains(&n.as_str())) {
        return FileKind::Profile;
    }
    let all: Vec<&str> = settings.iter().chain(&wording).copied().collect();
    match names.iter().find_map(|n| nearest(n, &all)) {
        Some(n) if wording.contains(&n) => FileKind::Profile,
        _ => FileKind::Settings,
    }
}

/// Checks a settings file (and the profile it selects) or a wording profile; the
/// answer is the line to print on success.
pub fn check(path: &Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let p = path.display();
    match detect(&text) {
        FileKind::Settings => {
            let cfg = Config::parse(&text, path)?;
            let wording = cfg.load_profile()?;
            Ok(format!(
                "{p}: ok (settings; wording profile \"{}\" from {}: ok)",
                wording.name,
                wording.path.display()
            ))
        }
        FileKind::Profile => {
            let wording = Profile::parse(&text, path)?;
            let hidden: Vec<&str> = wording
                .labels
                .iter()
                .filter(|(_, l)| !l.shown)
                .map(|(k, _)| k.as_str())
                .collect();
            Ok(format!(
                "{p}: ok (wording profile \"{}\"; hidden: {})",
                wording.name,
                if hidden.is_empty() {
                    "none".to_string()
                } else {
                    hidden.join(", ")
                }
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_told_apart_even_when_misspelt() {
        assert_eq!(detect("[smoothing]\ntau_ms = 1\n"), FileKind::Settings);
        assert_eq!(detect(""), FileKind::Settings);
        assert_eq!(detect("name = \"x\"\n[happiness]\n"), FileKind::Profile);
        assert_eq!(detect("[hapiness]\ntext = \"x\"\n"), FileKind::Profile);
        assert_eq!(detect("[smoothng]\ntau_ms = 1\n"), FileKind::Settings);
        assert_eq!(detect("[fear\ntext = \"x\"\n"), FileKind::Profile);
    }
}
