//! Principal component analysis: the covariance matrix of the centred vectors, its leading
//! eigenvectors by subspace iteration with a Rayleigh–Ritz step, and the projection onto them.
//!
//! A 384 × 384 covariance is small, so it is formed exactly (f64, summed over fixed row chunks
//! in a fixed order, hence the same bits for any thread count). Subspace iteration on a few more
//! vectors than wanted converges on the leading ones quickly, and a Jacobi eigen-solver finishes
//! the small projected problem. Each component's sign is fixed so that its largest loading is
//! positive: the same data always gives the same picture, not a mirror image of it.

use rayon::prelude::*;

use super::rng::Rng;

/// Row chunks of the covariance sum. A constant, not the thread count, so that the order in
/// which partial sums are added never changes.
const CHUNKS: usize = 16;

/// Extra vectors iterated beyond those wanted; they speed convergence when eigenvalues are close.
const OVERSAMPLE: usize = 6;

/// The leading principal axes of a set of vectors.
pub(crate) struct Axes {
    pub(crate) mean: Vec<f64>,
    /// `count` unit vectors of `dim` values, strongest first.
    pub(crate) axes: Vec<Vec<f64>>,
}

/// The `count` leading principal axes of `vectors` (checked input, `n` ≥ 2). When the data
/// spans fewer than `count` directions the extra axes are still orthonormal, and project to 0.
pub(crate) fn axes(vectors: &[f32], dim: usize, count: usize) -> Axes {
    let mean = column_means(vectors, dim);
    let cov = covariance(vectors, dim, &mean);
    let p = (count + OVERSAMPLE).min(dim);
    let (_, vectors_) = leading_eigenvectors(&cov, dim, p, count);
    let mut axes: Vec<Vec<f64>> = vectors_.into_iter().take(count).collect();
    // A 2-D input asked for 3 axes: complete with orthonormal directions (they carry no
    // variance, so every point projects to 0 on them).
    let mut rng = Rng::new(0);
    while axes.len() < count {
        let v = orthonormal_fill(&axes, dim, &mut rng);
        axes.push(v);
    }
    for axis in &mut axes {
        fix_sign(axis);
    }
    Axes { mean, axes }
}

/// Projects `vectors` onto the `count` leading principal axes: `n × count` values, row-major.
pub(crate) fn project(vectors: &[f32], dim: usize, count: usize) -> Vec<f32> {
    let Axes { mean, axes } = axes(vectors, dim, count);
    vectors
        .par_chunks_exact(dim)
        .flat_map_iter(|row| {
            let centred: Vec<f64> = row.iter().zip(&mean).map(|(&x, m)| f64::from(x) - m).collect();
            axes.iter()
                .map(move |a| a.iter().zip(&centred).map(|(a, x)| a * x).sum::<f64>() as f32)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn column_means(vectors: &[f32], dim: usize) -> Vec<f64> {
    let n = vectors.len() / dim;
    let mut mean = vec![0f64; dim];
    for row in vectors.chunks_exact(dim) {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += f64::from(x);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    mean
}

/// The sample covariance (upper and lower triangles filled), `dim × dim` row-major.
fn covariance(vectors: &[f32], dim: usize, mean: &[f64]) -> Vec<f64> {
    let n = vectors.len() / dim;
    let rows_per_chunk = n.div_ceil(CHUNKS);
    let partials: Vec<Vec<f64>> = vectors
        .par_chunks(rows_per_chunk * dim)
        .map(|chunk| {
            // Rows are taken four at a time, so each row of the accumulator is read and
            // written once per four data rows: the sum is bound by memory traffic, not by
            // arithmetic. The order of additions is still fixed by the chunk alone.
            let mut acc = vec![0f64; dim * dim];
            let mut centred = vec![0f64; 4 * dim];
            for rows in chunk.chunks(4 * dim) {
                let count = rows.len() / dim;
                centred.fill(0.0);
                for (r, row) in rows.chunks_exact(dim).enumerate() {
                    for ((c, &x), m) in centred[r * dim..].iter_mut().zip(row).zip(mean) {
                        *c = f64::from(x) - m;
                    }
                }
                let (x0, rest) = centred.split_at(dim);
                let (x1, rest) = rest.split_at(dim);
                let (x2, x3) = rest.split_at(dim);
                for a in 0..dim {
                    let (w0, w1, w2, w3) = (x0[a], x1[a], x2[a], x3[a]);
                    let out = &mut acc[a * dim + a..(a + 1) * dim];
                    let tails = x0[a..].iter().zip(&x1[a..]).zip(&x2[a..]).zip(&x3[a..]);
                    for (o, (((b0, b1), b2), b3)) in out.iter_mut().zip(tails) {
                        *o += w0 * b0 + w1 * b1 + w2 * b2 + w3 * b3;
                    }
                }
                debug_assert!(count <= 4);
            }
            acc
        })
        .collect();
    let mut cov = vec![0f64; dim * dim];
    for partial in &partials {
        for (c, p) in cov.iter_mut().zip(partial) {
            *c += p;
        }
    }
    let scale = 1.0 / (n as f64 - 1.0).max(1.0);
    for a in 0..dim {
        for b in a..dim {
            let v = cov[a * dim + b] * scale;
            cov[a * dim + b] = v;
            cov[b * dim + a] = v;
        }
    }
    cov
}

/// The `p` leading eigenpairs of the symmetric `dim × dim` matrix `m`, largest first; the
/// iteration stops once the first `wanted` eigenvalues have settled (the extra vectors only
/// speed their convergence, and would take far longer to settle themselves).
fn leading_eigenvectors(
    m: &[f64],
    dim: usize,
    p: usize,
    wanted: usize,
) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut rng = Rng::new(0);
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(p);
    for _ in 0..p {
        let v = orthonormal_fill(&q, dim, &mut rng);
        q.push(v);
    }
    let mut previous = vec![f64::NAN; p];
    for iteration in 0..1000 {
        let z: Vec<Vec<f64>> = q.iter().map(|v| mat_vec(m, dim, v)).collect();
        q = orthonormalize(z, dim, &mut rng);
        if iteration % 10 == 9 {
            let (values, ritz) = rayleigh_ritz(m, dim, &q);
            q = ritz;
            let settled = values
                .iter()
                .zip(&previous)
                .take(wanted.max(1))
                .all(|(v, p)| (v - p).abs() <= 1e-12 * values[0].abs().max(1e-300));
            previous = values;
            if settled {
                break;
            }
        }
    }
    let (values, ritz) = rayleigh_ritz(m, dim, &q);
    (values, ritz)
}

fn mat_vec(m: &[f64], dim: usize, v: &[f64]) -> Vec<f64> {
    m.chunks_exact(dim).map(|row| row.iter().zip(v).map(|(a, b)| a * b).sum()).collect()
}

/// Modified Gram–Schmidt (two passes, for orthogonality to working precision). A vector that
/// vanishes (the data spans fewer directions than `q` has) is replaced by a fresh direction.
fn orthonormalize(z: Vec<Vec<f64>>, dim: usize, rng: &mut Rng) -> Vec<Vec<f64>> {
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(z.len());
    for mut v in z {
        let before = norm(&v);
        for _ in 0..2 {
            for u in &q {
                let d: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(u).for_each(|(x, u)| *x -= d * u);
            }
        }
        let after = norm(&v);
        if after <= 1e-10 * before.max(1e-300) || after == 0.0 {
            v = orthonormal_fill(&q, dim, rng);
        } else {
            v.iter_mut().for_each(|x| *x /= after);
        }
        q.push(v);
    }
    q
}

/// A random unit vector orthogonal to every vector of `q` (which must have fewer than `dim`).
fn orthonormal_fill(q: &[Vec<f64>], dim: usize, rng: &mut Rng) -> Vec<f64> {
    loop {
        let mut v: Vec<f64> = (0..dim).map(|_| rng.gaussian()).collect();
        for _ in 0..2 {
            for u in q {
                let d: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(u).for_each(|(x, u)| *x -= d * u);
            }
        }
        let n = norm(&v);
        if n > 1e-6 {
            v.iter_mut().for_each(|x| *x /= n);
            return v;
        }
    }
}

/// The eigenpairs of `m` restricted to the span of the orthonormal `q`, largest first.
fn rayleigh_ritz(m: &[f64], dim: usize, q: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let p = q.len();
    let mq: Vec<Vec<f64>> = q.iter().map(|v| mat_vec(m, dim, v)).collect();
    let mut t = vec![0f64; p * p];
    for a in 0..p {
        for b in 0..p {
            t[a * p + b] = q[a].iter().zip(&mq[b]).map(|(x, y)| x * y).sum();
        }
    }
    let (values, w) = jacobi_eigen(t, p);
    let mut order: Vec<usize> = (0..p).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    let vectors = order
        .iter()
        .map(|&c| {
            let mut v = vec![0f64; dim];
            for (r, qr) in q.iter().enumerate() {
                let coef = w[r * p + c];
                v.iter_mut().zip(qr).for_each(|(x, y)| *x += coef * y);
            }
            v
        })
        .collect();
    (order.iter().map(|&c| values[c]).collect(), vectors)
}

/// Eigenvalues and eigenvectors (columns of the returned `p × p` matrix) of a small symmetric
/// matrix by cyclic Jacobi rotations.
pub(crate) fn jacobi_eigen(mut a: Vec<f64>, p: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0f64; p * p];
    (0..p).for_each(|i| v[i * p + i] = 1.0);
    for _sweep in 0..100 {
        let off: f64 = (0..p)
            .flat_map(|i| (0..p).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * p + j].powi(2))
            .sum();
        let total: f64 = a.iter().map(|x| x * x).sum();
        if off <= 1e-30 * total.max(1e-300) {
            break;
        }
        for i in 0..p {
            for j in i + 1..p {
                rotate(&mut a, &mut v, p, i, j);
            }
        }
    }
    ((0..p).map(|i| a[i * p + i]).collect(), v)
}

/// One Jacobi rotation zeroing `a[i][j]` (Golub and Van Loan, algorithm 8.5.2).
fn rotate(a: &mut [f64], v: &mut [f64], p: usize, i: usize, j: usize) {
    let aij = a[i * p + j];
    if aij == 0.0 {
        return;
    }
    let tau = (a[j * p + j] - a[i * p + i]) / (2.0 * aij);
    let t = tau.signum() / (tau.abs() + (1.0 + tau * tau).sqrt());
    let t = if tau == 0.0 { 1.0 } else { t };
    let c = 1.0 / (1.0 + t * t).sqrt();
    let s = t * c;
    for k in 0..p {
        let (aki, akj) = (a[k * p + i], a[k * p + j]);
        a[k * p + i] = c * aki - s * akj;
        a[k * p + j] = s * aki + c * akj;
    }
    for k in 0..p {
        let (aik, ajk) = (a[i * p + k], a[j * p + k]);
        a[i * p + k] = c * aik - s * ajk;
        a[j * p + k] = s * aik + c * ajk;
    }
    for k in 0..p {
        let (vki, vkj) = (v[k * p + i], v[k * p + j]);
        v[k * p + i] = c * vki - s * vkj;
        v[k * p + j] = s * vki + c * vkj;
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Makes the largest-magnitude entry positive (the first one, on a tie).
fn fix_sign(axis: &mut [f64]) {
    let mut best = 0;
    for (i, x) in axis.iter().enumerate() {
        if x.abs() > axis[best].abs() {
            best = i;
        }
    }
    if axis[best] < 0.0 {
        axis.iter_mut().for_each(|x| *x = -*x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on the plane spanned by two orthonormal directions in 10-D, with more spread
    /// along the first.
    fn plane() -> (Vec<f32>, [Vec<f64>; 2]) {
        let dim = 10;
        let u: Vec<f64> = (0..dim).map(|i| if i < 5 { 0.2f64.sqrt() } else { 0.0 }).collect();
        let w: Vec<f64> = (0..dim).map(|i| if i >= 5 { -(0.2f64.sqrt()) } else { 0.0 }).collect();
        // A symmetric grid: s and t are exactly uncorrelated, so u and w are the exact axes.
        let mut points = Vec::new();
        for a in -5..=5 {
            for b in -5..=5 {
                let (s, t) = (3.0 * f64::from(a), f64::from(b));
                points.extend((0..dim).map(|i| (1.0 + s * u[i] + t * w[i]) as f32));
            }
        }
        (points, [u, w])
    }

    #[test]
    fn recovers_a_known_plane() {
        let (points, [u, w]) = plane();
        let found = axes(&points, 10, 2);
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        assert!((dot(&found.axes[0], &u).abs() - 1.0).abs() < 1e-9);
        assert!((dot(&found.axes[1], &w).abs() - 1.0).abs() < 1e-9);
        // The sign convention: the largest loading is positive, so w comes out negated.
        assert!(dot(&found.axes[1], &w) < 0.0);
        assert!(found.mean.iter().all(|m| (m - 1.0).abs() < 0.5));
    }

    #[test]
    fn projection_keeps_distances_within_the_plane() {
        let (points, _) = plane();
        let low = project(&points, 10, 2);
        let d = |a: &[f32], b: &[f32]| {
            a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum::<f64>().sqrt()
        };
        for (i, j) in [(0, 1), (5, 77), (100, 120)] {
            let high = d(&points[i * 10..i * 10 + 10], &points[j * 10..j * 10 + 10]);
            let flat = d(&low[i * 2..i * 2 + 2], &low[j * 2..j * 2 + 2]);
            assert!((high - flat).abs() < 1e-4, "{high} vs {flat}");
        }
    }

    #[test]
    fn jacobi_diagonalizes() {
        let (values, _) = jacobi_eigen(vec![2.0, 1.0, 1.0, 2.0], 2);
        let mut values = values;
        values.sort_by(f64::total_cmp);
        assert!((values[0] - 1.0).abs() < 1e-12 && (values[1] - 3.0).abs() < 1e-12);
    }

    #[test]
    fn fewer_points_than_axes_still_gives_orthonormal_axes() {
        let points = [0.0f32, 0.0, 0.0, 1.0, 1.0, 1.0];
        let found = axes(&points, 3, 3);
        for a in 0..3 {
            for b in 0..3 {
                let d: f64 = found.axes[a].iter().zip(&found.axes[b]).map(|(x, y)| x * y).sum();
                assert!((d - if a == b { 1.0 } else { 0.0 }).abs() < 1e-9);
            }
        }
    }
}
