//! Linking a stored node into the graph: the descent to its level, an `ef_construction` search
//! on each of its layers, the neighbour-selection heuristic, and the links back from each chosen
//! neighbour, shrunk by the same heuristic when a list overflows.
//!
//! Several threads link different nodes at once. Each node's lists change only under its stripe
//! lock, and a node that raises the graph's top layer holds the entry lock from the moment it
//! reads the entry point until it becomes the entry point itself.

use std::sync::atomic::Ordering::Relaxed;

use parking_lot::MutexGuard;

use super::layout::{neighbours, set_links, Graph};
use super::search::Scratch;

/// Where an insert starts: the entry point and top layer it read, and the entry lock when the
/// node may become the new entry point.
struct EntryClaim<'a> {
    start: u32,
    top: usize,
    _guard: Option<MutexGuard<'a, ()>>,
}

/// Draws node levels: `floor(−ln(u) · mult)` for `u` uniform in (0, 1], from a hash of the
/// slot, so the same insertion order always gives the same levels.
pub(super) fn random_level(slot: u64, mult: f64) -> usize {
    let mut z = slot.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let uniform = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let level = (-uniform.ln() * mult).floor();
    (level as usize).min(super::layout::MAX_LEVEL)
}

impl Graph {
    /// Links `slot`, already stored, into the graph.
    ///
    /// Its neighbours are chosen on every layer first and its own lists written before any
    /// link back to it: a node is reachable only once all its lists are complete. (Otherwise a
    /// concurrent insert could reach it through an upper layer, find its lower list still
    /// empty, and link itself to it alone.)
    pub fn link(&self, slot: u32, ef_construction: usize, scratch: &mut Scratch) {
        let level = usize::from(self.levels[slot as usize]);
        let Some(claim) = self.claim_entry(slot, level) else {
            return;
        };
        let query = self.row(slot);
        let mut nearest = (self.distance(query, claim.start), claim.start);
        if claim.top > level {
            nearest = self.descend(query, nearest, claim.top, level + 1);
        }
        let layers = level.min(claim.top);
        if scratch.chosen.len() <= layers {
            scratch.chosen.resize_with(layers + 1, Vec::new);
        }
        for layer in (0..=layers).rev() {
            nearest = self.choose(slot, layer, nearest, ef_construction, scratch);
        }
        self.connect(slot, layers, scratch);
        if level > claim.top {
            self.set_entry(slot, level);
        }
    }

    /// The entry point to insert a node of `level` from. A node that may raise the graph's top
    /// layer takes the entry lock, reads the entry point again under it, and keeps the lock until
    /// it is linked and has become the entry point itself. `None` when the graph was empty: the
    /// node is now its entry point, with nothing to link to.
    fn claim_entry(&self, slot: u32, level: usize) -> Option<EntryClaim<'_>> {
        let mut entry = self.entry();
        let raises_top = entry.is_none_or(|(_, top)| level > top);
        let guard = raises_top.then(|| self.entry_lock.lock());
        if raises_top {
            entry = self.entry();
        }
        let Some((start, top)) = entry else {
            self.set_entry(slot, level);
            return None;
        };
        Some(EntryClaim { start, top, _guard: guard })
    }

    /// Writes `slot`'s own lists on `0..=layers` from `scratch.chosen`, then adds `slot` to
    /// each chosen neighbour's list.
    fn connect(&self, slot: u32, layers: usize, scratch: &mut Scratch) {
        let Scratch { chosen, pool, kept, .. } = scratch;
        for (layer, chosen) in chosen[..=layers].iter().enumerate() {
            let _lock = self.lock(slot);
            set_links(self.links(slot, layer), chosen.iter().map(|&(_, s)| s));
        }
        for (layer, chosen) in chosen[..=layers].iter().enumerate() {
            for &(distance, neighbour) in chosen {
                self.link_back(neighbour, slot, distance, layer, pool, kept);
            }
        }
    }

    /// Searches one layer for `slot`'s neighbours and keeps the heuristic's choice in
    /// `scratch.chosen[layer]`. Returns the closest node found: the start one layer down.
    fn choose(
        &self,
        slot: u32,
        layer: usize,
        start: (f32, u32),
        ef_construction: usize,
        scratch: &mut Scratch,
    ) -> (f32, u32) {
        let query = self.row(slot);
        let Scratch { layer: search, pool, chosen, .. } = scratch;
        self.search_layer(query, start, ef_construction, layer, |s| s != slot, search);
        search.sorted_results(pool);
        self.select(pool, self.m, &mut chosen[layer]);
        pool.first().copied().unwrap_or(start)
    }

    /// Adds `new` to `node`'s list on `layer`; a full list keeps what the heuristic selects
    /// among its links and `new`. `pool` and `kept` are scratch buffers.
    fn link_back(
        &self,
        node: u32,
        new: u32,
        distance: f32,
        layer: usize,
        pool: &mut Vec<(f32, u32)>,
        kept: &mut Vec<(f32, u32)>,
    ) {
        let _lock = self.lock(node);
        let list = self.links(node, layer);
        if neighbours(list).any(|s| s == new) {
            return; // `node`, inserted at the same time, chose `new` itself
        }
        let count = neighbours(list).len();
        if count < self.max_links(layer) {
            list[1 + count].store(new, Relaxed);
            list[0].store(count as u32 + 1, Relaxed);
            return;
        }
        let base = self.row(node);
        pool.clear();
        pool.push((distance, new));
        pool.extend(neighbours(list).map(|s| (self.distance(base, s), s)));
        pool.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        self.select(pool, self.max_links(layer), kept);
        set_links(list, kept.iter().map(|&(_, s)| s));
    }

    /// The neighbour-selection heuristic: walks `candidates` (closest first) and keeps one only
    /// if it is closer to the base node than to every node kept so far, up to `max`. It favours
    /// links in different directions over a cluster of near-duplicates, which keeps the graph
    /// navigable. With `max` or fewer candidates all are kept.
    fn select(&self, candidates: &[(f32, u32)], max: usize, kept: &mut Vec<(f32, u32)>) {
        kept.clear();
        if candidates.len() <= max {
            kept.extend_from_slice(candidates);
            return;
        }
        for &(distance, slot) in candidates {
            if kept.len() == max {
                break;
            }
            let row = self.row(slot);
            if kept.iter().all(|&(_, other)| self.distance(row, other) >= distance) {
                kept.push((distance, slot));
            }
        }
    }
}
