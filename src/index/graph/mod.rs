//! kindred's HNSW index (Malkov & Yashunin): a layered proximity graph over unit vectors, searched
//! by cosine distance `1 − a·b`.
//!
//! - `layout`: contiguous storage of vectors, ids, levels and link lists; the entry point.
//! - `search`: greedy descent, the best-first layer search, per-thread scratch space.
//! - `insert`: linking a node in, with the neighbour-selection heuristic.
//! - `snapshot`: the versioned, checksummed snapshot format.
//!
//! Concurrency: an insert batch first appends its vectors under the graph's write lock (brief: a
//! copy of the batch, or a reallocation when the storage grows), then links them under the read
//! lock, in parallel for large batches, while searches run beside it. Batches are serialized by
//! the writer mutex. A search holds the read lock throughout, and the lock is fair (a waiting
//! writer blocks new readers), so an `accept` callback must not call back into the same index.
//!
//! The index has no deletion: removed records stay as tombstones that the collection filters out
//! through `accept` and drops at its next rebuild.

mod insert;
mod layout;
mod search;
mod snapshot;

use parking_lot::{Mutex, RwLock};
use rayon::prelude::*;

use super::{sort_scored, Accept, HnswParams, Scored, VectorIndex};
use layout::Graph;
use search::with_scratch;
pub(crate) use snapshot::SnapshotStamp;

/// Batches at least this large are linked on the rayon pool; below it, threads would mostly
/// contend on the few nodes a small batch touches.
const PARALLEL_INSERT_MIN: usize = 1000;

/// Approximate search: an HNSW graph over unit vectors, under the cosine distance.
pub struct HnswIndex {
    params: HnswParams,
    dim: usize,
    graph: RwLock<Graph>,
    writer: Mutex<()>,
}

impl HnswIndex {
    /// An empty graph for `dim`-dimensional vectors; `capacity` is a hint for allocations.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for parameters out of range.
    pub fn with_params(params: HnswParams, dim: usize, capacity: usize) -> crate::Result<Self> {
        params.validate().map_err(crate::Error::InvalidArgument)?;
        Ok(Self::new(params, dim, capacity))
    }

    /// An empty graph; the parameters were validated by the caller.
    pub(crate) fn new(params: HnswParams, dim: usize, capacity: usize) -> Self {
        debug_assert!(params.validate().is_ok());
        Self::from_graph(params, Graph::new(dim, params.m, capacity))
    }

    fn from_graph(params: HnswParams, graph: Graph) -> Self {
        HnswIndex { params, dim: graph.dim, graph: RwLock::new(graph), writer: Mutex::new(()) }
    }

    /// The internal ids of every point in the graph, tombstones included.
    pub(crate) fn ids(&self) -> Vec<u64> {
        self.graph.read().ids.clone()
    }

    /// `1 / ln M`: the level multiplier that makes each layer about `M` times sparser.
    fn level_mult(&self) -> f64 {
        1.0 / (self.params.m as f64).ln()
    }

    /// Appends the batch's nodes, unlinked, and returns their slots.
    ///
    /// # Panics
    ///
    /// Panics, before storing anything, if a vector does not have the index's dimension.
    fn store(&self, items: &[(u64, &[f32])]) -> std::ops::Range<u32> {
        if let Some((id, v)) = items.iter().find(|(_, v)| v.len() != self.dim) {
            panic!("vector {id} has {} dimensions, the index {}", v.len(), self.dim);
        }
        let mut graph = self.graph.write();
        let first = graph.len();
        let mult = self.level_mult();
        for (i, (id, vector)) in items.iter().enumerate() {
            let level = insert::random_level((first + i) as u64, mult);
            graph.push(*id, vector, level);
        }
        first as u32..graph.len() as u32
    }
}

impl std::fmt::Debug for HnswIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HnswIndex")
            .field("params", &self.params)
            .field("dim", &self.dim)
            .field("points", &self.len())
            .finish()
    }
}

impl VectorIndex for HnswIndex {
    fn insert(&self, items: &[(u64, &[f32])]) {
        let _writer = self.writer.lock();
        let slots = self.store(items);
        let graph = self.graph.read();
        let ef = self.params.ef_construction;
        let threads = rayon::current_num_threads();
        if slots.len() < PARALLEL_INSERT_MIN || threads < 2 {
            with_scratch(|scratch| slots.for_each(|slot| graph.link(slot, ef, scratch)));
            return;
        }
        // Each worker takes the next slot in order, so the graph grows as in a sequential build.
        let next = std::sync::atomic::AtomicU32::new(slots.start);
        (0..threads).into_par_iter().for_each(|_| {
            with_scratch(|scratch| loop {
                let slot = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if slot >= slots.end {
                    break;
                }
                graph.link(slot, ef, scratch);
            });
        });
    }

    fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        accept: Option<Accept<'_>>,
    ) -> Vec<Scored> {
        assert_eq!(query.len(), self.dim, "a {}-d query for a {}-d index", query.len(), self.dim);
        if k == 0 {
            return Vec::new();
        }
        let graph = self.graph.read();
        let Some((entry, top)) = graph.entry() else {
            return Vec::new();
        };
        with_scratch(|scratch| {
            let start = graph.descend(query, (graph.distance(query, entry), entry), top, 1);
            let ef = ef.max(k);
            let layer = &mut scratch.layer;
            match accept {
                None => graph.search_layer(query, start, ef, 0, |_| true, layer),
                Some(accept) => {
                    let accept = |slot: u32| accept(graph.ids[slot as usize]);
                    graph.search_layer(query, start, ef, 0, accept, layer);
                }
            }
            layer.sorted_results(&mut scratch.pool);
            let mut hits: Vec<Scored> = scratch.pool[..k.min(scratch.pool.len())]
                .iter()
                .map(|&(distance, slot)| Scored {
                    id: graph.ids[slot as usize],
                    score: 1.0 - distance,
                })
                .collect();
            sort_scored(&mut hits);
            hits
        })
    }

    fn len(&self) -> usize {
        self.graph.read().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::FlatIndex;

    /// Unit vectors around a few centres, so the data has the clusters real embeddings have.
    pub(super) fn clustered(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let centres: Vec<Vec<f32>> = (0..8).map(|_| (0..dim).map(|_| next()).collect()).collect();
        (0..n)
            .map(|i| {
                let mut v: Vec<f32> =
                    centres[i % centres.len()].iter().map(|c| c + 0.6 * next()).collect();
                crate::l2_normalize(&mut v);
                v
            })
            .collect()
    }

    /// Vector `i` goes in under id `10·i`, so ids and slots differ.
    fn items(vectors: &[Vec<f32>]) -> Vec<(u64, &[f32])> {
        vectors.iter().enumerate().map(|(i, v)| (i as u64 * 10, v.as_slice())).collect()
    }

    fn index(dim: usize) -> HnswIndex {
        HnswIndex::new(HnswParams::default(), dim, 0)
    }

    #[test]
    fn an_empty_index_answers_nothing() {
        let index = index(8);
        assert_eq!(index.len(), 0);
        assert!(index.search(&[0.0; 8], 5, 16, None).is_empty());
        index.insert(&[]);
        assert!(index.ids().is_empty());
    }

    #[test]
    fn a_batch_with_a_vector_of_the_wrong_dimension_is_refused_whole() {
        let index = index(8);
        let (good, bad) = ([0.5f32; 8], [0.5f32; 4]);
        let batch: [(u64, &[f32]); 2] = [(1, &good), (2, &bad)];
        let refused =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| index.insert(&batch)));
        assert!(refused.is_err());
        assert_eq!(index.len(), 0, "nothing of the batch was stored");
    }

    #[test]
    fn a_parallel_build_links_every_vector() {
        let vectors = clustered(3000, 24, 1);
        let index = index(24);
        index.insert(&items(&vectors));
        assert_eq!(index.len(), 3000);
        for (i, v) in vectors.iter().enumerate() {
            let hits = index.search(v, 1, 64, None);
            assert_eq!(hits[0].id, i as u64 * 10, "vector {i} finds itself");
        }
    }

    #[test]
    fn one_at_a_time_inserts_reach_the_recall_of_exact_search() {
        let vectors = clustered(2000, 32, 2);
        let (index, flat) = (index(32), FlatIndex::new(32));
        for item in items(&vectors) {
            index.insert(&[item]);
        }
        flat.insert(&items(&vectors));
        let queries = clustered(100, 32, 3);
        let mut found = 0;
        for q in &queries {
            let truth: Vec<u64> = flat.search(q, 10, 0, None).iter().map(|h| h.id).collect();
            found += index.search(q, 10, 64, None).iter().filter(|h| truth.contains(&h.id)).count();
        }
        let recall = found as f64 / 1000.0;
        assert!(recall >= 0.95, "recall@10 {recall}");
    }

    #[test]
    fn a_selective_filter_still_returns_k_accepted_results() {
        let vectors = clustered(5000, 16, 4);
        let (index, flat) = (index(16), FlatIndex::new(16));
        index.insert(&items(&vectors));
        flat.insert(&items(&vectors));
        let tenth = |id: u64| (id / 10) % 10 == 3;
        let mut found = 0;
        for q in clustered(50, 16, 5) {
            let hits = index.search(&q, 10, 64, Some(&tenth));
            assert_eq!(hits.len(), 10, "k results under a 10% pass rate");
            assert!(hits.iter().all(|h| tenth(h.id)));
            let truth: Vec<u64> =
                flat.search(&q, 10, 0, Some(&tenth)).iter().map(|h| h.id).collect();
            found += hits.iter().filter(|h| truth.contains(&h.id)).count();
        }
        assert!(found as f64 / 500.0 >= 0.9, "filtered recall@10 {}", found as f64 / 500.0);
    }

    #[test]
    fn results_are_sorted_best_first_with_ties_to_the_lower_id() {
        let v = clustered(1, 8, 6).remove(0);
        let index = index(8);
        let twins: Vec<(u64, &[f32])> =
            [5u64, 3, 9, 1].iter().map(|&id| (id, v.as_slice())).collect();
        index.insert(&twins);
        let ids: Vec<u64> = index.search(&v, 4, 16, None).iter().map(|h| h.id).collect();
        assert_eq!(ids, [1, 3, 5, 9]);
    }

    #[test]
    fn searches_run_while_batches_are_inserted() {
        let vectors = &clustered(6000, 16, 7);
        let index = &index(16);
        index.insert(&items(&vectors[..500]));
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for chunk in items(vectors)[500..].chunks(1100) {
                    index.insert(chunk);
                }
            });
            for round in 0..4 {
                scope.spawn(move || {
                    for (i, v) in vectors.iter().enumerate().skip(round).step_by(40).take(100) {
                        let hits = index.search(v, 5, 32, None);
                        assert_eq!(hits.len(), 5);
                        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
                        if i < 500 {
                            assert_eq!(hits[0].id, i as u64 * 10, "an early vector finds itself");
                        }
                    }
                });
            }
        });
        assert_eq!(index.len(), 6000);
        for (i, v) in vectors.iter().enumerate().step_by(7) {
            assert_eq!(index.search(v, 1, 64, None)[0].id, i as u64 * 10);
        }
    }
}
