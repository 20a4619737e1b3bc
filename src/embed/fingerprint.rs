//! What identifies an embedder's output space.

use serde::{Deserialize, Serialize};

use super::Pooling;

/// Everything that decides which vector a text becomes.
///
/// Two embedders with equal fingerprints produce the same vectors for the same text, so a
/// collection stores its embedder's fingerprint and refuses to be written or queried with another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The model's id, e.g. `sentence-transformers/all-MiniLM-L6-v2`.
    pub model_id: String,
    /// The model's revision (a commit hash) when it is known.
    pub revision: Option<String>,
    /// The sha256 of the weights file, in lowercase hex.
    pub weights_sha256: String,
    /// The length of the vectors this embedder returns (after any truncation).
    pub dimension: usize,
    /// How token vectors are pooled into one.
    pub pooling: Pooling,
    /// Whether vectors are L2-normalized.
    pub normalize: bool,
    /// The Matryoshka truncation, when the model's native dimension is cut down.
    pub truncate_dim: Option<usize>,
    /// The longest input, in tokens, before truncation.
    pub max_seq_length: usize,
}

impl Fingerprint {
    /// Explains how `other` would produce different vectors than `self`, or `None` when it would
    /// not.
    ///
    /// The model id and revision are names, not identity: the same weights found in a folder and
    /// in a cache are the same model. Everything that changes a vector is compared.
    pub fn difference(&self, other: &Fingerprint) -> Option<String> {
        let mut out = Vec::new();
        let mut cmp = |name: &str, a: String, b: String| {
            if a != b {
                out.push(format!("{name}: {a} vs {b}"));
            }
        };
        cmp("weights sha256", self.weights_sha256.clone(), other.weights_sha256.clone());
        cmp("dimension", self.dimension.to_string(), other.dimension.to_string());
        cmp("pooling", self.pooling.to_string(), other.pooling.to_string());
        cmp("normalize", self.normalize.to_string(), other.normalize.to_string());
        cmp(
            "truncate_dim",
            format!("{:?}", self.truncate_dim),
            format!("{:?}", other.truncate_dim),
        );
        cmp("max_seq_length", self.max_seq_length.to_string(), other.max_seq_length.to_string());
        (!out.is_empty()).then(|| out.join("; "))
    }
}
