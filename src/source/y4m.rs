//! YUV4MPEG2 (Y4M) clips: the raw format ffmpeg writes with `-pix_fmt yuv420p out.y4m`.
//!
//! Supported: 8-bit `C420*` (420jpeg, 420paldv, 420mpeg2, 420), `C422`, `C444` and
//! `Cmono`, any size. Colour is BT.601 limited range; mono is taken as full range.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use image::RgbImage;

use super::{FrameSource, SourceError};
use crate::Frame;

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
}

impl Y4mReader {
    /// Opens a clip and parses its header.
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        let file = File::open(path).map_err(|source| SourceError::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::from_reader(path, Box::new(file))
    }

    /// Parses a header from any byte stream; `path` only names it in errors.
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
        };
        let line = r
            .read_line(64 * 1024)?
            .ok_or_else(|| r.err(0, "empty file, no Y4M header"))?;
        let mut tokens = line.split(' ');
        if tokens.next() != Some("YUV4MPEG2") {
            return Err(r.err(0, "not a Y4M file: it must start with 'YUV4MPEG2 '"));
        }
        for tok in tokens.filter(|t| !t.is_empty()) {
            let (tag, val) = tok.split_at(1);
            match tag {
                "W" => {
                    r.width = val
                        .parse()
                        .map_err(|_| r.err(0, &format!("bad width '{val}'")))?
                }
                "H" => {
                    r.height = val
                        .parse()
                        .map_err(|_| r.err(0, &format!("bad height '{val}'")))?
                }
                "F" => {
                    let (n, d) = val.split_once(':').unwrap_or((val, "1"));
                    let (n, d): (f64, f64) = match (n.parse(), d.parse()) {
                        (Ok(n), Ok(d)) => (n, d),
                        _ => return Err(r.err(0, &format!("bad frame rate '{val}'"))),
                    };
                    r.fps = if d > 0.0 { n / d } else { 0.0 };
                }
                "C" => {
                    r.chroma = Chroma::parse(val).ok_or_else(|| {
                        r.err(0, &format!(
                            "colour space '{val}' is not supported (8-bit 420/422/444/mono only); \
                             convert with: ffmpeg -i IN -pix_fmt yuv420p OUT.y4m"
                        ))
                    })?
                }
                _ => {} // interlacing, aspect, comments: irrelevant here
            }
        }
        if r.width == 0 || r.height == 0 {
            return Err(r.err(0, "header lacks a positive W (width) or H (height)"));
        }
        if r.width > 16384 || r.height > 16384 {
            return Err(r.err(
                0,
                &format!("frame size {}x{} is implausible", r.width, r.height),
            ));
        }
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

    fn to_rgb(&self) -> RgbImage {
        let (w, h) = (self.width, self.height);
        let (cw, ch) = self.chroma.plane(w, h);
        let y = &self.buf[..w * h];
        let mut out = RgbImage::new(w as u32, h as u32);
        let px = out.as_mut();
        if self.chroma == Chroma::Mono {
            for (o, &v) in px.chunks_exact_mut(3).zip(y) {
                o.copy_from_slice(&[v, v, v]);
            }
            return out;
        }
        let u = &self.buf[w * h..w * h + cw * ch];
        let v = &self.buf[w * h + cw * ch..];
        let (sx, sy) = (w.div_ceil(cw), h.div_ceil(ch));
        for row in 0..h {
            let crow = (row / sy) * cw;
            for col in 0..w {
                let c = crow + col / sx;
                let rgb = yuv_to_rgb(y[row * w + col], u[c], v[c]);
                px[(row * w + col) * 3..][..3].copy_from_slice(&rgb);
            }
        }
        out
    }
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
        self.buf.resize(need, 0);
        let data_start = self.offset;
        let mut got = 0;
        while got < need {
            match self.input.read(&mut self.buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(SourceError::Io {
                        path: self.path.clone(),
                        offset: data_start + got as u64,
                        source,
                    });
                }
            }
        }
        self.offset += got as u64;
        if got < need {
            return Err(self.err(
                data_start + got as u64,
                &format!("truncated frame: {got} of {need} bytes present"),
            ));
        }
        let index = self.next;
        self.next += 1;
        Ok(Some(Frame::new(
            index,
            index as f64 * 1000.0 / self.fps,
            self.to_rgb(),
        )))
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
}
