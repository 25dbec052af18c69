//! Wording profiles (`config/labels/*.toml`): what the wearer reads for each
//! expression, in which colour, whether it is shown at all, and how sure the app must
//! be first.
//!
//! Clinicians write these for one person, so a profile is checked as a whole and
//! every mistake is reported at once with its line and column and a fix, and the
//! text is checked against the display font before it can reach the display.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use crate::caption::Wording;
pub use crate::caption::{LabelStyle, NO_FACE, UNSURE};
use crate::color::Rgba;
use crate::config_file::ConfigError;
use crate::diag::{Problem, nearest, parse_document, suggest};
use crate::font::missing_glyphs;

/// The classifier's emotion keys, in the model's output order.
pub const CLASS_KEYS: [&str; 8] = [
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
];

/// Every table a profile must have: the classes, then `unsure` and `no_face`.
pub const KEYS: [&str; 10] = [
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    UNSURE,
    NO_FACE,
];

/// Longest caption, in characters: longer ones wrap into several lines and cover
/// the face they describe.
pub const MAX_CAPTION_CHARS: usize = 40;

const META: [&str; 2] = ["name", "language"];
const FIELDS: [&str; 4] = ["text", "color", "shown", "min_confidence"];

/// Everyday words for the keys, so `[happy]` is answered with `happiness`.
const SYNONYMS: [(&str, &str); 14] = [
    ("happy", "happiness"),
    ("joy", "happiness"),
    ("sad", "sadness"),
    ("angry", "anger"),
    ("mad", "anger"),
    ("surprised", "surprise"),
    ("disgusted", "disgust"),
    ("afraid", "fear"),
    ("scared", "fear"),
    ("calm", "neutral"),
    ("scornful", "contempt"),
    ("not_sure", "unsure"),
    ("noface", "no_face"),
    ("none", "no_face"),
];

/// Profiles compiled into the binary, so a name like `en` works without the source
/// tree; a file of the same name in `config/labels/` takes precedence (and is the one
/// hot reload watches).
const BUILT_IN: [(&str, &str); 4] = [
    ("de", include_str!("../config/labels/de.toml")),
    ("en", include_str!("../config/labels/en.toml")),
    ("en-child", include_str!("../config/labels/en-child.toml")),
    ("fr", include_str!("../config/labels/fr.toml")),
];

/// A checked wording profile.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// Display name (the file name when the profile does not give one).
    pub name: String,
    /// Language tag of the wording, e.g. `de` (empty when not given).
    pub language: String,
    /// Style per key of [`KEYS`].
    pub labels: BTreeMap<String, LabelStyle>,
    /// The file it came from (`config/labels/NAME.toml` for built-in ones).
    pub path: PathBuf,
}

/// Where a profile named in the settings comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProfileSource {
    /// A file on disk (watched for edits).
    File(PathBuf),
    /// A built-in profile by name (no file to watch).
    BuiltIn(&'static str),
}

/// True when `spec` names a file rather than a profile.
pub fn is_path(spec: &str) -> bool {
    spec.ends_with(".toml") || spec.contains('/') || spec.contains('\\')
}

/// Names of the profiles there are: built-in ones and `config/labels/*.toml`.
pub fn available() -> Vec<String> {
    let mut names: Vec<String> = BUILT_IN.iter().map(|(n, _)| n.to_string()).collect();
    if let Ok(rd) = std::fs::read_dir(crate::bundled_path("config/labels")) {
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "toml")
                && let Some(stem) = p.file_stem().and_then(|s| s.to_str())
            {
                names.push(stem.to_string());
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Finds a profile by name (`en`, `de`, or a file in `config/labels/`) or by path.
pub fn resolve(spec: &str) -> Result<ProfileSource, String> {
    if is_path(spec) {
        let p = PathBuf::from(spec);
        return if p.is_file() {
            Ok(ProfileSource::File(p))
        } else if p.exists() {
            Err(format!(
                "wording profile {spec} is not a regular file (a folder, FIFO or device); \
                 give the path of a .toml file (relative to the settings file) or a profile name"
            ))
        } else {
            Err(format!(
                "wording profile file {spec} not found; give the path of a .toml file \
                 (relative to the settings file) or a profile name"
            ))
        };
    }
    let file = crate::bundled_path(&format!("config/labels/{spec}.toml"));
    if file.is_file() {
        return Ok(ProfileSource::File(file));
    }
    if let Some((name, _)) = BUILT_IN.iter().find(|(n, _)| *n == spec) {
        return Ok(ProfileSource::BuiltIn(name));
    }
    let names = available();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    Err(format!(
        "unknown wording profile `{spec}`; {}",
        suggest(spec, &names)
    ))
}

impl Profile {
    /// Loads a profile by name or path, checked.
    pub fn open(spec: &str) -> Result<Profile, ConfigError> {
        let source = resolve(spec).map_err(|message| ConfigError::Invalid {
            path: PathBuf::from(spec),
            message,
        })?;
        Self::from_source(&source)
    }

    /// Loads a resolved profile, checked.
    pub fn from_source(source: &ProfileSource) -> Result<Profile, ConfigError> {
        match source {
            ProfileSource::File(p) => Self::load(p),
            ProfileSource::BuiltIn(name) => {
                let text = BUILT_IN.iter().find(|(n, _)| n == name).map_or("", |b| b.1);
                Self::parse(text, Path::new(&format!("config/labels/{name}.toml")))
            }
        }
    }

    /// Reads and checks a profile file.
    pub fn load(path: &Path) -> Result<Profile, ConfigError> {
        Self::parse(&crate::config_file::read_file(path)?, path)
    }

    /// Checks profile text; `path` names it in messages. Every problem is reported.
    pub fn parse(text: &str, path: &Path) -> Result<Profile, ConfigError> {
        let fail = |problems: Vec<Problem>| ConfigError::Problems {
            path: path.to_owned(),
            problems,
        };
        let doc = parse_document(text).map_err(|p| fail(vec![p]))?;
        let mut problems = Vec::new();
        let mut profile = Profile {
            name: path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
            language: String::new(),
            labels: BTreeMap::new(),
            path: path.to_owned(),
        };
        let mut meant = Vec::new();
        for (k, v) in doc.get_ref().iter() {
            let key = k.get_ref().as_ref();
            if META.contains(&key) {
                match v.get_ref().as_str() {
                    Some(s) if !s.trim().is_empty() => {
                        let s = s.to_string();
                        if key == "name" {
                            profile.name = s;
                        } else {
                            profile.language = s;
                        }
                    }
                    _ => problems.push(Problem::at(
                        text,
                        v.span().start,
                        format!("`{key}` must be a non-empty text in quotes; e.g. {key} = \"...\""),
                    )),
                }
            } else if KEYS.contains(&key) {
                let Some(table) = v.get_ref().as_table() else {
                    problems.push(Problem::at(
                        text,
                        k.span().start,
                        format!(
                            "`{key}` must be a table; write [{key}] on its own line with \
                             text = \"...\" below it"
                        ),
                    ));
                    continue;
                };
                if let Some(style) = label(text, key, k.span().start, table, &mut problems) {
                    profile.labels.insert(key.to_string(), style);
                }
            } else {
                let guess = SYNONYMS
                    .iter()
                    .find(|(w, _)| w.eq_ignore_ascii_case(key))
                    .map(|(_, k)| *k)
                    .or_else(|| nearest(key, &KEYS));
                meant.extend(guess);
                let hint = match guess {
                    Some(g) => format!("did you mean `{g}`?"),
                    None => "remove it or rename it".to_string(),
                };
                problems.push(Problem::at(
                    text,
                    k.span().start,
                    format!(
                        "unknown emotion `{key}`; {hint} (the keys are {}; `name` and \
                         `language` describe the profile)",
                        KEYS.join(", ")
                    ),
                ));
            }
        }
        for key in KEYS {
            if !doc.get_ref().contains_key(key) && !meant.contains(&key) {
                problems.push(Problem::at(
                    text,
                    0,
                    format!(
                        "no [{key}] table; every emotion needs one: copy it from \
                         config/labels/en.toml (add shown = false to hide it)"
                    ),
                ));
            }
        }
        if problems.is_empty() {
            Ok(profile)
        } else {
            problems.sort();
            Err(fail(problems))
        }
    }

    /// The style of a key (`None` for a key the profile does not have).
    pub fn label(&self, key: &str) -> Option<&LabelStyle> {
        self.labels.get(key)
    }

    /// Per-class `min_confidence`, as the smoother's thresholds.
    pub fn thresholds(&self) -> BTreeMap<String, f32> {
        crate::caption::thresholds(&self.labels)
    }

    /// The captions as the pipeline takes them.
    pub fn wording(&self) -> Wording {
        Wording {
            labels: self.labels.clone(),
        }
    }

    /// Checks that every class of the model has wording.
    pub fn check_classes(&self, classes: &[String]) -> Result<(), String> {
        for c in classes {
            if !self.labels.contains_key(c) {
                return Err(format!(
                    "{}: the model has class `{c}` but the profile has no [{c}]; add one",
                    self.path.display()
                ));
            }
        }
        Ok(())
    }
}

/// Checks one emotion table; `None` when it has problems (already recorded).
fn label(
    text: &str,
    key: &str,
    at: usize,
    table: &DeTable<'_>,
    problems: &mut Vec<Problem>,
) -> Option<LabelStyle> {
    let before = problems.len();
    let mut style = LabelStyle {
        text: String::new(),
        color: None,
        shown: true,
        min_confidence: None,
    };
    let mut has_text = false;
    for (f, v) in table.iter() {
        let field = f.get_ref().as_ref();
        let start = v.span().start;
        let mut bad = |m: String| problems.push(Problem::at(text, start, m));
        match (field, v.get_ref()) {
            ("text", DeValue::String(s)) => {
                has_text = true;
                style.text = s.to_string();
                caption_problems(text, key, v.span(), s, problems);
            }
            ("color", DeValue::String(s)) => match Rgba::parse(s) {
                Ok(c) => style.color = Some(c),
                Err(_) => bad(format!(
                    "\"{s}\" in [{key}] is not a colour; write \"#rrggbb\" or \"#rrggbbaa\" \
                     in hex digits, e.g. \"#ffd24d\" (or remove color to use the default)"
                )),
            },
            ("shown", DeValue::Boolean(b)) => style.shown = *b,
            ("min_confidence", _) if key == UNSURE || key == NO_FACE => bad(format!(
                "min_confidence has no effect in [{key}]; remove it (set min_confidence on \
                 the emotions: [{key}] is shown when none of them is sure enough)"
            )),
            ("min_confidence", DeValue::Float(_) | DeValue::Integer(_)) => {
                let n = text.get(v.span()).unwrap_or_default();
                match n.replace('_', "").parse::<f32>() {
                    Ok(x) if (0.0..=1.0).contains(&x) => style.min_confidence = Some(x),
                    _ => bad(format!(
                        "min_confidence = {n} in [{key}] is outside [0, 1]; use a number from \
                         0 (always show it) to 1 (practically never), e.g. 0.5"
                    )),
                }
            }
            ("text" | "color", other) => bad(format!(
                "`{field}` in [{key}] must be text in quotes, not {}; e.g. {field} = \"...\"",
                kind(other)
            )),
            ("shown", other) => bad(format!(
                "`shown` in [{key}] must be true or false, not {}; write shown = true or \
                 shown = false (no quotes)",
                kind(other)
            )),
            ("min_confidence", other) => bad(format!(
                "min_confidence in [{key}] must be a number, not {}; e.g. min_confidence = 0.5",
                kind(other)
            )),
            (other, _) => problems.push(Problem::at(
                text,
                f.span().start,
                format!(
                    "unknown key `{other}` in [{key}]; {}",
                    suggest(other, &FIELDS)
                ),
            )),
        }
    }
    if !has_text {
        problems.push(Problem::at(
            text,
            at,
            format!("[{key}] has no text; add a line text = \"...\" under [{key}]"),
        ));
    }
    (problems.len() == before).then_some(style)
}

/// A value's kind in words a clinician would use.
fn kind(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "text",
        DeValue::Integer(_) | DeValue::Float(_) => "a number",
        DeValue::Boolean(_) => "true/false",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

/// Length and font checks of one caption whose value (quotes included) is at `span`.
fn caption_problems(
    text: &str,
    key: &str,
    span: std::ops::Range<usize>,
    caption: &str,
    problems: &mut Vec<Problem>,
) {
    let n = caption.chars().count();
    if caption.trim().is_empty() {
        problems.push(Problem::at(
            text,
            span.start,
            format!(
                "the caption of [{key}] is empty; write the words to show, or hide it \
                 with shown = false"
            ),
        ));
    } else if n > MAX_CAPTION_CHARS {
        problems.push(Problem::at(
            text,
            span.start,
            format!(
                "the caption of [{key}] has {n} characters, more than {MAX_CAPTION_CHARS}; \
                 shorten it (long captions wrap and cover the face)"
            ),
        ));
    }
    let raw = text.get(span.clone()).unwrap_or_default();
    for c in missing_glyphs(caption) {
        // Point at the character itself when it is written as is (not escaped).
        let at = raw.find(c).map_or(span.start, |i| span.start + i);
        problems.push(Problem::at(
            text,
            at,
            format!(
                "the display font cannot draw {c:?} (U+{:04X}) in the caption of [{key}]; \
                 remove it or use letters, digits and common punctuation",
                c as u32
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_profile_is_valid_and_complete() {
        for (name, text) in BUILT_IN {
            let p = Profile::parse(text, Path::new(name))
                .unwrap_or_else(|e| panic!("built-in profile {name}: {e}"));
            assert_eq!(p.labels.len(), KEYS.len(), "{name}");
            let classes: Vec<String> = CLASS_KEYS.iter().map(|s| s.to_string()).collect();
            p.check_classes(&classes).unwrap();
        }
    }

    /// Issue 21: every number in a profile has a range; `nan` and `inf` are not in it.
    #[test]
    fn a_min_confidence_that_is_not_a_number_from_0_to_1_is_refused_at_its_place() {
        let (_, en) = BUILT_IN[1];
        for bad in ["nan", "inf", "-inf", "-1", "1.01", "1e308", "4294967295"] {
            // happiness's threshold, whatever its shipped value
            let at = en.find("[happiness]").expect("[happiness]");
            let key = at
                + en[at..]
                    .find("min_confidence = ")
                    .expect("its min_confidence");
            let end = key + en[key..].find('\n').expect("end of line");
            let text = format!("{}min_confidence = {bad}{}", &en[..key], &en[end..]);
            let line = text
                .lines()
                .position(|l| l.ends_with(&format!("= {bad}")))
                .unwrap()
                + 1;
            let err = Profile::parse(&text, Path::new("p.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!(
                    "p.toml:{line}:18: min_confidence = {bad} in [happiness]"
                )),
                "{bad}: {err}"
            );
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }

    #[test]
    fn names_and_paths_resolve_and_unknown_names_get_a_suggestion() {
        assert!(matches!(resolve("en"), Ok(ProfileSource::File(_))));
        let err = resolve("en_child").unwrap_err();
        assert!(err.contains("did you mean `en-child`?"), "{err}");
        assert!(
            resolve("nope/missing.toml")
                .unwrap_err()
                .contains("not found")
        );
    }
}
