//! t-SNE with the Barnes–Hut approximation, after van der Maaten, "Accelerating t-SNE using
//! Tree-Based Algorithms" (JMLR 15, 2014).
//!
//! Input similarities come from each point's `3 × perplexity` exact nearest neighbours, with a
//! Gaussian bandwidth found by binary search so that its entropy matches the perplexity, then
//! symmetrized. The layout starts from a seeded Gaussian with standard deviation 10⁻⁴ (the
//! paper's reference code) and follows gradient descent with momentum 0.5 then 0.8, per-coordinate
//! gains, and early exaggeration 12 for the first 250 iterations. Repulsion is approximated with a
//! quadtree (an octree in 3-D), θ = 0.5. The learning rate is `max(n / 12 / 4, 50)` on the
//! gradient with its factor 4, the `n / exaggeration` rule of Belkina et al. (2019) as scikit-learn
//! writes it. By default 750 iterations run, as in openTSNE (250 exaggerated, 500 not).
//!
//! Determinism: every per-point quantity is computed in parallel but from the same inputs, and
//! the one global sum (the normalization Z) is added in point order, so threads never change a bit.

use rayon::prelude::*;

use super::knn::Neighbors;
use super::rng::Rng;

const EXAGGERATION: f64 = 12.0;
const EXAGGERATED_ITERATIONS: usize = 250;
const THETA: f64 = 0.5;

/// What [`run`] needs, already validated and clamped by the caller.
pub(crate) struct Params {
    pub(crate) dims: usize,
    pub(crate) seed: u64,
    pub(crate) perplexity: f64,
    pub(crate) iterations: usize,
}

/// The t-SNE layout of checked input, `n × dims` values row-major.
pub(crate) fn run(vectors: &[f32], dim: usize, params: &Params) -> Vec<f32> {
    let n = vectors.len() / dim;
    let k = ((3.0 * params.perplexity) as usize).clamp(1, n - 1);
    let graph = Neighbors::exact_unchecked(vectors, dim, k);
    let p = joint_probabilities(&graph, params.perplexity);
    match params.dims {
        2 => optimize::<2>(&p, n, params),
        _ => optimize::<3>(&p, n, params),
    }
}

/// The symmetric joint probabilities `p_ij`, in compressed rows; they sum to 1.
pub(crate) struct Sparse {
    pub(crate) offsets: Vec<usize>,
    pub(crate) columns: Vec<u32>,
    pub(crate) values: Vec<f64>,
}

fn joint_probabilities(graph: &Neighbors, perplexity: f64) -> Sparse {
    let n = graph.len();
    let conditional: Vec<Vec<f64>> =
        (0..n).into_par_iter().map(|i| calibrate(graph.distances_of(i), perplexity)).collect();
    let mut triples: Vec<(u32, u32, f64)> = Vec::with_capacity(2 * n * graph.k());
    for (i, row) in conditional.iter().enumerate() {
        for (&j, &p) in graph.of(i).iter().zip(row) {
            triples.push((i as u32, j, p));
            triples.push((j, i as u32, p));
        }
    }
    triples.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then(a.2.total_cmp(&b.2)));
    let mut sparse = Sparse { offsets: vec![0; n + 1], columns: Vec::new(), values: Vec::new() };
    for (i, j, p) in triples {
        if sparse.columns.last() == Some(&j) && sparse.offsets[i as usize + 1] > 0 {
            *sparse.values.last_mut().expect("a value per column") += p;
        } else {
            sparse.columns.push(j);
            sparse.values.push(p);
        }
        sparse.offsets[i as usize + 1] = sparse.columns.len();
    }
    for i in 0..n {
        sparse.offsets[i + 1] = sparse.offsets[i + 1].max(sparse.offsets[i]);
    }
    let total = 2.0 * n as f64;
    sparse.values.iter_mut().for_each(|v| *v /= total);
    sparse
}

/// The conditional probabilities `p_{j|i}` over one point's neighbours (distances ascending),
/// with the Gaussian precision β found by binary search so that the entropy is `ln(perplexity)`.
fn calibrate(distances: &[f32], perplexity: f64) -> Vec<f64> {
    let target = perplexity.ln();
    // Distances relative to the nearest keep exp() in range; the shift cancels in the ratio.
    let nearest = f64::from(distances[0]).powi(2);
    let d2: Vec<f64> = distances.iter().map(|&d| f64::from(d).powi(2) - nearest).collect();
    let (mut beta, mut low, mut high) = (1.0f64, 0.0f64, f64::INFINITY);
    let mut p = vec![0f64; d2.len()];
    for _ in 0..200 {
        p.iter_mut().zip(&d2).for_each(|(p, d)| *p = (-beta * d).exp());
        let sum: f64 = p.iter().sum();
        let mean_d2 = p.iter().zip(&d2).map(|(p, d)| p * d).sum::<f64>() / sum;
        let entropy = sum.ln() + beta * mean_d2;
        p.iter_mut().for_each(|x| *x /= sum);
        let error = entropy - target;
        if error.abs() < 1e-5 {
            break;
        }
        // Entropy falls as β rises.
        if error > 0.0 {
            low = beta;
            beta = if high.is_finite() { (beta + high) / 2.0 } else { beta * 2.0 };
        } else {
            high = beta;
            beta = (beta + low) / 2.0;
        }
    }
    p
}

fn optimize<const D: usize>(p: &Sparse, n: usize, params: &Params) -> Vec<f32> {
    let mut rng = Rng::new(params.seed);
    let mut y: Vec<[f64; D]> =
        (0..n).map(|_| std::array::from_fn(|_| 1e-4 * rng.gaussian())).collect();
    let mut update = vec![[0f64; D]; n];
    let mut gains = vec![[1f64; D]; n];
    let learning_rate = (n as f64 / EXAGGERATION / 4.0).max(50.0);
    for iteration in 0..params.iterations {
        let early = iteration < EXAGGERATED_ITERATIONS;
        let exaggeration = if early { EXAGGERATION } else { 1.0 };
        let momentum = if early { 0.5 } else { 0.8 };
        let grad = gradient(p, &y, exaggeration);
        y.par_iter_mut().zip(&mut update).zip(&mut gains).zip(&grad).for_each(
            |(((y, u), g), dy)| {
                for c in 0..D {
                    g[c] = if (dy[c] > 0.0) != (u[c] > 0.0) { g[c] + 0.2 } else { g[c] * 0.8 };
                    g[c] = g[c].max(0.01);
                    u[c] = momentum * u[c] - learning_rate * g[c] * dy[c];
                    y[c] += u[c];
                }
            },
        );
        recentre(&mut y);
    }
    y.iter().flat_map(|p| p.iter().map(|&x| x as f32)).collect()
}

/// The KL gradient, 4 (exaggeration · attraction − repulsion / Z), per point.
fn gradient<const D: usize>(p: &Sparse, y: &[[f64; D]], exaggeration: f64) -> Vec<[f64; D]> {
    let tree = Tree::build(y);
    // Points visited in tree order, so that consecutive ones walk the same cells (cache).
    let by_cell: Vec<([f64; D], f64)> =
        tree.order.par_iter().map(|&i| tree.repulsion(i as usize, &y[i as usize])).collect();
    let mut repulsion = vec![([0f64; D], 0f64); y.len()];
    for (&i, r) in tree.order.iter().zip(by_cell) {
        repulsion[i as usize] = r;
    }
    // Summed in point order: the same bits for any thread count.
    let z: f64 = repulsion.iter().map(|r| r.1).sum::<f64>().max(f64::MIN_POSITIVE);
    (0..y.len())
        .into_par_iter()
        .map(|i| {
            let mut attraction = [0f64; D];
            for e in p.offsets[i]..p.offsets[i + 1] {
                let j = p.columns[e] as usize;
                let diff: [f64; D] = std::array::from_fn(|c| y[i][c] - y[j][c]);
                let w = p.values[e] / (1.0 + diff.iter().map(|d| d * d).sum::<f64>());
                attraction.iter_mut().zip(&diff).for_each(|(a, d)| *a += w * d);
            }
            std::array::from_fn(|c| 4.0 * (exaggeration * attraction[c] - repulsion[i].0[c] / z))
        })
        .collect()
}

fn recentre<const D: usize>(y: &mut [[f64; D]]) {
    let mut mean = [0f64; D];
    for p in y.iter() {
        mean.iter_mut().zip(p).for_each(|(m, x)| *m += x);
    }
    mean.iter_mut().for_each(|m| *m /= y.len() as f64);
    for p in y.iter_mut() {
        p.iter_mut().zip(&mean).for_each(|(x, m)| *x -= m);
    }
}

/// A 2^D-ary space-partitioning tree (quadtree, octree) holding each cell's centre of mass.
struct Tree<'a, const D: usize> {
    y: &'a [[f64; D]],
    nodes: Vec<Node<D>>,
    /// Point indices, permuted so that each node's points are contiguous.
    order: Vec<u32>,
}

struct Node<const D: usize> {
    /// Centre of mass of the points inside.
    mass_centre: [f64; D],
    /// The squared side length of the (cubic) cell.
    width2: f64,
    count: u32,
    /// Index of the first of 2^D consecutive children; 0 for a leaf.
    children: u32,
    start: u32,
    end: u32,
}

/// Cells stop splitting this deep: only coincident points get there, and they are summed exactly.
const MAX_DEPTH: usize = 48;

impl<'a, const D: usize> Tree<'a, D> {
    fn build(y: &'a [[f64; D]]) -> Self {
        let mut low = [f64::INFINITY; D];
        let mut high = [f64::NEG_INFINITY; D];
        for p in y {
            for c in 0..D {
                low[c] = low[c].min(p[c]);
                high[c] = high[c].max(p[c]);
            }
        }
        let half =
            (0..D).map(|c| high[c] - low[c]).fold(0.0, f64::max) / 2.0 * (1.0 + 1e-9) + 1e-12;
        let centre: [f64; D] = std::array::from_fn(|c| (low[c] + high[c]) / 2.0);
        let mut tree = Tree {
            y,
            nodes: Vec::with_capacity(2 * y.len()),
            order: (0..y.len() as u32).collect(),
        };
        tree.nodes.push(tree.node(0, y.len(), half));
        tree.split(0, centre, half, 0);
        tree
    }

    fn node(&self, start: usize, end: usize, half: f64) -> Node<D> {
        let mut mass_centre = [0f64; D];
        for &i in &self.order[start..end] {
            mass_centre.iter_mut().zip(&self.y[i as usize]).for_each(|(m, x)| *m += x);
        }
        let count = end - start;
        mass_centre.iter_mut().for_each(|m| *m /= count.max(1) as f64);
        let side = 2.0 * half;
        Node {
            mass_centre,
            width2: side * side,
            count: count as u32,
            children: 0,
            start: start as u32,
            end: end as u32,
        }
    }

    fn split(&mut self, at: usize, centre: [f64; D], half: f64, depth: usize) {
        let (start, end) = (self.nodes[at].start as usize, self.nodes[at].end as usize);
        if end - start <= 1 || depth >= MAX_DEPTH {
            return;
        }
        // Bucket the node's points by the child cell (a D-bit code) they fall in, keeping
        // their order within each cell (a stable counting sort).
        let y = self.y;
        let code = |i: u32| -> usize {
            (0..D).map(|c| usize::from(y[i as usize][c] >= centre[c]) << c).sum()
        };
        let codes: Vec<u8> = self.order[start..end].iter().map(|&i| code(i) as u8).collect();
        let mut bounds = [0usize; 9];
        codes.iter().for_each(|&c| bounds[c as usize + 1] += 1);
        for c in 0..(1 << D) {
            bounds[c + 1] += bounds[c];
        }
        let mut cursor = bounds;
        let mut sorted = vec![0u32; end - start];
        for (&i, &c) in self.order[start..end].iter().zip(&codes) {
            sorted[cursor[c as usize]] = i;
            cursor[c as usize] += 1;
        }
        self.order[start..end].copy_from_slice(&sorted);
        let first_child = self.nodes.len();
        self.nodes[at].children = first_child as u32;
        for child in 0..(1 << D) {
            let node = self.node(start + bounds[child], start + bounds[child + 1], half / 2.0);
            self.nodes.push(node);
        }
        for child in 0..(1 << D) {
            let offset: [f64; D] =
                std::array::from_fn(|c| if child >> c & 1 == 1 { half / 2.0 } else { -half / 2.0 });
            let centre: [f64; D] = std::array::from_fn(|c| centre[c] + offset[c]);
            self.split(first_child + child, centre, half / 2.0, depth + 1);
        }
    }

    /// Point `i`'s unnormalized repulsive force Σ w² (yᵢ − yⱼ) and its share of Z, Σ w, where
    /// w = 1 / (1 + |yᵢ − yⱼ|²).
    fn repulsion(&self, i: usize, yi: &[f64; D]) -> ([f64; D], f64) {
        let mut force = [0f64; D];
        let mut z = 0f64;
        // Depth-first, at most 2^D − 1 pending siblings per level: a fixed array suffices.
        let mut stack = [0u32; MAX_DEPTH * 8 + 8];
        let mut top = 1;
        while top > 0 {
            top -= 1;
            let node = &self.nodes[stack[top] as usize];
            let diff: [f64; D] = std::array::from_fn(|c| yi[c] - node.mass_centre[c]);
            let d2: f64 = diff.iter().map(|d| d * d).sum();
            if node.children == 0 && node.count == 1 {
                // A single point: its centre of mass is the point itself.
                if self.order[node.start as usize] as usize != i {
                    let w = 1.0 / (1.0 + d2);
                    z += w;
                    force.iter_mut().zip(&diff).for_each(|(f, d)| *f += w * w * d);
                }
            } else if node.children == 0 {
                for &j in &self.order[node.start as usize..node.end as usize] {
                    if j as usize == i {
                        continue;
                    }
                    let diff: [f64; D] = std::array::from_fn(|c| yi[c] - self.y[j as usize][c]);
                    let w = 1.0 / (1.0 + diff.iter().map(|d| d * d).sum::<f64>());
                    z += w;
                    force.iter_mut().zip(&diff).for_each(|(f, d)| *f += w * w * d);
                }
            } else if node.width2 < THETA * THETA * d2 {
                // Far enough: the whole cell acts as one point at its centre of mass.
                let w = 1.0 / (1.0 + d2);
                let m = f64::from(node.count);
                z += m * w;
                force.iter_mut().zip(&diff).for_each(|(f, d)| *f += m * w * w * d);
            } else {
                for c in 0..1u32 << D {
                    let child = node.children + c;
                    if self.nodes[child as usize].count > 0 {
                        stack[top] = child;
                        top += 1;
                    }
                }
            }
        }
        (force, z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_hits_the_perplexity() {
        let distances: Vec<f32> = (1..=90).map(|i| (i as f32).sqrt()).collect();
        let p = calibrate(&distances, 30.0);
        let entropy: f64 = -p.iter().filter(|&&x| x > 0.0).map(|x| x * x.ln()).sum::<f64>();
        assert!((entropy.exp() - 30.0).abs() < 0.01, "{}", entropy.exp());
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn joint_probabilities_are_symmetric_and_sum_to_one() {
        let mut rng = Rng::new(2);
        let data: Vec<f32> = (0..50 * 3).map(|_| rng.gaussian() as f32).collect();
        let graph = Neighbors::exact_unchecked(&data, 3, 15);
        let p = joint_probabilities(&graph, 5.0);
        assert!((p.values.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let at = |i: usize, j: u32| {
            (p.offsets[i]..p.offsets[i + 1]).find(|&e| p.columns[e] == j).map(|e| p.values[e])
        };
        for i in 0..50 {
            for e in p.offsets[i]..p.offsets[i + 1] {
                let back = at(p.columns[e] as usize, i as u32).expect("the transpose entry");
                assert!((back - p.values[e]).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn barnes_hut_repulsion_is_close_to_exact() {
        let mut rng = Rng::new(4);
        let y: Vec<[f64; 2]> = (0..400).map(|_| [rng.gaussian() * 5.0, rng.gaussian()]).collect();
        let tree = Tree::build(&y);
        for i in [0, 17, 399] {
            let (force, z) = tree.repulsion(i, &y[i]);
            let (mut exact, mut exact_z) = ([0f64; 2], 0f64);
            for (_, yj) in y.iter().enumerate().filter(|&(j, _)| j != i) {
                let d = [y[i][0] - yj[0], y[i][1] - yj[1]];
                let w = 1.0 / (1.0 + d[0] * d[0] + d[1] * d[1]);
                exact_z += w;
                exact[0] += w * w * d[0];
                exact[1] += w * w * d[1];
            }
            assert!((z - exact_z).abs() < 0.02 * exact_z, "{z} vs {exact_z}");
            let size = exact[0].hypot(exact[1]);
            assert!((force[0] - exact[0]).hypot(force[1] - exact[1]) < 0.05 * size + 1e-3);
        }
    }
}
