//! Headless replay: a recorded clip through the pipeline, events out, summary at the end.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{Value, json};

use crate::Frame;
use crate::drive::{Sink, drive};
use crate::events::frame_event;
use crate::pipeline::FrameResult;
use crate::render::Notice;
use crate::session::Session;
use crate::smooth::Shown;
use crate::source::FrameSource;
use crate::stats::percentile;

pub use crate::drive::{StopCheck, Stopped};

/// What a replay saw, for `--summary`.
#[derive(Debug, Default)]
pub struct Summary {
    /// Frames processed.
    pub frames: u64,
    /// Frames where at least one face was detected.
    pub frames_with_face: u64,
    /// Duration covered, ms.
    pub duration_ms: f64,
    /// Time each caption (label key, `unsure`, or `none`) was shown, summed over faces, ms.
    pub shown_ms: BTreeMap<String, f64>,
    /// Caption changes (a face's shown state turning into another shown state).
    pub caption_changes: u64,
    /// Time faces were seen poorly (`[quality]`: blurred, tiny, noisy or dim), summed
    /// over faces, ms: when it is large, "not sure" is the camera's doing.
    pub poor_view_ms: f64,
    /// Distinct track ids seen.
    pub tracks: u64,
    /// Per-frame stage latencies, ms.
    pub latency: BTreeMap<&'static str, Vec<f64>>,
    /// Why the replay ended before the clip did ("SIGINT", "window closed"); `None`
    /// when it played to the end.
    pub stopped: Option<String>,
    last: BTreeMap<u64, (Shown, f64)>,
    frame_ms: f64,
}

impl Summary {
    /// A summary for a clip of this frame rate.
    pub fn new(fps: f64) -> Self {
        Summary {
            frame_ms: 1000.0 / fps.max(1e-3),
            ..Default::default()
        }
    }

    /// Adds one frame's result.
    pub fn add(&mut self, labels: &[String], fr: &FrameResult) {
        self.frames += 1;
        self.duration_ms = fr.timestamp_ms + self.frame_ms;
        if fr.faces.iter().any(|f| f.detection.is_some()) {
            self.frames_with_face += 1;
        }
        for f in &fr.faces {
            let key = match f.shown {
                Shown::Nothing => "none".to_string(),
                Shown::Unsure => "unsure".to_string(),
                Shown::Label(i) => labels.get(i).cloned().unwrap_or_default(),
            };
            *self.shown_ms.entry(key).or_default() += self.frame_ms;
            if f.poor_view {
                self.poor_view_ms += self.frame_ms;
            }
            match self.last.get(&f.track_id) {
                Some((prev, _)) if *prev != f.shown && *prev != Shown::Nothing => {
                    self.caption_changes += 1
                }
                None => self.tracks += 1,
                _ => {}
            }
            self.last.insert(f.track_id, (f.shown, fr.timestamp_ms));
        }
        let t = &fr.timing;
        for (k, v) in [
            ("detect", t.detect_ms),
            ("classify", t.classify_ms),
            ("track", t.track_ms),
            ("total", t.total_ms),
        ] {
            self.latency.entry(k).or_default().push(v);
        }
    }

    /// The summary as JSON (timing optional, for byte-stable output).
    pub fn to_json(&self, timing: bool) -> Value {
        let minutes = self.duration_ms / 60000.0;
        let mut v = json!({
            "frames": self.frames,
            "frames_with_face": self.frames_with_face,
            "duration_ms": (self.duration_ms * 10.0).round() / 10.0,
            "tracks": self.tracks,
            "shown_ms": self.shown_ms.iter().map(|(k, v)| (k.clone(), json!(v.round()))).collect::<serde_json::Map<_, _>>(),
            "caption_changes": self.caption_changes,
            "caption_changes_per_minute": if minutes > 0.0 { ((self.caption_changes as f64 / minutes) * 100.0).round() / 100.0 } else { 0.0 },
            "poor_view_ms": self.poor_view_ms.round(),
        });
        if let Some(why) = &self.stopped {
            v["stopped"] = json!(why);
        }
        if timing {
            let lat: serde_json::Map<_, _> = self
                .latency
                .iter()
                .map(|(k, v)| {
                    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
                    (
                        k.to_string(),
                        json!({"p50": r3(percentile(v, 0.5)), "p95": r3(percentile(v, 0.95))}),
                    )
                })
                .collect();
            v["latency_ms"] = Value::Object(lat);
        }
        v
    }
}

/// Replays a source; writes one JSON line per frame to `events` when given.
pub fn replay(
    pipeline: &mut Session,
    source: &mut dyn FrameSource,
    events: Option<&mut dyn Write>,
    timing: bool,
) -> anyhow::Result<Summary> {
    replay_with(pipeline, source, events, timing, &mut |_, _, _| Ok(()))
}

/// Called after each frame's event is written (the overlay renderer); returning
/// [`Stopped`] ends the replay cleanly (Esc in the window).
pub type FrameHook<'a> = dyn FnMut(&Frame, &FrameResult, &[Notice]) -> anyhow::Result<()> + 'a;

/// [`replay`] that also hands every frame, its result and the pipeline's notices (a
/// wording edit that did not load, `no_face`) to `on_frame` (the overlay renderer),
/// after the frame's event is written, so it cannot change the events. An edited
/// wording profile is taken between frames.
pub fn replay_with(
    pipeline: &mut Session,
    source: &mut dyn FrameSource,
    events: Option<&mut dyn Write>,
    timing: bool,
    on_frame: &mut FrameHook<'_>,
) -> anyhow::Result<Summary> {
    replay_until(pipeline, source, events, timing, on_frame, &|| None)
}

/// [`replay_with`] that asks `stop` before each frame and ends there, at a frame
/// boundary, when it gives a reason (kept in [`Summary::stopped`]): every frame in
/// the summary has its complete event line, and nothing after it was started.
/// Each event line goes to `events` in a single `write_all`, so a writer that
/// passes whole writes on (a `BufWriter` over a file) never leaves half a line.
///
/// The loop is [`drive`]'s, the same as live's: the clip's frames in order, into
/// [`Events`], and a frame the pipeline fails on ends the replay with its error.
pub fn replay_until(
    pipeline: &mut Session,
    source: &mut dyn FrameSource,
    events: Option<&mut dyn Write>,
    timing: bool,
    on_frame: &mut FrameHook<'_>,
    stop: &StopCheck<'_>,
) -> anyhow::Result<Summary> {
    let mut sink = Events {
        labels: pipeline.labels().to_vec(),
        out: events,
        timing,
        line: Vec::with_capacity(4096),
        summary: Summary::new(source.fps()),
        on_frame,
    };
    let stopped = drive(source, pipeline, &mut sink, stop)?;
    Ok(Summary {
        stopped,
        ..sink.summary
    })
}

/// A replay's sink: each frame's event line, then the summary, then the hook.
struct Events<'w, 'f> {
    labels: Vec<String>,
    out: Option<&'w mut dyn Write>,
    timing: bool,
    /// The event line, reused between frames.
    line: Vec<u8>,
    summary: Summary,
    on_frame: &'f mut FrameHook<'f>,
}

impl Sink<Frame> for Events<'_, '_> {
    fn frame(&mut self, frame: Frame, fr: FrameResult, notices: Vec<Notice>) -> anyhow::Result<()> {
        if let Some(out) = self.out.as_deref_mut() {
            let event = frame_event(&self.labels, &fr, self.timing);
            crate::events::write_line(out, &event, &mut self.line)?;
        }
        self.summary.add(&self.labels, &fr);
        (self.on_frame)(&frame, &fr, &notices)
    }
}
