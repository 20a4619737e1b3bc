//! The projection entry point: which method, its parameters, and the layout it produces.

use std::fmt;
use std::str::FromStr;

use super::{pca, tsne, umap};
use crate::{Error, Result};

/// A way of drawing high-dimensional vectors in 2-D or 3-D.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Principal component analysis: linear, exact and deterministic; keeps the directions of
    /// largest variance, so it shows global structure and blurs local neighbourhoods.
    Pca,
    /// t-SNE (Barnes–Hut, van der Maaten 2014): keeps local neighbourhoods; distances between
    /// far-apart groups mean little.
    Tsne,
    /// UMAP (McInnes, Healy and Melville 2018): keeps local neighbourhoods, and more of the
    /// global arrangement than t-SNE.
    Umap,
}

impl Method {
    /// Every method, in the order they are usually tried.
    pub const ALL: [Method; 3] = [Method::Pca, Method::Tsne, Method::Umap];

    /// The name accepted by [`FromStr`] and printed by [`Display`](fmt::Display).
    pub fn name(self) -> &'static str {
        match self {
            Method::Pca => "pca",
            Method::Tsne => "tsne",
            Method::Umap => "umap",
        }
    }

    /// The axis caption prefix, e.g. `"UMAP"` for `"UMAP 1"`.
    pub fn axis_name(self) -> &'static str {
        match self {
            Method::Pca => "PC",
            Method::Tsne => "t-SNE",
            Method::Umap => "UMAP",
        }
    }

    /// Whether two seeds can give different layouts (PCA's result depends on the data alone).
    pub fn is_stochastic(self) -> bool {
        self != Method::Pca
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = Error;

    fn from_str(s: &str) -> Result<Method> {
        match s.trim().to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "pca" => Ok(Method::Pca),
            "tsne" => Ok(Method::Tsne),
            "umap" => Ok(Method::Umap),
            _ => Err(Error::invalid(format!(
                "projection method {s:?}: expected one of pca, tsne, umap"
            ))),
        }
    }
}

/// The settings of one projection run.
///
/// # Examples
///
/// ```
/// use kindred::viz::{Method, Projection};
///
/// // Four points in 3-D: two pairs far apart.
/// let vectors = [0.0, 0.0, 0.0, 0.1, 0.0, 0.0, 5.0, 5.0, 5.0, 5.1, 5.0, 5.0];
/// let layout = Projection::new(Method::Pca).dims(2).run(&vectors, 3)?;
/// assert_eq!((layout.len(), layout.dims()), (4, 2));
/// # Ok::<(), kindred::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    method: Method,
    dims: usize,
    seed: u64,
    perplexity: f32,
    neighbors: usize,
    min_dist: f32,
    epochs: Option<usize>,
}

impl Projection {
    /// A projection by `method` with every setting at its default.
    pub fn new(method: Method) -> Projection {
        Projection {
            method,
            dims: 2,
            seed: 42,
            perplexity: 30.0,
            neighbors: 15,
            min_dist: 0.1,
            epochs: None,
        }
    }

    /// The output dimension, 2 or 3 (checked by [`Projection::run`]).
    ///
    /// By default, 2.
    pub fn dims(&mut self, dims: usize) -> &mut Self {
        self.dims = dims;
        self
    }

    /// The seed of every random choice (t-SNE's initial layout, UMAP's edge and negative
    /// sampling): the same seed on the same input gives bit-identical output on the same
    /// machine, whatever the number of threads. PCA ignores it.
    ///
    /// By default, 42.
    pub fn seed(&mut self, seed: u64) -> &mut Self {
        self.seed = seed;
        self
    }

    /// t-SNE's perplexity, roughly the number of neighbours each point attends to. For small
    /// inputs it is lowered to `(n - 1) / 3`, so that the `3 × perplexity` neighbours the
    /// calibration needs exist.
    ///
    /// By default, 30.
    pub fn perplexity(&mut self, perplexity: f32) -> &mut Self {
        self.perplexity = perplexity;
        self
    }

    /// UMAP's neighbourhood size (the point itself counted, as in umap-learn); lowered to the
    /// number of points for small inputs.
    ///
    /// By default, 15.
    pub fn neighbors(&mut self, neighbors: usize) -> &mut Self {
        self.neighbors = neighbors;
        self
    }

    /// UMAP's minimum distance between embedded points: smaller packs clusters tighter.
    ///
    /// By default, 0.1.
    pub fn min_dist(&mut self, min_dist: f32) -> &mut Self {
        self.min_dist = min_dist;
        self
    }

    /// The number of optimization epochs (t-SNE iterations, early exaggeration included, or
    /// UMAP epochs); ignored by PCA.
    ///
    /// By default, t-SNE runs 750 iterations (250 exaggerated, as openTSNE does); UMAP runs 500
    /// epochs up to 10,000 points and 200 above, as umap-learn does.
    pub fn epochs(&mut self, epochs: usize) -> &mut Self {
        self.epochs = Some(epochs);
        self
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// Projects `vectors` (row-major, `n × dim`) to `dims` dimensions.
    ///
    /// Neighbourhoods are found by Euclidean distance on the vectors as given, with no
    /// normalization: for unit vectors (kindred's embeddings) that ranks neighbours exactly as
    /// cosine similarity does. Each call computes its own exact k-NN graph (brute force).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `dims` is not 2 or 3, when the input has fewer than two
    /// points, is not a whole number of `dim`-long rows or holds a non-finite value, or when a
    /// parameter is out of range (perplexity or min_dist not positive and finite, neighbors
    /// below 2, epochs 0).
    pub fn run(&self, vectors: &[f32], dim: usize) -> Result<Layout> {
        self.check()?;
        let n = check_rows(vectors, dim, 2)?;
        let coords = match self.method {
            Method::Pca => pca::project(vectors, dim, self.dims),
            Method::Tsne => tsne::run(vectors, dim, &self.tsne_params(n)),
            Method::Umap => umap::run(vectors, dim, &self.umap_params(n)),
        };
        Ok(Layout { dims: self.dims, coords })
    }

    fn check(&self) -> Result<()> {
        if !(2..=3).contains(&self.dims) {
            return Err(Error::invalid(format!("dims = {}: a projection has 2 or 3", self.dims)));
        }
        if !(self.perplexity.is_finite() && self.perplexity > 0.0) {
            return Err(Error::invalid(format!(
                "perplexity = {}: must be positive and finite",
                self.perplexity
            )));
        }
        if self.neighbors < 2 {
            return Err(Error::invalid(format!(
                "neighbors = {}: must be at least 2",
                self.neighbors
            )));
        }
        if !(self.min_dist.is_finite() && self.min_dist >= 0.0) {
            return Err(Error::invalid(format!(
                "min_dist = {}: must be finite and not negative",
                self.min_dist
            )));
        }
        if self.epochs == Some(0) {
            return Err(Error::invalid("epochs = 0: must be at least 1"));
        }
        Ok(())
    }

    fn tsne_params(&self, n: usize) -> tsne::Params {
        // The calibration looks at 3 × perplexity neighbours, and there are only n - 1.
        let perplexity = f64::from(self.perplexity).min((n - 1) as f64 / 3.0).max(1.0);
        tsne::Params {
            dims: self.dims,
            seed: self.seed,
            perplexity,
            iterations: self.epochs.unwrap_or(750),
        }
    }

    fn umap_params(&self, n: usize) -> umap::Params {
        umap::Params {
            dims: self.dims,
            seed: self.seed,
            neighbors: self.neighbors.min(n),
            min_dist: f64::from(self.min_dist),
            epochs: self.epochs.unwrap_or(if n <= 10_000 { 500 } else { 200 }),
        }
    }
}

/// Projected points: `len()` points of `dims()` coordinates each.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub(crate) dims: usize,
    pub(crate) coords: Vec<f32>,
}

impl Layout {
    /// A layout from row-major coordinates, e.g. to measure a projection made elsewhere.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `dims` is 0, `coords` is not whole rows, or a value is
    /// not finite.
    pub fn from_coords(dims: usize, coords: Vec<f32>) -> Result<Layout> {
        check_rows(&coords, dims, 0)?;
        Ok(Layout { dims, coords })
    }

    /// The number of points.
    pub fn len(&self) -> usize {
        self.coords.len() / self.dims
    }

    /// Whether the layout has no points.
    pub fn is_empty(&self) -> bool {
        self.coords.is_empty()
    }

    /// Coordinates per point: 2 or 3.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Point `i`'s coordinates.
    ///
    /// # Panics
    ///
    /// Panics if `i >= self.len()`.
    pub fn point(&self, i: usize) -> &[f32] {
        &self.coords[i * self.dims..(i + 1) * self.dims]
    }

    /// All coordinates, row-major (`len() × dims()`).
    pub fn coords(&self) -> &[f32] {
        &self.coords
    }
}

/// Checks that `vectors` is at least `min_points` whole rows of `dim` finite values and returns
/// the number of rows.
pub(crate) fn check_rows(vectors: &[f32], dim: usize, min_points: usize) -> Result<usize> {
    if dim == 0 {
        return Err(Error::invalid("dim = 0: vectors need at least one dimension"));
    }
    if !vectors.len().is_multiple_of(dim) {
        return Err(Error::invalid(format!(
            "{} values are not whole rows of dim = {dim}",
            vectors.len()
        )));
    }
    let n = vectors.len() / dim;
    if n < min_points {
        return Err(Error::invalid(format!("{n} points: need at least {min_points}")));
    }
    if let Some(at) = vectors.iter().position(|x| !x.is_finite()) {
        return Err(Error::invalid(format!(
            "point {} has a non-finite value ({}) at dimension {}",
            at / dim,
            vectors[at],
            at % dim
        )));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<Layout>) -> String {
        match result {
            Err(Error::InvalidArgument(m)) => m,
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn method_names_round_trip() {
        for m in Method::ALL {
            assert_eq!(m.to_string().parse::<Method>().unwrap(), m);
        }
        assert_eq!("t-SNE".parse::<Method>().unwrap(), Method::Tsne);
        assert!("mds".parse::<Method>().unwrap_err().to_string().contains("\"mds\""));
    }

    #[test]
    fn bad_input_is_refused_with_the_value_named() {
        let p = Projection::new(Method::Pca);
        assert!(message(p.run(&[1.0, 2.0], 2)).contains("1 points"));
        assert!(message(p.run(&[1.0, 2.0, 3.0], 2)).contains("dim = 2"));
        assert!(message(p.run(&[1.0, f32::NAN, 3.0, 4.0], 2)).contains("point 0"));
        assert!(message(p.run(&[1.0, 2.0], 0)).contains("dim = 0"));
        assert!(
            message(Projection::new(Method::Umap).dims(4).run(&[0.0; 8], 2)).contains("dims = 4")
        );
        assert!(message(Projection::new(Method::Tsne).perplexity(-1.0).run(&[0.0; 8], 2))
            .contains("perplexity = -1"));
        assert!(message(Projection::new(Method::Umap).neighbors(1).run(&[0.0; 8], 2))
            .contains("neighbors = 1"));
        assert!(message(Projection::new(Method::Umap).epochs(0).run(&[0.0; 8], 2))
            .contains("epochs = 0"));
    }

    #[test]
    fn every_method_handles_two_and_three_points_and_three_dims() {
        let mut rng = super::super::rng::Rng::new(5);
        let data: Vec<f32> = (0..3 * 6).map(|_| rng.gaussian() as f32).collect();
        for m in Method::ALL {
            for dims in [2, 3] {
                for n in [2, 3] {
                    let layout = Projection::new(m).dims(dims).run(&data[..n * 6], 6).unwrap();
                    assert_eq!((layout.len(), layout.dims()), (n, dims), "{m}");
                    assert!(layout.coords().iter().all(|x| x.is_finite()), "{m} {n} {dims}");
                }
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_layout_and_another_seed_another() {
        let mut rng = super::super::rng::Rng::new(11);
        let data: Vec<f32> = (0..120 * 8).map(|_| rng.gaussian() as f32).collect();
        for m in [Method::Tsne, Method::Umap] {
            let mut p = Projection::new(m);
            p.epochs(60);
            let a = p.run(&data, 8).unwrap();
            assert_eq!(a, p.run(&data, 8).unwrap(), "{m}");
            assert_ne!(a, p.seed(7).run(&data, 8).unwrap(), "{m}");
        }
    }

    #[test]
    fn the_thread_count_does_not_change_a_bit() {
        let mut rng = super::super::rng::Rng::new(13);
        let data: Vec<f32> = (0..300 * 20).map(|_| rng.gaussian() as f32).collect();
        let run_on = |threads: usize, method: Method| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| Projection::new(method).epochs(100).run(&data, 20).unwrap())
        };
        for m in Method::ALL {
            assert_eq!(run_on(1, m), run_on(3, m), "{m}");
        }
    }
}
