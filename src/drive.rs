//! The one loop that runs frames through a session: `replay`, `run` without a camera
//! (both through [`crate::replay::replay_until`]) and live's inference thread
//! ([`crate::live::threads`]) all call [`drive`], so a frame is processed, its notices
//! taken and a stop honoured the same way everywhere.
//!
//! ```text
//! Frames (clip in order | newest camera frame) ─▶ Infer (Session) ─▶ Sink (events | display slot)
//! ```
//!
//! What differs between them is only what is plugged in: the frames (every frame of a
//! clip in order, or the newest one from the capture slot, older ones dropped), the
//! sink (event lines and a summary, or the display slot) and what a failed frame does
//! ([`Sink::failed`]: a replay aborts, live logs it and goes on).

use std::borrow::Borrow;

use crate::Frame;
use crate::pipeline::{FrameResult, Pipeline};
use crate::render::Notice;
use crate::session::Session;
use crate::source::FrameSource;

/// Where the driver's frames come from.
pub trait Frames {
    /// A frame, with whatever its sink needs besides (live: when it was captured).
    type Item: Borrow<Frame>;
    /// The next frame, waiting for it if need be; `None` once no more will come.
    fn next(&mut self) -> anyhow::Result<Option<Self::Item>>;
}

/// A clip plays every frame, in order; its errors end the run.
impl<S: FrameSource + ?Sized> Frames for S {
    type Item = Frame;

    fn next(&mut self) -> anyhow::Result<Option<Frame>> {
        Ok(self.next_frame()?)
    }
}

/// The inference stage: a [`Session`] (a [`Pipeline`] with its wording file), or a
/// stand-in in tests. `Send` so that live can run it on its own thread.
pub trait Infer: Send {
    /// Processes one frame.
    fn infer(&mut self, frame: &Frame) -> anyhow::Result<FrameResult>;
    /// Lines for the top of the overlay with this result (a wording file that did not
    /// reload, "no face"); asked right after the frame, by the owner of the state.
    fn notices(&self, _result: &FrameResult) -> Vec<Notice> {
        Vec::new()
    }
}

impl Infer for Session {
    fn infer(&mut self, frame: &Frame) -> anyhow::Result<FrameResult> {
        Ok(self.process(frame)?)
    }

    fn notices(&self, result: &FrameResult) -> Vec<Notice> {
        Session::notices(self, result)
    }
}

impl Infer for Pipeline {
    fn infer(&mut self, frame: &Frame) -> anyhow::Result<FrameResult> {
        Ok(self.process(frame)?)
    }
}

/// Where processed frames go (event lines, the display slot).
pub trait Sink<T> {
    /// Takes one frame with its result and notices. An error ends the run; [`Stopped`]
    /// ends it cleanly.
    fn frame(&mut self, item: T, result: FrameResult, notices: Vec<Notice>) -> anyhow::Result<()>;

    /// The error policy: the session failed on `item`. By default the run ends with the
    /// error (a replay must not skip a frame silently); live logs it and goes on.
    fn failed(&mut self, item: T, error: anyhow::Error) -> anyhow::Result<()> {
        let _ = item;
        Err(error)
    }
}

/// Returned by a sink (or a replay's frame hook) to end the run early and cleanly
/// (Esc in the window): what was done so far is kept.
#[derive(Debug, thiserror::Error)]
#[error("stopped by the user")]
pub struct Stopped;

/// Asked before each frame: `Some(reason)` ends the run there (a stop signal).
pub type StopCheck<'a> = dyn Fn() -> Option<String> + 'a;

/// Runs frames through `infer` into `sink` until the frames end (`Ok(None)`) or the run
/// is stopped (`Ok(Some(reason))`: `stop` gave one, or the sink returned [`Stopped`],
/// "window closed"). `stop` is asked before each frame, so a run ends between frames:
/// every frame taken has reached the sink, and nothing after it was started.
pub fn drive<F, I, K>(
    frames: &mut F,
    infer: &mut I,
    sink: &mut K,
    stop: &StopCheck<'_>,
) -> anyhow::Result<Option<String>>
where
    F: Frames + ?Sized,
    I: Infer + ?Sized,
    K: Sink<F::Item> + ?Sized,
{
    loop {
        if let Some(why) = stop() {
            return Ok(Some(why));
        }
        let Some(item) = frames.next()? else {
            return Ok(None);
        };
        match infer.infer(item.borrow()) {
            Ok(result) => {
                let notices = infer.notices(&result);
                match sink.frame(item, result, notices) {
                    Err(e) if e.is::<Stopped>() => return Ok(Some("window closed".into())),
                    other => other?,
                }
            }
            Err(e) => sink.failed(item, e)?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::StageTiming;

    /// Frames 0..n in order.
    struct Count(u64, u64);

    impl Frames for Count {
        type Item = Frame;
        fn next(&mut self) -> anyhow::Result<Option<Frame>> {
            if self.0 == self.1 {
                return Ok(None);
            }
            self.0 += 1;
            Ok(Some(Frame::new(
                self.0 - 1,
                0.0,
                image::RgbImage::new(2, 2),
            )))
        }
    }

    /// Fails on odd frames.
    struct OddFails;

    impl Infer for OddFails {
        fn infer(&mut self, frame: &Frame) -> anyhow::Result<FrameResult> {
            anyhow::ensure!(frame.index.is_multiple_of(2), "odd frame {}", frame.index);
            Ok(FrameResult {
                index: frame.index,
                timestamp_ms: 0.0,
                faces: Vec::new(),
                timing: StageTiming::default(),
            })
        }
    }

    /// Remembers what it got; skips failures when `skip`, stops after `stop_at`.
    #[derive(Default)]
    struct Log {
        seen: Vec<u64>,
        failed: Vec<u64>,
        skip: bool,
        stop_at: Option<u64>,
    }

    impl Sink<Frame> for Log {
        fn frame(&mut self, f: Frame, _: FrameResult, _: Vec<Notice>) -> anyhow::Result<()> {
            self.seen.push(f.index);
            if self.stop_at == Some(f.index) {
                return Err(Stopped.into());
            }
            Ok(())
        }

        fn failed(&mut self, f: Frame, e: anyhow::Error) -> anyhow::Result<()> {
            self.failed.push(f.index);
            if self.skip { Ok(()) } else { Err(e) }
        }
    }

    #[test]
    fn a_failed_frame_aborts_or_is_skipped_as_the_sink_says() {
        let mut log = Log::default();
        let e = drive(&mut Count(0, 5), &mut OddFails, &mut log, &|| None).unwrap_err();
        assert_eq!(e.to_string(), "odd frame 1");
        assert_eq!((log.seen, log.failed), (vec![0], vec![1]));

        let mut log = Log {
            skip: true,
            ..Default::default()
        };
        let end = drive(&mut Count(0, 5), &mut OddFails, &mut log, &|| None).unwrap();
        assert_eq!(end, None);
        assert_eq!((log.seen, log.failed), (vec![0, 2, 4], vec![1, 3]));
    }

    #[test]
    fn a_stop_ends_the_run_between_frames_with_its_reason() {
        let mut log = Log {
            stop_at: Some(2),
            skip: true,
            ..Default::default()
        };
        let end = drive(&mut Count(0, 9), &mut OddFails, &mut log, &|| None).unwrap();
        assert_eq!(end.as_deref(), Some("window closed"));
        assert_eq!(log.seen, vec![0, 2]);

        let mut frames = Count(0, 9);
        let asked = std::cell::Cell::new(0);
        let stop = || {
            asked.set(asked.get() + 1);
            (asked.get() > 3).then(|| "SIGINT".to_string())
        };
        let mut log = Log {
            skip: true,
            ..Default::default()
        };
        let end = drive(&mut frames, &mut OddFails, &mut log, &stop).unwrap();
        assert_eq!(end.as_deref(), Some("SIGINT"));
        assert_eq!((frames.0, log.seen, log.failed), (3, vec![0, 2], vec![1]));
    }
}
