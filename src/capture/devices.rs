//! `emocue devices`: the camera nodes there are, and each one's formats as text.

use std::path::{Path, PathBuf};

use super::{CaptureRequest, DeviceInfo, PixelFormat, fmt_fps, fourcc_str, negotiate};

/// Lists `/dev/video*` nodes in numeric order (`video2` before `video10`).
pub fn video_nodes(dev: &Path) -> Vec<PathBuf> {
    let mut nodes: Vec<(u64, PathBuf)> = std::fs::read_dir(dev)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name();
                    let n = name.to_str()?.strip_prefix("video")?.parse().ok()?;
                    Some((n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    nodes.sort();
    nodes.into_iter().map(|(_, p)| p).collect()
}

/// `emocue devices`' text for one device, like `v4l2-ctl --list-formats-ext`, ending
/// with the mode emocue would choose for `request`.
pub fn describe_device(info: &DeviceInfo, request: &CaptureRequest) -> String {
    use std::fmt::Write;
    let mut s = format!("{}: {}", info.path.display(), info.card);
    let mut extra = vec![info.driver.clone()];
    if !info.bus.is_empty() {
        extra.push(info.bus.clone());
    }
    let _ = writeln!(s, " ({})", extra.join(", "));
    if !info.is_capture {
        s.push_str("  not a video capture node (metadata or output); not usable by emocue\n");
        return s;
    }
    for f in &info.formats {
        let note = if PixelFormat::from_fourcc(&f.fourcc).is_some() {
            ""
        } else {
            "  (not read by emocue)"
        };
        let _ = writeln!(s, "  '{}' {}{note}", fourcc_str(&f.fourcc), f.description);
        if let Some(r) = &f.range {
            let _ = writeln!(s, "      sizes {r}");
        }
        for z in &f.sizes {
            let rates = if z.fps.is_empty() {
                "rates not reported".to_owned()
            } else {
                let r: Vec<String> = z.fps.iter().map(|&x| fmt_fps(x)).collect();
                format!("{} fps", r.join(", "))
            };
            let _ = writeln!(s, "      {}x{}: {rates}", z.width, z.height);
        }
    }
    match negotiate(&info.formats, request) {
        Some(c) => {
            let _ = writeln!(
                s,
                "  emocue would use {} {}x{} at {} fps (asked for {}x{} at {} fps)",
                c.pixel,
                c.width,
                c.height,
                fmt_fps(c.fps),
                request.width,
                request.height,
                fmt_fps(request.fps)
            );
        }
        None => s.push_str("  no format emocue reads (GREY, YUYV, NV12, MJPEG)\n"),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{FormatInfo, SizeInfo};

    #[test]
    fn device_listing_marks_unreadable_formats_and_the_choice() {
        let info = DeviceInfo {
            path: "/dev/video0".into(),
            card: "Test Cam".into(),
            driver: "uvcvideo".into(),
            bus: "usb-1".into(),
            is_capture: true,
            formats: vec![
                FormatInfo {
                    fourcc: *b"H264",
                    description: "H.264".into(),
                    sizes: vec![SizeInfo {
                        width: 1920,
                        height: 1080,
                        fps: vec![30.0],
                    }],
                    range: None,
                },
                FormatInfo {
                    fourcc: *b"YUYV",
                    description: "YUYV 4:2:2".into(),
                    sizes: vec![SizeInfo {
                        width: 640,
                        height: 480,
                        fps: vec![30.0, 15.0],
                    }],
                    range: None,
                },
            ],
        };
        let text = describe_device(&info, &CaptureRequest::default());
        assert!(text.starts_with("/dev/video0: Test Cam (uvcvideo, usb-1)"));
        assert!(
            text.contains("'H264' H.264  (not read by emocue)"),
            "{text}"
        );
        assert!(text.contains("640x480: 30, 15 fps"), "{text}");
        assert!(
            text.contains("emocue would use YUYV 640x480 at 30 fps"),
            "{text}"
        );
    }
}
