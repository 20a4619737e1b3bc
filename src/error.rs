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
    /// The database file could not be opened, read or written.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A metadata filter is malformed.
    #[error(transparent)]
    Filter(#[from] crate::filter::FilterError),
    /// No collection has this name.
    #[error("collection {0:?} does not exist")]
    CollectionNotFound(String),
    /// A collection with this name exists already.
    #[error("collection {0:?} already exists")]
    CollectionExists(String),
    /// The embedder is not the one the collection was created with.
    #[error("collection {collection:?} was created with another embedder ({difference})")]
    EmbedderMismatch {
        /// The collection.
        collection: String,
        /// How the embedders differ.
        difference: String,
    },
    /// Texts cannot be written or searched without an embedder.
    #[error("collection {collection:?} has no embedder: attach one to write or search by text")]
    NoEmbedder {
        /// The collection.
        collection: String,
    },
    /// A record's vector cannot be stored.
    #[error("record {id:?}: vector {reason}")]
    InvalidVector {
        /// The record's id.
        id: String,
        /// What is wrong with the vector.
        reason: String,
    },
    /// `add` of an id the collection holds, or an id twice in one batch.
    #[error("collection {collection:?}: id {id:?} exists already (use upsert to replace it)")]
    DuplicateId {
        /// The collection.
        collection: String,
        /// The id.
        id: String,
    },
    /// No record has this id.
    #[error("collection {collection:?} has no record with id {id:?}")]
    RecordNotFound {
        /// The collection.
        collection: String,
        /// The id.
        id: String,
    },
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
