//! What a live run did: counts, drops, camera faults, latency; as JSON and as the
//! periodic `--stats` line.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};

use crate::capture::CaptureCounters;
use crate::stats::percentile;

/// The last `CAP` samples of one latency, so a long run keeps bounded memory and its
/// percentiles describe the recent past.
#[derive(Clone, Debug, Default)]
pub struct Samples(VecDeque<f64>);

impl Samples {
    const CAP: usize = 10_000;

    fn push(&mut self, v: f64) {
        if self.0.len() == Self::CAP {
            self.0.pop_front();
        }
        self.0.push_back(v);
    }

    /// The samples, oldest first.
    pub fn values(&self) -> Vec<f64> {
        self.0.iter().copied().collect()
    }
}

/// What a live run did: frame counts, drops, camera faults and per-stage latency.
#[derive(Clone, Debug, Default)]
pub struct LiveReport {
    /// The camera, e.g. "/dev/video0".
    pub device: String,
    /// Its mode at the end, e.g. "YUYV 640x480 at 30 fps".
    pub format: String,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Capture totals (frames, corrupt, losses, reconnects).
    pub capture: CaptureCounters,
    /// Frames the inference stage processed.
    pub processed: u64,
    /// Frames the display showed.
    pub shown: u64,
    /// Frames replaced in the capture → inference slot before inference took them.
    pub dropped_before_inference: u64,
    /// Results replaced in the inference → display slot before the display took them.
    pub dropped_before_display: u64,
    /// Frames the pipeline failed on (logged, skipped).
    pub inference_errors: u64,
    /// Display failures (the display is turned off after the first).
    pub display_errors: u64,
    /// Latency samples by stage, ms: `convert`, `queue` (capture → inference start),
    /// `detect`, `classify`, `track`, `inference`, `render`, `age` (capture → shown).
    pub latency: BTreeMap<&'static str, Samples>,
    /// The signal that stopped the run (e.g. "SIGTERM"), so a log shows who ended it.
    pub stopped: Option<&'static str>,
}

impl LiveReport {
    /// Adds one latency sample of `stage`.
    pub(super) fn record(&mut self, stage: &'static str, ms: f64) {
        self.latency.entry(stage).or_default().push(ms);
    }

    /// The samples of one stage, oldest first.
    pub fn samples(&self, stage: &str) -> Vec<f64> {
        self.latency
            .get(stage)
            .map(Samples::values)
            .unwrap_or_default()
    }

    /// The report as JSON; latency percentiles only with `latency`.
    pub fn to_json(&self, latency: bool) -> Value {
        let r1 = |x: f64| (x * 10.0).round() / 10.0;
        let mut v = json!({
            "device": self.device,
            "format": self.format,
            "seconds": r1(self.seconds),
            "frames": {
                "captured": self.capture.frames,
                "processed": self.processed,
                "shown": self.shown,
                "corrupt_skipped": self.capture.corrupt,
            },
            "dropped": {
                "before_inference": self.dropped_before_inference,
                "before_display": self.dropped_before_display,
            },
            "camera": {
                "lost": self.capture.lost,
                "reconnects": self.capture.reconnects,
                "failed_reconnect_attempts": self.capture.failed_attempts,
            },
            "inference_errors": self.inference_errors,
            "display_errors": self.display_errors,
        });
        if let Some(sig) = self.stopped {
            v["stopped"] = json!(sig);
        }
        if latency {
            let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
            let lat: serde_json::Map<String, Value> = self
                .latency
                .iter()
                .map(|(k, s)| {
                    let v = s.values();
                    (
                        k.to_string(),
                        json!({
                            "p50": r3(percentile(&v, 0.5)),
                            "p95": r3(percentile(&v, 0.95)),
                            "p99": r3(percentile(&v, 0.99)),
                            "n": v.len(),
                        }),
                    )
                })
                .collect();
            v["latency_ms"] = Value::Object(lat);
        }
        v
    }

    /// One line for the periodic `--stats` log.
    pub fn line(&self) -> String {
        let p = |k: &str, q: f64| percentile(&self.samples(k), q);
        format!(
            "{:.0} s: {} captured, {} processed, {} shown; dropped {} before inference, {} \
             before display; {} corrupt; inference p50 {:.1} ms p95 {:.1} ms; frame age p50 \
             {:.1} ms p99 {:.1} ms",
            self.seconds,
            self.capture.frames,
            self.processed,
            self.shown,
            self.dropped_before_inference,
            self.dropped_before_display,
            self.capture.corrupt,
            p("inference", 0.5),
            p("inference", 0.95),
            p("age", 0.5),
            p("age", 0.99),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_report_says_by_what() {
        let mut r = LiveReport::default();
        assert!(r.to_json(false).get("stopped").is_none());
        r.stopped = Some("SIGHUP");
        assert_eq!(r.to_json(false)["stopped"], "SIGHUP");
    }

    #[test]
    fn report_json_has_percentiles_only_when_asked() {
        let mut r = LiveReport::default();
        for i in 1..=100 {
            r.record("age", f64::from(i));
        }
        let v = r.to_json(true);
        assert_eq!(v["latency_ms"]["age"]["p50"], 50.0);
        assert_eq!(v["latency_ms"]["age"]["p99"], 99.0);
        assert!(r.to_json(false).get("latency_ms").is_none());
        assert!(r.line().contains("frame age p50 50.0 ms"));
    }
}
