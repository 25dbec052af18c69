//! Reading a settings or wording file: bounded, never blocking, and with errors that
//! name the file, line and column. Both [`crate::config`] and [`crate::profile`] read
//! files this way, so it sits below them and neither imports the other for it.

use std::path::{Path, PathBuf};

use crate::diag::Problem;

/// Largest settings or wording file read, in bytes: both are a few KiB, so anything
/// bigger is a wrong path (a video, a log), refused before it is read.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Reads a settings or wording file without ever blocking or reading without bound:
/// the path (symlinks followed) must be a regular file of at most
/// [`MAX_FILE_BYTES`]. A FIFO would block `open(2)` until a writer came and a
/// device could be endless, so both are refused before they are opened; the file is
/// opened non-blocking and checked again after opening, so a file swapped for a
/// FIFO in between cannot block either.
pub fn read_file(path: &Path) -> Result<String, ConfigError> {
    let bytes = read_bytes(path)?;
    String::from_utf8(bytes).map_err(|e| ConfigError::Invalid {
        path: path.to_owned(),
        message: format!(
            "is not UTF-8 text (bad byte at offset {}); save it as UTF-8 in a text editor",
            e.utf8_error().valid_up_to()
        ),
    })
}

/// [`read_file`]'s bytes, for callers that compare versions (hot reload).
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, ConfigError> {
    use std::io::Read;
    let read_error = |source| ConfigError::Read {
        path: path.to_owned(),
        source,
    };
    let check = |meta: &std::fs::Metadata| -> Result<(), ConfigError> {
        let what = meta.file_type();
        if !what.is_file() {
            let kind = if what.is_dir() {
                "a folder"
            } else if is_fifo(&what) {
                "a FIFO (named pipe)"
            } else {
                "not a regular file (a device or socket)"
            };
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: format!(
                    "is {kind}; settings and wording profiles must be ordinary text files, \
                     so give the path of a .toml file"
                ),
            });
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(too_big(path, meta.len()));
        }
        Ok(())
    };
    check(&std::fs::metadata(path).map_err(read_error)?)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(read_error)?;
    check(&file.metadata().map_err(read_error)?)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(path, bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(unix)]
fn is_fifo(t: &std::fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    t.is_fifo()
}

#[cfg(not(unix))]
fn is_fifo(_: &std::fs::FileType) -> bool {
    false
}

fn too_big(path: &Path, len: u64) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_owned(),
        message: format!(
            "is {len} bytes or more, over the {MAX_FILE_BYTES}-byte limit for settings and \
             wording files (they are a few KiB); check that the path names the right file"
        ),
    }
}

/// A config that cannot be used; the message says where and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// I/O error.
        source: std::io::Error,
    },
    /// TOML syntax or schema error (with line and column).
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A value outside its range.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// Several mistakes in one file (wording profiles are checked as a whole, so a
    /// clinician fixes them in one go), one `file:line:column: ...` line each.
    #[error("{}", problem_lines(.path, .problems))]
    Problems {
        /// The file.
        path: PathBuf,
        /// The mistakes, in file order.
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// The first line of the message, for places with room for one (the overlay).
    pub fn first_line(&self) -> String {
        let all = self.to_string();
        let n = all.lines().count();
        let first = all.lines().next().unwrap_or_default().to_string();
        if n > 1 {
            format!("{first} (and {} more)", n - 1)
        } else {
            first
        }
    }
}

/// One `file:line:column: message` line per problem.
fn problem_lines(path: &Path, problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("{}:{p}", path.display()))
        .collect::<Vec<_>>()
        .join("\n")
}
