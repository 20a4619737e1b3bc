//! kindred's BERT encoder: the transformer that turns token ids into one hidden vector per token.
//!
//! It computes what Hugging Face's `BertModel` computes (absolute positions, token type 0,
//! post-layer-norm blocks, erf GELU, no pooler), laid out for a CPU:
//!
//! - Weights are loaded with candle and rearranged once: each linear layer's matrix is stored
//!   transposed to `[in, out]`, so every product is a plain row-major GEMM; the query, key and
//!   value projections are one `[hidden, 3 × hidden]` matrix, so one GEMM serves all three; the
//!   query projection carries the `1/√head_dim` attention scale.
//! - Sequences are packed, not padded: the batch is one `[Σ len, hidden]` matrix, every linear
//!   layer runs once over all real tokens, and attention runs per sequence and head over that
//!   sequence's rows only. No compute goes to padding, and no mask is needed.
//! - The forward pass runs kindred's own kernels ([`super::kernels`]) over buffers reused from
//!   layer to layer, rather than candle tensor ops: candle's element-wise ops run on a second
//!   thread pool that, on a 2-core machine, contends with the one running the GEMMs, and each op
//!   allocates (and page-faults) a fresh output.
//!
//! **Invariant:** the hidden states of a sequence do not depend on the other sequences of its
//! batch: attention never crosses sequence boundaries, and every other step is row by row.

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use rayon::prelude::*;
use serde::Deserialize;

use super::kernels::{attention, Activation, LayerNorm, Linear};

/// The transformer's sizes, read from `config.json`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BertConfig {
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    hidden_act: String,
    max_position_embeddings: usize,
    type_vocab_size: usize,
    layer_norm_eps: f64,
    #[serde(default)]
    position_embedding_type: Option<String>,
    #[serde(default)]
    model_type: Option<String>,
}

impl BertConfig {
    /// Checks that kindred's encoder computes exactly what this configuration describes.
    pub(crate) fn check(&self) -> Result<(), String> {
        if !matches!(self.hidden_act.as_str(), "gelu" | "relu") {
            return Err(format!("hidden_act {:?} is not supported (gelu, relu)", self.hidden_act));
        }
        if let Some(kind) = self.position_embedding_type.as_deref().filter(|&k| k != "absolute") {
            return Err(format!("position_embedding_type {kind:?} is not supported (absolute)"));
        }
        let heads = self.num_attention_heads;
        if heads == 0 || !self.hidden_size.is_multiple_of(heads) {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {heads}",
                self.hidden_size
            ));
        }
        Ok(())
    }
}

/// The hidden states of a batch: one row of `hidden_size` values per real token, sequence after
/// sequence, in the order the sequences were given.
pub(crate) struct HiddenStates {
    /// `Σ len × hidden_size` values.
    pub(crate) values: Vec<f32>,
    /// The first row of each sequence, and the total row count at the end.
    pub(crate) offsets: Vec<usize>,
}

impl HiddenStates {
    /// The rows of sequence `i`, flattened.
    pub(crate) fn sequence(&self, i: usize, hidden_size: usize) -> &[f32] {
        &self.values[self.offsets[i] * hidden_size..self.offsets[i + 1] * hidden_size]
    }
}

/// A BERT encoder with its weights in memory, arranged for fast CPU inference.
pub(crate) struct BertEncoder {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    heads: usize,
    hidden: usize,
    intermediate: usize,
}

impl BertEncoder {
    /// Loads the weights, with or without a `bert.` (or `<model_type>.`) prefix on their names.
    pub(crate) fn load(vb: VarBuilder, config: &BertConfig) -> candle_core::Result<Self> {
        let vb = strip_prefix(vb, config);
        let embeddings = Embeddings::load(vb.pp("embeddings"), config)?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| Layer::load(vb.pp(format!("encoder.layer.{i}")), config))
            .collect::<candle_core::Result<_>>()?;
        Ok(BertEncoder {
            embeddings,
            layers,
            heads: config.num_attention_heads,
            hidden: config.hidden_size,
            intermediate: config.intermediate_size,
        })
    }

    /// Runs the encoder over a batch of token-id sequences (token type 0, positions from 0).
    ///
    /// # Errors
    ///
    /// A token id outside the vocabulary, or a sequence longer than the position embeddings.
    pub(crate) fn forward(&self, seqs: &[&[u32]]) -> Result<HiddenStates, String> {
        let mut offsets = vec![0];
        offsets.extend(seqs.iter().scan(0, |end, s| {
            *end += s.len();
            Some(*end)
        }));
        let rows = offsets[seqs.len()];
        let mut buffers = Buffers::new(rows, self.hidden, self.intermediate);
        self.embeddings.forward(seqs, &mut buffers.x)?;
        for layer in &self.layers {
            layer.forward(&mut buffers, &offsets, self.heads);
        }
        Ok(HiddenStates { values: buffers.x, offsets })
    }
}

/// Picks the weights' name prefix: none (sentence-transformers' usual layout), `bert.` (a model
/// saved with a task head), or the configuration's `model_type`.
fn strip_prefix<'a>(vb: VarBuilder<'a>, config: &BertConfig) -> VarBuilder<'a> {
    let probe = "embeddings.word_embeddings.weight";
    let model_type = config.model_type.as_deref().unwrap_or("bert");
    for prefix in ["bert", model_type] {
        if !vb.contains_tensor(probe) && vb.contains_tensor(&format!("{prefix}.{probe}")) {
            return vb.pp(prefix);
        }
    }
    vb
}

/// The activations of one forward pass, reused by every layer.
struct Buffers {
    /// The hidden states, `[rows, hidden]`: each layer's input and output.
    x: Vec<f32>,
    /// Queries, keys and values, `[rows, 3 × hidden]`.
    qkv: Vec<f32>,
    /// Attention output, then the feed-forward output, `[rows, hidden]`.
    y: Vec<f32>,
    /// Attention output projected, `[rows, hidden]`.
    z: Vec<f32>,
    /// The feed-forward inner activations, `[rows, intermediate]`.
    inner: Vec<f32>,
}

impl Buffers {
    fn new(rows: usize, hidden: usize, intermediate: usize) -> Self {
        Buffers {
            x: vec![0.0; rows * hidden],
            qkv: vec![0.0; rows * 3 * hidden],
            y: vec![0.0; rows * hidden],
            z: vec![0.0; rows * hidden],
            inner: vec![0.0; rows * intermediate],
        }
    }
}

/// Word, position and token-type embeddings, summed and normalized.
struct Embeddings {
    words: Vec<f32>,
    positions: Vec<f32>,
    /// The token-type-0 row: kindred always passes token type 0.
    token_type: Vec<f32>,
    norm: LayerNorm,
}

impl Embeddings {
    fn load(vb: VarBuilder, config: &BertConfig) -> candle_core::Result<Self> {
        let h = config.hidden_size;
        let types = vb.get((config.type_vocab_size, h), "token_type_embeddings.weight")?;
        let positions =
            vb.get((config.max_position_embeddings, h), "position_embeddings.weight")?;
        Ok(Embeddings {
            words: flat(&vb.get((config.vocab_size, h), "word_embeddings.weight")?)?,
            positions: flat(&positions)?,
            token_type: flat(&types.get(0)?)?,
            norm: load_norm(vb.pp("LayerNorm"), config)?,
        })
    }

    /// Writes each token's normalized embedding into `x`, sequence after sequence.
    fn forward(&self, seqs: &[&[u32]], x: &mut [f32]) -> Result<(), String> {
        let h = self.token_type.len();
        let (vocab, max_len) = (self.words.len() / h, self.positions.len() / h);
        if let Some(id) = seqs.iter().flat_map(|s| s.iter()).find(|&&id| id as usize >= vocab) {
            return Err(format!("token id {id} is outside the vocabulary ({vocab} ids)"));
        }
        if seqs.iter().any(|s| s.len() > max_len) {
            return Err(format!("a sequence is longer than the model's {max_len} positions"));
        }
        let tokens: Vec<(usize, usize)> =
            seqs.iter().flat_map(|s| s.iter().map(|&id| id as usize).zip(0..)).collect();
        x.par_chunks_mut(h).zip(tokens).for_each(|(row, (id, position))| {
            let word = &self.words[id * h..][..h];
            let pos = &self.positions[position * h..][..h];
            for (i, v) in row.iter_mut().enumerate() {
                *v = word[i] + pos[i] + self.token_type[i];
            }
            self.norm.row(row);
        });
        Ok(())
    }
}

/// One encoder block: self-attention, then the feed-forward network, each followed by a
/// residual sum and layer norm.
struct Layer {
    qkv: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    up: Linear,
    activation: Activation,
    down: Linear,
    output_norm: LayerNorm,
}

impl Layer {
    fn load(vb: VarBuilder, config: &BertConfig) -> candle_core::Result<Self> {
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let head_dim = h / config.num_attention_heads;
        Ok(Layer {
            qkv: load_qkv(vb.pp("attention.self"), h, head_dim)?,
            attention_out: load_linear(vb.pp("attention.output.dense"), h, h)?,
            attention_norm: load_norm(vb.pp("attention.output.LayerNorm"), config)?,
            up: load_linear(vb.pp("intermediate.dense"), h, i)?,
            activation: activation(&config.hidden_act),
            down: load_linear(vb.pp("output.dense"), i, h)?,
            output_norm: load_norm(vb.pp("output.LayerNorm"), config)?,
        })
    }

    fn forward(&self, b: &mut Buffers, offsets: &[usize], heads: usize) {
        self.qkv.forward(&b.x, &mut b.qkv, Activation::Identity);
        attention(&b.qkv, offsets, heads, &mut b.y);
        self.attention_out.forward(&b.y, &mut b.z, Activation::Identity);
        self.attention_norm.add_in_place(&mut b.x, &b.z);
        self.up.forward(&b.x, &mut b.inner, self.activation);
        self.down.forward(&b.inner, &mut b.y, Activation::Identity);
        self.output_norm.add_in_place(&mut b.x, &b.y);
    }
}

/// Maps a `hidden_act` that [`BertConfig::check`] accepted.
fn activation(name: &str) -> Activation {
    if name == "relu" {
        Activation::Relu
    } else {
        Activation::Gelu
    }
}

/// Loads a linear layer and stores its weight `[in, out]`, as the row-major GEMM reads it.
fn load_linear(vb: VarBuilder, d_in: usize, d_out: usize) -> candle_core::Result<Linear> {
    let weight = vb.get((d_out, d_in), "weight")?.t()?;
    let bias = vb.get(d_out, "bias")?;
    Ok(Linear::new(&flat(&weight)?, flat(&bias)?, d_in, d_out))
}

/// The query, key and value projections side by side, the query scaled by `1/√head_dim`.
fn load_qkv(vb: VarBuilder, hidden: usize, head_dim: usize) -> candle_core::Result<Linear> {
    let scale = 1.0 / (head_dim as f64).sqrt();
    let part = |name: &str| -> candle_core::Result<(Tensor, Tensor)> {
        let vb = vb.pp(name);
        Ok((vb.get((hidden, hidden), "weight")?.t()?, vb.get(hidden, "bias")?))
    };
    let ((wq, bq), (wk, bk), (wv, bv)) = (part("query")?, part("key")?, part("value")?);
    let weight = Tensor::cat(&[&(wq * scale)?, &wk, &wv], 1)?;
    let bias = Tensor::cat(&[&(bq * scale)?, &bk, &bv], 0)?;
    Ok(Linear::new(&flat(&weight)?, flat(&bias)?, hidden, 3 * hidden))
}

fn load_norm(vb: VarBuilder, config: &BertConfig) -> candle_core::Result<LayerNorm> {
    let h = config.hidden_size;
    Ok(LayerNorm {
        gamma: flat(&vb.get(h, "weight")?)?,
        beta: flat(&vb.get(h, "bias")?)?,
        eps: config.layer_norm_eps as f32,
    })
}

/// A tensor's values in row-major order.
fn flat(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.flatten_all()?.to_vec1()
}

/// The dtype every weight is loaded in: f32 is exact and, on CPU, the fastest.
pub(crate) const DTYPE: DType = DType::F32;

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use candle_core::Device;

    use super::*;

    const SIZES: [(&str, usize); 6] = [
        ("vocab_size", 11),
        ("hidden_size", 8),
        ("num_hidden_layers", 2),
        ("num_attention_heads", 2),
        ("intermediate_size", 12),
        ("max_position_embeddings", 9),
    ];

    fn tiny_config() -> BertConfig {
        let mut json: serde_json::Map<String, serde_json::Value> =
            SIZES.iter().map(|&(k, v)| (k.to_string(), v.into())).collect();
        json.insert("hidden_act".into(), "gelu".into());
        json.insert("type_vocab_size".into(), 2.into());
        json.insert("layer_norm_eps".into(), 1e-12.into());
        serde_json::from_value(json.into()).unwrap()
    }

    /// Every tensor a BERT checkpoint holds, with deterministic values, under `prefix`.
    fn tiny_weights(prefix: &str) -> HashMap<String, Tensor> {
        let (v, h, i, p) = (11, 8, 12, 9);
        let mut shapes: Vec<(String, Vec<usize>)> = vec![
            ("embeddings.word_embeddings.weight".into(), vec![v, h]),
            ("embeddings.position_embeddings.weight".into(), vec![p, h]),
            ("embeddings.token_type_embeddings.weight".into(), vec![2, h]),
            ("embeddings.LayerNorm.weight".into(), vec![h]),
            ("embeddings.LayerNorm.bias".into(), vec![h]),
        ];
        for l in 0..2 {
            let layer = |name: &str| format!("encoder.layer.{l}.{name}");
            for (name, shape) in [
                ("attention.self.query", vec![h, h]),
                ("attention.self.key", vec![h, h]),
                ("attention.self.value", vec![h, h]),
                ("attention.output.dense", vec![h, h]),
                ("intermediate.dense", vec![i, h]),
                ("output.dense", vec![h, i]),
            ] {
                shapes.push((layer(&format!("{name}.bias")), vec![shape[0]]));
                shapes.push((layer(&format!("{name}.weight")), shape));
            }
            for name in ["attention.output.LayerNorm", "output.LayerNorm"] {
                shapes.push((layer(&format!("{name}.weight")), vec![h]));
                shapes.push((layer(&format!("{name}.bias")), vec![h]));
            }
        }
        let tensors = shapes.into_iter().enumerate().map(|(seed, (name, shape))| {
            let n: usize = shape.iter().product();
            let values: Vec<f32> =
                (0..n).map(|j| ((j * 37 + seed * 11) % 19) as f32 / 19.0 - 0.4).collect();
            let tensor = Tensor::from_vec(values, shape, &Device::Cpu).unwrap();
            (format!("{prefix}{name}"), tensor)
        });
        tensors.collect()
    }

    fn encoder(prefix: &str) -> BertEncoder {
        let vb = VarBuilder::from_tensors(tiny_weights(prefix), DTYPE, &Device::Cpu);
        BertEncoder::load(vb, &tiny_config()).unwrap()
    }

    #[test]
    fn weights_load_with_or_without_a_bert_prefix() {
        let seqs: [&[u32]; 2] = [&[1, 5, 2], &[1, 7, 9, 3, 2]];
        let plain = encoder("").forward(&seqs).unwrap();
        let prefixed = encoder("bert.").forward(&seqs).unwrap();
        assert_eq!(plain.offsets, [0, 3, 8]);
        assert_eq!(plain.values, prefixed.values);
        assert!(plain.values.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn a_sequence_encodes_the_same_alone_or_in_a_batch() {
        let enc = encoder("");
        let (a, b): (&[u32], &[u32]) = (&[1, 4, 4, 2], &[1, 10, 0, 6, 8, 2]);
        let batch = enc.forward(&[a, b]).unwrap();
        let alone = enc.forward(&[b]).unwrap();
        for (x, y) in batch.sequence(1, 8).iter().zip(alone.sequence(0, 8)) {
            assert!((x - y).abs() <= 1e-6, "{x} vs {y}");
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let enc = encoder("");
        let err = enc.forward(&[&[1, 11, 2]]).err().unwrap();
        assert!(err.contains("token id 11"), "{err}");
        let err = enc.forward(&[&[1; 10]]).err().unwrap();
        assert!(err.contains("9 positions"), "{err}");
    }

    #[test]
    fn unsupported_configurations_are_refused_by_name() {
        let mut config = tiny_config();
        config.hidden_act = "gelu_new".into();
        assert!(config.check().unwrap_err().contains("gelu_new"));
        let mut config = tiny_config();
        config.position_embedding_type = Some("relative_key".into());
        assert!(config.check().unwrap_err().contains("relative_key"));
    }
}
