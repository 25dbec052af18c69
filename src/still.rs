//! Still photos: one frame, so no tracking and no smoothing over time; a closer look
//! instead.
//!
//! Live video reads each face once per frame and lets [`crate::smooth`] average over
//! frames. A photo (`emocue classify`) has a single frame, so it is read with more care:
//! the detector also looks in overlapping tiles ([`Detector::detect_still`]), and each
//! face is classified in five views, its crop and four copies moved by one crop pixel
//! ([`CropSpec::views`]), whose logits are averaged. [`Look::Once`] reads a photo the
//! way live video reads a frame.

use crate::Frame;
use crate::classify::Classifier;
use crate::crop::CropGeometry;
use crate::detect::{Detector, Rect};
use crate::onnx::ModelError;
use crate::quality::{self, Quality};

/// How closely to look at a still.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Look {
    /// Tiles and five views: slower, finds smaller faces and reads them better.
    Closely,
    /// One detector pass and one view, as live video gets (`classify --one-look`).
    Once,
}

/// One face read in a still.
#[derive(Clone, Debug, PartialEq)]
pub struct StillFace {
    /// Box in upright image pixels (the whole image for a crop).
    pub rect: Rect,
    /// Detector score; `None` for an image that is already a face crop.
    pub score: Option<f32>,
    /// Calibrated class probabilities, in the classifier's label order.
    pub probs: Vec<f32>,
    /// How well the face's crop shows it (`None`: too small a crop to measure).
    pub quality: Option<Quality>,
}

/// Finds and reads every face in a photo, the largest (the photo's subject) first.
pub fn read_photo(
    detector: &mut Detector,
    classifier: &mut Classifier,
    frame: &Frame,
    look: Look,
) -> Result<Vec<StillFace>, ModelError> {
    let mut dets = detector.detect_still(frame, look == Look::Closely)?;
    dets.sort_by(|a, b| (b.rect.w * b.rect.h).total_cmp(&(a.rect.w * a.rect.h)));
    let spec = classifier.contract().crop;
    let geometries: Vec<CropGeometry> = dets.iter().map(|d| spec.geometry(d)).collect();
    let read = read(classifier, frame, &geometries, look)?;
    Ok(dets
        .iter()
        .zip(read)
        .map(|(d, (probs, quality))| StillFace {
            rect: d.rect,
            score: Some(d.score),
            probs,
            quality,
        })
        .collect())
}

/// Reads an image that is already a framed face crop: its centred square, no detection.
pub fn read_crop(
    classifier: &mut Classifier,
    frame: &Frame,
    look: Look,
) -> Result<StillFace, ModelError> {
    let (w, h) = (frame.width() as f32, frame.height() as f32);
    let g = CropGeometry {
        cx: w / 2.0,
        cy: h / 2.0,
        side: w.min(h),
        angle: 0.0,
    };
    let (probs, quality) = read(classifier, frame, &[g], look)?
        .into_iter()
        .next()
        .ok_or_else(|| ModelError::Run {
            path: classifier.path().to_owned(),
            reason: "no probabilities for the crop".into(),
        })?;
    Ok(StillFace {
        rect: Rect {
            x: 0.0,
            y: 0.0,
            w,
            h,
        },
        score: None,
        probs,
        quality,
    })
}

/// One face's probabilities and the quality of its crop.
type FaceRead = (Vec<f32>, Option<Quality>);

/// Classifies the crops at these places, in five views each when looking closely,
/// and measures each face's quality on its first (unshifted) view.
fn read(
    classifier: &mut Classifier,
    frame: &Frame,
    geometries: &[CropGeometry],
    look: Look,
) -> Result<Vec<FaceRead>, ModelError> {
    if geometries.is_empty() {
        return Ok(Vec::new());
    }
    let spec = classifier.contract().crop;
    let luma = frame.luma_plane();
    let faces: Vec<Vec<Vec<f32>>> = geometries
        .iter()
        .map(|g| {
            let views = match look {
                Look::Closely => spec.views(g).to_vec(),
                Look::Once => vec![*g],
            };
            views.iter().map(|v| spec.crop_geometry(&luma, v)).collect()
        })
        .collect();
    let probs = classifier.classify_views(&faces)?;
    Ok(probs
        .into_iter()
        .zip(&faces)
        .map(|(p, views)| {
            (
                p,
                views.first().and_then(|c| quality::measure(c, spec.size)),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::DetectorOptions;
    use std::path::Path;

    fn models() -> (Detector, Classifier) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let d = Detector::load(
            &root.join("models/blazeface_full_range.onnx"),
            DetectorOptions::default(),
        )
        .expect("shipped detector");
        let c = Classifier::load(&root.join("models/emotionnet_nano_b.int8.onnx"))
            .expect("shipped classifier");
        (d, c)
    }

    fn sample() -> Frame {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/astronaut/frame_000.jpg");
        let img = image::open(path).expect("sample frame").to_rgb8();
        Frame::new(0, 0.0, img)
    }

    #[test]
    fn a_close_look_and_one_look_frame_the_same_face_and_differ_only_in_probabilities() {
        let (mut d, mut c) = models();
        let frame = sample();
        let close = read_photo(&mut d, &mut c, &frame, Look::Closely).unwrap();
        let once = read_photo(&mut d, &mut c, &frame, Look::Once).unwrap();
        assert_eq!(close.len(), 1);
        assert_eq!(once.len(), 1);
        assert_eq!(close[0].rect, once[0].rect);
        assert_ne!(close[0].probs, once[0].probs);
        let happy = c.labels().iter().position(|l| l == "happiness").unwrap();
        assert!(close[0].probs[happy] > 0.9 && once[0].probs[happy] > 0.9);
    }

    #[test]
    fn a_crop_is_the_whole_image_without_a_detector_score() {
        let (_, mut c) = models();
        let f = read_crop(&mut c, &sample(), Look::Closely).unwrap();
        assert_eq!((f.rect.w, f.rect.h, f.score), (320.0, 240.0, None));
        assert!((f.probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }

    #[test]
    fn a_blank_photo_has_no_faces() {
        let (mut d, mut c) = models();
        let blank = Frame::new(
            0,
            0.0,
            image::RgbImage::from_pixel(320, 240, image::Rgb([90, 90, 90])),
        );
        assert!(
            read_photo(&mut d, &mut c, &blank, Look::Closely)
                .unwrap()
                .is_empty()
        );
    }
}
