//! The graph's storage: vectors in one contiguous matrix, dense slots mapping to the caller's ids,
//! layer-0 link lists in one flat array of fixed stride, upper-layer lists per node, and the
//! entry point.
//!
//! A link list is a slice of `1 + max` words: the count, then the neighbours' slots. Words are
//! atomics so that searches may read a list while an insert rewrites it; a reader can then see a
//! mix of the old and the new list, which is harmless because every word of every list always
//! holds the slot of a stored node (lists start zeroed, and slot 0 exists before any list is
//! read).
//!
//! **Invariant:** rows, ids, levels and link storage are only appended under the index's write
//! lock, before any link to the new slots exists; afterwards they are read-only except for the
//! link words, which change under the node's stripe lock. Holding the read lock therefore makes
//! every row reachable through a link visible, so link words need no ordering of their own and
//! are read and written `Relaxed`.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

use parking_lot::{Mutex, MutexGuard};

use super::super::dot::{kernel, Kernel};

/// The highest level a node can draw. Levels above it are clamped; with `M` ≥ 2 they are drawn
/// with probability below 2⁻¹⁷ per node.
pub(super) const MAX_LEVEL: usize = 16;
/// Link-list writers lock one of this many stripes, chosen by slot.
const LOCK_STRIPES: usize = 1024;
/// The packed entry point of an empty graph.
const NO_ENTRY: u64 = u64::MAX;

/// Everything the index stores, in slot order.
pub(super) struct Graph {
    pub dim: usize,
    /// Most links per node on layers above 0 (`M`).
    pub m: usize,
    /// Most links per node on layer 0 (`2·M`).
    pub m0: usize,
    /// Row `s` is `vectors[s·dim .. (s+1)·dim]`.
    pub vectors: Vec<f32>,
    /// The caller's id of each slot.
    pub ids: Vec<u64>,
    /// The top layer of each slot.
    pub levels: Vec<u8>,
    /// Slot `s`'s layer-0 list is `layer0[s·(1+m0) ..][.. 1+m0]`.
    pub layer0: Vec<AtomicU32>,
    /// Slot `s`'s lists for layers `1..=levels[s]`, each `1 + m` words; empty at level 0.
    pub upper: Vec<Box<[AtomicU32]>>,
    /// `(level << 32) | slot` of the node searches start from, or `NO_ENTRY`.
    entry: AtomicU64,
    /// Taken while changing the entry point, so two nodes cannot both claim a new top layer.
    pub entry_lock: Mutex<()>,
    stripes: Box<[Mutex<()>]>,
    /// The dot-product kernel, fetched once; every row has `dim` elements, and queries are
    /// checked against `dim` before a search starts.
    dot: Kernel,
}

impl Graph {
    /// An empty graph, with room reserved for `capacity` nodes.
    pub fn new(dim: usize, m: usize, capacity: usize) -> Self {
        let m0 = 2 * m;
        Graph {
            dim,
            m,
            m0,
            vectors: Vec::with_capacity(capacity * dim),
            ids: Vec::with_capacity(capacity),
            levels: Vec::with_capacity(capacity),
            layer0: Vec::with_capacity(capacity * (1 + m0)),
            upper: Vec::with_capacity(capacity),
            entry: AtomicU64::new(NO_ENTRY),
            entry_lock: Mutex::new(()),
            stripes: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            dot: kernel(),
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Appends a node with empty link lists; it is unreachable until it is linked.
    pub fn push(&mut self, id: u64, vector: &[f32], level: usize) {
        debug_assert_eq!(vector.len(), self.dim);
        assert!(self.len() < u32::MAX as usize, "an index holds fewer than 2³² vectors");
        self.vectors.extend_from_slice(vector);
        self.ids.push(id);
        self.levels.push(level as u8);
        self.layer0.extend((0..=self.m0).map(|_| AtomicU32::new(0)));
        self.upper.push((0..level * (1 + self.m)).map(|_| AtomicU32::new(0)).collect());
    }

    /// The stored vector of `slot`.
    #[inline]
    pub fn row(&self, slot: u32) -> &[f32] {
        let start = slot as usize * self.dim;
        &self.vectors[start..start + self.dim]
    }

    /// Cosine distance from `query` to `slot`'s vector.
    #[inline]
    pub fn distance(&self, query: &[f32], slot: u32) -> f32 {
        1.0 - (self.dot)(query, self.row(slot))
    }

    /// Asks the CPU to start loading the first `lines` cache lines of `slot`'s row (all of them
    /// for `usize::MAX`), so a distance computed soon after does not wait on memory.
    #[inline]
    pub fn prefetch_row(&self, slot: u32, lines: usize) {
        let row = self.row(slot);
        let bytes = std::mem::size_of_val(row).min(lines.saturating_mul(64));
        for line in row.chunks(16).take(bytes.div_ceil(64)) {
            prefetch(line.as_ptr().cast());
        }
    }

    /// Asks the CPU to start loading `slot`'s link list on `level`.
    #[inline]
    pub fn prefetch_links(&self, slot: u32, level: usize) {
        prefetch(self.links(slot, level).as_ptr().cast());
    }

    /// The link list (count, then slots) of `slot` on `level`.
    #[inline]
    pub fn links(&self, slot: u32, level: usize) -> &[AtomicU32] {
        if level == 0 {
            let stride = 1 + self.m0;
            &self.layer0[slot as usize * stride..][..stride]
        } else {
            let stride = 1 + self.m;
            &self.upper[slot as usize][(level - 1) * stride..][..stride]
        }
    }

    /// The most links a node holds on `level`.
    pub fn max_links(&self, level: usize) -> usize {
        if level == 0 {
            self.m0
        } else {
            self.m
        }
    }

    /// Locks `slot`'s link lists against other writers (readers never lock).
    pub fn lock(&self, slot: u32) -> MutexGuard<'_, ()> {
        self.stripes[slot as usize % LOCK_STRIPES].lock()
    }

    /// The entry point's slot and level, if the graph has a linked node.
    pub fn entry(&self) -> Option<(u32, usize)> {
        let packed = self.entry.load(Relaxed);
        (packed != NO_ENTRY).then_some((packed as u32, (packed >> 32) as usize))
    }

    pub fn set_entry(&self, slot: u32, level: usize) {
        self.entry.store(((level as u64) << 32) | u64::from(slot), Relaxed);
    }
}

/// A hint to load the cache line holding `address`; nothing off x86_64.
#[inline]
fn prefetch(address: *const i8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults, reads nothing into the program and
    // changes no memory, whatever the address; callers pass addresses inside live slices anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(address);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// The neighbours in a link list. The count is clamped to the list's room, so a count read
/// while a writer rewrites the list never reaches past it.
#[inline]
pub(super) fn neighbours(list: &[AtomicU32]) -> impl ExactSizeIterator<Item = u32> + '_ {
    let count = (list[0].load(Relaxed) as usize).min(list.len() - 1);
    list[1..=count].iter().map(|word| word.load(Relaxed))
}

/// Replaces a link list; the caller holds the node's stripe lock.
pub(super) fn set_links(list: &[AtomicU32], slots: impl ExactSizeIterator<Item = u32>) {
    let count = slots.len().min(list.len() - 1);
    for (word, slot) in list[1..].iter().zip(slots) {
        word.store(slot, Relaxed);
    }
    list[0].store(count as u32, Relaxed);
}
