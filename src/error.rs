//! The library's error type.
//!
//! Every error a user can cause names the file, the field (a dataset path, a column, a line) and what was
//! expected, so that the message alone tells them what to fix. The binary prints it with its causes and exits
//! non-zero; nothing in the library panics on user input.

use std::path::{Path, PathBuf};

/// Errors of the scgan library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A file is not in the format its name or contents promised, or is damaged.
    #[error("{path}: {field}: {message}")]
    Format {
        /// The file concerned.
        path: PathBuf,
        /// Where in the file: a dataset path (`X/indptr`), a line (`line 12`), a column.
        field: String,
        /// What was found and what was expected.
        message: String,
    },

    /// The data are readable but unusable for the requested step (negative counts, no cells left, ...).
    #[error("{path}: {field}: {message}")]
    InvalidData {
        /// The data set's file, or a description of it when it has none.
        path: PathBuf,
        /// The field, column or step concerned.
        field: String,
        /// What is wrong and what was expected.
        message: String,
    },

    /// A parameter given by the user is out of range or inconsistent.
    #[error("invalid parameter {name}: {message}")]
    InvalidParameter {
        /// The flag or field name, e.g. `--hvg`.
        name: String,
        /// What is wrong and what is accepted.
        message: String,
    },
}

/// `Result` with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().to_path_buf(), source }
    }

    /// A format error in `path` at `field`.
    pub fn format(path: impl AsRef<Path>, field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Format { path: path.as_ref().to_path_buf(), field: field.into(), message: message.into() }
    }

    /// An invalid-data error in `path` at `field`.
    pub fn invalid_data(path: impl AsRef<Path>, field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidData { path: path.as_ref().to_path_buf(), field: field.into(), message: message.into() }
    }

    /// This error with `path` in place of the placeholder `data` that the functions working on a bare matrix
    /// (clustering, PCA) name, which know no file: callers that know where the matrix came from name it.
    pub fn in_file(self, path: &Path) -> Self {
        match self {
            Error::InvalidData { path: placeholder, field, message } if placeholder == Path::new("data") => {
                Error::InvalidData { path: path.to_path_buf(), field, message }
            }
            other => other,
        }
    }

    /// An invalid parameter.
    pub fn parameter(name: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidParameter { name: name.into(), message: message.into() }
    }
}
