//! Pointing at the exact spot in a settings or wording file that is wrong.
//!
//! Clinicians edit these files by hand, often without a developer nearby, so every
//! mistake is reported as `file:line:column: what is wrong; how to fix`, with the
//! nearest valid name when a key looks misspelt.

use std::fmt;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// An error and its causes on one line, `a: b: c`, leaving out each cause whose text
/// the line already holds: many errors print their source inside their own message,
/// and anyhow's `{:#}` would then say the same thing two or three times.
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        let text = text.trim();
        if out.contains(text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(text);
    }
    out
}

/// One mistake in a file, at a 1-based line and column (columns count characters,
/// as editors show them, not bytes).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong; how to fix it.
    pub message: String,
}

impl Problem {
    /// A problem at byte offset `at` of `text`.
    pub fn at(text: &str, at: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_col(text, at);
        Problem {
            line,
            column,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// 1-based line and character column of byte offset `at` (clamped to the text).
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The candidate a mistyped `word` most likely meant, if any is close: a typo
/// (edit distance up to 2, or a third of the word) or a shortening (`happy` for
/// `happiness`, which edit distance alone would miss).
pub fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let w = word.to_lowercase();
    let mut best: Option<(f64, &'a str)> = None;
    for &c in candidates {
        let edits = strsim::damerau_levenshtein(&w, c);
        let close = edits <= 2.max(c.chars().count() / 3)
            || strsim::jaro_winkler(&w, c) >= 0.85
            || (w.len() >= 3 && (c.starts_with(&w) || w.starts_with(c)));
        if !close {
            continue;
        }
        let score = strsim::jaro_winkler(&w, c) - edits as f64 * 0.01;
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// "did you mean `x`? " followed by the valid names, for an unknown `word`.
pub fn suggest(word: &str, candidates: &[&str]) -> String {
    let list = candidates
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match nearest(word, candidates) {
        Some(n) => format!("did you mean `{n}`? (valid: {list})"),
        None => format!("use one of {list}"),
    }
}

/// The span of the value at a dotted `path` (e.g. `smoothing.tau_ms`) in a parsed
/// document, or of the deepest table on the way when the key itself is absent.
pub fn value_span(doc: &DeTable<'_>, path: &str) -> Option<Range<usize>> {
    let mut table = doc;
    let mut found: Option<Range<usize>> = None;
    for part in path.split('.') {
        let Some((key, value)) = table.get_key_value(part) else {
            break;
        };
        found = Some(match value.get_ref() {
            // A `[section]` table's span is its header: point at the name instead.
            DeValue::Table(_) => key.span(),
            _ => value.span(),
        });
        match value.get_ref() {
            DeValue::Table(t) => table = t,
            _ => break,
        }
    }
    found
}

/// The dotted path of the key whose name starts at byte `at`, e.g. `smoothing.margn`.
pub fn key_path_at(doc: &DeTable<'_>, at: usize) -> Option<String> {
    fn walk(t: &DeTable<'_>, at: usize, prefix: &str) -> Option<String> {
        for (k, v) in t.iter() {
            let name = if prefix.is_empty() {
                k.get_ref().to_string()
            } else {
                format!("{prefix}.{}", k.get_ref())
            };
            if k.span().start == at {
                return Some(name);
            }
            if let DeValue::Table(inner) = v.get_ref()
                && let Some(p) = walk(inner, at, &name)
            {
                return Some(p);
            }
        }
        None
    }
    walk(doc, at, "")
}

/// The allowed range of a number setting. Every number a clinician can type has
/// one, so a typo such as `nan`, `-1` or `1e308` is refused where it was written
/// instead of silently stopping captions at run time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    /// The dotted key, e.g. `smoothing.tau_ms` (messages start with it, which is how
    /// they are placed at the value's line and column).
    pub key: &'static str,
    /// Lowest allowed value.
    pub min: f64,
    /// Highest allowed value.
    pub max: f64,
    /// `min` itself is not allowed.
    pub above_min: bool,
    /// `max` itself is not allowed.
    pub below_max: bool,
    /// Unit after the numbers, e.g. ` ms` (with its leading space), or empty.
    pub unit: &'static str,
    /// What the value does, for the fix (e.g. "how long a face must be seen").
    pub meaning: &'static str,
}

impl Limit {
    /// A closed range `[min, max]`.
    pub const fn new(
        key: &'static str,
        min: f64,
        max: f64,
        unit: &'static str,
        meaning: &'static str,
    ) -> Self {
        Limit {
            key,
            min,
            max,
            above_min: false,
            below_max: false,
            unit,
            meaning,
        }
    }

    /// The same range without `min` itself.
    pub const fn above_min(mut self) -> Self {
        self.above_min = true;
        self
    }

    /// The same range without `max` itself.
    pub const fn below_max(mut self) -> Self {
        self.below_max = true;
        self
    }

    /// True when `v` is a finite number in range (NaN never is).
    pub fn allows(&self, v: f64) -> bool {
        let low = if self.above_min {
            v > self.min
        } else {
            v >= self.min
        };
        let high = if self.below_max {
            v < self.max
        } else {
            v <= self.max
        };
        v.is_finite() && low && high
    }

    /// The range as written in messages and docs, e.g. `[0, 10000] ms` or `(0, 1)`.
    pub fn range(&self) -> String {
        format!(
            "{}{}, {}{}{}",
            if self.above_min { '(' } else { '[' },
            self.min,
            self.max,
            if self.below_max { ')' } else { ']' },
            self.unit
        )
    }

    /// How to write a valid value, e.g. "use a number from 0 to 1".
    pub fn fix(&self) -> String {
        let (low, high) = match (self.above_min, self.below_max) {
            (false, false) => ("from", "to"),
            (true, false) => ("above", "and at most"),
            (false, true) => ("from", "and below"),
            (true, true) => ("above", "and below"),
        };
        format!(
            "use a number {low} {} {high} {}{} ({})",
            self.min, self.max, self.unit, self.meaning
        )
    }

    /// `None` when `v` is allowed, else the message: `key = v is outside [a, b]; fix`.
    /// `v` is shown as its own type prints it in short (`0.3` stays `0.3`, `1e308`
    /// stays `1e308`).
    pub fn check<T: Into<f64> + fmt::Debug + Copy>(&self, v: T) -> Option<String> {
        if self.allows(v.into()) {
            return None;
        }
        Some(format!(
            "{} = {v:?} is outside {}; {}",
            self.key,
            self.range(),
            self.fix()
        ))
    }
}

/// The dotted path of the key whose value starts at byte `at`, e.g.
/// `tracking.min_hits` (serde reports a wrong value at the value, not at its key).
pub fn key_path_of_value(doc: &DeTable<'_>, at: usize) -> Option<String> {
    fn walk(t: &DeTable<'_>, at: usize, prefix: &str) -> Option<String> {
        for (k, v) in t.iter() {
            let name = if prefix.is_empty() {
                k.get_ref().to_string()
            } else {
                format!("{prefix}.{}", k.get_ref())
            };
            match v.get_ref() {
                DeValue::Table(inner) => {
                    if let Some(p) = walk(inner, at, &name) {
                        return Some(p);
                    }
                }
                _ if v.span().start == at => return Some(name),
                _ => {}
            }
        }
        None
    }
    walk(doc, at, "")
}

/// Parses a TOML document, or says where its syntax is broken.
pub fn parse_document(text: &str) -> Result<Spanned<DeTable<'_>>, Problem> {
    DeTable::parse(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        Problem::at(
            text,
            at,
            format!(
                "{}; check the quotes, `=` and [brackets] on this line",
                e.message().trim_end()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chain_says_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("inner detail")]
        struct Inner;
        #[derive(Debug, thiserror::Error)]
        #[error("photo.png: cannot decode: {source}")]
        struct Outer {
            source: Inner,
        }
        let e = anyhow::Error::new(Outer { source: Inner });
        assert_eq!(error_chain(&e), "photo.png: cannot decode: inner detail");
        let e = anyhow::Error::new(Inner).context("loading the model");
        assert_eq!(error_chain(&e), "loading the model: inner detail");
    }

    #[test]
    fn lines_and_columns_count_characters() {
        let t = "a = 1\nbé = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        // "bé = " is 6 bytes but 5 characters.
        assert_eq!(line_col(t, t.find('2').unwrap()), (2, 6));
        assert_eq!(line_col(t, 999), (3, 1));
    }

    #[test]
    fn typos_and_shortenings_find_their_key_and_nonsense_finds_none() {
        let keys = ["neutral", "happiness", "sadness", "anger", "contempt"];
        assert_eq!(nearest("hapiness", &keys), Some("happiness"));
        assert_eq!(nearest("contemt", &keys), Some("contempt"));
        assert_eq!(nearest("angry", &keys), Some("anger"));
        assert_eq!(nearest("xyzzy", &keys), None);
        assert!(suggest("sadnes", &keys).starts_with("did you mean `sadness`?"));
    }

    #[test]
    fn limits_refuse_non_numbers_and_say_the_range_in_words() {
        let l = Limit::new("a.b", 0.0, 1.0, "", "what it does").above_min();
        assert_eq!(l.check(0.5f32), None);
        assert_eq!(l.check(1u32), None);
        for bad in [
            0.0,
            -1.0,
            1.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e308,
        ] {
            assert!(l.check(bad).is_some(), "{bad}");
        }
        assert_eq!(
            l.check(1e308).unwrap(),
            "a.b = 1e308 is outside (0, 1]; use a number above 0 and at most 1 (what it does)"
        );
        let ms = Limit::new("t", 0.0, 60_000.0, " ms", "x").below_max();
        assert_eq!(ms.range(), "[0, 60000) ms");
        assert!(
            ms.check(f32::NAN)
                .unwrap()
                .starts_with("t = NaN is outside")
        );
    }

    #[test]
    fn spans_lead_to_keys_and_back() {
        let text = "[smoothing]\ntau_ms = 300.0\nmargn = 0.1\n";
        let doc = parse_document(text).unwrap();
        let s = value_span(doc.get_ref(), "smoothing.tau_ms").unwrap();
        assert_eq!(&text[s], "300.0");
        let at = text.find("margn").unwrap();
        assert_eq!(
            key_path_at(doc.get_ref(), at).as_deref(),
            Some("smoothing.margn")
        );
        // A key the file leaves out points at its table; a value at its key.
        let s = value_span(doc.get_ref(), "smoothing.margin").unwrap();
        assert_eq!(&text[s], "smoothing");
        assert_eq!(value_span(doc.get_ref(), "tracking.min_hits"), None);
        let at = text.find("300.0").unwrap();
        assert_eq!(
            key_path_of_value(doc.get_ref(), at).as_deref(),
            Some("smoothing.tau_ms")
        );
        let e = parse_document("a = 1\nb = \n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }
}
