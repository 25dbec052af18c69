//! A pipeline with its settings: the wording profile loaded from the settings, its
//! file watched and taken between frames when a clinician edits it, and the notices
//! the overlay shows about it. Every command that runs the pipeline on video (replay,
//! `run`, bench) runs it through a [`Session`], so all of them pick up an edit.
//!
//! The pipeline emits plain caption data ([`FrameResult`]); [`scene`] is where the app
//! turns that into what the overlay draws.

use crate::color::Rgba;
use crate::config::Config;
use crate::frame::Frame;
use crate::onnx::ModelError;
use crate::pipeline::{FrameResult, Pipeline};
use crate::profile::{self, Profile, ProfileSource};
use crate::render::{Notice, OverlayFace, Scene};
use crate::smooth::Shown;
use crate::watch::{ConfigWatcher, Reload};

/// The [`Pipeline`], its wording profile and the watcher of the profile's file.
pub struct Session {
    pipeline: Pipeline,
    profile: Profile,
    watcher: Option<ConfigWatcher<Profile>>,
    profile_error: Option<String>,
    /// The `no_face` notice's colour when the profile gives none.
    unsure_color: Rgba,
}

impl Session {
    /// Loads both models and the wording profile, checks the profile against the
    /// classifier's classes, and watches the profile file for edits.
    pub fn new(config: Config) -> Result<Self, anyhow::Error> {
        let source = profile::resolve(&config.captions.profile)
            .map_err(|e| anyhow::anyhow!("config: captions.profile: {e}"))?;
        let (watcher, wording) = match &source {
            ProfileSource::File(p) => {
                let (w, prof) = ConfigWatcher::open(p, Profile::parse)?;
                (Some(w), prof)
            }
            ProfileSource::BuiltIn(_) => (None, Profile::from_source(&source)?),
        };
        let mut pipeline = Pipeline::new(config.pipeline_options())?;
        wording
            .check_classes(pipeline.labels())
            .map_err(|e| anyhow::anyhow!("wording profile: {e}"))?;
        pipeline.set_wording(wording.wording());
        Ok(Session {
            pipeline,
            profile: wording,
            watcher,
            profile_error: None,
            unsure_color: config.overlay.unsure_color,
        })
    }

    /// Runs every stage on one frame, after taking an edited wording file, if any.
    pub fn process(&mut self, frame: &Frame) -> Result<FrameResult, ModelError> {
        self.reload_profile();
        self.pipeline.process(frame)
    }

    /// The pipeline, for one-off use of its models (`classify`, bench).
    pub fn pipeline_mut(&mut self) -> &mut Pipeline {
        &mut self.pipeline
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Class keys in output order.
    pub fn labels(&self) -> &[String] {
        self.pipeline.labels()
    }

    /// The wording in use.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Why the last edit of the wording file was not taken (`None` once a valid
    /// version loads).
    pub fn profile_error(&self) -> Option<&str> {
        self.profile_error.as_deref()
    }

    /// Uses new wording from the next frame on; faces keep their smoothing history
    /// and take the new thresholds.
    pub fn set_profile(&mut self, wording: Profile) -> Result<(), String> {
        wording.check_classes(self.pipeline.labels())?;
        self.pipeline.set_wording(wording.wording());
        self.profile = wording;
        Ok(())
    }

    /// Takes an edited wording file if it validates; otherwise keeps the last good
    /// wording, logs why, and keeps the reason for the overlay.
    fn reload_profile(&mut self) {
        let Some(w) = self.watcher.as_mut() else {
            return;
        };
        let path = w.path().display().to_string();
        let error = match w.poll() {
            Reload::Unchanged => return,
            Reload::Loaded(p) => self.set_profile(p).err(),
            Reload::Invalid(e) => Some(e.to_string()),
        };
        match &error {
            None => crate::note!("emocue: reloaded wording from {path}"),
            Some(e) => {
                crate::note!("emocue: wording not reloaded, keeping the last good one:\n{e}")
            }
        }
        self.profile_error = error;
    }

    /// What to show across the top of the overlay for this frame: a wording file
    /// that did not load, and the `no_face` caption while no face is in view.
    pub fn notices(&self, fr: &FrameResult) -> Vec<Notice> {
        let mut out = Vec::new();
        if let Some(e) = &self.profile_error {
            let n = e.lines().count();
            let mut first = e.lines().next().unwrap_or_default().to_string();
            // The file name is enough on a small display; the log has the full path.
            if let Some(w) = &self.watcher {
                let full = w.path().display().to_string();
                if let Some(name) = w.path().file_name() {
                    first = first.replacen(&full, &name.to_string_lossy(), 1);
                }
            }
            let more = if n > 1 {
                format!(" (+{} more)", n - 1)
            } else {
                String::new()
            };
            out.push(Notice {
                text: format!("wording not reloaded: {first}{more}"),
                color: Notice::ERROR,
            });
        }
        if fr.faces.is_empty()
            && let Some(l) = self.profile.label(profile::NO_FACE).filter(|l| l.shown)
        {
            out.push(Notice {
                text: l.text.clone(),
                color: l.color.unwrap_or(self.unsure_color),
            });
        }
        out
    }
}

/// The overlay's view of a pipeline result and its notices (see [`Session::notices`]).
pub fn scene(fr: &FrameResult, notices: Vec<Notice>) -> Scene {
    Scene {
        timestamp_ms: fr.timestamp_ms,
        caption_colors: fr
            .faces
            .iter()
            .filter_map(|f| Some((f.track_id, f.color?)))
            .collect(),
        notices,
        faces: fr
            .faces
            .iter()
            .map(|f| OverlayFace {
                track_id: f.track_id,
                rect: f.rect,
                detected: f.detection.is_some(),
                caption: f.caption.clone(),
                unsure: f.shown == Shown::Unsure,
                probs: f.smoothed.clone(),
                shown_index: match f.shown {
                    Shown::Label(i) => Some(i),
                    _ => None,
                },
            })
            .collect(),
    }
}
