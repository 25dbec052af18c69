//! The display font, bundled: which characters it can draw is known before anything
//! is rendered, so a wording profile is checked against it when it loads (settings)
//! and the overlay rasterises the same bytes (render).

/// The bundled font (Atkinson Hyperlegible Bold, OFL-1.1; see assets/fonts/README.md).
pub const BUNDLED_FONT: &[u8] = include_bytes!("../assets/fonts/AtkinsonHyperlegible-Bold.ttf");

/// The characters of `text` the bundled font has no glyph for (each once, in order),
/// so wording can be checked before a session instead of showing empty boxes on the
/// display. Spaces count as drawable; tabs, line breaks and emoji do not.
pub fn missing_glyphs(text: &str) -> Vec<char> {
    static FONT: std::sync::OnceLock<Option<fontdue::Font>> = std::sync::OnceLock::new();
    let Some(font) = FONT.get_or_init(|| {
        fontdue::Font::from_bytes(BUNDLED_FONT, fontdue::FontSettings::default()).ok()
    }) else {
        return Vec::new();
    };
    let mut out: Vec<char> = Vec::new();
    for c in text.chars() {
        if font.lookup_glyph_index(c) == 0 && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_are_drawable_and_emoji_and_tabs_are_not() {
        assert!(missing_glyphs("sieht überrascht aus, l’air étonné").is_empty());
        assert_eq!(missing_glyphs("happy 😀\t😀"), vec!['😀', '\t']);
    }
}
