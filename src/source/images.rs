//! Folders of image frames (PNG, JPEG, TIFF, WebP, BMP, GIF; name order) and single images.

use std::path::{Path, PathBuf};

use image::ImageDecoder;

use super::{FrameSource, SourceError, is_image};
use crate::Frame;

/// A folder of images played in file-name order at a fixed rate.
pub struct ImageFolder {
    dir: PathBuf,
    files: Vec<PathBuf>,
    next: usize,
    fps: f64,
}

impl ImageFolder {
    /// Lists the folder's image files; an empty folder is an error, not an empty clip.
    pub fn open(dir: &Path, fps: f64) -> Result<Self, SourceError> {
        let open_err = |source| SourceError::Open {
            path: dir.to_owned(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(open_err)? {
            let path = entry.map_err(open_err)?.path();
            if path.is_file() && is_image(&path) {
                files.push(path);
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(SourceError::Unsupported {
                path: dir.to_owned(),
                what: "folder holds no .png/.jpg/.jpeg/.tif/.tiff/.webp/.bmp/.gif frames".into(),
            });
        }
        if !(fps.is_finite() && fps > 0.0) {
            return Err(SourceError::Unsupported {
                path: dir.to_owned(),
                what: format!("frame rate {fps} is not positive; pass --fps, e.g. --fps 25"),
            });
        }
        Ok(ImageFolder {
            dir: dir.to_owned(),
            files,
            next: 0,
            fps,
        })
    }

    /// Number of frames in the folder.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when the folder has no frames (never, after `open`).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Decodes one image file to RGB8, turned upright as its EXIF orientation says.
pub fn load_rgb(path: &Path, frame: u64) -> Result<image::RgbImage, SourceError> {
    let reader = image::ImageReader::open(path)
        .map_err(|source| SourceError::Open {
            path: path.to_owned(),
            source,
        })?
        .with_guessed_format()
        .map_err(|source| SourceError::Open {
            path: path.to_owned(),
            source,
        })?;
    let decode_err = |source| SourceError::Decode {
        path: path.to_owned(),
        frame,
        source,
    };
    let mut decoder = reader.into_decoder().map_err(decode_err)?;
    // Cameras and phones store a portrait photo sideways and say so in its EXIF
    // orientation tag; a face lying on its side is one the detector cannot find. An
    // unreadable tag is not worth rejecting the photo for: it is then taken as upright.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(decode_err)?;
    img.apply_orientation(orientation);
    Ok(img.to_rgb8())
}

impl FrameSource for ImageFolder {
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        let Some(path) = self.files.get(self.next) else {
            return Ok(None);
        };
        let index = self.next as u64;
        let image = load_rgb(path, index)?;
        self.next += 1;
        Ok(Some(Frame::new(
            index,
            index as f64 * 1000.0 / self.fps,
            image,
        )))
    }

    fn fps(&self) -> f64 {
        self.fps
    }

    fn describe(&self) -> String {
        format!(
            "{} ({} frames at {} fps)",
            self.dir.display(),
            self.files.len(),
            self.fps
        )
    }
}

/// One image as a one-frame clip.
pub struct SingleImage {
    path: PathBuf,
    done: bool,
}

impl SingleImage {
    /// Does not touch the file until the first frame is asked for.
    pub fn new(path: &Path) -> Self {
        SingleImage {
            path: path.to_owned(),
            done: false,
        }
    }
}

impl FrameSource for SingleImage {
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        if self.done {
            return Ok(None);
        }
        self.done = true;
        Ok(Some(Frame::new(0, 0.0, load_rgb(&self.path, 0)?)))
    }

    fn fps(&self) -> f64 {
        1.0
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("emocue-images-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn folder_plays_in_name_order_at_the_given_rate_and_skips_other_files() {
        let d = tmp("order");
        for (name, v) in [("b.png", 20u8), ("a.jpg", 10), ("c.PNG", 30)] {
            image::RgbImage::from_pixel(4, 3, image::Rgb([v, v, v]))
                .save(d.join(name))
                .unwrap();
        }
        std::fs::write(d.join("notes.txt"), "x").unwrap();
        let mut f = ImageFolder::open(&d, 20.0).unwrap();
        assert_eq!(f.len(), 3);
        let names: Vec<(u64, f64)> = std::iter::from_fn(|| f.next_frame().unwrap())
            .map(|fr| (fr.index, fr.timestamp_ms))
            .collect();
        assert_eq!(names, vec![(0, 0.0), (1, 50.0), (2, 100.0)]);
        let mut f = ImageFolder::open(&d, 20.0).unwrap();
        let first = f.next_frame().unwrap().unwrap();
        assert!(first.image.get_pixel(0, 0)[0] <= 12, "a.jpg comes first");
    }

    #[test]
    fn every_accepted_extension_decodes() {
        let d = tmp("formats");
        let img = image::RgbImage::from_pixel(4, 3, image::Rgb([40, 90, 200]));
        for ext in super::super::IMAGE_EXTS {
            let path = d.join(format!("x.{ext}"));
            img.save(&path).unwrap();
            let back = load_rgb(&path, 0).unwrap();
            assert_eq!(back.dimensions(), (4, 3), "{ext}");
            assert!(back.get_pixel(1, 1)[2] > 150, "{ext}");
        }
        assert_eq!(ImageFolder::open(&d, 25.0).unwrap().len(), 8);
    }

    /// A minimal big-endian EXIF block holding only the orientation tag.
    fn exif_orientation(value: u16) -> Vec<u8> {
        let mut e = b"MM\0\x2a\0\0\0\x08\0\x01".to_vec();
        e.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]);
        e.extend_from_slice(&value.to_be_bytes());
        e.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        e
    }

    #[test]
    fn exif_orientation_turns_a_sideways_photo_upright() {
        use image::ImageEncoder;
        let d = tmp("exif");
        // Stored 4 wide and 2 high with a red left column; orientation 6 says "rotate
        // 90 degrees clockwise to view", so upright it is 2 wide, 4 high, red on top.
        let mut stored = image::RgbImage::from_pixel(4, 2, image::Rgb([0, 0, 255]));
        for y in 0..2 {
            stored.put_pixel(0, y, image::Rgb([255, 0, 0]));
        }
        for (name, orientation) in [("turned.png", 6u16), ("garbled.png", 0)] {
            let mut bytes = Vec::new();
            let mut enc = image::codecs::png::PngEncoder::new(&mut bytes);
            enc.set_exif_metadata(exif_orientation(orientation))
                .unwrap();
            enc.write_image(stored.as_raw(), 4, 2, image::ExtendedColorType::Rgb8)
                .unwrap();
            std::fs::write(d.join(name), bytes).unwrap();
        }
        let up = load_rgb(&d.join("turned.png"), 0).unwrap();
        assert_eq!(up.dimensions(), (2, 4));
        assert_eq!(up.get_pixel(0, 0)[0], 255);
        assert_eq!(up.get_pixel(1, 0)[0], 255);
        assert_eq!(up.get_pixel(0, 3)[2], 255);
        // An invalid tag value is ignored, not an error.
        let kept = load_rgb(&d.join("garbled.png"), 0).unwrap();
        assert_eq!(kept.dimensions(), (4, 2));
    }

    #[test]
    fn empty_folder_bad_rate_and_corrupt_image_are_errors() {
        let d = tmp("bad");
        assert!(
            ImageFolder::open(&d, 25.0)
                .err()
                .unwrap()
                .to_string()
                .contains("no .png/.jpg")
        );
        std::fs::write(d.join("x.png"), b"not a png").unwrap();
        assert!(
            ImageFolder::open(&d, 0.0)
                .err()
                .unwrap()
                .to_string()
                .contains("--fps")
        );
        let mut f = ImageFolder::open(&d, 25.0).unwrap();
        let e = f.next_frame().unwrap_err().to_string();
        assert!(e.contains("x.png") && e.contains("frame 0"), "{e}");
    }
}
