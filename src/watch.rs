//! Hot reload: a running loop asks, between frames, whether a watched file (the
//! wording profile) was edited.
//!
//! Polling the file's contents a few times a second is enough for "within a second",
//! costs one small read, works on every file system and editor (atomic renames
//! included), and needs no background thread or extra dependency. An edit that does
//! not validate is reported once and never replaces the last good version, so a
//! typo in a session cannot blank the wearer's captions.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config_file::{ConfigError, read_bytes};

/// Checks a file text and builds what the loop uses (e.g. [`crate::profile::Profile`]).
pub type Parse<T> = fn(&str, &Path) -> Result<T, ConfigError>;

/// What a poll found.
#[derive(Debug)]
pub enum Reload<T> {
    /// Not time to look yet, or the file is as it was.
    Unchanged,
    /// The file changed and is valid: use this from now on.
    Loaded(T),
    /// The file changed but is not valid (or cannot be read): keep the last good
    /// version and show this.
    Invalid(ConfigError),
}

/// Watches one file by its contents.
pub struct ConfigWatcher<T> {
    path: PathBuf,
    parse: Parse<T>,
    every: Duration,
    next: Instant,
    /// The last version looked at: its bytes, or why it could not be read (so one
    /// problem is reported once, and a different one again).
    seen: Result<Vec<u8>, String>,
}

impl<T> ConfigWatcher<T> {
    /// Reads and checks the file now; the watcher then reports changes from this
    /// version on (so an edit between loading and watching is not missed).
    pub fn open(path: &Path, parse: Parse<T>) -> Result<(Self, T), ConfigError> {
        let bytes = read_bytes(path)?;
        let value = parse(&String::from_utf8_lossy(&bytes), path)?;
        let watcher = ConfigWatcher {
            path: path.to_owned(),
            parse,
            every: Duration::from_millis(250),
            next: Instant::now(),
            seen: Ok(bytes),
        };
        Ok((watcher, value))
    }

    /// Looks at most this often (default 250 ms); [`ConfigWatcher::poll`] is free
    /// in between.
    pub fn with_interval(mut self, every: Duration) -> Self {
        self.every = every;
        self
    }

    /// The watched file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Cheap enough to call every frame: looks at the file only when the interval
    /// has passed.
    pub fn poll(&mut self) -> Reload<T> {
        let now = Instant::now();
        if now < self.next {
            return Reload::Unchanged;
        }
        self.next = now + self.every;
        self.check()
    }

    /// Looks at the file now. Never blocks: the file is read through
    /// [`read_bytes`], which refuses anything but a regular file of bounded size
    /// (a FIFO put in its place would otherwise block the frame loop for good).
    pub fn check(&mut self) -> Reload<T> {
        let read = read_bytes(&self.path).map_err(|e| match e {
            ConfigError::Read { path, source } if source.kind() == ErrorKind::NotFound => {
                ConfigError::Read {
                    path,
                    source: std::io::Error::new(
                        ErrorKind::NotFound,
                        "the file is gone; the last good version stays in use",
                    ),
                }
            }
            ConfigError::Invalid { path, message } => ConfigError::Invalid {
                path,
                message: format!("{message}; the last good version stays in use"),
            },
            other => other,
        });
        let same = match (&read, &self.seen) {
            (Ok(b), Ok(seen)) => b == seen,
            (Err(e), Err(seen)) => e.to_string() == *seen,
            _ => false,
        };
        if same {
            return Reload::Unchanged;
        }
        self.seen = match &read {
            Ok(b) => Ok(b.clone()),
            Err(e) => Err(e.to_string()),
        };
        match read {
            Ok(b) => match (self.parse)(&String::from_utf8_lossy(&b), &self.path) {
                Ok(v) => Reload::Loaded(v),
                Err(e) => Reload::Invalid(e),
            },
            Err(e) => Reload::Invalid(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(text: &str, path: &Path) -> Result<u32, ConfigError> {
        text.trim().parse().map_err(|_| ConfigError::Invalid {
            path: path.to_owned(),
            message: format!("{text:?} is not a number"),
        })
    }

    #[test]
    fn edits_are_seen_once_and_polls_are_rate_limited() {
        let dir = std::env::temp_dir().join(format!("emocue-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("n.txt");
        std::fs::write(&f, "1").unwrap();
        let (w, first) = ConfigWatcher::open(&f, number).unwrap();
        let mut w = w.with_interval(Duration::from_secs(3600));
        assert_eq!(first, 1);
        assert!(matches!(w.poll(), Reload::Unchanged));
        std::fs::write(&f, "2").unwrap();
        assert!(matches!(w.poll(), Reload::Unchanged), "rate-limited");
        assert!(matches!(w.check(), Reload::Loaded(2)));
        assert!(matches!(w.check(), Reload::Unchanged), "reported once");
        std::fs::write(&f, "two").unwrap();
        assert!(matches!(w.check(), Reload::Invalid(_)));
        assert!(
            matches!(w.check(), Reload::Unchanged),
            "an error is reported once"
        );
        std::fs::remove_file(&f).unwrap();
        assert!(matches!(
            w.check(),
            Reload::Invalid(ConfigError::Read { .. })
        ));
        std::fs::write(&f, "3").unwrap();
        assert!(matches!(w.check(), Reload::Loaded(3)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A FIFO in place of the watched file (issue 21): `open(2)` on it would block
    /// until a writer came, freezing the frame loop; the watcher refuses it at once,
    /// keeps the last good version, and takes a valid file again when it returns.
    #[cfg(unix)]
    #[test]
    fn a_fifo_in_place_of_the_file_is_refused_without_blocking() {
        let dir = std::env::temp_dir().join(format!("emocue-watch-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("n.txt");
        std::fs::write(&f, "1").unwrap();
        let (w, _) = ConfigWatcher::open(&f, number).unwrap();
        let mut w = w.with_interval(Duration::ZERO);
        std::fs::remove_file(&f).unwrap();
        let c = std::ffi::CString::new(f.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
        let t0 = Instant::now();
        match w.poll() {
            Reload::Invalid(e) => {
                let msg = e.to_string();
                assert!(msg.contains("FIFO") && msg.contains("n.txt"), "{msg}");
                assert!(msg.contains("last good version"), "{msg}");
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
        assert!(matches!(w.poll(), Reload::Unchanged), "reported once");
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
        // The same refusal when the watch starts on a FIFO.
        assert!(matches!(
            ConfigWatcher::open(&f, number),
            Err(ConfigError::Invalid { .. })
        ));
        std::fs::remove_file(&f).unwrap();
        std::fs::write(&f, "4").unwrap();
        assert!(matches!(w.poll(), Reload::Loaded(4)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_over_the_size_limit_is_refused_before_it_is_read() {
        let dir = std::env::temp_dir().join(format!("emocue-watch-big-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("n.txt");
        std::fs::write(&f, "5").unwrap();
        let (w, _) = ConfigWatcher::open(&f, number).unwrap();
        let mut w = w.with_interval(Duration::ZERO);
        let big = std::fs::File::create(&f).unwrap();
        big.set_len(crate::config_file::MAX_FILE_BYTES + 1).unwrap();
        match w.poll() {
            Reload::Invalid(e) => assert!(e.to_string().contains("limit"), "{e}"),
            other => panic!("expected Invalid, got {other:?}"),
        }
        std::fs::write(&f, "6").unwrap();
        assert!(matches!(w.poll(), Reload::Loaded(6)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
