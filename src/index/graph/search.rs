//! Walking the graph: greedy descent through the upper layers and the ef-bounded best-first
//! search of one layer, with the per-thread scratch space both reuse.
//!
//! Candidates are `u64` keys, `(ordered distance bits << 32) | slot`, so heap comparisons are
//! integer comparisons and equal distances order by slot. A search allocates nothing per visited
//! node: the visited set and both heaps live in a thread-local [`Scratch`] and keep their
//! capacity from one search to the next.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::layout::{neighbours, Graph};

/// Per-thread buffers for searches and inserts.
#[derive(Default)]
pub(super) struct Scratch {
    pub layer: LayerScratch,
    /// Buffers for neighbour selection while inserting.
    pub pool: Vec<(f32, u32)>,
    pub kept: Vec<(f32, u32)>,
    /// The neighbours chosen for the node being inserted, per layer.
    pub chosen: Vec<Vec<(f32, u32)>>,
}

/// What one layer search works in.
#[derive(Default)]
pub(super) struct LayerScratch {
    visited: Visited,
    candidates: BinaryHeap<Reverse<u64>>,
    /// The best `ef` accepted keys found by the last [`Graph::search_layer`], worst on top.
    results: BinaryHeap<u64>,
    /// Sorted results, handed out by [`LayerScratch::sorted_results`].
    sorted: Vec<u64>,
    /// The neighbours of the node being expanded that were not visited yet.
    fresh: Vec<u32>,
}

/// Cache lines of each unvisited neighbour's row requested before any distance is computed.
const PREFETCH_FIRST_LINES: usize = 1;
/// While computing one distance, the whole row this many neighbours further on is requested.
const PREFETCH_AHEAD: usize = 2;

impl LayerScratch {
    /// Drains the results into `(distance, slot)` pairs, best first.
    pub fn sorted_results(&mut self, out: &mut Vec<(f32, u32)>) {
        self.sorted.clear();
        self.sorted.extend(self.results.drain());
        self.sorted.sort_unstable();
        out.clear();
        out.extend(self.sorted.iter().map(|&k| unkey(k)));
    }
}

thread_local! {
    static SCRATCH: Cell<Option<Box<Scratch>>> = const { Cell::new(None) };
}

/// Runs `f` with this thread's scratch space. The space is taken out for the call, so a search
/// started from inside `f` (by an `accept` callback, say) gets a fresh one instead of failing.
pub(super) fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut scratch = SCRATCH.with(Cell::take).unwrap_or_default();
    let result = f(&mut scratch);
    SCRATCH.with(|cell| cell.set(Some(scratch)));
    result
}

/// Marks visited slots with the current epoch, so clearing the set between searches is one
/// increment; the marks are zeroed only when the epoch wraps.
#[derive(Default)]
struct Visited {
    marks: Vec<u16>,
    epoch: u16,
}

impl Visited {
    /// Starts a new search over `len` slots: every slot unvisited.
    fn clear(&mut self, len: usize) {
        if self.marks.len() < len {
            self.marks.resize(len, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `slot`; true if it was not marked yet.
    #[inline]
    fn insert(&mut self, slot: u32) -> bool {
        let mark = &mut self.marks[slot as usize];
        let fresh = *mark != self.epoch;
        *mark = self.epoch;
        fresh
    }
}

/// A heap key that orders by distance, then slot. Distances may be slightly negative (a vector
/// against itself, by rounding), so the sign is folded into the bits rather than clamped.
#[inline]
pub(super) fn key(distance: f32, slot: u32) -> u64 {
    let bits = distance.to_bits();
    let ordered = if bits >> 31 == 1 { !bits } else { bits | 0x8000_0000 };
    (u64::from(ordered) << 32) | u64::from(slot)
}

#[inline]
pub(super) fn unkey(key: u64) -> (f32, u32) {
    let ordered = (key >> 32) as u32;
    let bits = if ordered >> 31 == 1 { ordered & 0x7fff_ffff } else { !ordered };
    (f32::from_bits(bits), key as u32)
}

impl Graph {
    /// Greedy descent from `start` through layers `top` down to `bottom` (both included): on
    /// each layer, moves to the closest neighbour until no neighbour is closer.
    pub fn descend(
        &self,
        query: &[f32],
        start: (f32, u32),
        top: usize,
        bottom: usize,
    ) -> (f32, u32) {
        let (mut best, mut at) = start;
        for level in (bottom..=top).rev() {
            let mut moved = true;
            while moved {
                moved = false;
                for slot in neighbours(self.links(at, level)) {
                    let d = self.distance(query, slot);
                    if d < best {
                        (best, at, moved) = (d, slot, true);
                    }
                }
            }
        }
        (best, at)
    }

    /// Best-first search of one layer from `start`, keeping the `ef` closest accepted nodes in
    /// `scratch` for [`LayerScratch::sorted_results`].
    ///
    /// Rejected nodes are still walked through: they extend the frontier but never enter the
    /// results, and the search only stops early once `ef` accepted nodes are held. So a
    /// selective filter costs a wider walk, not missing results.
    pub fn search_layer(
        &self,
        query: &[f32],
        start: (f32, u32),
        ef: usize,
        level: usize,
        accept: impl Fn(u32) -> bool,
        scratch: &mut LayerScratch,
    ) {
        let LayerScratch { visited, candidates, results, fresh, .. } = scratch;
        visited.clear(self.len());
        candidates.clear();
        results.clear();
        let first = key(start.0, start.1);
        visited.insert(start.1);
        candidates.push(Reverse(first));
        if accept(start.1) {
            results.push(first);
        }
        let mut worst = results.peek().copied().unwrap_or(u64::MAX);
        while let Some(Reverse(nearest)) = candidates.pop() {
            if nearest > worst && results.len() >= ef {
                break;
            }
            // The next candidate is likely the next node expanded: start loading its links.
            if let Some(Reverse(next)) = candidates.peek() {
                self.prefetch_links(unkey(*next).1, level);
            }
            // Unvisited neighbours are gathered first and their rows requested from memory
            // together, so the loads overlap instead of each stalling the distance loop.
            fresh.clear();
            for slot in neighbours(self.links(unkey(nearest).1, level)) {
                if visited.insert(slot) {
                    self.prefetch_row(slot, PREFETCH_FIRST_LINES);
                    fresh.push(slot);
                }
            }
            for (i, &slot) in fresh.iter().enumerate() {
                if let Some(&ahead) = fresh.get(i + PREFETCH_AHEAD) {
                    self.prefetch_row(ahead, usize::MAX);
                }
                let candidate = key(self.distance(query, slot), slot);
                if results.len() < ef || candidate < worst {
                    candidates.push(Reverse(candidate));
                    if accept(slot) {
                        results.push(candidate);
                        if results.len() > ef {
                            results.pop();
                        }
                        worst = *results.peek().expect("just pushed");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_like_distances_then_slots_and_decode_exactly() {
        let distances = [-1.0e-7f32, -0.0, 0.0, 1.0e-9, 0.25, 1.0, 1.999];
        let keys: Vec<u64> = distances.iter().map(|&d| key(d, 7)).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");
        assert!(key(0.5, 1) < key(0.5, 2));
        for &d in &distances {
            assert_eq!(unkey(key(d, 9)), (d, 9));
        }
    }

    #[test]
    fn the_visited_set_forgets_between_searches_and_survives_epoch_wraps() {
        let mut visited = Visited::default();
        for _ in 0..70_000 {
            visited.clear(10);
            assert!(visited.insert(3));
            assert!(!visited.insert(3));
        }
    }
}
