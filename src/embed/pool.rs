//! Pooling token vectors into one, L2 normalization and Matryoshka truncation.
//!
//! These run on plain `f32` slices so they can be tested against hand-computed values and shared
//! by every embedder, whatever runs its transformer.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How the token vectors of one text become a single vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// The mean over every real token, `[CLS]` and `[SEP]` included; padding excluded.
    Mean,
    /// The first token's vector (`[CLS]`).
    Cls,
    /// The element-wise maximum over every real token.
    Max,
    /// The sum over real tokens divided by the square root of their count.
    MeanSqrtLen,
}

impl Pooling {
    /// Every pooling mode, in the order the command line lists them.
    pub const ALL: [Pooling; 4] = [Pooling::Mean, Pooling::Cls, Pooling::Max, Pooling::MeanSqrtLen];

    /// The name used on the command line and in sentence-transformers' configuration.
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
            Pooling::Max => "max",
            Pooling::MeanSqrtLen => "mean_sqrt_len",
        }
    }

    /// Pools `tokens` (row-major, `len × dim`, only real tokens) into `out` (`dim` values).
    ///
    /// # Panics
    ///
    /// Panics if `tokens.len()` is not a non-zero multiple of `out.len()`.
    pub fn pool(self, tokens: &[f32], out: &mut [f32]) {
        let dim = out.len();
        assert!(
            dim > 0 && !tokens.is_empty() && tokens.len().is_multiple_of(dim),
            "bad token matrix"
        );
        let len = tokens.len() / dim;
        match self {
            Pooling::Cls => out.copy_from_slice(&tokens[..dim]),
            Pooling::Max => {
                out.copy_from_slice(&tokens[..dim]);
                for row in tokens.chunks_exact(dim).skip(1) {
                    for (o, &x) in out.iter_mut().zip(row) {
                        *o = o.max(x);
                    }
                }
            }
            Pooling::Mean | Pooling::MeanSqrtLen => {
                out.fill(0.0);
                for row in tokens.chunks_exact(dim) {
                    for (o, &x) in out.iter_mut().zip(row) {
                        *o += x;
                    }
                }
                let divisor = if self == Pooling::Mean { len as f32 } else { (len as f32).sqrt() };
                out.iter_mut().for_each(|o| *o /= divisor);
            }
        }
    }
}

impl fmt::Display for Pooling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Pooling {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        Pooling::ALL.into_iter().find(|p| p.name() == wanted).ok_or_else(|| {
            let names: Vec<_> = Pooling::ALL.iter().map(|p| p.name()).collect();
            format!("unknown pooling {s:?}: expected one of {}", names.join(", "))
        })
    }
}

/// Scales `v` to unit length in place. A zero vector is left as it is, as sentence-transformers
/// does (it divides by `max(norm, 1e-12)`).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let divisor = norm.max(1e-12);
    v.iter_mut().for_each(|x| *x /= divisor);
}

/// Keeps the first `dim` values of `v` (Matryoshka truncation), then renormalizes when `normalize`
/// is set. A `dim` at or above `v.len()` keeps every value.
pub fn truncate_and_normalize(v: &mut Vec<f32>, dim: Option<usize>, normalize: bool) {
    if let Some(dim) = dim {
        v.truncate(dim);
    }
    if normalize {
        l2_normalize(v);
    }
}

/// The cosine of the angle between `a` and `b`; 0 when either is all zeros.
///
/// # Panics
///
/// Panics if the vectors differ in length.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "cosine of vectors of different lengths");
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        dot += f64::from(x) * f64::from(y);
        na += f64::from(x) * f64::from(x);
        nb += f64::from(y) * f64::from(y);
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    (dot / (na.sqrt() * nb.sqrt())) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKENS: [f32; 6] = [1.0, -2.0, 3.0, 4.0, 5.0, 0.0]; // 3 tokens × 2 dims

    fn pooled(p: Pooling) -> Vec<f32> {
        let mut out = vec![0.0; 2];
        p.pool(&TOKENS, &mut out);
        out
    }

    #[test]
    fn pooling_modes_match_hand_computed_values() {
        assert_eq!(pooled(Pooling::Mean), vec![3.0, 2.0 / 3.0]);
        assert_eq!(pooled(Pooling::Cls), vec![1.0, -2.0]);
        assert_eq!(pooled(Pooling::Max), vec![5.0, 4.0]);
        let s = 3f32.sqrt();
        assert_eq!(pooled(Pooling::MeanSqrtLen), vec![9.0 / s, 2.0 / s]);
    }

    #[test]
    fn pooling_names_round_trip_and_unknown_names_are_refused() {
        for p in Pooling::ALL {
            assert_eq!(p.name().parse::<Pooling>(), Ok(p));
        }
        assert_eq!("MEAN-SQRT-LEN".parse::<Pooling>(), Ok(Pooling::MeanSqrtLen));
        let err = "median".parse::<Pooling>().unwrap_err();
        assert!(err.contains("\"median\"") && err.contains("mean_sqrt_len"), "{err}");
    }

    #[test]
    fn normalization_gives_unit_length_and_leaves_zero_alone() {
        let mut v = vec![3.0, 4.0];
        l2_normalize(&mut v);
        assert_eq!(v, vec![0.6, 0.8]);
        let mut z = vec![0.0; 3];
        l2_normalize(&mut z);
        assert_eq!(z, vec![0.0; 3]);
    }

    #[test]
    fn matryoshka_truncation_keeps_a_prefix_and_renormalizes() {
        let mut v = vec![3.0, 4.0, 12.0];
        truncate_and_normalize(&mut v, Some(2), true);
        assert_eq!(v, vec![0.6, 0.8]);
        let mut w = vec![3.0, 4.0, 12.0];
        truncate_and_normalize(&mut w, Some(2), false);
        assert_eq!(w, vec![3.0, 4.0]);
    }

    #[test]
    fn cosine_is_the_dot_product_of_normalized_vectors() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 1.0]) - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-7);
        assert_eq!(cosine(&[1.0, 2.0], &[-1.0, -2.0]), -1.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 2.0]), 0.0);
    }
}
