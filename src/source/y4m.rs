//! YUV4MPEG2 (Y4M) clips: the raw format ffmpeg writes with `-pix_fmt yuv420p out.y4m`.
//!
//! Supported: 8-bit `C420*` (420jpeg, 420paldv, 420mpeg2, 420), `C422`, `C444` and
//! `Cmono`, any size. Colour is BT.601 limited range; mono is taken as full range.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use image::RgbImage;

use super::{FrameSource, LIMITS_HINT, SourceError, check_size};
use crate::Frame;
use crate::frame::Luma;

/// Chroma layout of a Y4M stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chroma {
    /// 4:2:0, chroma halved in both directions.
    C420,
    /// 4:2:2, chroma halved horizontally.
    C422,
    /// 4:4:4, full chroma.
    C444,
    /// Luma only.
    Mono,
}

impl Chroma {
    fn parse(tag: &str) -> Option<Chroma> {
        match tag {
            "420" | "420jpeg" | "420paldv" | "420mpeg2" => Some(Chroma::C420),
            "422" => Some(Chroma::C422),
            "444" => Some(Chroma::C444),
            "mono" => Some(Chroma::Mono),
            _ => None,
        }
    }

    /// Width and height of each chroma plane.
    fn plane(self, w: usize, h: usize) -> (usize, usize) {
        match self {
            Chroma::C420 => (w.div_ceil(2), h.div_ceil(2)),
            Chroma::C422 => (w.div_ceil(2), h),
            Chroma::C444 => (w, h),
            Chroma::Mono => (0, 0),
        }
    }
}

/// Reads a Y4M clip frame by frame with bounded memory.
pub struct Y4mReader {
    path: PathBuf,
    input: BufReader<Box<dyn Read + Send>>,
    offset: u64,
    width: usize,
    height: usize,
    fps: f64,
    chroma: Chroma,
    next: u64,
    buf: Vec<u8>,
    /// The file's length when it is a regular file: a frame the file holds whole gets
    /// its buffer in one allocation, one it does not gets only what is there.
    len: Option<u64>,
}

impl Y4mReader {
    /// Opens a clip and parses its header.
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        let file = File::open(path).map_err(|source| SourceError::Open {
            path: path.to_owned(),
            source,
        })?;
        let len = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let mut r = Self::from_reader(path, Box::new(file))?;
        r.len = len;
        Ok(r)
    }

    /// Parses a header from any byte stream; `path` only names it in errors. Never
    /// panics and allocates at most what the stream holds, whatever its bytes: the
    /// entry point of the Y4M fuzz target.
    pub fn from_reader(path: &Path, read: Box<dyn Read + Send>) -> Result<Self, SourceError> {
        let mut r = Y4mReader {
            path: path.to_owned(),
            input: BufReader::with_capacity(1 << 16, read),
            offset: 0,
            width: 0,
            height: 0,
            fps: 0.0,
            chroma: Chroma::C420,
            next: 0,
            buf: Vec::new(),
            len: None,
        };
        let line = r
            .read_line(64 * 1024)?
            .ok_or_else(|| r.err(0, "empty file, no Y4M header"))?;
        let mut tokens = line.split(' ');
        if tokens.next() != Some("YUV4MPEG2") {
            return Err(r.err(0, "not a Y4M file: it must start with 'YUV4MPEG2 '"));
        }
        for tok in tokens.filter(|t| !t.is_empty()) {
            // The tag is the first character, whatever it is: a token may start with a
            // multi-byte one (ignored, like any unknown tag).
            let mut chars = tok.chars();
            let tag = chars.next();
            let val = chars.as_str();
            match tag {
                Some('W') => {
                    r.width = val
                        .parse()
                        .map_err(|_| r.err(0, &format!("bad width '{}'", shorten(val))))?
                }
                Some('H') => {
                    r.height = val
                        .parse()
                        .map_err(|_| r.err(0, &format!("bad height '{}'", shorten(val))))?
                }
                Some('F') => {
                    // Whole numbers, as the format says: a float would let "F1e-300:1"
                    // through as a rate whose timestamps are infinite.
                    let (n, d) = val.split_once(':').unwrap_or((val, "1"));
                    r.fps = match (n.parse::<u32>(), d.parse::<u32>()) {
                        (Ok(n), Ok(d)) if d > 0 => f64::from(n) / f64::from(d),
                        (Ok(_), Ok(_)) => 0.0,
                        _ => return Err(r.err(0, &format!("bad frame rate '{}'", shorten(val)))),
                    };
                }
                Some('C') => {
                    r.chroma =
                        Chroma::parse(val).ok_or_else(|| {
                            r.err(0, &format!(
                            "colour space '{}' is not supported (8-bit 420/422/444/mono only); \
                             convert with: ffmpeg -i IN -pix_fmt yuv420p OUT.y4m",
                            shorten(val)
                        ))
                        })?
                }
                _ => {} // interlacing, aspect, comments: irrelevant here
            }
        }
        if r.width == 0 || r.height == 0 {
            return Err(r.err(0, "header lacks a positive W (width) or H (height)"));
        }
        check_size(r.width as u64, r.height as u64).map_err(|what| SourceError::Unsupported {
            path: r.path.clone(),
            what: format!(
                "{what}; scale the clip down, e.g. ffmpeg -i IN -vf scale=1920:-2 \
                 -pix_fmt yuv420p OUT.y4m ({LIMITS_HINT})"
            ),
        })?;
        if !(r.fps.is_finite() && r.fps > 0.0) {
            return Err(r.err(0, "header lacks a positive frame rate (F<num>:<den>)"));
        }
        Ok(r)
    }

    /// Frame size in pixels.
    pub fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// Chroma layout of the clip.
    pub fn chroma(&self) -> Chroma {
        self.chroma
    }

    fn err(&self, offset: u64, what: &str) -> SourceError {
        SourceError::Y4m {
            path: self.path.clone(),
            offset,
            frame: self.next,
            what: what.to_owned(),
        }
    }

    /// Reads up to '\n'; `None` at a clean end of file.
    fn read_line(&mut self, max: usize) -> Result<Option<String>, SourceError> {
        let start = self.offset;
        let mut line = Vec::new();
        let n = (&mut self.input)
            .take(max as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|source| SourceError::Io {
                path: self.path.clone(),
                offset: start,
                source,
            })?;
        self.offset += n as u64;
        if n == 0 {
            return Ok(None);
        }
        if line.last() != Some(&b'\n') {
            return Err(self.err(start, "line not terminated (file truncated or not Y4M)"));
        }
        line.pop();
        String::from_utf8(line)
            .map(Some)
            .map_err(|_| self.err(start, "header is not ASCII text"))
    }

    fn frame_bytes(&self) -> usize {
        let (cw, ch) = self.chroma.plane(self.width, self.height);
        self.width * self.height + 2 * cw * ch
    }

    /// Converts the frame in `buf` (whole: `frame_bytes` long) to RGB.
    fn to_rgb(&self) -> Result<RgbImage, SourceError> {
        let (w, h) = (self.width, self.height);
        let (cw, ch) = self.chroma.plane(w, h);
        let short = || self.err(self.offset, "frame buffer shorter than the frame");
        let (y, rest) = self.buf.split_at_checked(w * h).ok_or_else(short)?;
        let mut out = RgbImage::new(w as u32, h as u32);
        let px: &mut [u8] = out.as_mut();
        if self.chroma == Chroma::Mono {
            for (o, &v) in px.chunks_exact_mut(3).zip(y) {
                o.copy_from_slice(&[v, v, v]);
            }
            return Ok(out);
        }
        let (u, v) = rest.split_at_checked(cw * ch).ok_or_else(short)?;
        if v.len() != cw * ch || cw == 0 {
            return Err(short());
        }
        let (sx, sy) = (w.div_ceil(cw), h.div_ceil(ch));
        for (row, (out_row, y_row)) in px
            .chunks_exact_mut(w * 3)
            .zip(y.chunks_exact(w))
            .enumerate()
        {
            let c = (row / sy) * cw;
            let (Some(u_row), Some(v_row)) = (u.get(c..c + cw), v.get(c..c + cw)) else {
                return Err(short());
            };
            for (col, (o, &luma)) in out_row.chunks_exact_mut(3).zip(y_row).enumerate() {
                let (Some(&cb), Some(&cr)) = (u_row.get(col / sx), v_row.get(col / sx)) else {
                    return Err(short());
                };
                o.copy_from_slice(&yuv_to_rgb(luma, cb, cr));
            }
        }
        Ok(out)
    }
}

/// At most 32 characters of a header value, for messages (a header line can be 64 KiB).
fn shorten(val: &str) -> String {
    let mut s: String = val.chars().take(32).collect();
    if s.len() < val.len() {
        s.push_str("...");
    }
    s
}

/// BT.601 limited-range YCbCr to RGB in fixed point.
#[inline]
pub fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let c = (y as i32 - 16) * 298;
    let d = u as i32 - 128;
    let e = v as i32 - 128;
    let clip = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
    [
        clip(c + 409 * e),
        clip(c - 100 * d - 208 * e),
        clip(c + 516 * d),
    ]
}

impl FrameSource for Y4mReader {
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        let start = self.offset;
        let Some(line) = self.read_line(4096)? else {
            return Ok(None);
        };
        if line != "FRAME" && !line.starts_with("FRAME ") {
            return Err(self.err(
                start,
                &format!(
                    "expected a FRAME marker, found {:?}",
                    line.chars().take(16).collect::<String>()
                ),
            ));
        }
        let need = self.frame_bytes();
        let data_start = self.offset;
        // The buffer grows only as data arrives, so a header that claims a huge frame
        // over a short file costs what the file holds, not what the header says; a
        // regular file that holds the whole frame gets it in one allocation.
        self.buf.clear();
        if self
            .len
            .is_some_and(|len| len.saturating_sub(data_start) >= need as u64)
        {
            self.buf.reserve_exact(need);
        }
        let read = (&mut self.input)
            .take(need as u64)
            .read_to_end(&mut self.buf);
        let got = self.buf.len();
        self.offset += got as u64;
        if let Err(source) = read {
            return Err(SourceError::Io {
                path: self.path.clone(),
                offset: data_start + got as u64,
                source,
            });
        }
        if got < need {
            return Err(self.err(
                data_start + got as u64,
                &format!("truncated frame: {got} of {need} bytes present"),
            ));
        }
        let index = self.next;
        self.next += 1;
        let frame = Frame::new(index, index as f64 * 1000.0 / self.fps, self.to_rgb()?);
        if self.chroma != Chroma::Mono {
            return Ok(Some(frame));
        }
        // Grey: the Y plane is the luma plane, full range as `to_rgb` copied it.
        let (w, h) = (self.width, self.height);
        let y = self.buf.get(..w * h).unwrap_or_default().to_vec();
        Ok(Some(frame.with_luma(Luma {
            width: w,
            height: h,
            data: y,
        })))
    }

    fn fps(&self) -> f64 {
        self.fps
    }

    fn describe(&self) -> String {
        format!(
            "{} ({}x{} {:?} at {:.3} fps)",
            self.path.display(),
            self.width,
            self.height,
            self.chroma,
            self.fps
        )
    }
}

/// Writes RGB frames as a 4:2:0 Y4M clip (what `--render-video` and tests produce).
pub struct Y4mWriter<W: Write> {
    out: BufWriter<W>,
    width: u32,
    height: u32,
}

impl Y4mWriter<File> {
    /// Creates the file and writes the header.
    pub fn create(path: &Path, width: u32, height: u32, fps: u32) -> std::io::Result<Self> {
        Y4mWriter::new(File::create(path)?, width, height, fps)
    }
}

impl<W: Write> Y4mWriter<W> {
    /// Writes the header to any sink.
    pub fn new(sink: W, width: u32, height: u32, fps: u32) -> std::io::Result<Self> {
        let mut out = BufWriter::new(sink);
        writeln!(
            out,
            "YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg"
        )?;
        Ok(Y4mWriter { out, width, height })
    }

    /// Appends one frame; it must have the clip's size.
    pub fn write(&mut self, img: &RgbImage) -> std::io::Result<()> {
        if img.dimensions() != (self.width, self.height) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "frame is {:?}, clip is {}x{}",
                    img.dimensions(),
                    self.width,
                    self.height
                ),
            ));
        }
        let (w, h) = (self.width as usize, self.height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let px = img.as_raw();
        let mut y = Vec::with_capacity(w * h);
        for p in px.chunks_exact(3) {
            let (r, g, b) = (p[0] as i32, p[1] as i32, p[2] as i32);
            y.push((((66 * r + 129 * g + 25 * b + 128) >> 8) + 16).clamp(0, 255) as u8);
        }
        let mut u = Vec::with_capacity(cw * ch);
        let mut v = Vec::with_capacity(cw * ch);
        for cy in 0..ch {
            for cx in 0..cw {
                let (mut r, mut g, mut b, mut n) = (0i32, 0i32, 0i32, 0i32);
                for yy in (cy * 2)..((cy * 2 + 2).min(h)) {
                    for xx in (cx * 2)..((cx * 2 + 2).min(w)) {
                        let p = &px[(yy * w + xx) * 3..][..3];
                        r += p[0] as i32;
                        g += p[1] as i32;
                        b += p[2] as i32;
                        n += 1;
                    }
                }
                let (r, g, b) = (r / n, g / n, b / n);
                u.push((((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128).clamp(0, 255) as u8);
                v.push((((112 * r - 94 * g - 18 * b + 128) >> 8) + 128).clamp(0, 255) as u8);
            }
        }
        self.out.write_all(b"FRAME\n")?;
        self.out.write_all(&y)?;
        self.out.write_all(&u)?;
        self.out.write_all(&v)
    }

    /// Flushes buffered frames; call before dropping to see write errors.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn reader(bytes: Vec<u8>) -> Result<Y4mReader, SourceError> {
        Y4mReader::from_reader(Path::new("t.y4m"), Box::new(Cursor::new(bytes)))
    }

    fn clip(header: &str, frame_bytes: usize, frames: usize, fill: u8) -> Vec<u8> {
        let mut b = format!("{header}\n").into_bytes();
        for _ in 0..frames {
            b.extend_from_slice(b"FRAME\n");
            b.extend(std::iter::repeat_n(fill, frame_bytes));
        }
        b
    }

    #[test]
    fn parses_every_chroma_layout_and_odd_sizes() {
        // 5x3: 4:2:0 chroma is 3x2, 4:2:2 is 3x3.
        for (tag, bytes) in [
            ("C420jpeg", 15 + 2 * 6),
            ("C420mpeg2", 15 + 2 * 6),
            ("C422", 15 + 2 * 9),
            ("C444", 45),
            ("Cmono", 15),
        ] {
            let mut r = reader(clip(
                &format!("YUV4MPEG2 W5 H3 F30000:1001 It A1:1 {tag} XCOLORRANGE=LIMITED"),
                bytes,
                3,
                128,
            ))
            .unwrap();
            assert_eq!(r.size(), (5, 3));
            assert!((r.fps() - 29.97).abs() < 0.01);
            let mut n = 0;
            while let Some(f) = r.next_frame().unwrap() {
                assert_eq!(f.image.dimensions(), (5, 3), "{tag}");
                assert_eq!(f.index, n);
                n += 1;
            }
            assert_eq!(n, 3, "{tag}");
        }
    }

    #[test]
    fn default_chroma_is_420_and_frame_params_are_accepted() {
        let mut b = b"YUV4MPEG2 W2 H2 F25:1\nFRAME Ixyz\n".to_vec();
        b.extend([16, 16, 235, 235, 128, 128]);
        let mut r = reader(b).unwrap();
        assert_eq!(r.chroma(), Chroma::C420);
        let f = r.next_frame().unwrap().unwrap();
        assert_eq!(f.image.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(f.image.get_pixel(0, 1).0, [255, 255, 255]);
        assert!(r.next_frame().unwrap().is_none());
    }

    #[test]
    fn colour_conversion_round_trips_through_the_writer() {
        let mut img = RgbImage::new(4, 2);
        for (i, p) in img.pixels_mut().enumerate() {
            *p = image::Rgb([200, 60, 30 + i as u8]);
        }
        let mut buf = Vec::new();
        let mut w = Y4mWriter::new(&mut buf, 4, 2, 25).unwrap();
        w.write(&img).unwrap();
        w.finish().unwrap();
        let f = reader(buf).unwrap().next_frame().unwrap().unwrap();
        for (a, b) in f.image.pixels().zip(img.pixels()) {
            for c in 0..3 {
                assert!((a[c] as i32 - b[c] as i32).abs() <= 6, "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn malformed_headers_and_frames_are_reported_with_offsets() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"".to_vec(), "empty file"),
            (b"RIFF....\n".to_vec(), "not a Y4M file"),
            (b"YUV4MPEG2 W0 H2 F25:1\n".to_vec(), "positive W"),
            (b"YUV4MPEG2 W2 H2 F25:0\n".to_vec(), "frame rate"),
            (b"YUV4MPEG2 W2 H2 F25:1 C420p10\n".to_vec(), "not supported"),
            (b"YUV4MPEG2 W2 H2 F25:1".to_vec(), "not terminated"),
        ];
        for (bytes, want) in cases {
            let e = reader(bytes).err().expect("error").to_string();
            assert!(e.contains(want), "{e}");
        }
        let mut b = clip("YUV4MPEG2 W2 H2 F25:1", 6, 1, 100);
        b.extend_from_slice(b"FRAMX\n");
        let mut r = reader(b).unwrap();
        r.next_frame().unwrap();
        let e = r.next_frame().unwrap_err().to_string();
        assert!(
            e.contains("byte 34") && e.contains("frame 1") && e.contains("FRAME marker"),
            "{e}"
        );
        let mut b = clip("YUV4MPEG2 W2 H2 F25:1", 6, 1, 100);
        b.truncate(b.len() - 2);
        let e = reader(b).unwrap().next_frame().unwrap_err().to_string();
        assert!(
            e.contains("truncated frame: 4 of 6 bytes") && e.contains("frame 0"),
            "{e}"
        );
    }

    #[test]
    fn a_huge_frame_over_a_short_stream_allocates_only_what_is_there() {
        // 8192x8192 4:4:4 is within the limits: 192 MiB a frame, of which 1 KB exists.
        let mut b = b"YUV4MPEG2 W8192 H8192 F25:1 C444\nFRAME\n".to_vec();
        b.extend_from_slice(&[7u8; 1024]);
        let mut r = reader(b.clone()).unwrap();
        let e = r.next_frame().unwrap_err().to_string();
        assert!(
            e.contains("truncated frame: 1024 of 201326592 bytes") && e.contains("frame 0"),
            "{e}"
        );
        assert!(r.buf.capacity() <= 1 << 16, "{} bytes", r.buf.capacity());
        // the same from a file, whose length is known
        let path =
            std::env::temp_dir().join(format!("emocue-y4m-short-{}.y4m", std::process::id()));
        std::fs::write(&path, &b).unwrap();
        let mut r = Y4mReader::open(&path).unwrap();
        assert!(r.next_frame().is_err());
        assert!(r.buf.capacity() <= 1 << 16, "{} bytes", r.buf.capacity());
        let _ = std::fs::remove_file(&path);
        // whole frames from a file get their buffer in one piece, and reuse it
        let path =
            std::env::temp_dir().join(format!("emocue-y4m-whole-{}.y4m", std::process::id()));
        std::fs::write(
            &path,
            clip("YUV4MPEG2 W64 H48 F25:1", 64 * 48 * 3 / 2, 3, 90),
        )
        .unwrap();
        let mut r = Y4mReader::open(&path).unwrap();
        let mut n = 0;
        while r.next_frame().unwrap().is_some() {
            assert_eq!(r.buf.capacity(), 64 * 48 * 3 / 2);
            n += 1;
        }
        assert_eq!(n, 3);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn sizes_over_the_limits_are_refused_from_the_header() {
        for header in [
            "W16384 H16384",
            "W16385 H2",
            "W2 H99999999999999",
            "W70000 H1",
        ] {
            let e = reader(format!("YUV4MPEG2 {header} F25:1 C444\n").into_bytes())
                .err()
                .expect("refused")
                .to_string();
            assert!(
                e.contains("t.y4m") && e.contains("MAX_PIXELS") && e.contains("scale"),
                "{header}: {e}"
            );
        }
        // bad numbers are named
        let e = reader(b"YUV4MPEG2 W-5 H2 F25:1\n".to_vec())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("bad width '-5'"), "{e}");
    }

    #[test]
    fn multibyte_characters_in_header_tokens_are_no_panic() {
        let ok = |h: &str| {
            let mut b = format!("{h}\n").into_bytes();
            b.extend_from_slice(b"FRAME\n");
            b.extend_from_slice(&[128u8; 6]);
            reader(b)
        };
        let mut r = ok("YUV4MPEG2 W2 H2 F25:1 é").unwrap();
        assert!(r.next_frame().unwrap().is_some());
        assert!(ok("YUV4MPEG2 W2 H2 F25:1 🙂x Xé=漢").is_ok());
        for (h, want) in [
            ("YUV4MPEG2 Wé H2 F25:1", "bad width 'é'"),
            ("YUV4MPEG2 W2 H2漢 F25:1", "bad height"),
            ("YUV4MPEG2 W2 H2 F25:1é", "bad frame rate"),
            ("YUV4MPEG2 W2 H2 F25:1 C42é", "colour space"),
        ] {
            let e = ok(h).err().expect(h).to_string();
            assert!(e.contains(want), "{h}: {e}");
        }
    }

    #[test]
    fn frame_rates_must_be_positive_whole_ratios() {
        for (f, ok) in [
            ("F25:1", true),
            ("F30000:1001", true),
            ("F25", true),
            ("F0:0", false),
            ("F1:0", false),
            ("F0:1", false),
            ("F:", false),
            ("F-25:1", false),
            ("F25:-1", false),
            ("Finf:1", false),
            ("FNaN:1", false),
            ("F1e-300:1", false),
            ("F25.5:1", false),
            ("F99999999999:1", false),
        ] {
            let r = reader(format!("YUV4MPEG2 W2 H2 {f}\n").into_bytes());
            assert_eq!(r.is_ok(), ok, "{f}");
            if let Ok(r) = r {
                assert!(r.fps().is_finite() && r.fps() > 0.0, "{f}");
            }
        }
    }

    /// Deterministic xorshift, so the mutants are the same on every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// Reads a mutated clip to its end or first error; any panic fails the test
    /// with the mutant that caused it.
    fn survive(bytes: Vec<u8>) {
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned();
        let result = std::panic::catch_unwind(move || {
            if let Ok(mut r) = reader(bytes) {
                let _ = r.describe();
                for _ in 0..4 {
                    match r.next_frame() {
                        Ok(Some(f)) => {
                            assert!(f.timestamp_ms.is_finite());
                            assert!(f.image.width() > 0 && f.image.height() > 0);
                        }
                        Ok(None) | Err(_) => break,
                    }
                }
            }
        });
        assert!(result.is_ok(), "panic on the mutant {shown:?}");
    }

    #[test]
    fn no_header_mutant_panics() {
        let bases = [
            "YUV4MPEG2 W4 H2 F25:1 Ip A1:1 C420jpeg XYSCSS=420JPEG",
            "YUV4MPEG2 W3 H3 F30000:1001 C444",
            "YUV4MPEG2 W5 H1 F1:1 Cmono",
            "YUV4MPEG2 W2 H4 F24 C422",
        ];
        let specials = [
            "é",
            "漢",
            "🙂",
            "\u{0}",
            "W",
            "H",
            "F",
            "C",
            "W0",
            "H0",
            "W-1",
            "H-2",
            "W18446744073709551616",
            "H4294967296",
            "W99999",
            "F0:0",
            "F1:0",
            "F:1",
            "F4294967295:1",
            "F1:4294967295",
            "C",
            "C420p10",
            "Cmonoé",
            " ",
            "  ",
            ":",
            "\t",
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut n = 0;
        for base in bases {
            let tokens: Vec<&str> = base.split(' ').collect();
            for _ in 0..150 {
                let mut header = base.as_bytes().to_vec();
                for _ in 0..1 + rng.below(3) {
                    let at = rng.below(header.len() + 1);
                    match rng.below(6) {
                        0 => header.insert(at, rng.next() as u8),
                        1 if at < header.len() => header[at] = rng.next() as u8,
                        2 if at < header.len() => {
                            header.remove(at);
                        }
                        3 => {
                            let sp = specials[rng.below(specials.len())].as_bytes();
                            header.splice(at..at, sp.iter().copied());
                        }
                        4 => {
                            // replace a whole token with a special one
                            let mut t: Vec<String> = tokens.iter().map(|t| t.to_string()).collect();
                            let i = 1 + rng.below(t.len() - 1);
                            t[i] = specials[rng.below(specials.len())].to_string();
                            header = t.join(" ").into_bytes();
                        }
                        _ => {
                            // drop a token (W, H, F or C missing)
                            let mut t: Vec<&str> = tokens.clone();
                            t.remove(1 + rng.below(t.len() - 1));
                            header = t.join(" ").into_bytes();
                        }
                    }
                }
                let mut bytes = header;
                bytes.push(b'\n');
                for _ in 0..rng.below(3) {
                    bytes.extend_from_slice(b"FRAME\n");
                    let len = rng.below(60);
                    bytes.extend((0..len).map(|_| rng.next() as u8));
                }
                survive(bytes);
                n += 1;
            }
        }
        assert_eq!(n, 600);
    }
}
