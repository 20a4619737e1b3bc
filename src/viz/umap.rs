//! UMAP, after McInnes, Healy and Melville, "UMAP: Uniform Manifold Approximation and Projection
//! for Dimension Reduction" (2018), with the choices of their reference implementation,
//! umap-learn.
//!
//! The fuzzy graph: each point's exact nearest neighbours (the point itself counted in
//! `neighbors`, as umap-learn counts it), a distance to the nearest one ρ and a scale σ found by
//! binary search so that Σ exp(−(d − ρ)/σ) = log₂(neighbors), then the fuzzy union
//! `w + wᵀ − w∘wᵀ`. Edges lighter than `max / epochs` are dropped. The curve `1 / (1 + a d^{2b})`
//! is fitted to `min_dist` by least squares. The layout starts from PCA, rescaled to [0, 10] per
//! axis with seeded noise of 10⁻⁴ (umap-learn starts from a spectral layout and rescales the
//! same way), then stochastic gradient descent samples each edge in proportion to its weight,
//! with 5 negative samples per positive one, gradients clipped to ±4 and a learning rate
//! decaying linearly from 1.
//!
//! Determinism: the descent is sequential, in a fixed edge order, with one seeded generator (no
//! Hogwild threads), so the same seed gives the same bits whatever the thread count. It is also
//! fast enough sequentially: a few seconds for 10,000 points.

use super::knn::Neighbors;
use super::rng::Rng;

const NEGATIVE_SAMPLE_RATE: f32 = 5.0;
const SPREAD: f64 = 1.0;

/// What [`run`] needs, already validated and clamped by the caller.
pub(crate) struct Params {
    pub(crate) dims: usize,
    pub(crate) seed: u64,
    /// Neighbourhood size, the point itself included; at most n.
    pub(crate) neighbors: usize,
    pub(crate) min_dist: f64,
    pub(crate) epochs: usize,
}

/// The UMAP layout of checked input, `n × dims` values row-major.
pub(crate) fn run(vectors: &[f32], dim: usize, params: &Params) -> Vec<f32> {
    let graph = Neighbors::exact_unchecked(vectors, dim, params.neighbors - 1);
    let edges = fuzzy_union(&graph, params.neighbors);
    let (a, b) = fit_ab(params.min_dist);
    let mut rng = Rng::new(params.seed);
    let mut layout = initial_layout(vectors, dim, params.dims, &mut rng);
    match params.dims {
        2 => descend::<2>(&mut layout, &edges, (a as f32, b as f32), params.epochs, &mut rng),
        _ => descend::<3>(&mut layout, &edges, (a as f32, b as f32), params.epochs, &mut rng),
    }
    layout
}

/// The symmetric fuzzy graph as directed edges (each undirected edge both ways, as umap-learn's
/// sparse matrix holds it), ordered by (head, tail).
struct Edges {
    head: Vec<u32>,
    tail: Vec<u32>,
    weight: Vec<f32>,
}

fn fuzzy_union(graph: &Neighbors, neighbors: usize) -> Edges {
    let n = graph.len();
    let target = (neighbors as f64).log2();
    let directed: Vec<Vec<(u32, f64)>> = (0..n)
        .map(|i| {
            let weights = membership(graph.distances_of(i), target);
            graph.of(i).iter().copied().zip(weights).collect()
        })
        .collect();
    let mut sorted = directed.clone();
    sorted.iter_mut().for_each(|row| row.sort_by_key(|e| e.0));
    let weight_of = |i: usize, j: u32| -> f64 {
        sorted[i].binary_search_by_key(&j, |e| e.0).map_or(0.0, |at| sorted[i][at].1)
    };
    let mut triples: Vec<(u32, u32, f64)> = Vec::with_capacity(2 * n * graph.k());
    for (i, row) in directed.iter().enumerate() {
        for &(j, w) in row {
            let back = weight_of(j as usize, i as u32);
            let union = w + back - w * back;
            triples.push((i as u32, j, union));
            if back == 0.0 {
                // j does not list i, so this pair would otherwise appear in one direction only.
                triples.push((j, i as u32, union));
            }
        }
    }
    triples.sort_unstable_by_key(|t| (t.0, t.1));
    triples.dedup_by(|x, y| (x.0, x.1) == (y.0, y.1));
    let mut edges = Edges { head: Vec::new(), tail: Vec::new(), weight: Vec::new() };
    for (i, j, w) in triples {
        edges.head.push(i);
        edges.tail.push(j);
        edges.weight.push(w as f32);
    }
    edges
}

/// One point's membership strengths exp(−(d − ρ)/σ) over its neighbours (distances ascending),
/// with σ set by binary search so that they sum to `target` (umap-learn's smooth k-NN distances).
fn membership(distances: &[f32], target: f64) -> Vec<f64> {
    let d: Vec<f64> = distances.iter().map(|&x| f64::from(x)).collect();
    let rho = d.iter().copied().find(|&x| x > 0.0).unwrap_or(0.0);
    let sum_at = |sigma: f64| d.iter().map(|&x| (-(x - rho).max(0.0) / sigma).exp()).sum::<f64>();
    let (mut low, mut high, mut sigma) = (0.0f64, f64::INFINITY, 1.0f64);
    for _ in 0..64 {
        let sum = sum_at(sigma);
        if (sum - target).abs() < 1e-5 {
            break;
        }
        if sum > target {
            high = sigma;
            sigma = (low + high) / 2.0;
        } else {
            low = sigma;
            sigma = if high.is_finite() { (low + high) / 2.0 } else { sigma * 2.0 };
        }
    }
    // umap-learn's floor: σ at least 10⁻³ of the mean neighbour distance, so that a point whose
    // neighbours are all at ρ does not get an infinitely sharp kernel.
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    let sigma = sigma.max(1e-3 * mean).max(f64::MIN_POSITIVE);
    d.iter().map(|&x| (-(x - rho).max(0.0) / sigma).exp()).collect()
}

/// The `a`, `b` of `1 / (1 + a x^{2b})` closest (least squares, Levenberg–Marquardt) to the
/// target curve: 1 up to `min_dist`, then exp(−(x − min_dist) / spread), on 300 points of
/// [0, 3 · spread] — umap-learn's `find_ab_params`.
pub(crate) fn fit_ab(min_dist: f64) -> (f64, f64) {
    let xs: Vec<f64> = (0..300).map(|i| 3.0 * SPREAD * i as f64 / 299.0).collect();
    let target = |x: f64| if x < min_dist { 1.0 } else { (-(x - min_dist) / SPREAD).exp() };
    let residuals = |a: f64, b: f64| -> f64 {
        xs.iter().map(|&x| (1.0 / (1.0 + a * x.powf(2.0 * b)) - target(x)).powi(2)).sum()
    };
    let (mut a, mut b, mut lambda) = (1.0f64, 1.0f64, 1e-3f64);
    for _ in 0..500 {
        let (mut jtj, mut jtr) = ([0f64; 3], [0f64; 2]);
        for &x in xs.iter().filter(|&&x| x > 0.0) {
            let u = x.powf(2.0 * b);
            let f = 1.0 / (1.0 + a * u);
            let (da, db) = (-u * f * f, -a * u * 2.0 * x.ln() * f * f);
            let r = f - target(x);
            jtj[0] += da * da;
            jtj[1] += da * db;
            jtj[2] += db * db;
            jtr[0] += da * r;
            jtr[1] += db * r;
        }
        let (m00, m11) = (jtj[0] * (1.0 + lambda), jtj[2] * (1.0 + lambda));
        let det = m00 * m11 - jtj[1] * jtj[1];
        let step_a = (m11 * jtr[0] - jtj[1] * jtr[1]) / det;
        let step_b = (m00 * jtr[1] - jtj[1] * jtr[0]) / det;
        let (na, nb) = (a - step_a, b - step_b);
        if na > 0.0 && nb > 0.0 && residuals(na, nb) < residuals(a, b) {
            let small = step_a.abs() < 1e-12 * a && step_b.abs() < 1e-12 * b;
            (a, b, lambda) = (na, nb, lambda / 10.0);
            if small {
                break;
            }
        } else {
            lambda *= 10.0;
            if lambda > 1e12 {
                break;
            }
        }
    }
    (a, b)
}

/// PCA, each axis rescaled to [0, 10], plus seeded noise of 10⁻⁴ (which also separates
/// coincident points).
fn initial_layout(vectors: &[f32], dim: usize, dims: usize, rng: &mut Rng) -> Vec<f32> {
    let mut layout = super::pca::project(vectors, dim, dims);
    for c in 0..dims {
        let column = layout.iter().skip(c).step_by(dims);
        let (low, high) =
            column.fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &x| (l.min(x), h.max(x)));
        let scale = if high > low { 10.0 / (high - low) } else { 0.0 };
        for x in layout.iter_mut().skip(c).step_by(dims) {
            *x = (*x - low) * scale;
        }
    }
    layout.iter_mut().for_each(|x| *x += 1e-4 * rng.gaussian() as f32);
    layout
}

/// umap-learn's `optimize_layout_euclidean`, sequential: attraction along sampled edges (both
/// ends move), repulsion from uniformly drawn points (only the head moves).
fn descend<const D: usize>(
    layout: &mut [f32],
    edges: &Edges,
    (a, b): (f32, f32),
    epochs: usize,
    rng: &mut Rng,
) {
    let n = layout.len() / D;
    let max = edges.weight.iter().copied().fold(0.0f32, f32::max);
    // Edges too light to be sampled once in the whole run are dropped, as umap-learn does.
    let kept: Vec<usize> =
        (0..edges.weight.len()).filter(|&e| edges.weight[e] >= max / epochs as f32).collect();
    let per_sample: Vec<f32> = kept.iter().map(|&e| max / edges.weight[e]).collect();
    let per_negative: Vec<f32> = per_sample.iter().map(|p| p / NEGATIVE_SAMPLE_RATE).collect();
    let mut next_sample = per_sample.clone();
    let mut next_negative = per_negative.clone();
    let clip = |g: f32| g.clamp(-4.0, 4.0);
    for epoch in 0..epochs {
        let alpha = 1.0 - epoch as f32 / epochs as f32;
        let now = epoch as f32;
        for (s, &e) in kept.iter().enumerate() {
            if next_sample[s] > now {
                continue;
            }
            let (i, j) = (edges.head[e] as usize, edges.tail[e] as usize);
            let diff: [f32; D] = std::array::from_fn(|c| layout[i * D + c] - layout[j * D + c]);
            let d2: f32 = diff.iter().map(|d| d * d).sum();
            let coeff = if d2 > 0.0 {
                // d^{2(b−1)} as d^{2b} / d²: one powf instead of two.
                let pow_b = d2.powf(b);
                -2.0 * a * b * (pow_b / d2) / (a * pow_b + 1.0)
            } else {
                0.0
            };
            for c in 0..D {
                let g = clip(coeff * diff[c]) * alpha;
                layout[i * D + c] += g;
                layout[j * D + c] -= g;
            }
            next_sample[s] += per_sample[s];
            let negatives = ((now - next_negative[s]) / per_negative[s]) as usize;
            for _ in 0..negatives {
                let k = rng.below(n);
                if k == i {
                    continue;
                }
                let diff: [f32; D] = std::array::from_fn(|c| layout[i * D + c] - layout[k * D + c]);
                let d2: f32 = diff.iter().map(|d| d * d).sum();
                if d2 <= 0.0 {
                    continue;
                }
                let coeff = 2.0 * b / ((0.001 + d2) * (a * d2.powf(b) + 1.0));
                for c in 0..D {
                    layout[i * D + c] += clip(coeff * diff[c]) * alpha;
                }
            }
            next_negative[s] += negatives as f32 * per_negative[s];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_fit_matches_umap_learn() {
        // umap-learn 0.5: find_ab_params(1.0, 0.1) = (1.5769, 0.8951).
        let (a, b) = fit_ab(0.1);
        assert!((a - 1.577).abs() < 0.01 && (b - 0.895).abs() < 0.005, "a = {a}, b = {b}");
    }

    #[test]
    fn memberships_sum_to_log2_k() {
        let distances = [0.5f32, 0.6, 0.7, 0.9, 1.3, 1.4];
        let w = membership(&distances, 7f64.log2());
        assert!((w.iter().sum::<f64>() - 7f64.log2()).abs() < 1e-4);
        assert_eq!(w[0], 1.0);
    }

    #[test]
    fn the_fuzzy_graph_is_symmetric() {
        let mut rng = Rng::new(1);
        let data: Vec<f32> = (0..60 * 4).map(|_| rng.gaussian() as f32).collect();
        let edges = fuzzy_union(&Neighbors::exact_unchecked(&data, 4, 9), 10);
        let pairs: std::collections::HashMap<(u32, u32), f32> = (0..edges.head.len())
            .map(|e| ((edges.head[e], edges.tail[e]), edges.weight[e]))
            .collect();
        for (&(i, j), &w) in &pairs {
            assert_eq!(pairs.get(&(j, i)), Some(&w));
            assert!(w > 0.0 && w <= 1.0);
        }
    }
}
