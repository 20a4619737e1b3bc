//! Clustering on the full vectors, to colour a plot by groups found before projection: seeded
//! k-means++ and a choice of k by silhouette.

use rayon::prelude::*;

use super::measure::silhouette_with;
use super::rng::Rng;
use crate::{Error, Result};

/// Lloyd iterations stop here if assignments still change (they rarely get close).
const MAX_ITERATIONS: usize = 100;
/// Points [`choose_k`] scores each k on.
const CHOICE_SAMPLE: usize = 2000;
/// The range of k [`choose_k`] tries.
const CHOICE_RANGE: std::ops::RangeInclusive<usize> = 2..=12;

/// The outcome of [`kmeans`].
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    /// Each point's cluster, in `0..k`.
    pub labels: Vec<usize>,
    /// The `k` cluster means, row-major (`k × dim`).
    pub centroids: Vec<f32>,
    /// The number of clusters.
    pub k: usize,
}

/// k-means (Lloyd's iterations from a k-means++ start, Arthur and Vassilvitskii 2007) on
/// `vectors` (row-major, `dim` columns) by Euclidean distance, seeded: the same seed gives the
/// same clusters. Cluster numbers are ordered by each cluster's first point, so label 0 is the
/// cluster of point 0.
///
/// # Errors
///
/// [`Error::InvalidArgument`] when the input is not whole rows of finite values, or `k` is 0
/// or more than the number of points.
pub fn kmeans(vectors: &[f32], dim: usize, k: usize, seed: u64) -> Result<Clustering> {
    let n = super::check_rows(vectors, dim, 1)?;
    if k == 0 || k > n {
        return Err(Error::invalid(format!(
            "k = {k} clusters: need 1 <= k <= {n}, the number of points"
        )));
    }
    let mut rng = Rng::new(seed);
    let mut centroids = plus_plus(vectors, dim, k, &mut rng);
    let mut labels = assign(vectors, dim, &centroids);
    for _ in 0..MAX_ITERATIONS {
        centroids = means(vectors, dim, &labels, &centroids);
        let next = assign(vectors, dim, &centroids);
        if next == labels {
            break;
        }
        labels = next;
    }
    Ok(renumber(labels, centroids, dim, k))
}

/// The number of clusters that scores the best silhouette (ties to the smaller k), trying k in
/// 2..=12 with [`kmeans`] on a seeded sample of at most 2,000 points, silhouette computed on the
/// full vectors of the sample. With fewer than 3 points, the number of points.
///
/// # Errors
///
/// [`Error::InvalidArgument`] when the input is not whole rows of finite values.
pub fn choose_k(vectors: &[f32], dim: usize, seed: u64) -> Result<usize> {
    let n = super::check_rows(vectors, dim, 1)?;
    if n < 3 {
        return Ok(n);
    }
    let sample = sample_rows(vectors, dim, CHOICE_SAMPLE, seed);
    let m = sample.len() / dim;
    let distances = pairwise(&sample, dim);
    let mut best = (f64::NEG_INFINITY, 2);
    for k in CHOICE_RANGE.filter(|&k| k < m) {
        let clustering = kmeans(&sample, dim, k, seed)?;
        let score = silhouette_with(&clustering.labels, |i, j| f64::from(distances[i * m + j]))
            .unwrap_or(f64::NEG_INFINITY);
        if score > best.0 {
            best = (score, k);
        }
    }
    Ok(best.1)
}

/// [`kmeans`] with k from [`choose_k`]: for `--color-by cluster` when the user gives no k.
///
/// # Errors
///
/// As [`kmeans`].
pub fn kmeans_auto(vectors: &[f32], dim: usize, seed: u64) -> Result<Clustering> {
    let k = choose_k(vectors, dim, seed)?;
    kmeans(vectors, dim, k, seed)
}

/// k-means++ seeding: the first centre uniformly, each next one with probability proportional to
/// the squared distance to the nearest centre chosen so far.
fn plus_plus(vectors: &[f32], dim: usize, k: usize, rng: &mut Rng) -> Vec<f32> {
    let n = vectors.len() / dim;
    let first = rng.below(n);
    let mut centroids = vectors[first * dim..(first + 1) * dim].to_vec();
    let mut nearest: Vec<f64> =
        vectors.par_chunks_exact(dim).map(|v| squared(v, &centroids)).collect();
    while centroids.len() < k * dim {
        let total: f64 = nearest.iter().sum();
        let chosen = if total > 0.0 {
            let mut target = rng.uniform() * total;
            let mut chosen = n - 1;
            for (i, &d) in nearest.iter().enumerate() {
                if target < d {
                    chosen = i;
                    break;
                }
                target -= d;
            }
            chosen
        } else {
            // Every point sits on a centre already (duplicates): any point will do.
            rng.below(n)
        };
        let centre = vectors[chosen * dim..(chosen + 1) * dim].to_vec();
        nearest
            .par_iter_mut()
            .zip(vectors.par_chunks_exact(dim))
            .for_each(|(d, v)| *d = d.min(squared(v, &centre)));
        centroids.extend(centre);
    }
    centroids
}

/// Each point's nearest centroid (the lower index on a tie).
fn assign(vectors: &[f32], dim: usize, centroids: &[f32]) -> Vec<usize> {
    vectors
        .par_chunks_exact(dim)
        .map(|v| {
            let mut best = (f64::INFINITY, 0);
            for (c, centre) in centroids.chunks_exact(dim).enumerate() {
                let d = squared(v, centre);
                if d < best.0 {
                    best = (d, c);
                }
            }
            best.1
        })
        .collect()
}

/// The mean of each cluster, in f64 and point order; an emptied cluster keeps its centroid.
fn means(vectors: &[f32], dim: usize, labels: &[usize], previous: &[f32]) -> Vec<f32> {
    let k = previous.len() / dim;
    let mut sums = vec![0f64; k * dim];
    let mut counts = vec![0usize; k];
    for (v, &l) in vectors.chunks_exact(dim).zip(labels) {
        counts[l] += 1;
        sums[l * dim..(l + 1) * dim].iter_mut().zip(v).for_each(|(s, &x)| *s += f64::from(x));
    }
    (0..k * dim)
        .map(|at| {
            let c = at / dim;
            if counts[c] == 0 {
                previous[at]
            } else {
                (sums[at] / counts[c] as f64) as f32
            }
        })
        .collect()
}

/// Numbers clusters by first appearance and drops empty ones.
fn renumber(labels: Vec<usize>, centroids: Vec<f32>, dim: usize, k: usize) -> Clustering {
    let mut new_of = vec![usize::MAX; k];
    let mut order = Vec::new();
    for &l in &labels {
        if new_of[l] == usize::MAX {
            new_of[l] = order.len();
            order.push(l);
        }
    }
    let centroids =
        order.iter().flat_map(|&c| centroids[c * dim..(c + 1) * dim].to_vec()).collect();
    let labels = labels.iter().map(|&l| new_of[l]).collect();
    Clustering { labels, centroids, k: order.len() }
}

fn squared(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum()
}

/// At most `limit` rows, drawn without replacement (a seeded partial Fisher–Yates shuffle), in
/// their original order.
fn sample_rows(vectors: &[f32], dim: usize, limit: usize, seed: u64) -> Vec<f32> {
    let n = vectors.len() / dim;
    if n <= limit {
        return vectors.to_vec();
    }
    let mut rng = Rng::new(seed ^ 0x5A17_C0DE);
    let mut index: Vec<usize> = (0..n).collect();
    for i in 0..limit {
        let j = i + rng.below(n - i);
        index.swap(i, j);
    }
    let mut chosen = index[..limit].to_vec();
    chosen.sort_unstable();
    chosen.iter().flat_map(|&i| vectors[i * dim..(i + 1) * dim].to_vec()).collect()
}

/// All Euclidean distances, `m × m`.
fn pairwise(vectors: &[f32], dim: usize) -> Vec<f32> {
    let m = vectors.len() / dim;
    let mut out = vec![0f32; m * m];
    out.par_chunks_mut(m).enumerate().for_each(|(i, row)| {
        let a = &vectors[i * dim..(i + 1) * dim];
        for (j, d) in row.iter_mut().enumerate() {
            *d = squared(a, &vectors[j * dim..(j + 1) * dim]).sqrt() as f32;
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three tight blobs of 30 points in 5-D.
    fn blobs() -> Vec<f32> {
        let mut rng = Rng::new(12);
        (0..90)
            .flat_map(|i| {
                let centre = (i / 30) as f64 * 10.0;
                (0..5).map(|_| (centre + 0.3 * rng.gaussian()) as f32).collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn finds_well_separated_blobs() {
        let data = blobs();
        let c = kmeans(&data, 5, 3, 1).unwrap();
        assert_eq!(c.k, 3);
        for (i, &l) in c.labels.iter().enumerate() {
            assert_eq!(l, i / 30, "point {i}");
        }
        assert_eq!(c.centroids.len(), 15);
        assert!((c.centroids[5] - 10.0).abs() < 0.3);
    }

    #[test]
    fn choosing_k_finds_three_blobs_and_is_seeded() {
        let data = blobs();
        assert_eq!(choose_k(&data, 5, 3).unwrap(), 3);
        let a = kmeans_auto(&data, 5, 4).unwrap();
        assert_eq!(a, kmeans_auto(&data, 5, 4).unwrap());
        assert_eq!(a.k, 3);
    }

    #[test]
    fn k_out_of_range_is_refused() {
        let err = kmeans(&[0.0, 1.0], 1, 3, 0).unwrap_err();
        assert!(err.to_string().contains("k = 3"), "{err}");
        assert!(kmeans(&[0.0, 1.0], 1, 0, 0).is_err());
    }
}
