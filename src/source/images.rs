//! Folders of image frames (PNG, JPEG, TIFF, WebP, BMP, GIF; name order) and single images.

use std::io::Read;
use std::path::{Path, PathBuf};

use image::ImageDecoder;

use super::{
    FrameSource, LIMITS_HINT, MAX_DECODED_BYTES, MAX_FOLDER_FRAMES, MAX_IMAGE_FILE_BYTES, MAX_SIDE,
    SourceError, check_size, is_image,
};
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
                if files.len() == MAX_FOLDER_FRAMES {
                    return Err(SourceError::Unsupported {
                        path: dir.to_owned(),
                        what: format!(
                            "the folder holds more than {MAX_FOLDER_FRAMES} image frames, more \
                             than emocue plays as one clip (emocue::source::MAX_FOLDER_FRAMES); \
                             split it into several folders"
                        ),
                    });
                }
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

/// Decodes one image file to RGB8, turned upright as its EXIF orientation says, within
/// the limits of [`super::MAX_SIDE`] and its neighbours.
pub fn load_rgb(path: &Path, frame: u64) -> Result<image::RgbImage, SourceError> {
    let bytes = read_bounded(path)?;
    decode(&bytes, path, frame)
}

/// Decodes an image held in memory exactly as [`load_rgb`] decodes a file (same limits,
/// same checks); `name` names it in errors and its extension is the format's first
/// guess. Never panics, whatever the bytes: the entry point of the image fuzz target.
pub fn decode_bytes(bytes: &[u8], name: impl AsRef<Path>) -> Result<image::RgbImage, SourceError> {
    decode(bytes, name.as_ref(), 0)
}

/// How to shrink a picture that is over the limits.
const SCALE_DOWN: &str = "scale it down first, e.g. ffmpeg -i IN.jpg -vf scale=4000:-1 OUT.jpg";

/// Reads a regular file of at most [`MAX_IMAGE_FILE_BYTES`] (a FIFO would block, a
/// device never end).
fn read_bounded(path: &Path) -> Result<Vec<u8>, SourceError> {
    let open_err = |source| SourceError::Open {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(open_err)?;
    if !meta.is_file() {
        return Err(SourceError::Unsupported {
            path: path.to_owned(),
            what: "not a regular file; give an image file".into(),
        });
    }
    let too_big = |len: u64| SourceError::Unsupported {
        path: path.to_owned(),
        what: format!(
            "the file is {:.1} MiB, more than the {} MiB emocue reads as one image; \
             {LIMITS_HINT}",
            len as f64 / 1048576.0,
            MAX_IMAGE_FILE_BYTES >> 20
        ),
    };
    if meta.len() > MAX_IMAGE_FILE_BYTES {
        return Err(too_big(meta.len()));
    }
    let file = std::fs::File::open(path).map_err(open_err)?;
    // The length can change between the check and the read: read one byte past the
    // limit to notice.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_IMAGE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| SourceError::Io {
            path: path.to_owned(),
            offset: bytes.len() as u64,
            source,
        })?;
    if bytes.len() as u64 > MAX_IMAGE_FILE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The one decoding path of files and bytes: the size the header claims is checked
/// against the limits before the picture is allocated, and a JPEG cut short (which
/// the decoder fills with gray without a word) is an error.
fn decode(bytes: &[u8], path: &Path, frame: u64) -> Result<image::RgbImage, SourceError> {
    let decode_err = |source| match source {
        image::ImageError::Limits(e) => SourceError::Unsupported {
            path: path.to_owned(),
            what: format!("the image is over a decoding limit ({e}); {SCALE_DOWN}; {LIMITS_HINT}"),
        },
        source => SourceError::Decode {
            path: path.to_owned(),
            frame,
            source,
        },
    };
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes));
    if let Ok(format) = image::ImageFormat::from_path(path) {
        reader.set_format(format);
    }
    let mut reader = reader
        .with_guessed_format()
        .map_err(|source| SourceError::Io {
            path: path.to_owned(),
            offset: 0,
            source,
        })?;
    let format = reader.format();
    // Dimensions are checked below, where the error can say what the header claims;
    // the decoders' own allocations are bounded from the start.
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(limits.clone());
    let mut decoder = reader.into_decoder().map_err(decode_err)?;
    let (width, height) = decoder.dimensions();
    check_size(u64::from(width), u64::from(height)).map_err(|what| SourceError::Unsupported {
        path: path.to_owned(),
        what: if width == 0 || height == 0 {
            what
        } else {
            format!("{what}; {SCALE_DOWN}; {LIMITS_HINT}")
        },
    })?;
    let need = decoder.total_bytes();
    if need > MAX_DECODED_BYTES {
        return Err(SourceError::Unsupported {
            path: path.to_owned(),
            what: format!(
                "decoding its {width}x{height} {:?} pixels takes {} MiB, more than the \
                 {} MiB allowed; convert it to 8 bits per channel or {SCALE_DOWN}; \
                 {LIMITS_HINT}",
                decoder.color_type(),
                need >> 20,
                MAX_DECODED_BYTES >> 20
            ),
        });
    }
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    decoder.set_limits(limits).map_err(decode_err)?;
    // Cameras and phones store a portrait photo sideways and say so in its EXIF
    // orientation tag; a face lying on its side is one the detector cannot find. An
    // unreadable tag is not worth rejecting the photo for: it is then taken as upright.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(decode_err)?;
    if format == Some(image::ImageFormat::Jpeg) && !jpeg_has_end(bytes) {
        return Err(SourceError::Unsupported {
            path: path.to_owned(),
            what: "truncated or corrupt image: the JPEG data stops before its end marker \
                   (FFD9), so part of the picture is missing; copy or export the file again"
                .into(),
        });
    }
    img.apply_orientation(orientation);
    Ok(img.into_rgb8())
}

/// True when a JPEG's first picture ends with an end-of-image marker (FFD9). The
/// decoder pads a file cut short with gray and reports nothing, so this is how a cut
/// is noticed. The marker segments before the first scan are walked by their lengths
/// (an EXIF thumbnail inside one has its own end marker, which must not count); in the
/// scan data every 0xFF byte is escaped, so the first FFD9 after the scan starts is
/// the picture's end (later scans of a progressive JPEG come before it). Data after
/// the end (a second picture, a phone's trailer) is allowed.
fn jpeg_has_end(data: &[u8]) -> bool {
    let mut i = 2; // after SOI
    loop {
        // Lenient like the decoder: skip anything up to the next marker.
        while data.get(i).is_some_and(|&b| b != 0xFF) {
            i += 1;
        }
        while data.get(i + 1) == Some(&0xFF) {
            i += 1; // fill bytes
        }
        let Some(&marker) = data.get(i + 1) else {
            return false;
        };
        i += 2;
        match marker {
            0xDA => {
                let (Some(&hi), Some(&lo)) = (data.get(i), data.get(i + 1)) else {
                    return false;
                };
                return data
                    .get(i + usize::from(u16::from_be_bytes([hi, lo]))..)
                    .is_some_and(|scan| scan.windows(2).any(|w| w == [0xFF, 0xD9]));
            }
            // EOI before any scan: nothing was cut off that the decoder did not see.
            0xD9 => return true,
            // Markers without a length.
            0x00 | 0x01 | 0xD0..=0xD7 => {}
            _ => {
                let (Some(&hi), Some(&lo)) = (data.get(i), data.get(i + 1)) else {
                    return false;
                };
                i += usize::from(u16::from_be_bytes([hi, lo]));
            }
        }
    }
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

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        use image::ImageEncoder;
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 9) as u8, (y * 5) as u8, ((x * y) % 251) as u8])
        });
        let mut b = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut b, 90)
            .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
            .unwrap();
        b
    }

    #[test]
    fn a_jpeg_end_is_found_past_a_thumbnail_and_before_a_trailer() {
        let whole = jpeg(64, 48);
        assert!(jpeg_has_end(&whole));
        let cut = &whole[..whole.len() - 40];
        assert!(!jpeg_has_end(cut));
        // An APP1 segment holding a complete little JPEG (SOI, SOS, EOI) must not
        // count as the picture's end.
        let thumb = [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x11, 0xFF, 0xD9];
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(&((thumb.len() + 2) as u16).to_be_bytes());
        app1.extend_from_slice(&thumb);
        let mut with_thumb = whole[..2].to_vec();
        with_thumb.extend_from_slice(&app1);
        with_thumb.extend_from_slice(&whole[2..]);
        assert!(jpeg_has_end(&with_thumb));
        assert!(!jpeg_has_end(&with_thumb[..with_thumb.len() - 40]));
        assert!(decode_bytes(&with_thumb, "thumb.jpg").is_ok());
        let e = decode_bytes(&with_thumb[..with_thumb.len() - 40], "thumb.jpg")
            .unwrap_err()
            .to_string();
        assert!(e.contains("thumb.jpg: truncated or corrupt image"), "{e}");
        // A phone's trailer after the end marker is fine.
        let mut trailer = whole.clone();
        trailer.extend_from_slice(b"SEFHxxxx\0\0\0\0");
        assert!(jpeg_has_end(&trailer));
        assert!(decode_bytes(&trailer, "trailer.jpg").is_ok());
        // Nonsense never panics.
        for junk in [
            &[][..],
            &[0xFF],
            &[0xFF, 0xD8],
            &[0xFF, 0xD8, 0xFF, 0xDA],
            &[0xFF, 0xD8, 0xFF, 0xE0, 0xFF],
        ] {
            assert!(!jpeg_has_end(junk), "{junk:?}");
        }
    }

    #[test]
    fn a_file_is_read_within_its_limits_and_must_be_a_regular_file() {
        let d = tmp("files");
        let e = load_rgb(&d, 0).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let big = d.join("big.png");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_IMAGE_FILE_BYTES + 1)
            .unwrap();
        let e = load_rgb(&big, 0).unwrap_err().to_string();
        assert!(
            e.contains("big.png") && e.contains("256 MiB") && e.contains("MAX_IMAGE_FILE_BYTES"),
            "{e}"
        );
        let _ = std::fs::remove_file(&big);
        // bytes and files take the same path: the same picture and the same errors
        let ok = d.join("ok.jpg");
        std::fs::write(&ok, jpeg(20, 10)).unwrap();
        assert_eq!(
            load_rgb(&ok, 0).unwrap(),
            decode_bytes(&jpeg(20, 10), "ok.jpg").unwrap()
        );
        let cut = jpeg(20, 10)[..300].to_vec();
        std::fs::write(&ok, &cut).unwrap();
        assert_eq!(
            load_rgb(&ok, 0).unwrap_err().to_string(),
            decode_bytes(&cut, &ok).unwrap_err().to_string()
        );
    }

    /// Deterministic image mutants (bytes replaced, inserted, cut) through the decoder:
    /// errors, never a panic.
    #[test]
    fn no_image_mutant_panics() {
        let img = image::RgbImage::from_fn(24, 16, |x, y| {
            image::Rgb([(x * 10) as u8, (y * 15) as u8, 77])
        });
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for ext in super::super::IMAGE_EXTS {
            let mut b = std::io::Cursor::new(Vec::new());
            img.write_to(&mut b, image::ImageFormat::from_extension(ext).unwrap())
                .unwrap();
            let b = b.into_inner();
            for _ in 0..40 {
                let mut m = b.clone();
                for _ in 0..1 + next() % 4 {
                    let at = (next() as usize) % m.len().max(1);
                    match next() % 3 {
                        0 => m[at] = next() as u8,
                        1 => m.insert(at, next() as u8),
                        _ => m.truncate(at.max(1)),
                    }
                }
                let _ = decode_bytes(&m, format!("m.{ext}"));
            }
        }
    }
}
