//! The commands' bodies, one file each, and what they share: writing to stdout with
//! errors that name the output, telling a closed pipe from a failure, the settings.

pub mod bench;
pub mod check_config;
pub mod classify;
pub mod devices;
pub mod preview_labels;
pub mod record;
pub mod replay;
pub mod run;

use std::io::Write;
use std::path::Path;

use emocue::config::Config;

/// Writes one line to stdout, flushed; the error names stdout and keeps the error's
/// kind, so a closed pipe is still told apart from a full disk.
pub(crate) fn say(text: impl std::fmt::Display) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| named(e, "standard output"))?;
    Ok(())
}

/// `e` with the output it happened on in its message, same kind.
fn named(e: std::io::Error, output: &str) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("cannot write to {output}: {e}"))
}

/// An output that names itself in its errors ("cannot write to out.jsonl: No space
/// left on device"); the error keeps its kind for [`is_broken_pipe`].
pub(crate) struct Named<W> {
    pub(crate) inner: W,
    pub(crate) name: String,
}

impl<W: Write> Write for Named<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).map_err(|e| named(e, &self.name))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().map_err(|e| named(e, &self.name))
    }
}

/// True when the reader of our output went away (`| head -1`): Unix tools then stop
/// quietly with status 0 instead of reporting an error.
pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// The stop check of a replay: the name of the stop signal that came, if one did.
pub(crate) fn stopped_by_signal() -> Option<String> {
    emocue::live::stop_signal().map(|s| s.name().to_string())
}

/// The settings file given, else the built-in defaults.
pub(crate) fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => Ok(Config::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_is_told_apart_from_other_write_errors() {
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let e = anyhow::Error::from(named(pipe, "standard output")).context("summary");
        assert!(is_broken_pipe(&e));
        let full = std::io::Error::from_raw_os_error(libc::ENOSPC);
        let e = anyhow::Error::from(named(full, "out.jsonl"));
        assert!(!is_broken_pipe(&e));
        assert!(
            e.to_string().starts_with("cannot write to out.jsonl: "),
            "{e}"
        );
        let json = serde_json::Error::io(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&anyhow::Error::from(json)));
    }
}
