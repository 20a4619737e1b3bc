//! Exact top-k search by scanning every vector: for small collections, for filters that let few
//! records through, and as the oracle the HNSW index is tested against.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::RwLock;

use super::{dot, sort_scored, Accept, Scored, VectorIndex};

/// Exact search: vectors in one contiguous matrix, scanned in full on every query.
pub struct FlatIndex {
    dim: usize,
    rows: RwLock<Rows>,
}

#[derive(Default)]
struct Rows {
    ids: Vec<u64>,
    data: Vec<f32>,
}

impl FlatIndex {
    /// An empty index of `dim`-dimensional vectors.
    pub fn new(dim: usize) -> Self {
        FlatIndex { dim, rows: RwLock::new(Rows::default()) }
    }
}

/// A score ordered for a heap that keeps the `k` best: the worst is on top.
#[derive(PartialEq)]
struct Ranked(Scored);

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.score.total_cmp(&other.0.score).then(other.0.id.cmp(&self.0.id))
    }
}

impl VectorIndex for FlatIndex {
    fn insert(&self, items: &[(u64, &[f32])]) {
        let mut rows = self.rows.write().expect("flat index lock");
        for (id, v) in items {
            debug_assert_eq!(v.len(), self.dim);
            rows.ids.push(*id);
            rows.data.extend_from_slice(v);
        }
    }

    fn search(
        &self,
        query: &[f32],
        k: usize,
        _ef: usize,
        accept: Option<Accept<'_>>,
    ) -> Vec<Scored> {
        let rows = self.rows.read().expect("flat index lock");
        let mut heap = BinaryHeap::with_capacity(k + 1);
        if k == 0 {
            return Vec::new();
        }
        for (&id, v) in rows.ids.iter().zip(rows.data.chunks_exact(self.dim)) {
            if accept.is_some_and(|accept| !accept(id)) {
                continue;
            }
            let candidate = Ranked(Scored { id, score: dot(query, v) });
            if heap.len() < k {
                heap.push(Reverse(candidate));
            } else if heap.peek().is_some_and(|Reverse(worst)| candidate > *worst) {
                heap.pop();
                heap.push(Reverse(candidate));
            }
        }
        let mut hits: Vec<Scored> = heap.into_iter().map(|Reverse(r)| r.0).collect();
        sort_scored(&mut hits);
        hits
    }

    fn len(&self) -> usize {
        self.rows.read().expect("flat index lock").ids.len()
    }
}
