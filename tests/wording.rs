//! Clinician configuration: shipped profiles validate, each kind of mistake is
//! reported at its line with a fix, hot reload takes valid edits and keeps the last
//! good wording on a bad one, and preview-labels draws a sheet.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{emocue, emocue_ok, root, scratch, skip};
use emocue::Frame;
use emocue::config::{CaptionOptions, Config};
use emocue::profile::{KEYS, Profile};
use emocue::session::Session;
use emocue::smooth::Shown;
use emocue::source;

fn en() -> String {
    std::fs::read_to_string(root().join("config/labels/en.toml")).unwrap()
}

/// en.toml with the first `from` (at or after the line `[after]`) replaced by `to`;
/// returns the text and the 1-based line of the change.
fn edit(after: &str, from: &str, to: &str) -> (String, usize) {
    let text = en();
    let start = text.find(&format!("\n[{after}]")).expect("table");
    let at = start + text[start..].find(from).expect("text to replace");
    let line = text[..at].matches('\n').count() + 1;
    let mut out = text.clone();
    out.replace_range(at..at + from.len(), to);
    (out, line)
}

/// The one problem a text has, as `(line, message)`.
fn problem(text: &str) -> (usize, String) {
    let err = Profile::parse(text, Path::new("p.toml"))
        .expect_err("the mistake must be found")
        .to_string();
    assert_eq!(
        err.lines().count(),
        1,
        "exactly one problem expected:\n{err}"
    );
    let mut parts = err.splitn(4, ':');
    assert_eq!(parts.next(), Some("p.toml"), "{err}");
    let line = parts.next().unwrap().parse().unwrap();
    let column: usize = parts.next().unwrap().parse().unwrap();
    assert!(column >= 1, "{err}");
    let message = parts.next().unwrap().trim().to_string();
    assert!(
        message.contains("; "),
        "what is wrong; how to fix: {message}"
    );
    (line, message)
}

#[test]
fn every_shipped_profile_validates_and_check_config_accepts_it() {
    let dir = root().join("config/labels");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 3, "{names:?}");
    for p in &names {
        let prof = Profile::load(p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(prof.labels.len(), KEYS.len(), "{}", p.display());
        let out = emocue_ok(&["check-config", p.to_str().unwrap()]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("wording profile"));
    }
    let out = emocue(&["check-config", "config/default.toml"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("config/labels/en.toml: ok"));
}

#[test]
fn each_kind_of_mistake_is_reported_at_its_line_with_a_fix() {
    let cases = [
        (
            edit("happiness", "color =", "colour ="),
            "unknown key `colour` in [happiness]; did you mean `color`?",
        ),
        (
            edit("sadness", "[sadness]", "[sadnes]"),
            "unknown emotion `sadnes`; did you mean `sadness`?",
        ),
        (
            edit("fear", "[fear]", "[scared]"),
            "unknown emotion `scared`; did you mean `fear`?",
        ),
        (
            edit("anger", "\"looks angry\"", "\"  \""),
            "the caption of [anger] is empty",
        ),
        (
            edit(
                "anger",
                "\"looks angry\"",
                &format!("\"{}\"", "very ".repeat(9)),
            ),
            "has 45 characters, more than 40",
        ),
        (
            edit("disgust", "\"#ffffff\"", "\"#fffff\""),
            "\"#fffff\" in [disgust] is not a colour",
        ),
        (
            // the trailing `#` comments out the calibrated value that followed
            edit("contempt", "min_confidence = ", "min_confidence = 1.2 #"),
            "min_confidence = 1.2 in [contempt] is outside [0, 1]",
        ),
        (
            edit("surprise", "min_confidence = ", "min_confidence = -0.1 #"),
            "is outside [0, 1]",
        ),
        (
            edit("neutral", "\"looks calm\"", "\"looks calm ☺\""),
            "the display font cannot draw '☺' (U+263A) in the caption of [neutral]",
        ),
        (
            edit("neutral", "shown = true", "shown = \"yes\""),
            "`shown` in [neutral] must be true or false, not text",
        ),
        (
            edit(
                "unsure",
                "shown = true",
                "shown = true\nmin_confidence = 0.5",
            ),
            "min_confidence has no effect in [unsure]",
        ),
    ];
    for ((text, line), want) in cases {
        let (got_line, message) = problem(&text);
        assert!(message.contains(want), "want {want:?} in {message:?}");
        // A mistake added as a new line is on the line after the one edited.
        let extra = usize::from(want.contains("no effect"));
        assert_eq!(got_line, line + extra, "{message}");
    }
    // A syntax error points at its line too.
    let (text, line) = edit("fear", "text = \"looks afraid\"", "text = looks afraid");
    let (got, message) = problem(&text);
    assert_eq!(got, line, "{message}");
}

#[test]
fn several_mistakes_are_all_reported_and_check_config_exits_1() {
    let text = en()
        .replace("[happiness]", "[happy]")
        .replace("\"#c8c8c8\"", "\"grey\"");
    let dir = scratch("wording_bad");
    let f = dir.join("bad.toml");
    std::fs::write(&f, &text).unwrap();
    let out = emocue(&["check-config", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did you mean `happiness`?"), "{err}");
    assert_eq!(err.matches("is not a colour").count(), 2, "{err}");
    assert!(
        !err.contains("no [happiness] table"),
        "a misspelt table is not also reported missing: {err}"
    );
    // The app refuses to start with it, and says why.
    let settings = dir.join("settings.toml");
    std::fs::write(&settings, "[captions]\nprofile = \"bad.toml\"\n").unwrap();
    let out = emocue(&[
        "replay",
        "samples/astronaut/frame_000.jpg",
        "--config",
        settings.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:") && err.contains("happiness"),
        "{err}"
    );
}

/// A pipeline whose wording is a copy of en.toml in a scratch folder.
fn pipeline_with_copy(name: &str) -> (Session, PathBuf) {
    let dir = scratch(name);
    let f = dir.join("mine.toml");
    std::fs::write(&f, en()).unwrap();
    let cfg = Config {
        captions: CaptionOptions {
            profile: f.display().to_string(),
        },
        ..Config::default()
    };
    (Session::new(cfg).expect("pipeline"), f)
}

/// An endless clip of the smiling astronaut at 15 fps.
struct Still {
    image: image::RgbImage,
    index: u64,
}

impl Still {
    fn new() -> Self {
        let image = source::load_image(&root().join("samples/astronaut/frame_059.jpg")).unwrap();
        Still { image, index: 0 }
    }

    fn next_frame(&mut self) -> Frame {
        self.index += 1;
        Frame::new(
            self.index,
            self.index as f64 * 1000.0 / 15.0,
            self.image.clone(),
        )
    }
}

/// Processes frames until `done` holds for the single face, or `limit` passes;
/// returns the wall time it took.
fn until(
    p: &mut Session,
    frames: &mut Still,
    limit: Duration,
    done: &dyn Fn(&emocue::pipeline::FaceResult) -> bool,
) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        let frame = frames.next_frame();
        let fr = p.process(&frame).unwrap();
        if fr.faces.first().is_some_and(done) {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn hot_reload_takes_a_valid_edit_within_a_second_and_keeps_the_last_good_on_a_bad_one() {
    let (mut p, file) = pipeline_with_copy("wording_reload");
    let mut src = Still::new();
    let long = Duration::from_secs(30);
    until(&mut p, &mut src, long, &|f| {
        f.caption.as_deref() == Some("looks happy")
    })
    .expect("the astronaut smiles");

    // A valid edit: new words and colour.
    let edited = en().replacen(
        "\"looks happy\"\ncolor = \"#ffffff\"",
        "\"smiling\"\ncolor = \"#ffe14d\"",
        1,
    );
    assert_ne!(edited, en());
    std::fs::write(&file, &edited).unwrap();
    let took = until(&mut p, &mut src, long, &|f| {
        f.caption.as_deref() == Some("smiling")
    })
    .expect("the edit is taken");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(p.profile_error().is_none());

    // An invalid edit: the last good wording stays, the error names the line.
    let broken = edited.replacen("\"smiling\"", "\"smiling 😀\"", 1);
    let line = broken[..broken.find("😀").unwrap()].matches('\n').count() + 1;
    std::fs::write(&file, &broken).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let frame = src.next_frame();
    let fr = p.process(&frame).unwrap();
    assert_eq!(fr.faces[0].caption.as_deref(), Some("smiling"));
    let err = p.profile_error().expect("the error is kept").to_string();
    assert!(err.contains(&format!("mine.toml:{line}:")), "{err}");
    let notices = p.notices(&fr);
    assert!(
        notices.iter().any(|n| n
            .text
            .starts_with(&format!("wording not reloaded: mine.toml:{line}:"))),
        "{notices:?}"
    );

    // Hiding the emotion: no caption at all, though the state is still known.
    std::fs::write(&file, edited.replacen("shown = true", "shown = false", 2)).unwrap();
    until(&mut p, &mut src, long, &|f| {
        f.caption.is_none() && matches!(f.shown, Shown::Label(_))
    })
    .expect("hidden happiness shows nothing");
    assert!(p.profile_error().is_none());
    assert!(p.notices(&fr).is_empty());
}

#[test]
fn min_confidence_becomes_the_class_threshold() {
    let (mut p, file) = pipeline_with_copy("wording_threshold");
    let mut src = Still::new();
    let long = Duration::from_secs(30);
    until(&mut p, &mut src, long, &|f| f.shown != Shown::Nothing).unwrap();
    // Nothing is ever sure enough for 1.0: every emotion turns into "not sure".
    std::fs::write(
        &file,
        en().lines()
            .map(|l| {
                if l.starts_with("min_confidence") {
                    "min_confidence = 1"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    until(&mut p, &mut src, long, &|f| {
        f.shown == Shown::Unsure && f.caption.as_deref() == Some("not sure")
    })
    .expect("unsure under an impossible threshold");
}

#[test]
fn preview_labels_writes_a_sheet_or_says_there_is_no_adapter() {
    let dir = scratch("wording_preview");
    let out_png = dir.join("sheet.png");
    let out = emocue(&[
        "preview-labels",
        "--profile",
        "de",
        "--out",
        out_png.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("no wgpu adapter") {
        skip(
            "preview_labels",
            "gpu",
            &format!(
                "no wgpu adapter (install mesa-vulkan-drivers): {}",
                err.trim()
            ),
        );
        return;
    }
    assert!(out.status.success(), "{err}");
    let img = image::open(&out_png).expect("a PNG").to_rgb8();
    assert!(
        img.width() > 600 && img.height() > 200,
        "{:?}",
        img.dimensions()
    );
    // Plates (dark) and text (white) over the grey background.
    let dark = img.pixels().filter(|p| p.0.iter().all(|&c| c < 60)).count();
    let white = img
        .pixels()
        .filter(|p| p.0.iter().all(|&c| c > 230))
        .count();
    assert!(dark > 1000 && white > 300, "dark {dark}, white {white}");
    let out = emocue(&["preview-labels", "--profile", "klingon", "--out", "x.png"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown wording profile"));
}

#[test]
fn a_wording_error_is_drawn_in_red_across_the_top_and_profile_colours_reach_captions() {
    use emocue::detect::Rect;
    use emocue::render::{
        Notice, OverlayFace, OverlayOptions, RenderError, RenderMode, Renderer, Rgba, Scene,
    };
    let mut r = match Renderer::new(OverlayOptions::default(), RenderMode::Passthrough) {
        Ok(r) => r,
        Err(RenderError::NoAdapter(why)) => {
            skip(
                "notice render",
                "gpu",
                &format!("no wgpu adapter (install mesa-vulkan-drivers): {why}"),
            );
            return;
        }
        Err(e) => panic!("notice render: {e}"),
    };
    let frame = image::RgbImage::from_pixel(640, 480, image::Rgb([40, 90, 60]));
    let mut scene = Scene {
        faces: vec![OverlayFace {
            track_id: 1,
            rect: Rect {
                x: 260.0,
                y: 260.0,
                w: 120.0,
                h: 140.0,
            },
            detected: true,
            caption: Some("happy".into()),
            unsure: false,
            probs: Vec::new(),
            shown_index: Some(1),
        }],
        notices: vec![Notice {
            text: "wording not reloaded: mine.toml:12:8: the caption of [anger] is empty; \
                   write the words to show"
                .into(),
            color: Notice::ERROR,
        }],
        ..Default::default()
    };
    scene.caption_colors.insert(1, Rgba([255, 225, 77, 255]));
    let img = r.render(&frame, &scene).unwrap();
    img.save(scratch("wording_notice").join("notice.png"))
        .unwrap();
    let count = |y0: u32, y1: u32, want: [u8; 3]| {
        (y0..y1)
            .flat_map(|y| (0..640).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let p = img.get_pixel(x, y).0;
                (0..3).all(|i| (p[i] as i32 - want[i] as i32).abs() < 40)
            })
            .count()
    };
    assert!(
        count(0, 80, [255, 96, 96]) > 200,
        "red error text at the top"
    );
    assert!(count(80, 480, [255, 96, 96]) == 0, "and only there");
    assert!(
        count(180, 260, [255, 225, 77]) > 100,
        "the profile's caption colour"
    );
}
