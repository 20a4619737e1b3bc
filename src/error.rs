//! The crate's one error type: an umbrella over each layer's errors.
//!
//! Every variant carries the path, id or value at fault, so a message read on its own says what
//! went wrong and where.

use std::path::PathBuf;

/// The result type of every fallible kindred call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in kindred.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A model could not be found, fetched, verified or loaded.
    #[error(transparent)]
    Model(#[from] crate::embed::ModelError),
    /// Text could not be turned into vectors.
    #[error("embedding failed: {0}")]
    Embed(String),
    /// An argument is out of range or malformed; the message names it and says why.
    #[error("{0}")]
    InvalidArgument(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidArgument(message.into())
    }
}

#[cfg(feature = "embed")]
impl From<candle_core::Error> for Error {
    fn from(err: candle_core::Error) -> Self {
        Error::Embed(err.to_string())
    }
}
