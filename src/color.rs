//! Colours as the settings file writes them and the shaders take them: plain data at
//! the bottom of the stack, so a wording profile, a caption and the overlay can all
//! name one without importing each other.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A colour written `"#rrggbb"` or `"#rrggbbaa"` in the settings file, so it can be
/// copied from any colour picker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgba(pub [u8; 4]);

impl Rgba {
    /// Parses `#rrggbb` or `#rrggbbaa` (the `#` is optional).
    pub fn parse(s: &str) -> Result<Rgba, String> {
        let hex = s.strip_prefix('#').unwrap_or(s);
        if !(hex.len() == 6 || hex.len() == 8) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "colour {s:?} is not \"#rrggbb\" or \"#rrggbbaa\" (hex digits)"
            ));
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
        let a = if hex.len() == 8 { byte(6) } else { 255 };
        Ok(Rgba([byte(0), byte(2), byte(4), a]))
    }

    /// The colour as 0..1 floats, as the shaders take it.
    pub fn to_f32(self) -> [f32; 4] {
        self.0.map(|v| v as f32 / 255.0)
    }
}

impl fmt::Display for Rgba {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b, a] = self.0;
        if a == 255 {
            write!(f, "#{r:02x}{g:02x}{b:02x}")
        } else {
            write!(f, "#{r:02x}{g:02x}{b:02x}{a:02x}")
        }
    }
}

impl Serialize for Rgba {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Rgba {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Rgba::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse_and_print() {
        assert_eq!(Rgba::parse("#ff8000").unwrap(), Rgba([255, 128, 0, 255]));
        assert_eq!(Rgba::parse("000000b4").unwrap(), Rgba([0, 0, 0, 180]));
        assert!(Rgba::parse("#fff").is_err());
        assert!(Rgba::parse("#gg0000").is_err());
        assert_eq!(Rgba([0, 0, 0, 180]).to_string(), "#000000b4");
    }
}
