//! The in-process embedder for BERT-family models (all-MiniLM, bge, e5, gte, arctic), on candle.
//!
//! **Invariant:** a text's vector does not depend on what it is batched with. The encoder packs a
//! batch without padding and attends within each sequence only, and pooling reads only that
//! text's tokens; so sorting inputs by length (to keep batches even) changes speed, not results.

use std::path::Path;

use candle_core::Device;
use candle_nn::VarBuilder;
use tokenizers::{Tokenizer, TruncationParams};

use super::bert_model::{BertConfig, BertEncoder, DTYPE};
use super::pool::truncate_and_normalize;
use super::{Embedder, Fingerprint, ModelConfig, ModelError, Pooling, ResolvedModel};
use crate::{Error, Result};

/// Settings that change how a model's output becomes a vector. Each `None` keeps what the model's
/// own configuration says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedOptions {
    /// Overrides the pooling from `1_Pooling/config.json`.
    pub pooling: Option<Pooling>,
    /// Overrides whether to L2-normalize (by default, whether `modules.json` lists Normalize).
    pub normalize: Option<bool>,
    /// Keeps only the first `d` dimensions (Matryoshka truncation), renormalized.
    pub truncate_dim: Option<usize>,
    /// Overrides `max_seq_length`; it can only be lowered below the model's position limit.
    pub max_seq_length: Option<usize>,
    /// How many texts run through the transformer at once. By default, 32.
    pub batch_size: usize,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        EmbedOptions {
            pooling: None,
            normalize: None,
            truncate_dim: None,
            max_seq_length: None,
            batch_size: 32,
        }
    }
}

/// One subword token: its id in the vocabulary and its text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Token {
    /// The vocabulary id.
    pub id: u32,
    /// The token as the vocabulary spells it (`##` marks a word continuation).
    pub text: String,
}

/// A BERT-family sentence embedder that runs the transformer in-process.
///
/// # Examples
///
/// ```no_run
/// use kindred::{BertEmbedder, Embedder};
///
/// let embedder = BertEmbedder::default_model()?;
/// let vectors = embedder.embed(&["Embeddings are amazing", "Vectors are great"])?;
/// let cosine: f32 = vectors[0].iter().zip(&vectors[1]).map(|(a, b)| a * b).sum();
/// println!("cosine similarity: {cosine:.3}");
/// # Ok::<(), kindred::Error>(())
/// ```
pub struct BertEmbedder {
    model: BertEncoder,
    tokenizer: Tokenizer,
    device: Device,
    fingerprint: Fingerprint,
    hidden_size: usize,
    batch_size: usize,
}

impl BertEmbedder {
    /// Resolves the default model (fetching it if needed) and loads it with default options.
    ///
    /// # Errors
    ///
    /// As [`Resolver::resolve`](super::Resolver::resolve) and [`BertEmbedder::load`].
    pub fn default_model() -> Result<Self> {
        let model = super::Resolver::from_env().resolve(&super::ModelSpec::default_model())?;
        Self::load(&model, &EmbedOptions::default())
    }

    /// Loads a resolved model.
    ///
    /// # Errors
    ///
    /// [`ModelError`] naming the file when the configuration, tokenizer or weights cannot be
    /// read; [`Error::InvalidArgument`] for a `truncate_dim` of 0 or above the model's dimension,
    /// or a batch size of 0.
    pub fn load(model: &ResolvedModel, options: &EmbedOptions) -> Result<Self> {
        let config = ModelConfig::read(&model.dir)?;
        let dimension = check_options(&config, options)?;
        let max_seq_length =
            options.max_seq_length.map_or(config.max_seq_length, |n| n.min(config.max_seq_length));
        let tokenizer = load_tokenizer(&model.dir.join("tokenizer.json"), max_seq_length)?;
        let device = Device::Cpu;
        let bert = load_bert(&model.dir, &config, &device)?;
        let fingerprint = Fingerprint {
            model_id: model.id.clone(),
            revision: model.revision.clone(),
            weights_sha256: model.weights_sha256.clone(),
            dimension,
            pooling: options.pooling.unwrap_or(config.pooling),
            normalize: options.normalize.unwrap_or(config.normalize),
            truncate_dim: options.truncate_dim.filter(|&d| d < config.hidden_size),
            max_seq_length,
        };
        Ok(BertEmbedder {
            model: bert,
            tokenizer,
            device,
            fingerprint,
            hidden_size: config.hidden_size,
            batch_size: options.batch_size,
        })
    }

    /// Splits `text` into the model's subword tokens, `[CLS]` and `[SEP]` included, truncated
    /// to `max_seq_length`.
    ///
    /// # Errors
    ///
    /// Returns an error when the tokenizer fails.
    pub fn tokenize(&self, text: &str) -> Result<Vec<Token>> {
        let encoding =
            self.tokenizer.encode(text, true).map_err(|e| Error::Embed(e.to_string()))?;
        let tokens = encoding.get_ids().iter().zip(encoding.get_tokens());
        Ok(tokens.map(|(&id, text)| Token { id, text: text.clone() }).collect())
    }

    /// The token ids of each text, as the transformer sees them (special tokens included,
    /// truncated, not padded).
    ///
    /// # Errors
    ///
    /// Returns an error when the tokenizer fails.
    pub fn token_ids(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        let encodings = self
            .tokenizer
            .encode_batch_fast(texts.to_vec(), true)
            .map_err(|e| Error::Embed(e.to_string()))?;
        Ok(encodings.into_iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// Embeds texts already turned into token ids by [`BertEmbedder::token_ids`].
    ///
    /// # Errors
    ///
    /// [`Error::Embed`] when a sequence is empty (the tokenizer always adds `[CLS]` and
    /// `[SEP]`), or when the transformer fails.
    pub fn embed_token_ids(&self, ids: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        if let Some(i) = ids.iter().position(Vec::is_empty) {
            return Err(Error::Embed(format!(
                "token sequence {i} is empty: it needs at least [CLS] and [SEP]"
            )));
        }
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let mut out = vec![Vec::new(); ids.len()];
        for chunk in order.chunks(self.batch_size) {
            let seqs: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            for (&i, vector) in chunk.iter().zip(self.forward(&seqs)?) {
                out[i] = vector;
            }
        }
        Ok(out)
    }

    /// The longest input in tokens; longer texts are truncated.
    pub fn max_seq_length(&self) -> usize {
        self.fingerprint.max_seq_length
    }

    /// Runs one batch through the transformer and pools each sequence.
    fn forward(&self, seqs: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let hidden = self.device.with_context(|| self.model.forward(seqs)).map_err(Error::Embed)?;
        let (h, fp) = (self.hidden_size, &self.fingerprint);
        let vectors = (0..seqs.len()).map(|i| {
            let mut v = vec![0.0; h];
            fp.pooling.pool(hidden.sequence(i, h), &mut v);
            truncate_and_normalize(&mut v, fp.truncate_dim, fp.normalize);
            v
        });
        Ok(vectors.collect())
    }
}

impl Embedder for BertEmbedder {
    fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.embed_token_ids(&self.token_ids(texts)?)
    }
}

impl std::fmt::Debug for BertEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertEmbedder")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Checks the options against the model and returns the output dimension.
fn check_options(config: &ModelConfig, options: &EmbedOptions) -> Result<usize> {
    if options.batch_size == 0 {
        return Err(Error::invalid("batch size must be at least 1"));
    }
    if options.max_seq_length == Some(0) {
        return Err(Error::invalid("max_seq_length must be at least 1"));
    }
    match options.truncate_dim {
        Some(0) => Err(Error::invalid("the Matryoshka dimension must be at least 1")),
        Some(d) if d > config.hidden_size => Err(Error::invalid(format!(
            "the Matryoshka dimension {d} exceeds the model's dimension {}",
            config.hidden_size
        ))),
        Some(d) => Ok(d),
        None => Ok(config.hidden_size),
    }
}

/// Loads `tokenizer.json` with kindred's own truncation and no padding: the file's built-in
/// settings (often truncation at 128 and fixed padding to 128) are not the model's.
fn load_tokenizer(path: &Path, max_seq_length: usize) -> Result<Tokenizer, ModelError> {
    let invalid = |reason: String| ModelError::InvalidFile { path: path.into(), reason };
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| invalid(e.to_string()))?;
    tokenizer.with_padding(None);
    let truncation = TruncationParams { max_length: max_seq_length, ..TruncationParams::default() };
    tokenizer.with_truncation(Some(truncation)).map_err(|e| invalid(e.to_string()))?;
    Ok(tokenizer)
}

fn load_bert(dir: &Path, config: &ModelConfig, device: &Device) -> Result<BertEncoder, ModelError> {
    let config_path = dir.join("config.json");
    let invalid_config =
        |reason: String| ModelError::InvalidFile { path: config_path.clone(), reason };
    let bert_config: BertConfig = serde_json::from_value(config.transformer.clone())
        .map_err(|e| invalid_config(e.to_string()))?;
    bert_config
        .check()
        .map_err(|reason| ModelError::Unsupported { path: config_path.clone(), reason })?;
    let weights = dir.join("model.safetensors");
    let invalid = |e: candle_core::Error| ModelError::InvalidFile {
        path: weights.clone(),
        reason: format!("cannot load the weights: {e}"),
    };
    // SAFETY: the weights are memory-mapped read-only. kindred never writes to a model file while
    // it is loaded, and files in its cache are replaced by rename, never rewritten in place.
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DTYPE, device) }
        .map_err(invalid)?;
    BertEncoder::load(vb, &bert_config).map_err(invalid)
}
