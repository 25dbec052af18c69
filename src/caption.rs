//! What a face's caption says: the wording the pipeline captions with, as plain data.
//!
//! A clinician's wording profile ([`crate::profile`], a settings file with its checks)
//! is turned into a [`Wording`]; the pipeline only looks words up in it, so the vision
//! stages never read a file and a test can caption with a table made by hand.

use std::collections::BTreeMap;

use crate::color::Rgba;

/// Shown when no emotion reaches its `min_confidence`.
pub const UNSURE: &str = "unsure";

/// Shown at the top of the display while no face is in view.
pub const NO_FACE: &str = "no_face";

/// How one key is shown.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelStyle {
    /// The caption.
    pub text: String,
    /// Text colour; `None` uses the overlay's `text_color` (`unsure_color` for unsure).
    pub color: Option<Rgba>,
    /// False hides the key: the face gets no caption at all.
    pub shown: bool,
    /// Smoothed probability the class must reach before its caption is shown
    /// (classes only); `None` uses `smoothing.default_threshold`.
    pub min_confidence: Option<f32>,
}

/// The caption of each key (classes, [`UNSURE`], [`NO_FACE`]); a key it lacks is
/// captioned with the key itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Wording {
    /// Style per key.
    pub labels: BTreeMap<String, LabelStyle>,
}

impl Wording {
    /// The style of a key (`None` for a key the wording does not have).
    pub fn label(&self, key: &str) -> Option<&LabelStyle> {
        self.labels.get(key)
    }

    /// Per-class `min_confidence`, as the smoother's thresholds.
    pub fn thresholds(&self) -> BTreeMap<String, f32> {
        thresholds(&self.labels)
    }
}

/// The `min_confidence` of each key that sets one, as the smoother's thresholds.
pub fn thresholds(labels: &BTreeMap<String, LabelStyle>) -> BTreeMap<String, f32> {
    labels
        .iter()
        .filter_map(|(k, l)| Some((k.clone(), l.min_confidence?)))
        .collect()
}
