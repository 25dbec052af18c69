//! Shared helpers for integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Says that `test` cannot run here for want of `need` (`gpu`, `x11`, `data`, `ffmpeg`,
/// `python`, `dev-full`), and why. libtest has no "skipped" outcome, so a skipped test
/// would otherwise pass unseen: the line goes to stderr (shown when a test fails) and
/// to `$EMOCUE_SKIP_LOG` when set (scripts/test.sh prints that file as the run's skip
/// list). When `$EMOCUE_REQUIRE` (a comma list, or `all`) names `need`, the test fails
/// instead: CI sets it for what it installs, so a broken install cannot pass as a skip.
pub fn skip(test: &str, need: &str, reason: &str) {
    if required(need) {
        panic!(
            "{test} cannot run: {reason}; EMOCUE_REQUIRE={} says `{need}` must be available \
             (install it, or drop `{need}` from EMOCUE_REQUIRE)",
            std::env::var("EMOCUE_REQUIRE").unwrap_or_default()
        );
    }
    let line = format!("skip {test} [{need}]: {reason}");
    eprintln!("{line}");
    if let Some(log) = std::env::var_os("EMOCUE_SKIP_LOG") {
        use std::io::Write;
        // One short O_APPEND write per line: parallel tests do not interleave.
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
        if let Err(e) = written {
            eprintln!(
                "(cannot record the skip in {}: {e})",
                Path::new(&log).display()
            );
        }
    }
}

/// True when `$EMOCUE_REQUIRE` (a comma list, or `all`) names `need`.
pub fn required(need: &str) -> bool {
    std::env::var("EMOCUE_REQUIRE")
        .is_ok_and(|v| v.split(',').map(str::trim).any(|w| w == need || w == "all"))
}

/// `../shared/data` (or `$EMOCUE_DATA`), or `None` after a [`skip`].
pub fn data_dir(test: &str) -> Option<PathBuf> {
    let d = std::env::var_os("EMOCUE_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/data"));
    if d.join("README.md").exists() {
        Some(d)
    } else {
        skip(
            test,
            "data",
            &format!(
                "dataset not found at {} (see ../shared/data/README.md or set EMOCUE_DATA)",
                d.display()
            ),
        );
        None
    }
}

/// True when ffmpeg is on PATH; otherwise false after a [`skip`].
pub fn have_ffmpeg(test: &str) -> bool {
    let ok = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        skip(
            test,
            "ffmpeg",
            "ffmpeg not installed (apt-get install ffmpeg)",
        );
    }
    ok
}

/// The emocue binary as a `Command` run from the repository root; through
/// `$EMOCUE_TEST_RUNNER` when set (cross-testing under QEMU where binfmt_misc is
/// unavailable, see docs/wearable.md).
pub fn emocue_command(args: &[&str]) -> Command {
    let exe = env!("CARGO_BIN_EXE_emocue");
    let runner = std::env::var("EMOCUE_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    let mut cmd = match words.next() {
        Some(prog) => {
            let mut c = Command::new(prog);
            c.args(words).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.args(args).current_dir(root());
    cmd
}

/// Runs the emocue binary (see [`emocue_command`]) and collects its output.
pub fn emocue(args: &[&str]) -> Output {
    emocue_command(args).output().expect("run emocue")
}

/// Runs `emocue` and asserts it succeeded, showing its stderr when it did not.
pub fn emocue_ok(args: &[&str]) -> Output {
    let out = emocue(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A fresh scratch folder under target/.
pub fn scratch(name: &str) -> PathBuf {
    let d = root().join("target").join("test-scratch").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// Parses JSON lines.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect()
}

/// Reads FER+ majority labels of a split: (file name, class key), dropping unknown/NF.
pub fn ferplus_majority(dir: &Path) -> Vec<(String, String)> {
    // FER+ label.csv columns: the 8 emotions in model order, then unknown and NF
    let keys: Vec<&str> = emocue::profile::CLASS_KEYS
        .iter()
        .copied()
        .chain(["unknown", "NF"])
        .collect();
    let text = std::fs::read_to_string(dir.join("label.csv")).expect("label.csv");
    let mut out = Vec::new();
    for line in text.lines() {
        // name,"(0, 0, 48, 48)",v0,...,v9
        let name = line.split(',').next().unwrap_or("").to_string();
        let votes: Vec<f32> = line
            .rsplit(',')
            .take(10)
            .map(|v| v.trim().parse().unwrap_or(0.0))
            .collect();
        let votes: Vec<f32> = votes.into_iter().rev().collect();
        let mut best = 0;
        for (i, v) in votes.iter().enumerate() {
            if *v > votes[best] {
                best = i;
            }
        }
        if best < 8 {
            out.push((name, keys[best].to_string()));
        }
    }
    out
}

/// The first `n` frames of the bundled sample clip (the fake camera's pictures).
pub fn sample_frames(n: usize) -> Vec<image::RgbImage> {
    (0..n)
        .map(|i| {
            let p = root().join(format!("samples/astronaut/frame_{i:03}.jpg"));
            emocue::source::load_rgb(&p, i as u64).expect("sample frame")
        })
        .collect()
}
