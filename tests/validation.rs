//! Issue 21, settings and wording rows: every number a clinician can type is checked
//! with a range, `check-config` opens the models, and no file read can block.
//! Each test runs the binary as a user would and asserts the exit code, the
//! `file:line:column` and key in the message, and that nothing panicked.

mod common;

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::{emocue, emocue_command, root};

/// A fresh file in the system's temp folder, unique to this process and test.
fn temp(name: &str, text: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("emocue-validation-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    std::fs::write(&p, text).unwrap();
    p
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exit 1, no panic, and `needle` on stderr.
fn refused(out: &Output, needle: &str) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in:\n{err}");
    err
}

/// Runs emocue like [`common::emocue`] but kills it and fails the test when it is
/// still running after `limit` (a read that blocks would hang the test for ever).
fn emocue_within(args: &[&str], limit: Duration) -> Output {
    let mut child = emocue_command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run emocue");
    let t0 = Instant::now();
    loop {
        if child.try_wait().expect("wait for emocue").is_some() {
            return child.wait_with_output().expect("emocue output");
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output();
            panic!(
                "emocue {args:?} still running after {limit:?} (blocked?): {:?}",
                out.map(|o| stderr(&o))
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

const LIMIT: Duration = Duration::from_secs(180);

/// Row `[detection] nms_iou = 1.0`: it looped for ever in `weighted_nms`. Now the
/// range is (0, 1), refused by check-config and at start with the same message.
#[test]
fn nms_iou_of_one_is_refused_by_check_config_and_at_start() {
    let f = temp("nms.toml", "[detection]\nnms_iou = 1.0\n");
    let fs = f.to_str().unwrap();
    let at = format!("{fs}:2:11: detection.nms_iou = 1.0 is outside (0, 1)");
    refused(&emocue(&["check-config", fs]), &at);
    let out = emocue_within(
        &["replay", "samples/astronaut/frame_000.jpg", "--config", fs],
        LIMIT,
    );
    refused(&out, &at);
    let _ = std::fs::remove_file(&f);
}

/// Row `min_face_px = nan` / `inf`, `match_iou = -1` / `nan`, `max_missed_ms = -1`,
/// `min_hits = 4294967295`, `tau_ms = 1e308`: check-config said ok. Each is refused
/// at its line and column, all of a file at once, by check-config and at start.
#[test]
fn out_of_range_numbers_are_refused_at_their_line_and_column() {
    let cases = [
        ("detection", "min_face_px", "nan"),
        ("detection", "min_face_px", "inf"),
        ("tracking", "match_iou", "-1"),
        ("tracking", "match_iou", "nan"),
        ("tracking", "max_missed_ms", "-1"),
        ("tracking", "min_hits", "4294967295"),
        ("tracking", "min_hits", "4294967296"),
        ("tracking", "min_hits", "-1"),
        ("smoothing", "tau_ms", "1e308"),
    ];
    for (i, (table, key, value)) in cases.iter().enumerate() {
        let f = temp(
            &format!("num{i}.toml"),
            &format!("[{table}]\n{key} = {value}\n"),
        );
        let fs = f.to_str().unwrap();
        let col = key.len() + 4;
        let err = refused(
            &emocue(&["check-config", fs]),
            &format!("{fs}:2:{col}: {table}.{key}"),
        );
        assert!(err.contains("use a number"), "a fix is given: {err}");
        let _ = std::fs::remove_file(&f);
    }
    // All of them in one file: one line each, so a clinician fixes them in one go.
    let all = "[detection]\nmin_face_px = nan\n\n[tracking]\nmatch_iou = -1\n\
               max_missed_ms = -1\nmin_hits = 4294967295\n\n[smoothing]\ntau_ms = 1e308\n";
    let f = temp("all.toml", all);
    let fs = f.to_str().unwrap();
    let expect = [
        format!("{fs}:2:15: detection.min_face_px"),
        format!("{fs}:5:13: tracking.match_iou"),
        format!("{fs}:6:17: tracking.max_missed_ms"),
        format!("{fs}:7:12: tracking.min_hits"),
        format!("{fs}:10:10: smoothing.tau_ms"),
    ];
    let err = stderr(&emocue(&["check-config", fs]));
    for e in &expect {
        assert!(err.contains(e.as_str()), "expected {e:?} in:\n{err}");
    }
    // The same code at start.
    let out = emocue_within(
        &["replay", "samples/astronaut/frame_000.jpg", "--config", fs],
        LIMIT,
    );
    let err = refused(&out, &expect[0]);
    for e in &expect {
        assert!(
            err.contains(e.as_str()),
            "expected {e:?} at start in:\n{err}"
        );
    }
    let _ = std::fs::remove_file(&f);
}

/// The wording profile's numbers get the same treatment.
#[test]
fn a_profile_threshold_that_is_not_a_number_in_range_is_refused() {
    let en = std::fs::read_to_string(root().join("config/labels/en.toml")).unwrap();
    for bad in ["nan", "inf", "-1", "1e308"] {
        let start = en.find("[fear]").expect("a [fear] table");
        let at = start
            + en[start..]
                .find("min_confidence")
                .expect("fear's min_confidence");
        let end = at + en[at..].find('\n').expect("end of line");
        let text = format!("{}min_confidence = {bad}{}", &en[..at], &en[end..]);
        let line = text
            .lines()
            .position(|l| l == format!("min_confidence = {bad}"))
            .expect("the edited line")
            + 1;
        let f = temp(&format!("profile{bad}.toml"), &text);
        let fs = f.to_str().unwrap();
        let err = refused(
            &emocue(&["check-config", fs]),
            &format!("{fs}:{line}:18: min_confidence = {bad} in [fear] is outside [0, 1]"),
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        let _ = std::fs::remove_file(&f);
    }
}

/// Row "`check-config` on settings whose model path is missing: ok; replay then
/// fails". check-config resolves the paths as the app does and opens the models.
#[test]
fn check_config_opens_the_models_the_settings_name() {
    let f = temp(
        "models.toml",
        "[models]\nclassifier = \"models/no-such-model.onnx\"\n",
    );
    let fs = f.to_str().unwrap();
    let err = refused(
        &emocue(&["check-config", fs]),
        &format!("{fs}:2:14: models.classifier = \"models/no-such-model.onnx\""),
    );
    assert!(
        err.contains("no such file; tried ") && err.contains("set models.classifier"),
        "{err}"
    );
    // A file that is there but is not a model.
    let f2 = temp(
        "notamodel.toml",
        "[models]\ndetector = \"config/default.toml\"\n",
    );
    let fs2 = f2.to_str().unwrap();
    let err = refused(
        &emocue(&["check-config", fs2]),
        &format!("{fs2}:2:12: models.detector = \"config/default.toml\""),
    );
    assert!(err.contains("cannot load model"), "{err}");
    // The shipped settings are ok, and the line says the models were opened.
    let out = emocue(&["check-config", "config/default.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    assert!(
        line.contains("models: detector") && line.contains("emotionnet_nano_b.int8.onnx ok"),
        "{line}"
    );
    let _ = std::fs::remove_file(&f);
    let _ = std::fs::remove_file(&f2);
}

/// Row "the wording profile replaced by a FIFO while `replay` runs: the reload
/// blocks for ever" (the watcher itself is tested in src/watch.rs). The same read
/// serves `check-config FIFO`, `--config FIFO` and a profile that is a FIFO: each is
/// refused at once with a clear message.
#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_blocking() {
    let fifo = std::env::temp_dir().join(format!("emocue-validation-{}-fifo", std::process::id()));
    let _ = std::fs::remove_file(&fifo);
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let fs = fifo.to_str().unwrap();
    let err = refused(
        &emocue_within(&["check-config", fs], LIMIT),
        "FIFO (named pipe)",
    );
    assert!(err.contains(fs), "{err}");
    refused(
        &emocue_within(
            &["replay", "samples/astronaut/frame_000.jpg", "--config", fs],
            LIMIT,
        ),
        "FIFO (named pipe)",
    );
    let settings = temp(
        "fifo-profile.toml",
        &format!("[captions]\nprofile = \"{fs}\"\n"),
    );
    let ss = settings.to_str().unwrap();
    refused(
        &emocue_within(&["check-config", ss], LIMIT),
        &format!("{ss}:2:11: captions.profile"),
    );
    let out = emocue_within(
        &["preview-labels", "--profile", fs, "--out", "/dev/null"],
        LIMIT,
    );
    refused(&out, "not a regular file");
    let _ = std::fs::remove_file(&fifo);
    let _ = std::fs::remove_file(&settings);
}

/// A settings file far bigger than any real one is refused before it is read.
#[test]
fn an_oversized_settings_file_is_refused() {
    let f = temp("big.toml", "");
    std::fs::File::create(&f).unwrap().set_len(8 << 20).unwrap();
    let fs = f.to_str().unwrap();
    refused(&emocue(&["check-config", fs]), "limit");
    let _ = std::fs::remove_file(&f);
}
