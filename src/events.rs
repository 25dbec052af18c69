//! The JSON documents emocue writes: one line per frame for `replay`, one line per
//! file for `classify`. Schemas are in docs/events.md. Numbers are rounded so the
//! same input gives the same bytes.

use std::io::Write;

use serde_json::{Map, Value, json};

use crate::detect::{Detection, KEYPOINT_NAMES, Rect};
use crate::pipeline::FrameResult;
use crate::quality::Quality;
use crate::smooth::Shown;

fn r(v: f32, digits: i32) -> Value {
    let k = 10f64.powi(digits);
    json!((v as f64 * k).round() / k)
}

/// `[x, y, w, h]` in pixels, one decimal.
pub fn box_json(rect: &Rect) -> Value {
    json!([r(rect.x, 1), r(rect.y, 1), r(rect.w, 1), r(rect.h, 1)])
}

/// Probabilities by class key, in model order, four decimals.
pub fn probs_json(labels: &[String], p: &[f32]) -> Value {
    Value::Object(
        labels
            .iter()
            .zip(p)
            .map(|(l, &v)| (l.clone(), r(v, 4)))
            .collect(),
    )
}

/// Keypoints by name.
pub fn keypoints_json(d: &Detection) -> Value {
    Value::Object(
        KEYPOINT_NAMES
            .iter()
            .zip(&d.keypoints)
            .map(|(n, k)| (n.to_string(), json!([r(k[0], 1), r(k[1], 1)])))
            .collect(),
    )
}

/// A face's view quality (`[quality]`): detail and noise, three decimals.
pub fn quality_json(q: Quality) -> Value {
    json!({"detail": r(q.detail, 3), "noise": r(q.noise, 3)})
}

/// The shown label as a string (`unsure`) or null.
pub fn shown_json(labels: &[String], s: Shown) -> Value {
    match s {
        Shown::Nothing => Value::Null,
        Shown::Unsure => json!("unsure"),
        Shown::Label(i) => json!(labels.get(i)),
    }
}

/// One replay event line.
pub fn frame_event(labels: &[String], fr: &FrameResult, timing: bool) -> Value {
    let faces: Vec<Value> = fr
        .faces
        .iter()
        .map(|f| {
            let mut m = Map::new();
            m.insert("track".into(), json!(f.track_id));
            m.insert("box".into(), box_json(&f.rect));
            m.insert("detected".into(), json!(f.detection.is_some()));
            // Only on frames the detector skipped, so `every_frames = 1` writes the
            // same bytes as before the schedule existed.
            if f.carried {
                m.insert("carried".into(), json!(true));
            }
            m.insert(
                "score".into(),
                f.detection.as_ref().map_or(Value::Null, |d| r(d.score, 4)),
            );
            m.insert(
                "keypoints".into(),
                f.detection.as_ref().map_or(Value::Null, keypoints_json),
            );
            m.insert(
                "raw".into(),
                f.raw
                    .as_ref()
                    .map_or(Value::Null, |p| probs_json(labels, p)),
            );
            m.insert("smoothed".into(), probs_json(labels, &f.smoothed));
            m.insert("talking".into(), json!(f.talking));
            m.insert(
                "quality".into(),
                f.quality.map_or(Value::Null, quality_json),
            );
            m.insert("poor_view".into(), json!(f.poor_view));
            m.insert("shown".into(), shown_json(labels, f.shown));
            m.insert("caption".into(), json!(f.caption));
            Value::Object(m)
        })
        .collect();
    let mut m = Map::new();
    m.insert("frame".into(), json!(fr.index));
    m.insert(
        "timestamp_ms".into(),
        json!((fr.timestamp_ms * 1000.0).round() / 1000.0),
    );
    m.insert("faces".into(), Value::Array(faces));
    if timing {
        let t = &fr.timing;
        let ms = |v: f64| json!((v * 1000.0).round() / 1000.0);
        m.insert(
            "latency_ms".into(),
            json!({"detect": ms(t.detect_ms), "classify": ms(t.classify_ms), "track": ms(t.track_ms), "total": ms(t.total_ms)}),
        );
    }
    Value::Object(m)
}

/// Writes `doc` and a newline to `out` in one `write_all`, through `buf` (reused
/// between lines): a stop or a crash between writes leaves only whole lines, where
/// serialising piecemeal into a buffered writer can flush half a line.
pub fn write_line(out: &mut dyn Write, doc: &Value, buf: &mut Vec<u8>) -> std::io::Result<()> {
    buf.clear();
    serde_json::to_writer(&mut *buf, doc)?;
    buf.push(b'\n');
    out.write_all(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the size of every `write` call it gets.
    #[derive(Default)]
    struct Calls(Vec<Vec<u8>>);

    impl Write for Calls {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_is_handed_on_in_one_write_ending_in_a_newline() {
        let mut out = Calls::default();
        let mut buf = Vec::new();
        let doc = json!({"frame": 1, "faces": [{"track": 2, "caption": "looks happy"}]});
        write_line(&mut out, &doc, &mut buf).unwrap();
        write_line(&mut out, &json!({"frame": 2}), &mut buf).unwrap();
        assert_eq!(out.0.len(), 2, "one write per line");
        for w in &out.0 {
            assert_eq!(w.iter().filter(|&&b| b == b'\n').count(), 1);
            assert!(w.ends_with(b"\n"));
            serde_json::from_slice::<Value>(w).unwrap();
        }
        assert_eq!(out.0[1], b"{\"frame\":2}\n");
    }
}
