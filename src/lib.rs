//! kindred is an embedded vector database: it turns text into embeddings in-process, with the
//! model's own tokenizer and a transformer forward pass on candle, and answers "which passages
//! mean the same as this?" without a server, a Python runtime or an API key.
//!
//! # Example
//!
//! ```no_run
//! use kindred::{cosine, BertEmbedder, Embedder};
//!
//! // The default model, sentence-transformers/all-MiniLM-L6-v2, is found in a local cache or
//! // fetched on first use.
//! let embedder = BertEmbedder::default_model()?;
//! let v = embedder.embed(&["The cat sat on the mat", "A feline rested on a rug"])?;
//! println!("cosine similarity: {:.3}", cosine(&v[0], &v[1]));
//! # Ok::<(), kindred::Error>(())
//! ```
//!
//! # Crate features
//!
//! - `embed` (default): the in-process BERT-family embedder (candle, tokenizers).
//! - `hub` (default): downloading models from the Hugging Face Hub.
//! - `cli` (default): the `kindred` command.
//! - `viz` (default): PNG plots (resvg, with DejaVu Sans built in); SVG and HTML plots need no
//!   feature.

#![warn(missing_docs)]

mod db;
mod embed;
mod error;
mod filter;
mod index;
pub mod ingest;
mod store;
pub mod viz;

pub use db::{
    Collection, CollectionOptions, Database, DatabaseBuilder, Document, Hit, IndexOrigin, Page,
    Record, SearchOptions, VectorRecord, RESCORE_FACTOR,
};
pub use embed::{
    cosine, l2_normalize, truncate_and_normalize, CachedModel, Embedder, Fingerprint, KnownModel,
    Manifest, ModelConfig, ModelError, ModelSource, ModelSpec, Pooling, PypiMirror, ResolvedModel,
    Resolver, SourceAttempt, DEFAULT_MODEL, KNOWN_MODELS,
};
#[cfg(feature = "embed")]
pub use embed::{BertEmbedder, EmbedOptions, Token};
pub use error::{Error, Result};
pub use filter::{Filter, FilterError, Op};
pub use index::HnswParams;
pub use store::{CollectionConfig, Metric, SourceEntry, StoreError, FORMAT_VERSION};

/// Vector indexes on their own, without storage: HNSW and exact search over unit vectors.
pub mod ann {
    pub use crate::index::{dot, Accept, FlatIndex, HnswIndex, HnswParams, Scored, VectorIndex};
}

/// Reading a similarity score: the bands sentence-embedding tutorials use.
pub mod similarity;
