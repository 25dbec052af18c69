//! Frame sources behind one trait: Y4M clips, folders of images, single images.
//!
//! A live camera (V4L2) implements the same trait, so everything downstream is tested
//! headless by replaying files.

mod images;
mod y4m;

pub use images::{ImageFolder, SingleImage, decode_bytes, load_rgb};
pub use y4m::{Y4mReader, Y4mWriter, yuv_to_rgb};

use std::path::{Path, PathBuf};

use crate::Frame;

/// The largest width or height of an image or Y4M frame, in pixels: a 16384-wide
/// panorama still opens. Checked against the header before anything is allocated.
///
/// These limits keep a damaged or hostile file (a 629-byte JPEG whose header claims
/// 65000x65000 pixels) from making emocue allocate gigabytes and be killed. They are
/// generous for faces, which the detector sees at 192x192 anyway; a file beyond them
/// is refused with an error that names it, the limit, and how to scale it down. To
/// accept larger inputs, raise them here and rebuild.
pub const MAX_SIDE: u32 = 16_384;

/// The most pixels of an image or Y4M frame: 64 MP (8192x8192), above the 50 MP
/// (8160x6144) and 64 MP (9248x6936) main cameras of phones. See [`MAX_SIDE`].
pub const MAX_PIXELS: u64 = 1 << 26;

/// The most bytes an image decoder may allocate for the decoded picture: 256 MiB, a
/// 64 MP photo at four bytes per pixel (RGBA8); 16-bit images up to 32 MP. See
/// [`MAX_SIDE`].
pub const MAX_DECODED_BYTES: u64 = 256 << 20;

/// The largest image file read into memory: 256 MiB, more than an uncompressed 64 MP
/// RGB picture (192 MiB). See [`MAX_SIDE`].
pub const MAX_IMAGE_FILE_BYTES: u64 = 256 << 20;

/// The most frames in a folder of images: a million, 11 hours at 25 fps. Bounds the
/// list of file names held in memory. See [`MAX_SIDE`].
pub const MAX_FOLDER_FRAMES: usize = 1_000_000;

/// Where the limits live, for the end of error messages.
pub(crate) const LIMITS_HINT: &str = "the limits are emocue::source::MAX_SIDE, MAX_PIXELS, \
    MAX_DECODED_BYTES and MAX_IMAGE_FILE_BYTES; raise them and rebuild to accept larger inputs";

/// Checks a claimed picture size against [`MAX_SIDE`] and [`MAX_PIXELS`]; the error
/// says what is wrong, for the caller to prefix with the file.
pub(crate) fn check_size(width: u64, height: u64) -> Result<(), String> {
    if width == 0 || height == 0 {
        return Err(format!("the picture is {width}x{height}: it has no pixels"));
    }
    let pixels = width.saturating_mul(height);
    if width > u64::from(MAX_SIDE) || height > u64::from(MAX_SIDE) || pixels > MAX_PIXELS {
        return Err(format!(
            "the picture claims {width}x{height} pixels ({:.1} MP), more than emocue reads \
             (at most {MAX_SIDE} pixels a side and {:.1} MP)",
            pixels as f64 / 1e6,
            MAX_PIXELS as f64 / 1e6
        ));
    }
    Ok(())
}

/// Decodes one image file to RGB8, upright as its EXIF tag says (for `classify`).
pub fn load_image(path: &Path) -> Result<image::RgbImage, SourceError> {
    load_rgb(path, 0)
}

/// Why a source could not deliver a frame. Every variant names the input and, where
/// it helps, the byte offset or frame number, so a broken clip is found quickly.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The input does not exist or cannot be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The input path.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A Y4M stream violates the format.
    #[error("{path}: malformed Y4M at byte {offset} (frame {frame}): {what}")]
    Y4m {
        /// The clip.
        path: PathBuf,
        /// Byte offset of the problem.
        offset: u64,
        /// Frame number being read (0 for the header).
        frame: u64,
        /// What is wrong.
        what: String,
    },
    /// An image file cannot be decoded.
    #[error("{path}: cannot decode image (frame {frame}): {source}")]
    Decode {
        /// The image file.
        path: PathBuf,
        /// Frame number within the source.
        frame: u64,
        /// The decoder's error.
        source: image::ImageError,
    },
    /// The input exists but is not something we can read.
    #[error("{path}: {what}")]
    Unsupported {
        /// The input path.
        path: PathBuf,
        /// What is wrong and how to fix it.
        what: String,
    },
    /// Reading failed midway.
    #[error("{path}: read error at byte {offset}: {source}")]
    Io {
        /// The input path.
        path: PathBuf,
        /// Byte offset where reading failed.
        offset: u64,
        /// The underlying I/O error.
        source: std::io::Error,
    },
}

/// Anything that yields frames in order. `Ok(None)` is a clean end of stream.
pub trait FrameSource {
    /// The next frame, `None` at the end.
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError>;
    /// Nominal frame rate, used for timestamps and summaries.
    fn fps(&self) -> f64;
    /// Human-readable description for logs.
    fn describe(&self) -> String;
}

/// The image formats read, for messages that must name them.
pub const IMAGE_FORMATS: &str = "PNG, JPEG, TIFF, WebP, BMP, GIF";

/// Photo formats: lab face sets come as TIFF or BMP as often as PNG or JPEG.
const IMAGE_EXTS: &[&str] = &["png", "jpg", "jpeg", "tif", "tiff", "webp", "bmp", "gif"];

/// True for the image files a folder source or `classify` accepts.
pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Opens a source by what the path is: a `.y4m` file, a folder of images, or one image.
/// `fps` sets the clock of image folders and single images (Y4M carries its own).
pub fn open(path: &Path, fps: f64) -> Result<Box<dyn FrameSource>, SourceError> {
    if path.is_dir() {
        return Ok(Box::new(ImageFolder::open(path, fps)?));
    }
    if !path.exists() {
        return Err(SourceError::Open {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
        });
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "y4m" => Ok(Box::new(Y4mReader::open(path)?)),
        _ if is_image(path) => Ok(Box::new(SingleImage::new(path))),
        _ => Err(SourceError::Unsupported {
            path: path.to_owned(),
            what: format!(
                "unsupported input; give a .y4m clip, a folder of image frames or one image \
                 ({IMAGE_FORMATS}); convert videos with: \
                 ffmpeg -i IN.mp4 -pix_fmt yuv420p OUT.y4m"
            ),
        }),
    }
}
