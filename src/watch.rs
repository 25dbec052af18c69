//! Hot reload: a running loop asks, between frames, whether a watched file (the
//! wording profile) was edited.
//!
//! Polling the file's contents a few times a second is enough for "within a second",
//! costs one small read, works on every file system and editor (atomic renames
//! included), and needs no background thread or extra dependency. An edit that does
//! not validate is reported once and never replaces the last good version, so a
//! typo in a session cannot blank the wearer's captions.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::ConfigError;

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
    seen: Option<Vec<u8>>,
}

impl<T> ConfigWatcher<T> {
    /// Reads and checks the file now; the watcher then reports changes from this
    /// version on (so an edit between loading and watching is not missed).
    pub fn open(path: &Path, parse: Parse<T>) -> Result<(Self, T), ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let value = parse(&String::from_utf8_lossy(&bytes), path)?;
        let watcher = ConfigWatcher {
            path: path.to_owned(),
            parse,
            every: Duration::from_millis(250),
            next: Instant::now(),
            seen: Some(bytes),
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

    /// Looks at the file now.
    pub fn check(&mut self) -> Reload<T> {
        let bytes = std::fs::read(&self.path).ok();
        if bytes == self.seen {
            return Reload::Unchanged;
        }
        self.seen = bytes.clone();
        match bytes {
            Some(b) => match (self.parse)(&String::from_utf8_lossy(&b), &self.path) {
                Ok(v) => Reload::Loaded(v),
                Err(e) => Reload::Invalid(e),
            },
            None => Reload::Invalid(ConfigError::Read {
                path: self.path.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the file is gone; the last good version stays in use",
                ),
            }),
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
}
