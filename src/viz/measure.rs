//! How faithful a projection is: k-NN preservation (do a point's nearest neighbours stay its
//! nearest?), the silhouette of labelled groups, and how consistent several seeded runs are.

use rayon::prelude::*;

use super::knn::Neighbors;
use super::project::Layout;

/// The share of each point's `k` nearest neighbours in full dimension that are also among its
/// `k` nearest in the layout, averaged over points: 1 means every neighbourhood survived, and
/// a random layout scores about `k / (n − 1)`.
///
/// `k` is lowered to `n − 1` for tiny inputs. Distances are Euclidean in both spaces.
///
/// # Panics
///
/// Panics if `high` is not `low.len()` finite rows of `high_dim` values, if there are fewer
/// than two points, or if `k` is 0.
pub fn knn_preservation(high: &[f32], high_dim: usize, low: &Layout, k: usize) -> f64 {
    let kept = knn_preservation_per_point(high, high_dim, low, k);
    kept.iter().map(|&x| f64::from(x)).sum::<f64>() / kept.len() as f64
}

/// [`knn_preservation`] point by point: each point's share of its `k` full-dimension
/// neighbours kept in the layout (0 to 1), e.g. to show on hover.
///
/// # Panics
///
/// As [`knn_preservation`].
pub fn knn_preservation_per_point(
    high: &[f32],
    high_dim: usize,
    low: &Layout,
    k: usize,
) -> Vec<f32> {
    let n = super::check_rows(high, high_dim, 2).expect("the full vectors are finite rows");
    assert_eq!(n, low.len(), "{n} vectors for a layout of {} points", low.len());
    assert!(k > 0, "k = 0 neighbours");
    let k = k.min(n - 1);
    let full = Neighbors::exact_unchecked(high, high_dim, k);
    let flat = Neighbors::exact_unchecked(low.coords(), low.dims(), k);
    full.overlap(&flat, k)
}

/// The mean silhouette of the groups given by `labels`, by Euclidean distance among `points`
/// (row-major, `dim` columns), per Rousseeuw (1987): for each point, `a` is its mean distance to
/// the rest of its group and `b` the smallest mean distance to another group, and it scores
/// `(b − a) / max(a, b)`; a point alone in its group scores 0. From −1 to 1: above 0, points sit
/// closer to their own group than to the next.
///
/// Returns `None` when there are fewer than two distinct labels (the score is undefined). Labels
/// need not be consecutive. The cost is quadratic: meant for 2-D layouts, or samples.
///
/// # Panics
///
/// Panics if `points` is not `labels.len()` rows of `dim` values.
pub fn silhouette(points: &[f32], dim: usize, labels: &[usize]) -> Option<f64> {
    assert!(
        dim > 0 && points.len() == labels.len() * dim,
        "{} labels for {} values of dim {dim}",
        labels.len(),
        points.len()
    );
    let distance = |i: usize, j: usize| -> f64 {
        let (a, b) = (&points[i * dim..(i + 1) * dim], &points[j * dim..(j + 1) * dim]);
        a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum::<f64>().sqrt()
    };
    silhouette_with(labels, distance)
}

/// How alike several layouts of the same points are, from 0 to 1: for every pair of layouts,
/// the share of each point's `k` nearest neighbours in one that are also its `k` nearest in the
/// other, averaged over points and pairs. In words: "of each point's 10 closest neighbours in
/// one run, this share are also its closest in another run". Rotating, mirroring or scaling a
/// layout does not change it. A single layout scores 1.
///
/// # Panics
///
/// Panics if the layouts differ in length, have fewer than two points, or `k` is 0.
pub fn consistency(layouts: &[Layout], k: usize) -> f64 {
    if layouts.len() < 2 {
        return 1.0;
    }
    let n = layouts[0].len();
    assert!(layouts.iter().all(|l| l.len() == n), "layouts of different lengths");
    assert!(n >= 2 && k > 0, "{n} points, k = {k}");
    let k = k.min(n - 1);
    let graphs: Vec<Neighbors> =
        layouts.iter().map(|l| Neighbors::exact_unchecked(l.coords(), l.dims(), k)).collect();
    let mut total = 0f64;
    let mut pairs = 0usize;
    for a in 0..graphs.len() {
        for b in a + 1..graphs.len() {
            let kept = graphs[a].overlap(&graphs[b], k);
            total += kept.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
            pairs += 1;
        }
    }
    total / pairs as f64
}

/// The silhouette over any distance; `distance(i, j)` must be symmetric.
pub(crate) fn silhouette_with(
    labels: &[usize],
    distance: impl Fn(usize, usize) -> f64 + Sync,
) -> Option<f64> {
    let mut groups: Vec<usize> = labels.to_vec();
    groups.sort_unstable();
    groups.dedup();
    if groups.len() < 2 {
        return None;
    }
    let group: Vec<usize> =
        labels.iter().map(|l| groups.binary_search(l).expect("a label")).collect();
    let mut sizes = vec![0usize; groups.len()];
    group.iter().for_each(|&g| sizes[g] += 1);
    let n = labels.len();
    let scores: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| {
            if sizes[group[i]] == 1 {
                return 0.0;
            }
            let mut sums = vec![0f64; sizes.len()];
            for j in (0..n).filter(|&j| j != i) {
                sums[group[j]] += distance(i, j);
            }
            let a = sums[group[i]] / (sizes[group[i]] - 1) as f64;
            let b = (0..sizes.len())
                .filter(|&g| g != group[i])
                .map(|g| sums[g] / sizes[g] as f64)
                .fold(f64::INFINITY, f64::min);
            let m = a.max(b);
            if m > 0.0 {
                (b - a) / m
            } else {
                0.0
            }
        })
        .collect();
    // Summed in point order: the same result for any thread count.
    Some(scores.iter().sum::<f64>() / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silhouette_of_hand_computed_cases() {
        // Points 0, 1 | 4, 6 on a line. Point 0: a = 1, b = (4 + 6) / 2 = 5, s = 4/5.
        // Point 1: a = 1, b = 4, s = 3/4. Point 4: a = 2, b = 3.5, s = 1.5/3.5.
        // Point 6: a = 2, b = 5.5, s = 3.5/5.5.
        let points = [0.0, 1.0, 4.0, 6.0];
        let expected = (0.8 + 0.75 + 1.5 / 3.5 + 3.5 / 5.5) / 4.0;
        let s = silhouette(&points, 1, &[0, 0, 1, 1]).unwrap();
        assert!((s - expected).abs() < 1e-12, "{s} vs {expected}");
        // Labels need not be consecutive.
        assert_eq!(silhouette(&points, 1, &[3, 3, 9, 9]), Some(s));
    }

    #[test]
    fn silhouette_singletons_score_zero_and_one_label_is_undefined() {
        // Point 2 is alone: it scores 0. Points 0 and 1: a = 1, b = 10 and 9.
        let points = [0.0, 1.0, 10.0];
        let expected = ((10.0 - 1.0) / 10.0 + (9.0 - 1.0) / 9.0) / 3.0;
        let s = silhouette(&points, 1, &[0, 0, 1]).unwrap();
        assert!((s - expected).abs() < 1e-12);
        assert_eq!(silhouette(&points, 1, &[2, 2, 2]), None);
    }

    #[test]
    fn a_swapped_labelling_scores_below_zero() {
        let points = [0.0, 0.0, 0.1, 0.0, 5.0, 5.0, 5.1, 5.0];
        assert!(silhouette(&points, 2, &[0, 1, 0, 1]).unwrap() < 0.0);
        assert!(silhouette(&points, 2, &[0, 0, 1, 1]).unwrap() > 0.9);
    }

    #[test]
    fn an_identity_projection_preserves_every_neighbourhood() {
        let mut rng = super::super::rng::Rng::new(8);
        let points: Vec<f32> = (0..100 * 2).map(|_| rng.gaussian() as f32).collect();
        let layout = Layout::from_coords(2, points.clone()).unwrap();
        assert_eq!(knn_preservation(&points, 2, &layout, 10), 1.0);
        assert!(knn_preservation_per_point(&points, 2, &layout, 10).iter().all(|&s| s == 1.0));
    }

    #[test]
    fn consistency_ignores_rotation_reflection_and_scale() {
        let mut rng = super::super::rng::Rng::new(6);
        let points: Vec<f32> = (0..80 * 2).map(|_| rng.gaussian() as f32).collect();
        let turned: Vec<f32> = points
            .chunks_exact(2)
            .flat_map(|p| [3.0 * (0.6 * p[0] - 0.8 * p[1]), -3.0 * (0.8 * p[0] + 0.6 * p[1])])
            .collect();
        let a = Layout::from_coords(2, points).unwrap();
        let b = Layout::from_coords(2, turned).unwrap();
        assert!((consistency(&[a.clone(), b], 10) - 1.0).abs() < 1e-6);
        let shuffled: Vec<f32> = (0..80 * 2).map(|_| rng.gaussian() as f32).collect();
        let c = Layout::from_coords(2, shuffled).unwrap();
        assert!(consistency(&[a, c], 10) < 0.4);
    }
}
