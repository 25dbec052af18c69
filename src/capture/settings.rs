//! The `[camera]` section of the settings file: which device, what mode.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::CaptureRequest;

/// The `[camera]` settings: which device and what mode to ask it for.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CameraOptions {
    /// Device node; `--device` overrides it.
    pub device: PathBuf,
    /// Preferred width, pixels.
    pub width: u32,
    /// Preferred height, pixels.
    pub height: u32,
    /// Preferred frame rate.
    pub fps: f64,
}

impl Default for CameraOptions {
    fn default() -> Self {
        let r = CaptureRequest::default();
        CameraOptions {
            device: PathBuf::from("/dev/video0"),
            width: r.width,
            height: r.height,
            fps: r.fps,
        }
    }
}

impl CameraOptions {
    /// Range checks for `check-config`: the first of [`CameraOptions::problems`].
    pub fn validate(&self) -> Result<(), String> {
        match self.problems().into_iter().next() {
            Some(p) => Err(p),
            None => Ok(()),
        }
    }

    /// Every value outside its range, one message each, starting with the dotted
    /// key (the settings file points at its line). A size the camera cannot have
    /// or a rate of `nan` would otherwise fail only when the camera opens.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, v) in [("camera.width", self.width), ("camera.height", self.height)] {
            if !(16..=8192).contains(&v) {
                out.push(format!(
                    "{name} = {v} is outside [16, 8192] px; use a whole number from 16 to \
                     8192 px (the frame size to ask the camera for)"
                ));
            }
        }
        if !(self.fps.is_finite() && self.fps > 0.0 && self.fps <= 1000.0) {
            out.push(format!(
                "camera.fps = {:?} is outside (0, 1000] frames/s; use a number above 0 and at \
                 most 1000 frames/s (the frame rate to ask the camera for)",
                self.fps
            ));
        }
        out
    }

    /// The mode to ask for.
    pub fn request(&self) -> CaptureRequest {
        CaptureRequest {
            width: self.width,
            height: self.height,
            fps: self.fps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_options_are_range_checked() {
        assert!(CameraOptions::default().validate().is_ok());
        let bad = CameraOptions {
            width: 8,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("camera.width"));
        let bad = CameraOptions {
            fps: 0.0,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("camera.fps"));
    }
}
