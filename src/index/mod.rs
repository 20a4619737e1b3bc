//! Vector indexes over internal ids: HNSW for approximate search, flat for exact search.
//!
//! An index only knows dense internal ids and unit vectors; the store maps them to user ids.
//! **Invariant:** an index is derived data. It can always be rebuilt from the store, and every
//! id it returns is checked against a store snapshot before it reaches a caller.

mod dot;
mod flat;
mod graph;

pub use dot::dot;
pub use flat::FlatIndex;
pub use graph::HnswIndex;
pub(crate) use graph::SnapshotStamp;

use serde::{Deserialize, Serialize};

/// A candidate from an index: an id and its cosine score to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// The id the vector was inserted under.
    pub id: u64,
    /// The dot product with the query: its cosine, for unit vectors.
    pub score: f32,
}

/// A predicate over ids; only accepted ids are returned.
pub type Accept<'a> = &'a (dyn Fn(u64) -> bool + Sync);

/// What every index offers: inserting unit vectors under ids and finding the nearest.
pub trait VectorIndex: Send + Sync {
    /// Adds vectors under their internal ids. Each vector has the index's dimension and unit
    /// length.
    fn insert(&self, items: &[(u64, &[f32])]);

    /// The `k` best accepted ids by descending score. `ef` is the search breadth where the index
    /// has one.
    fn search(&self, query: &[f32], k: usize, ef: usize, accept: Option<Accept<'_>>)
        -> Vec<Scored>;

    /// How many vectors the index holds, removed ones included.
    fn len(&self) -> usize;

    /// Whether the index holds no vectors.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// HNSW's parameters, fixed when a collection is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HnswParams {
    /// Links per node and layer (`M`), 2 to 256. By default, 16.
    pub m: usize,
    /// Search breadth while building. By default, 200.
    pub ef_construction: usize,
    /// Search breadth while querying, unless a query sets its own. By default, 64.
    pub ef_search: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams { m: 16, ef_construction: 200, ef_search: 64 }
    }
}

impl HnswParams {
    /// Checks the ranges the graph supports: `M` from 2 (levels need `ln M > 0`) to 256.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if !(2..=256).contains(&self.m) {
            return Err(format!("HNSW M must be between 2 and 256, not {}", self.m));
        }
        if self.ef_construction == 0 || self.ef_search == 0 {
            return Err("HNSW ef_construction and ef_search must be at least 1".into());
        }
        Ok(())
    }
}

/// Sorts candidates best first; ties go to the lower id so results are deterministic.
pub(crate) fn sort_scored(hits: &mut [Scored]) {
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
}

#[cfg(test)]
mod tests {
    //! One suite over `&dyn VectorIndex`, run for each implementation.

    use super::*;

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let mut v: Vec<f32> = (0..dim)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect();
        crate::l2_normalize(&mut v);
        v
    }

    fn fill(index: &dyn VectorIndex, n: u64, dim: usize) -> Vec<Vec<f32>> {
        let vectors: Vec<Vec<f32>> = (0..n).map(|i| unit(i, dim)).collect();
        let items: Vec<(u64, &[f32])> =
            vectors.iter().enumerate().map(|(i, v)| (i as u64, v.as_slice())).collect();
        index.insert(&items);
        vectors
    }

    fn suite(index: &dyn VectorIndex) {
        let vectors = fill(index, 500, 32);
        assert_eq!(index.len(), 500);
        for (i, v) in vectors.iter().enumerate().step_by(25) {
            let hits = index.search(v, 3, 64, None);
            assert_eq!(hits[0].id, i as u64, "a stored vector finds itself");
            assert!((hits[0].score - 1.0).abs() < 1e-5);
            assert!(hits.windows(2).all(|w| w[0].score >= w[1].score), "sorted best first");
        }
        let even = |id: u64| id.is_multiple_of(2);
        let hits = index.search(&vectors[7], 10, 64, Some(&even));
        assert_eq!(hits.len(), 10);
        assert!(hits.iter().all(|h| h.id % 2 == 0), "only accepted ids come back");
        let none = |_: u64| false;
        assert!(index.search(&vectors[7], 10, 64, Some(&none)).is_empty());
    }

    #[test]
    fn flat_index_passes_the_suite() {
        suite(&FlatIndex::new(32));
    }

    #[test]
    fn hnsw_index_passes_the_suite() {
        suite(&HnswIndex::new(HnswParams::default(), 32, 500));
    }

    #[test]
    fn hnsw_agrees_with_flat_on_most_neighbours() {
        let flat = FlatIndex::new(32);
        let hnsw = HnswIndex::new(HnswParams::default(), 32, 2000);
        let vectors = fill(&flat, 2000, 32);
        fill(&hnsw, 2000, 32);
        let mut found = 0;
        for q in vectors.iter().take(50) {
            let truth: Vec<u64> = flat.search(q, 10, 0, None).iter().map(|h| h.id).collect();
            found += hnsw.search(q, 10, 128, None).iter().filter(|h| truth.contains(&h.id)).count();
        }
        assert!(found as f64 / 500.0 >= 0.95, "recall@10 {}", found as f64 / 500.0);
    }

    #[test]
    fn out_of_range_hnsw_parameters_are_refused() {
        assert!(HnswParams { m: 300, ..HnswParams::default() }
            .validate()
            .unwrap_err()
            .contains("300"));
        assert!(HnswParams { ef_search: 0, ..HnswParams::default() }.validate().is_err());
        assert!(HnswParams::default().validate().is_ok());
    }
}
