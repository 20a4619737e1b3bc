//! Exact k nearest neighbours by Euclidean distance, brute force: the graph t-SNE and UMAP are
//! built on, and the reference the faithfulness measures compare against.
//!
//! For 10–20k points of 384 dimensions brute force is a few tens of GFLOP, seconds on two cores,
//! and it is exact, so a measure never mixes the projection's error with an index's. Rows are
//! processed in fixed blocks, each row's result depends only on the data, so the output is the
//! same for any number of threads.

use rayon::prelude::*;

use crate::{Error, Result};

/// Rows computed together: each column vector is read once per block and reused for every row
/// of it, which keeps the work in cache rather than memory bound.
const BLOCK: usize = 32;

/// Each point's `k` nearest other points, nearest first (ties broken by the lower index).
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbors {
    k: usize,
    indices: Vec<u32>,
    distances: Vec<f32>,
}

impl Neighbors {
    /// The exact `k` nearest neighbours of each row of `vectors` (row-major, `dim` columns), by
    /// Euclidean distance; a point is never its own neighbour.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when the input is not whole rows of finite values, or when
    /// `k` is 0 or not below the number of points.
    pub fn exact(vectors: &[f32], dim: usize, k: usize) -> Result<Neighbors> {
        let n = super::check_rows(vectors, dim, 2)?;
        if k == 0 || k >= n {
            return Err(Error::invalid(format!(
                "k = {k} neighbours: need 1 <= k < {n}, the number of points"
            )));
        }
        Ok(Self::exact_unchecked(vectors, dim, k))
    }

    /// [`Neighbors::exact`] on input already checked.
    pub(crate) fn exact_unchecked(vectors: &[f32], dim: usize, k: usize) -> Neighbors {
        let n = vectors.len() / dim;
        let norms: Vec<f32> = vectors.chunks_exact(dim).map(|v| crate::index::dot(v, v)).collect();
        let mut indices = vec![0u32; n * k];
        let mut distances = vec![0f32; n * k];
        indices
            .par_chunks_mut(BLOCK * k)
            .zip(distances.par_chunks_mut(BLOCK * k))
            .enumerate()
            .for_each(|(block, (idx, dist))| {
                let first = block * BLOCK;
                let rows = idx.len() / k;
                let squared = block_distances(vectors, dim, &norms, first, rows);
                for (r, row) in squared.chunks_exact(n).enumerate() {
                    let nearest = nearest_k(row, first + r, k);
                    for (slot, (d, j)) in nearest.into_iter().enumerate() {
                        idx[r * k + slot] = j;
                        dist[r * k + slot] = d.sqrt();
                    }
                }
            });
        Neighbors { k, indices, distances }
    }

    /// The number of points.
    pub fn len(&self) -> usize {
        self.indices.len() / self.k
    }

    /// Whether there are no points (never true of a computed graph).
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Neighbours per point.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Point `i`'s neighbours, nearest first.
    ///
    /// # Panics
    ///
    /// Panics if `i` is out of range.
    pub fn of(&self, i: usize) -> &[u32] {
        &self.indices[i * self.k..(i + 1) * self.k]
    }

    /// The distances to point `i`'s neighbours, in the order of [`Neighbors::of`].
    ///
    /// # Panics
    ///
    /// Panics if `i` is out of range.
    pub fn distances_of(&self, i: usize) -> &[f32] {
        &self.distances[i * self.k..(i + 1) * self.k]
    }

    /// For each point, the share of its first `k` neighbours here that are also among its
    /// first `k` neighbours in `other` (1 = all kept, 0 = none).
    ///
    /// # Panics
    ///
    /// Panics if the two graphs cover different numbers of points or either has fewer than `k`
    /// neighbours per point.
    pub fn overlap(&self, other: &Neighbors, k: usize) -> Vec<f32> {
        assert_eq!(self.len(), other.len(), "neighbour graphs of different sizes");
        assert!(k > 0 && k <= self.k && k <= other.k, "k = {k} exceeds a graph's neighbours");
        (0..self.len())
            .map(|i| {
                let theirs = &other.of(i)[..k];
                let kept = self.of(i)[..k].iter().filter(|j| theirs.contains(j)).count();
                kept as f32 / k as f32
            })
            .collect()
    }
}

/// Columns processed together against a block of rows: 64 rows of 384 floats (96 KiB) stay in
/// L2 while every row tile of the block passes over them.
const COLUMNS: usize = 64;

/// Squared distances from rows `first..first + rows` to every point, row after row.
fn block_distances(
    vectors: &[f32],
    dim: usize,
    norms: &[f32],
    first: usize,
    rows: usize,
) -> Vec<f32> {
    let n = norms.len();
    let mut out = vec![0f32; rows * n];
    let block = &vectors[first * dim..(first + rows) * dim];
    if dim <= 8 {
        // In a few dimensions the difference is as cheap as the dot product and has no
        // cancellation.
        for (j, b) in vectors.chunks_exact(dim).enumerate() {
            for (r, a) in block.chunks_exact(dim).enumerate() {
                out[r * n + j] = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
            }
        }
        return out;
    }
    // In many dimensions, |a|² + |b|² − 2a·b runs on dot-product kernels.
    for start in (0..n).step_by(COLUMNS) {
        let end = (start + COLUMNS).min(n);
        dot_tile(block, &vectors[start * dim..end * dim], dim, |r, j, d| {
            let j = start + j;
            out[r * n + j] = (norms[first + r] + norms[j] - 2.0 * d).max(0.0);
        });
    }
    out
}

/// Calls `emit(r, j, a_r · b_j)` for every row of `a` and of `b`, four rows and two columns at a
/// time where the CPU has AVX2 and FMA (every value of `b` loaded once feeds four products).
fn dot_tile(a: &[f32], b: &[f32], dim: usize, mut emit: impl FnMut(usize, usize, f32)) {
    let (rows, columns) = (a.len() / dim, b.len() / dim);
    let mut r = 0;
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        while r + 4 <= rows {
            let tile = &a[r * dim..(r + 4) * dim];
            let mut j = 0;
            while j + 2 <= columns {
                // SAFETY: AVX2 and FMA were detected just above; the slices hold four rows and
                // two rows of `dim` values.
                let d = unsafe { avx2::dots_4x2(tile, &b[j * dim..(j + 2) * dim], dim) };
                for (i, &value) in d.iter().enumerate() {
                    emit(r + i / 2, j + i % 2, value);
                }
                j += 2;
            }
            for j in j..columns {
                for i in 0..4 {
                    emit(
                        r + i,
                        j,
                        crate::index::dot(
                            &tile[i * dim..(i + 1) * dim],
                            &b[j * dim..(j + 1) * dim],
                        ),
                    );
                }
            }
            r += 4;
        }
    }
    for r in r..rows {
        for j in 0..columns {
            emit(r, j, crate::index::dot(&a[r * dim..(r + 1) * dim], &b[j * dim..(j + 1) * dim]));
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// The eight products of four rows of `a` with two rows of `b` (each `dim` long), in the
    /// order (a0·b0, a0·b1, a1·b0, …).
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2 and FMA; `a` must hold `4 * dim` values and `b` `2 * dim`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dots_4x2(a: &[f32], b: &[f32], dim: usize) -> [f32; 8] {
        assert!(a.len() >= 4 * dim && b.len() >= 2 * dim);
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 8];
        let mut i = 0;
        // SAFETY (all loads): every offset read is below `dim` within a row the assertion above
        // proved present; unaligned loads have no alignment requirement.
        while i + 8 <= dim {
            let b0 = _mm256_loadu_ps(pb.add(i));
            let b1 = _mm256_loadu_ps(pb.add(dim + i));
            for row in 0..4 {
                let x = _mm256_loadu_ps(pa.add(row * dim + i));
                acc[2 * row] = _mm256_fmadd_ps(x, b0, acc[2 * row]);
                acc[2 * row + 1] = _mm256_fmadd_ps(x, b1, acc[2 * row + 1]);
            }
            i += 8;
        }
        let mut out = [0f32; 8];
        for (o, acc) in out.iter_mut().zip(acc) {
            let half = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
            let quarter = _mm_add_ps(half, _mm_movehl_ps(half, half));
            *o = _mm_cvtss_f32(_mm_add_ss(quarter, _mm_shuffle_ps(quarter, quarter, 1)));
        }
        for i in i..dim {
            for row in 0..4 {
                for col in 0..2 {
                    out[2 * row + col] += *pa.add(row * dim + i) * *pb.add(col * dim + i);
                }
            }
        }
        out
    }
}

/// The `k` smallest entries of `row` other than `skip`, as (squared distance, index), ordered.
fn nearest_k(row: &[f32], skip: usize, k: usize) -> Vec<(f32, u32)> {
    let order = |a: &(f32, u32), b: &(f32, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    let mut all: Vec<(f32, u32)> =
        row.iter().enumerate().filter(|&(j, _)| j != skip).map(|(j, &d)| (d, j as u32)).collect();
    if k < all.len() {
        all.select_nth_unstable_by(k, order);
        all.truncate(k);
    }
    all.sort_unstable_by(order);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(points: &[f32], dim: usize, k: usize) -> Vec<Vec<u32>> {
        let n = points.len() / dim;
        (0..n)
            .map(|i| {
                let mut d: Vec<(f64, u32)> = (0..n)
                    .filter(|&j| j != i)
                    .map(|j| {
                        let s: f64 = (0..dim)
                            .map(|c| f64::from(points[i * dim + c] - points[j * dim + c]).powi(2))
                            .sum();
                        (s, j as u32)
                    })
                    .collect();
                d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                d[..k].iter().map(|x| x.1).collect()
            })
            .collect()
    }

    #[test]
    fn matches_a_full_sort_in_low_and_high_dimension() {
        let mut rng = super::super::rng::Rng::new(3);
        // 2: the direct path; 40 and 43: the tiled kernel, with and without a tail of lanes.
        for dim in [2, 40, 43] {
            let points: Vec<f32> = (0..70 * dim).map(|_| rng.gaussian() as f32).collect();
            let graph = Neighbors::exact(&points, dim, 5).unwrap();
            let truth = brute(&points, dim, 5);
            for (i, t) in truth.iter().enumerate() {
                assert_eq!(graph.of(i), t.as_slice(), "dim {dim}, point {i}");
            }
        }
    }

    #[test]
    fn a_graph_overlaps_itself_fully() {
        let points = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 5.0, 5.0];
        let graph = Neighbors::exact(&points, 2, 2).unwrap();
        assert!(graph.overlap(&graph, 2).iter().all(|&s| s == 1.0));
        assert_eq!(graph.of(3), &[1, 2]);
    }

    #[test]
    fn k_must_be_below_the_point_count() {
        let err = Neighbors::exact(&[0.0, 1.0, 2.0], 1, 3).unwrap_err();
        assert!(err.to_string().contains("k = 3"), "{err}");
    }
}
